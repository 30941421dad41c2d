"""One contract suite run on every model family (conventions.md §2).

Features come from the real :class:`Preprocessor`, so each family sees exactly the variant
it gets in a search: "native" (NaN + pandas categories) or "encoded" (finite floats).
A new family needs no new test here, only an entry in ``FAST`` and ``INVALID`` if its
defaults are slow or to name one bad value for it.
"""

from __future__ import annotations

import functools
import io
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.learners import (
    FAMILIES,
    TASKS,
    InvalidParameterError,
    Learner,
    default_families,
    make_learner,
)
from automl_cli.core.preprocessing import VARIANTS, Preprocessor, encode_target
from automl_cli.errors import UsageError

FAMILY_NAMES = list(FAMILIES)
BOOSTERS = [f for f, cls in FAMILIES.items() if cls.supports_early_stopping]
N = 80
N_CLASSES = {"binary": 2, "multiclass": 3, "regression": 0}
# keep every fit well under a second: fewer trees / epochs than the search uses
FAST: dict[str, dict[str, Any]] = {
    "lgbm": {"n_estimators": 40},
    "xgb": {"n_estimators": 40},
    "hgb": {"n_estimators": 40},
    "rf": {"n_estimators": 20},
    "et": {"n_estimators": 20},
    "mlp": {"max_iter": 80},
}
INVALID: dict[str, tuple[str, Any, str]] = {
    "lgbm": ("learning_rate", -0.1, "a float in the range (0.0, inf)"),
    "xgb": ("max_depth", 2.5, "an int in the range [0, inf)"),
    "hgb": ("max_leaf_nodes", 1, "an int in the range [2, inf)"),
    "rf": ("n_estimators", 0, "an int in the range [1, inf)"),
    "et": (
        "max_features",
        "all",
        "a float in the range (0.0, 1.0], a str among {'sqrt', 'log2'} or one of {None}",
    ),
    "linear": ("C", 0.0, "a float in the range (0.0, inf)"),
    "knn": ("weights", "gaussian", "a str among {'uniform', 'distance'}"),
    "mlp": ("n_layers", 4, "an int in the range [1, 3]"),
}


# -- data ----------------------------------------------------------------------------------
def raw_table(task: str, n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    """A learnable table: the target follows ``num``, ``color`` and whether ``gap`` is missing."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=n)
    color = rng.choice(["red", "green", "blue", "black"], n, p=[0.3, 0.3, 0.2, 0.2])
    gap = rng.normal(size=n)
    gap[rng.random(n) < 0.2] = np.nan
    effect = pd.Series(color).map({"red": 1.5, "green": -1.5, "blue": 0.0, "black": 0.5})
    signal = 1.5 * num + effect.to_numpy() + np.where(np.isnan(gap), 1.0, 0.0)
    noisy = signal + 0.3 * rng.normal(size=n)
    if task == "binary":
        y = pd.Series(np.where(noisy > np.median(noisy), "yes", "no"), name="y")
    elif task == "multiclass":
        cuts = np.quantile(noisy, [1 / 3, 2 / 3])
        y = pd.Series(np.array(["low", "mid", "high"])[np.digitize(noisy, cuts)], name="y")
    else:
        y = pd.Series(10.0 + 3.0 * noisy, name="y")
    frame = pd.DataFrame(
        {"num": num, "gap": gap, "color": color, "noise": rng.uniform(size=n), "y": y}
    )
    frame.loc[::13, "num"] = np.nan
    frame.loc[::17, "color"] = None
    profile = {
        "columns": [
            {"name": "num", "semantic_type": "numeric"},
            {"name": "gap", "semantic_type": "numeric"},
            {"name": "color", "semantic_type": "categorical"},
            {"name": "noise", "semantic_type": "numeric"},
        ],
        "target": {"name": "y", "task": task},
        "warnings": [],
    }
    return frame.drop(columns="y"), y, profile


@functools.cache
def prepared(task: str, n: int = N, seed: int = 0) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    """Both feature variants of one table and the target as codes (cached: built once)."""
    frame, y, profile = raw_table(task, n, seed)
    prep = Preprocessor(profile=profile, target="y", task=task).fit(frame, y)
    features = {v: prep.transform(frame, variant=v) for v in VARIANTS}
    return features, encode_target(y, task)[0]


def test_encoded_variant_is_finite_with_missing_categories() -> None:
    """The input contract the encoded families rely on: no NaN even for a missing category."""
    frame, y, profile = raw_table("binary", N, 0)
    prep = Preprocessor(profile=profile, target="y", task="binary").fit(frame, y)
    assert np.isfinite(prep.transform(frame, variant="encoded").to_numpy()).all()


def features_for(family: str, task: str, n: int = N) -> tuple[pd.DataFrame, np.ndarray]:
    features, y = prepared(task, n)
    return features[FAMILIES[family].variant], y


def learner(family: str, task: str, seed: int = 0, n_jobs: int = 1, **params: Any) -> Learner:
    """One thread by default: OpenMP threads spin-wait, which is slow on a busy test machine."""
    return make_learner(
        family,
        task=task,
        n_classes=N_CLASSES[task],
        seed=seed,
        n_jobs=n_jobs,
        **{**FAST.get(family, {}), **params},
    )


def fitted(family: str, task: str, **params: Any) -> tuple[Learner, pd.DataFrame]:
    X, y = features_for(family, task)
    return learner(family, task, **params).fit(X, y), X


every_case = pytest.mark.parametrize("task", TASKS)
every_family = pytest.mark.parametrize("family", FAMILY_NAMES)


# -- the contract ----------------------------------------------------------------------------
@every_family
@every_case
def test_fit_returns_self_and_outputs_have_the_contract_shape(family: str, task: str) -> None:
    X, y = features_for(family, task)
    model = learner(family, task)
    assert model.fit(X, y) is model
    pred = model.predict(X)
    assert pred.shape == (len(X),)
    if task == "regression":
        assert np.isfinite(pred).all()
        assert np.array_equal(model.predict_output(X), pred)
        with pytest.raises(ValueError, match="regressor"):
            model.predict_proba(X)
        return
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), N_CLASSES[task])
    assert np.isfinite(proba).all() and (proba >= 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.array_equal(pred, proba.argmax(axis=1))
    assert np.array_equal(model.predict_output(X), proba)


@every_family
@every_case
def test_beats_a_constant_prediction_on_held_out_rows(family: str, task: str) -> None:
    features, y = prepared(task, n=600, seed=1)
    X = features[FAMILIES[family].variant]
    train, test = slice(0, 400), slice(400, None)
    model = learner(family, task).fit(X.iloc[train], y[train])
    if task == "regression":
        mse = np.mean((model.predict(X.iloc[test]) - y[test]) ** 2)
        baseline = np.mean((y[train].mean() - y[test]) ** 2)
    else:
        onehot = np.eye(N_CLASSES[task])[y[test].astype(int)]
        prior = np.bincount(y[train].astype(int), minlength=N_CLASSES[task]) / len(y[train])
        mse = np.mean(np.sum((model.predict_proba(X.iloc[test]) - onehot) ** 2, axis=1))
        baseline = np.mean(np.sum((prior - onehot) ** 2, axis=1))
    assert mse < 0.7 * baseline


@every_family
@every_case
def test_predictions_do_not_depend_on_row_order(family: str, task: str) -> None:
    model, X = fitted(family, task)
    out = model.predict_output(X)
    order = np.random.default_rng(5).permutation(len(X))
    np.testing.assert_allclose(model.predict_output(X.iloc[order]), out[order], rtol=0, atol=1e-12)


@every_family
@every_case
def test_fit_does_not_change_params(family: str, task: str) -> None:
    X, y = features_for(family, task)
    model = learner(family, task)
    before = model.get_params()
    model.fit(X.iloc[:60], y[:60], X.iloc[60:], y[60:])
    assert model.get_params() == before


@every_family
@every_case
def test_same_seed_same_predictions_even_with_threads(family: str, task: str) -> None:
    X, y = features_for(family, task)
    fit = [learner(family, task, seed=7, n_jobs=2).fit(X, y) for _ in range(2)]
    assert np.array_equal(fit[0].predict_output(X), fit[1].predict_output(X))
    assert np.array_equal(fit[0].predict_output(X), fit[0].predict_output(X))


@every_family
@every_case
def test_save_load_round_trip_is_exact_and_writes_no_pickle(
    family: str, task: str, tmp_path: Path
) -> None:
    model, X = fitted(family, task)
    names = model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    cls = FAMILIES[family]
    for name in names:
        head = (tmp_path / name).read_bytes()[:2]
        assert head[:1] != b"\x80", f"{name} is a pickle"
        if name.endswith(".skops"):
            assert head == b"PK"
            assert_skops_file_is_safe(tmp_path / name, cls)
    loaded = cls.load(tmp_path, model.get_params())
    assert loaded.get_params() == model.get_params()
    assert np.array_equal(loaded.predict_output(X), model.predict_output(X))
    assert loaded.fitted_iterations() == model.fitted_iterations()
    # loaded where another thread count is set (predict's `jobs`): the same predictions
    other = cls.load(tmp_path, {**model.get_params(), "n_jobs": 2})
    assert model.n_jobs == 1 and other.n_jobs == 2
    np.testing.assert_allclose(other.predict_output(X), model.predict_output(X), rtol=1e-12)


def assert_skops_file_is_safe(path: Path, cls: type[Learner]) -> None:
    """Everything the file needs is in the code's trusted list; no array needs pickle."""
    import skops.io as sio

    untrusted = set(sio.get_untrusted_types(file=path))
    assert untrusted <= set(cls.TRUSTED), untrusted - set(cls.TRUSTED)  # type: ignore[attr-defined]
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                np.load(io.BytesIO(archive.read(member)), allow_pickle=False)


@every_family
def test_invalid_parameter_fails_at_fit_in_sklearn_wording(family: str) -> None:
    name, value, expected = INVALID[family]
    X, y = features_for(family, "binary")
    model = learner(family, "binary", **{name: value})  # __init__ only stores
    owner = type(model).__name__
    message = f"The '{name}' parameter of {owner} must be {expected}. Got {value!r} instead."
    with pytest.raises(InvalidParameterError, match=f"^{re.escape(message)}$"):
        model.fit(X, y)


@every_family
def test_common_parameters_are_checked_too(family: str) -> None:
    X, y = features_for(family, "binary")
    owner = FAMILIES[family].__name__
    bad_task = make_learner(family, task="ranking", n_classes=2)
    with pytest.raises(InvalidParameterError) as err:
        bad_task.fit(X, y)
    assert str(err.value) == (
        f"The 'task' parameter of {owner} must be a str among "
        "{'binary', 'multiclass', 'regression'}. Got 'ranking' instead."
    )
    with pytest.raises(InvalidParameterError, match="'n_classes' parameter"):
        make_learner(family, task="binary", n_classes=3).fit(X, y)
    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        make_learner(family, task="binary", n_classes=2, n_jobs=0).fit(X, y)


@every_family
def test_a_class_missing_from_the_training_fold_gets_a_zero_column(family: str) -> None:
    X, y = features_for(family, "multiclass")
    keep = y != 2
    model = learner(family, "multiclass").fit(X[keep], y[keep])
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert proba[:, 2].max() < 0.05


@pytest.mark.parametrize("family", BOOSTERS)
def test_a_validation_class_missing_from_training_does_not_stop_the_fit(family: str) -> None:
    """A small fold can hold the only rows of a rare class; early stopping goes on."""
    X, y = features_for(family, "multiclass")
    train, val = np.arange(len(X)) < len(X) // 2, np.arange(len(X)) >= len(X) // 2
    train &= y != 2
    model = learner(family, "multiclass").fit(X[train], y[train], X[val], y[val])
    proba = model.predict_proba(X[val])
    assert proba.shape == (int(val.sum()), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert proba[:, 2].max() < 0.05 and model.fitted_iterations() is not None


# -- early stopping and refit --------------------------------------------------------------
@pytest.mark.parametrize("family", BOOSTERS)
@every_case
def test_early_stopping_stops_on_noise(family: str, task: str) -> None:
    X, _ = features_for(family, task)
    rng = np.random.default_rng(3)
    k = N_CLASSES[task]
    noise = rng.integers(0, k, len(X)) if k else rng.normal(size=len(X))
    noise = noise.astype("float64")
    model = learner(family, task, n_estimators=1000, early_stopping_rounds=10)
    model.fit(X.iloc[:50], noise[:50], X.iloc[50:], noise[50:])
    best = model.fitted_iterations()
    assert best is not None and 1 <= best < 100


@pytest.mark.parametrize("family", BOOSTERS)
@every_case
def test_refit_without_validation_uses_the_found_iterations(family: str, task: str) -> None:
    X, y = features_for(family, task)
    search = learner(family, task, n_estimators=300, early_stopping_rounds=10)
    best = search.fit(X.iloc[:60], y[:60], X.iloc[60:], y[60:]).fitted_iterations()
    assert best is not None
    refit = learner(family, task, n_estimators=best).fit(X, y)
    assert refit.fitted_iterations() == best


@pytest.mark.parametrize("family", ["lgbm", "xgb", "hgb"])
def test_loaded_booster_reads_categories_like_the_fitted_one(family: str, tmp_path: Path) -> None:
    """Only the category carries the signal, so a code mix-up after loading would show."""
    rng = np.random.default_rng(0)
    levels = ["a", "b", "c", "__rare__", "__unknown__"]
    keys = rng.choice(levels[:3], 300)
    X = pd.DataFrame({"cat": pd.Categorical(keys, categories=levels), "x": rng.normal(size=300)})
    y = (keys == "b").astype("float64")
    # with validation rows, so the booster saved is the one cut at its best round
    model = learner(family, "binary").fit(X.iloc[:200], y[:200], X.iloc[200:], y[200:])
    model.save(tmp_path)
    loaded = FAMILIES[family].load(tmp_path, model.get_params())
    probe = pd.DataFrame(
        {"cat": pd.Categorical(["a", "b", "c", None], categories=levels), "x": 0.0}
    )
    p = loaded.predict_proba(probe)[:, 1]
    assert np.array_equal(p, model.predict_proba(probe)[:, 1])
    assert p[1] > 0.8 and p[0] < 0.2 and p[2] < 0.2


def test_hgb_accepts_categoricals_wider_than_its_bins(tmp_path: Path) -> None:
    levels = [f"l{i}" for i in range(300)]
    rng = np.random.default_rng(0)
    keys = rng.choice(levels, 600)
    X = pd.DataFrame({"cat": pd.Categorical(keys, categories=levels), "x": rng.normal(size=600)})
    y = (np.array([int(k[1:]) for k in keys]) < 150).astype("float64")
    model = learner("hgb", "binary").fit(X, y)
    model.save(tmp_path)
    loaded = FAMILIES["hgb"].load(tmp_path, model.get_params())
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


# -- safety --------------------------------------------------------------------------------
def test_a_skops_file_with_a_type_outside_the_list_is_refused(tmp_path: Path) -> None:
    from skops.io.exceptions import UntrustedTypesFoundException

    hgb, _ = fitted("hgb", "binary")
    hgb.save(tmp_path)  # an HGB file where a random forest is expected
    params = learner("rf", "binary").get_params()
    with pytest.raises(UntrustedTypesFoundException):
        FAMILIES["rf"].load(tmp_path, params)


@pytest.mark.parametrize("family", [f for f in FAMILY_NAMES if FAMILIES[f].variant == "encoded"])
def test_encoded_families_refuse_the_native_variant(family: str) -> None:
    features, y = prepared("binary")
    with pytest.raises(ValueError, match="'encoded' feature variant"):
        learner(family, "binary").fit(features["native"], y)
    with_nan = features["encoded"].assign(num=np.nan)
    with pytest.raises(ValueError, match=r"column\(s\) num \(NaN/inf\) are not"):
        learner(family, "binary").fit(with_nan, y)


# -- search space, portfolio, registry -----------------------------------------------------
@every_family
@every_case
def test_portfolio_configs_are_complete_points_of_the_search_space(family: str, task: str) -> None:
    """An enqueued portfolio trial must suggest exactly its config: no key left to chance."""
    import optuna

    cls = FAMILIES[family]
    configs = cls.portfolio(task, 1000, 10)
    assert 1 <= len(configs) <= 4
    for config in configs:
        fixed = optuna.trial.FixedTrial({f"{family}_{k}": v for k, v in config.items()})
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # out-of-range values warn in optuna
            assert cls.search_space(fixed, task, 1000, 10) == config
        make_learner(family, task=task, n_classes=N_CLASSES[task], **config)._validate_params()  # type: ignore[attr-defined]


@every_family
@every_case
def test_sampled_search_space_points_are_valid_params(family: str, task: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        params = FAMILIES[family].search_space(trial, task, 1000, 10)
        assert all(name.startswith(f"{family}_") for name in trial.params)
        model = make_learner(family, task=task, n_classes=N_CLASSES[task], **params)
        model._validate_params()  # type: ignore[attr-defined]
        study.tell(trial, 0.0)


@pytest.mark.slow
@every_family
@every_case
def test_every_portfolio_config_fits(family: str, task: str) -> None:
    X, y = features_for(family, task)
    for config in FAMILIES[family].portfolio(task, len(X), X.shape[1]):
        model = make_learner(family, task=task, n_classes=N_CLASSES[task], n_jobs=1, **config)
        model.fit(X.iloc[:60], y[:60], X.iloc[60:], y[60:])
        assert np.isfinite(model.predict_output(X)).all()


def test_registry_names_every_family_with_a_known_variant() -> None:
    assert set(FAMILIES) == {"lgbm", "xgb", "hgb", "rf", "et", "linear", "knn", "mlp"}
    for name, cls in FAMILIES.items():
        assert cls.family == name and cls.variant in VARIANTS
    assert set(BOOSTERS) == {"lgbm", "xgb", "hgb"}


def test_make_learner_rejects_unknown_families_and_params() -> None:
    with pytest.raises(UsageError, match="unknown model family 'catboost'"):
        make_learner("catboost", task="binary", n_classes=2)
    with pytest.raises(InvalidParameterError, match="no parameter"):
        make_learner("lgbm", task="binary", n_classes=2, depth=3)
    model = make_learner("lgbm", task="multiclass", n_classes=4, seed=3, n_jobs=1, num_leaves=7)
    assert model.get_params()["num_leaves"] == 7 and model.n_classes == 4 and model.seed == 3


def test_default_families_are_cheap_first_and_drop_knn_on_big_tables() -> None:
    small = default_families("binary", 1_000)
    assert set(small) == set(FAMILIES) and small[0] == "linear"
    assert "knn" not in default_families("regression", 1_000_000)
    with pytest.raises(UsageError):
        default_families("ranking", 100)


def past_deadline_and_free(family: str, n_estimators: int) -> tuple[Learner, Learner, pd.DataFrame]:
    """The same learner fitted under a deadline already past, and without one."""
    import time

    from automl_cli.core.learners._base import fit_deadline

    X, y = features_for(family, "binary")
    with fit_deadline(time.monotonic() - 1.0):
        cut = learner(family, "binary", n_estimators=n_estimators).fit(X, y)
    return cut, learner(family, "binary", n_estimators=n_estimators).fit(X, y), X


@pytest.mark.parametrize("family", ["lgbm", "xgb", "hgb"])
def test_boosters_stop_at_the_fit_deadline(family: str, tmp_path: Path) -> None:
    """A deadline already past ends training after the first round: the budget wins."""
    model, free, X = past_deadline_and_free(family, 500)
    assert model.fitted_iterations() is not None and free.fitted_iterations() is not None
    assert model.fitted_iterations() <= 2 < free.fitted_iterations()
    assert model.predict_proba(X).shape == (len(X), 2)
    # a fold fit (early stopping on its validation rows) stops at the deadline too
    import time

    from automl_cli.core.learners._base import fit_deadline

    _, y = features_for(family, "binary")
    half = len(X) // 2
    with fit_deadline(time.monotonic() - 1.0):
        fold = learner(family, "binary", n_estimators=500)
        fold.fit(X[:half], y[:half], X[half:], y[half:])
    assert fold.fitted_iterations() is not None and fold.fitted_iterations() <= 2
    # the deadline check leaves nothing behind in what is saved
    fold.save(tmp_path)
    loaded = type(fold).load(tmp_path, fold.get_params())
    np.testing.assert_allclose(loaded.predict_proba(X), fold.predict_proba(X))


def test_a_fit_keeps_its_predict_share_of_the_time_left() -> None:
    """With ``predict_share``, a fit must stop once the time left is that share of the
    time it has run: the validation prediction after it grows with the model."""
    import time

    from automl_cli.core.learners._base import (
        fit_deadline,
        seconds_to_deadline,
        seconds_to_stop_fitting,
        stop_fitting,
    )

    with fit_deadline(time.monotonic() + 3600.0, predict_share=2.0):
        time.sleep(0.2)
        assert seconds_to_stop_fitting() <= seconds_to_deadline() - 2.0 * 0.2
        assert not stop_fitting()
    with fit_deadline(time.monotonic() + 3600.0):  # no share: the deadline itself
        time.sleep(0.05)
        assert seconds_to_stop_fitting() == pytest.approx(seconds_to_deadline(), abs=0.01)
    assert seconds_to_stop_fitting() == float("inf")  # no block, no limit


@pytest.mark.parametrize("family", ["lgbm", "xgb", "hgb", "rf", "et", "mlp"])
def test_every_iterative_fit_stops_for_its_predict_share(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share so large that no time is ever left for fitting ends each iterative family's
    fit after its first round, trees or epoch, far from the deadline; a k-NN prediction
    under the same block is not cut (it is the prediction the share is kept for)."""
    import time

    import automl_cli.core.learners._forest as forest
    from automl_cli.core.learners._base import fit_deadline

    monkeypatch.setattr(forest, "ONE_GO_CELLS", 0)  # grow in chunks, as on big tables
    X, y = features_for(family, "binary", n=600)
    kwargs = {} if family == "mlp" else {"n_estimators": 60}
    with fit_deadline(time.monotonic() + 3600.0, predict_share=1e9):
        cut = learner(family, "binary", **kwargs).fit(X, y)
        knn_X, knn_y = features_for("knn", "binary")
        knn = learner("knn", "binary").fit(knn_X, knn_y)
        assert knn.predict_proba(knn_X).shape == (len(knn_X), 2)
    free = learner(family, "binary", **kwargs).fit(X, y)
    if family in ("rf", "et"):
        assert len(cut.model_.estimators_) == forest.FIRST_TREES  # type: ignore[attr-defined]
        assert len(free.model_.estimators_) == 60  # type: ignore[attr-defined]
    elif family == "mlp":
        fitted = cut.model_.named_steps["model"]  # type: ignore[attr-defined]
        assert fitted.n_iter_ == 0 < free.model_.named_steps["model"].n_iter_  # type: ignore[attr-defined]
    else:
        assert cut.fitted_iterations() is not None and free.fitted_iterations() is not None
        assert cut.fitted_iterations() <= 2 < free.fitted_iterations()


@pytest.mark.parametrize("family", ["rf", "et"])
def test_forests_stop_growing_trees_at_the_fit_deadline(
    family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import automl_cli.core.learners._forest as forest

    # a table this small is grown in one go; the deadline is checked on bigger ones
    monkeypatch.setattr(forest, "ONE_GO_CELLS", 0)
    cut, full, X = past_deadline_and_free(family, 60)
    # only the first trees, which tell a tree's time: on 800,000 rows one takes over a second
    assert len(cut.model_.estimators_) == forest.FIRST_TREES  # type: ignore[attr-defined]
    assert len(full.model_.estimators_) == 60  # type: ignore[attr-defined]
    assert cut.predict_proba(X).shape == (len(X), 2)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_mlp_stops_at_the_fit_deadline_and_saves_as_plain_sklearn(
    task: str, tmp_path: Path
) -> None:
    """A deadline already past ends training before the first mini-batch; a deadline that
    never comes changes nothing; either way the saved model is a scikit-learn MLP."""
    import time

    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from automl_cli.core.learners._base import fit_deadline

    X, y = features_for("mlp", task, n=600)  # enough rows for early stopping's held-out 10 %
    with fit_deadline(time.monotonic() - 1.0):
        cut = learner("mlp", task).fit(X, y)
    with fit_deadline(time.monotonic() + 3600.0):
        waited = learner("mlp", task).fit(X, y)
    free = learner("mlp", task).fit(X, y)

    def mlp(model: Learner) -> Any:
        fitted = model.model_  # type: ignore[attr-defined]
        return (fitted if task == "binary" else fitted.regressor_).named_steps["model"]

    assert mlp(cut).n_iter_ == 0 < mlp(free).n_iter_ == mlp(waited).n_iter_
    np.testing.assert_array_equal(waited.predict_output(X), free.predict_output(X))
    assert np.isfinite(cut.predict_output(X)).all()
    plain = MLPClassifier if task == "binary" else MLPRegressor
    assert type(mlp(cut)) is plain and type(mlp(free)) is plain
    cut.save(tmp_path)  # the MLP's own trusted-type list still suffices
    loaded = type(cut).load(tmp_path, cut.get_params())
    np.testing.assert_array_equal(loaded.predict_output(X), cut.predict_output(X))


def test_the_mlp_classifier_stops_early_on_validation_log_loss_not_accuracy() -> None:
    """Three well-separated classes: accuracy on the held-out rows is perfect within a few
    epochs, long before the probabilities are. Stopping on log loss trains on; scikit-learn's
    own accuracy-stopped MLP of the same shape stops early with probabilities far too soft.
    A classifier under 500 rows trains without a hold-out; a regressor keeps one."""
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 1200)
    X = pd.DataFrame(rng.normal(size=(1200, 4)) + 3.0 * np.eye(3, 4)[y], columns=list("abcd"))
    train, test = slice(0, 800), slice(800, None)

    ours = make_learner("mlp", task="multiclass", n_classes=3, seed=0, n_jobs=1)
    ours.fit(X[train], y[train])
    mlp = ours.model_.named_steps["model"]  # type: ignore[attr-defined]
    assert mlp.validation_scores_ and max(mlp.validation_scores_) <= 0.0  # -log loss
    assert mlp.best_validation_score_ == max(mlp.validation_scores_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its convergence warning
        stock = make_pipeline(
            StandardScaler(), MLPClassifier((128,), early_stopping=True, random_state=0)
        ).fit(X[train], y[train])
    ours_loss = log_loss(y[test], ours.predict_output(X[test]))
    stock_loss = log_loss(y[test], stock.predict_proba(X[test]))
    assert ours_loss < 0.5 * stock_loss
    assert mlp.n_iter_ > stock[-1].n_iter_

    small = make_learner("mlp", task="multiclass", n_classes=3, seed=0, n_jobs=1)
    small.fit(X[:400], y[:400])
    assert small.model_.named_steps["model"].validation_scores_ is None  # type: ignore[attr-defined]
    regressor = make_learner("mlp", task="regression", n_classes=0, seed=0, n_jobs=1)
    regressor.fit(X[:400], X["a"][:400].to_numpy())
    assert regressor.model_.regressor_.named_steps["model"].validation_scores_  # type: ignore[attr-defined]


def test_knn_predicts_in_chunks_that_equal_one_call_and_stop_at_the_deadline() -> None:
    """k-NN's cost is its prediction: past the deadline it raises rather than finishing."""
    import time

    from automl_cli.core.learners._base import DeadlinePassed, fit_deadline
    from automl_cli.core.learners._knn import PREDICT_CHUNK

    X, y = features_for("knn", "multiclass", n=PREDICT_CHUNK * 2 + 100)
    model = learner("knn", "multiclass", n_neighbors=7).fit(X, y)
    chunked = model.predict_output(X)
    whole = model.model_.predict_proba(X)  # type: ignore[attr-defined]
    k = 7
    np.testing.assert_allclose(chunked, (whole * k + 1 / 3) / (k + 1))  # plus the pseudo-vote
    with fit_deadline(time.monotonic() - 1.0):
        with pytest.raises(DeadlinePassed, match=f"{PREDICT_CHUNK:,} of"):
            model.predict_output(X)
        assert model.predict_output(X[:PREDICT_CHUNK]).shape == (PREDICT_CHUNK, 3)


@pytest.mark.parametrize("family", ["rf", "et"])
def test_forests_grown_in_chunks_equal_one_fit(family: str) -> None:
    """Deadline checks between chunks of trees must not change the forest."""
    import sklearn.ensemble as ensemble

    import automl_cli.core.learners._forest as forest

    cls = ensemble.RandomForestRegressor if family == "rf" else ensemble.ExtraTreesRegressor
    X, y = features_for(family, "regression")
    assert X.size <= forest.ONE_GO_CELLS  # a small table: grown in one go
    big, y_big = features_for(family, "regression", n=60_000 // X.shape[1])
    assert big.size > forest.ONE_GO_CELLS  # grown in chunks, with deadline checks
    # 12 deep trees on 6,000 rows stay under the forest memory cap (which also stops growth)
    for features, target, trees in ((X, y, 30), (big, y_big, 12)):
        model = learner(family, "regression", n_estimators=trees).fit(features, target)
        # fewer rows than the 15,000-leaf cap: it cannot bind, and is left to scikit-learn
        ref = cls(n_estimators=trees, max_features=1.0, max_leaf_nodes=None, random_state=0)
        ref.fit(features, target)
        np.testing.assert_array_equal(model.predict(features), ref.predict(features))


@pytest.mark.parametrize("family", ["rf", "et"])
def test_the_forest_size_cap_stops_growth_but_not_below_a_sixth_of_the_trees(
    family: str,
) -> None:
    """Deep regression trees on 20,000 rows weigh megabytes each: the cap stops growth by
    the first trees' size, and a forest of many trees keeps at least a sixth of them."""
    import automl_cli.core.learners._forest as forest

    X, y = features_for(family, "regression", n=20_000)
    assert X.size > forest.ONE_GO_CELLS
    capped = learner(family, "regression", n_estimators=12).fit(X, y)
    trees = len(capped.model_.estimators_)  # type: ignore[attr-defined]
    per_tree = capped.model_bytes() / trees
    assert 2 < trees < 12  # the cap, not the 12 asked for, ended growth ...
    assert capped.model_bytes() <= forest.MAX_FOREST_BYTES + 2 * per_tree  # ... near the cap
    assert capped.model_bytes() + 2 * per_tree > forest.MAX_FOREST_BYTES
    floor = learner(family, "regression", n_estimators=6 * (trees + 2)).fit(X, y)
    assert len(floor.model_.estimators_) == trees + 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", ["rf", "et"])
def test_the_forest_leaf_cap_holds_where_it_can_bind(family: str) -> None:
    X, y = features_for(family, "binary", n=400)
    capped = learner(family, "binary", n_estimators=5, max_leaf_nodes=8).fit(X, y)
    leaves = [tree.tree_.n_leaves for tree in capped.model_.estimators_]
    assert max(leaves) <= 8
    uncapped = learner(family, "binary", n_estimators=5, max_leaf_nodes=None).fit(X, y)
    assert min(tree.tree_.n_leaves for tree in uncapped.model_.estimators_) > 8


@pytest.mark.parametrize("family", ["rf", "et", "knn"])
def test_families_that_grow_with_the_data_report_their_memory(family: str) -> None:
    small = learner(family, "binary").fit(*features_for(family, "binary", n=100))
    big = learner(family, "binary").fit(*features_for(family, "binary", n=400))
    assert 0 < small.model_bytes() < big.model_bytes()
    assert learner("linear", "binary").fit(*features_for("linear", "binary")).model_bytes() == 0


@pytest.mark.parametrize("family", ["lgbm", "xgb", "hgb"])
def test_boosters_report_more_memory_for_more_trees(family: str) -> None:
    X, y = features_for(family, "binary", n=300)
    few = learner(family, "binary", n_estimators=5).fit(X, y)
    many = learner(family, "binary", n_estimators=50).fit(X, y)
    assert 0 < few.model_bytes() < many.model_bytes()


@pytest.mark.parametrize("family,kwargs", [("rf", {"n_estimators": 7}), ("et", {"n_estimators": 7}),
                                           ("hgb", {"n_estimators": 7})])  # fmt: skip
def test_the_save_estimate_counts_every_tree_skops_writes(
    family: str, kwargs: dict, tmp_path: Path
) -> None:
    """A small forest's save is mostly per-tree work, not bytes: the estimate counts the
    trees the saved file holds, one each."""
    X, y = features_for(family, "binary", n=200)
    model = learner(family, "binary", **kwargs).fit(X, y)
    files = model.save(tmp_path)
    with zipfile.ZipFile(tmp_path / files[0]) as archive:
        schema = json.loads(archive.read("schema.json"))
    kind = "Tree" if family != "hgb" else "TreePredictor"
    written = json.dumps(schema).count(f'"__class__": "{kind}"')
    assert model.stored_objects() == written == 7
    assert model.save_seconds() >= 7 * model.save_per_object
