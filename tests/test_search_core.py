"""The search loop's bookkeeping: folds, which fold models it keeps, how it predicts fold
times, and how a booster's out-of-fold predictions are scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.cpu import threads_left
from automl_cli.core.learners import make_learner
from automl_cli.core.metrics import get_metric
from automl_cli.core.search import (
    SearchSettings,
    TrialRecord,
    _keep_best_models,
    _TimeModel,
    cv_repeats,
    make_folds,
    run_search,
)
from automl_cli.steps.search import SAVE_MARGIN_S, Member, _refit_or_bag


def _record(number: int, loss: float, nbytes: int, family: str = "rf") -> TrialRecord:
    r = TrialRecord(number, family, {}, "complete", False, fold_losses=[loss])
    r.models = [make_learner("linear", task="binary", n_classes=2)]
    r.model_bytes = nbytes
    return r


def test_kept_fold_models_respect_count_and_memory_caps() -> None:
    records = [
        _record(i, loss, nbytes)
        for i, (loss, nbytes) in enumerate(
            [(0.5, 300), (0.1, 900), (0.2, 200), (0.3, 200), (0.4, 50)]
        )
    ]
    _keep_best_models(records, keep=4, keep_bytes=420)
    kept = sorted(r.number for r in records if r.models is not None)
    # the best (900 B) beside the cap; 0.2 and 0.3 (200 B each) fill 400 of its 420 B, so
    # 0.4 (50 B) does not fit; 0.5 is 5th
    assert kept == [1, 2, 3]
    _keep_best_models(records, keep=4, keep_bytes=10**6)
    assert sorted(r.number for r in records if r.models is not None) == [1, 2, 3]  # dropped stay


def test_a_best_trial_bigger_than_the_cap_leaves_the_others_their_share() -> None:
    """The best is always kept, whatever its size, and does not use up the others' memory:
    otherwise the ensemble would have nothing to choose from but the best."""
    records = [_record(0, 0.1, 10**12), _record(1, 0.2, 60), _record(2, 0.3, 60)]
    _keep_best_models(records, keep=10, keep_bytes=100)
    assert [r.models is not None for r in records] == [True, True, False]


def test_a_new_family_is_predicted_from_the_others_by_relative_cost() -> None:
    timer = _TimeModel()
    assert timer.fold_estimate("rf", []) == 0.0  # nothing measured: no basis to refuse
    timer.record("lgbm", 1.0)
    timer.record("lgbm", 3.0)
    rf = timer.fold_estimate("rf", [])
    assert rf > timer.fold_estimate("lgbm", []) == 2.0  # forests cost more than boosters
    assert timer.fold_estimate("rf", [0.5]) == np.float64(0.5) * 1.1  # own folds win


def test_local_workers_of_a_shared_study_split_the_cores() -> None:
    """Two workers on one machine each get half the threads; dead or remote ones do not count."""
    import os
    import socket
    import subprocess
    import sys

    import optuna

    from automl_cli.core.search import _threads_beside_local_workers

    host = socket.gethostname()
    me = f"{host}:{os.getpid()}"
    study = optuna.create_study()
    assert _threads_beside_local_workers(study, me, 2) == 2
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for worker in (f"{host}:{sleeper.pid}", "elsewhere.example:1", f"{host}:999999999"):
            trial = study.ask()
            trial.set_user_attr("worker", worker)
        assert _threads_beside_local_workers(study, me, 2) == 1
        assert _threads_beside_local_workers(study, me, 8) == 4
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _threads_beside_local_workers(study, me, 2) == 2  # that worker has gone


def test_the_best_of_every_family_keeps_its_models_beside_the_top_trials() -> None:
    """Ensembles need members that err differently: a family's best stays a candidate even
    when other families fill the top ``keep``."""
    records = [_record(i, 0.1 + i / 100, 10, "lgbm") for i in range(5)]
    records += [_record(10, 0.5, 10, "linear"), _record(11, 0.6, 10, "linear")]
    _keep_best_models(records, keep=3, keep_bytes=10**6)
    kept = sorted(r.number for r in records if r.models is not None)
    assert kept == [0, 1, 2, 10]


def test_repeated_folds_validate_every_row_once_per_repeat() -> None:
    y = np.random.default_rng(0).integers(0, 2, 300)
    once = make_folds(y, "binary", 5, seed=3)
    thrice = make_folds(y, "binary", 5, seed=3, repeats=3)
    assert len(thrice) == 15
    # the first repeat is the plain K-fold: the same seed gives the same folds
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(once, thrice[:5], strict=True))
    counts = np.zeros(len(y), dtype=int)
    for train, val in thrice:
        assert not set(train) & set(val)
        counts[val] += 1
    assert (counts == 3).all()
    # the repeats are shuffled differently
    assert not np.array_equal(thrice[0][1], thrice[5][1])
    assert cv_repeats(300, 10) == cv_repeats(3_000, 16) == 2
    assert cv_repeats(3_001, 2) == cv_repeats(2_000, 80) == 1  # many rows, or wide: one pass


def test_booster_folds_are_scored_at_one_round_count_and_repeats_averaged() -> None:
    """Each fold model of a booster trial predicts with the folds' mean best round (what the
    refit uses), and its out-of-fold output is the mean over the repeats of those models."""
    from sklearn.datasets import make_classification

    X_np, y = make_classification(400, 8, n_informative=4, random_state=0)
    X = pd.DataFrame(X_np, columns=[f"f{i}" for i in range(8)])
    settings = SearchSettings(
        task="binary",
        n_classes=2,
        metric=get_metric("logloss", "binary"),
        families=["lgbm", "xgb"],
        cv=4,
        seed=0,
        trials=4,
        n_jobs=1,
        repeats=2,
    )
    result = run_search({"native": X}, y, settings)
    assert result.repeats == 2 and len(result.folds) == 8
    boosters = [t for t in result.complete() if t.models is not None]
    assert {t.family for t in boosters} == {"lgbm", "xgb"}
    for t in boosters:
        assert t.models is not None and len(t.models) == 8
        trained = [
            m.model_.current_iteration() if t.family == "lgbm" else m.model_.num_boosted_rounds()
            for m in t.models
        ]
        used = [m.fitted_iterations() for m in t.models]
        common = max(u for u in used if u is not None)
        assert used == [min(common, n) for n in trained]  # one count, capped by what was trained
        sums, n = np.zeros(len(y)), np.zeros(len(y))
        losses = []
        for model, (_, val) in zip(t.models, result.folds, strict=True):
            p = model.predict_output(X.iloc[val])[:, 1]
            sums[val] += p
            n[val] += 1
            losses.append(settings.metric.loss(y[val], model.predict_output(X.iloc[val]), 2))
        assert (n == 2).all()
        np.testing.assert_allclose(t.oof[:, 1], sums / n, rtol=1e-9)  # type: ignore[index]
        np.testing.assert_allclose(t.fold_losses, losses, rtol=1e-9)


def test_a_knn_trial_that_cannot_predict_its_fold_by_the_deadline_is_stopped() -> None:
    """k-NN fits at once and spends its time predicting: 40,000 validation rows against
    40,000 training rows take seconds. A deadline that passes meanwhile ends the trial as
    stopped within that fold, instead of overrunning the budget to finish it."""
    import time

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80_000, 30)), columns=[f"f{i}" for i in range(30)])
    y = (X["f0"] + rng.normal(size=len(X)) > 0).to_numpy(dtype="int64")
    import optuna  # noqa: F401  (imported here, not on the clock)
    import sklearn.neighbors  # noqa: F401

    settings = SearchSettings("binary", 2, get_metric("auc", "binary"), ["knn"], cv=2)
    deadline = time.monotonic() + 0.5
    result = run_search({"encoded": X}, y, settings, deadline=deadline)
    assert [r.state for r in result.trials] == ["stopped"]
    assert result.trials[0].fit_seconds == []  # stopped within its first fold, not after it
    assert result.stopped_by == "deadline" and not result.complete()


def test_a_refit_cut_short_by_the_deadline_keeps_the_finished_fold_models() -> None:
    """A machine slower than the time model's estimate stops a booster's refit after a few
    rounds; such a model predicts badly, so the member stays its complete fold models."""
    import time

    from sklearn.datasets import make_regression

    X_np, y = make_regression(20_000, 20, noise=1.0, random_state=0)
    X = pd.DataFrame(X_np, columns=[f"f{i}" for i in range(20)])
    params = {"learning_rate": 0.01, "num_leaves": 63}
    folds = [
        make_learner("lgbm", task="regression", n_classes=0, n_jobs=1, **params) for _ in range(2)
    ]
    for k, model in enumerate(folds):
        rows = np.arange(len(y)) % 2 != k
        model.fit(X[rows].iloc[:500], y[rows][:500], X[~rows].iloc[:200], y[~rows][:200])
    member = Member("lgbm", 1.0, params, list(folds), "folds", 3, 0.0, [1000, 1000])
    settings = SearchSettings("regression", 0, get_metric("rmse", "regression"), ["lgbm"])
    notes: list[str] = []
    # time to save the fold models twice over, and 0.3 s more: the time model expects the
    # refit to take 0.13 s; 1,100 rounds on 20,000 rows take far longer
    saving = sum(model.save_seconds() for model in folds)
    deadline = time.monotonic() + SAVE_MARGIN_S + 2 * saving + 0.3
    out = _refit_or_bag([member], {"native": X}, y, settings, deadline, False, notes.append)
    # the refit stopped where the time to save one model on all rows begins: at least one
    # fold model is kept, as many as that time saves
    kept = out[0].learners
    assert out[0].fit == "folds" and 1 <= len(kept) <= 2 and kept == folds[: len(kept)]
    assert any("keeping its fold models" in n for n in notes)


def _forest_member(n_folds: int) -> tuple[Member, dict[str, pd.DataFrame], np.ndarray]:
    """Extra trees fold models of a few MB each, on 3,000 noisy rows."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(3000, 8)), columns=[f"f{i}" for i in range(8)])
    y = (X["f0"] + rng.normal(size=3000) > 0).astype(int).to_numpy()
    folds = []
    for k in range(n_folds):
        train = np.arange(3000) % n_folds != k
        folds.append(make_learner("et", task="binary", n_classes=2, n_jobs=1, n_estimators=40).fit(
            X[train], y[train]
        ))  # fmt: skip
    member = Member("et", 1.0, {"n_estimators": 40}, list(folds), "folds", 7, 0.1, [None] * 3)
    return member, {"encoded": X}, y


def test_fold_models_are_kept_only_as_many_as_there_is_time_to_save() -> None:
    """Saving is in the budget: with time to save about one and a half fold models, the
    member is not refit (a refit is bigger than a fold model) and keeps one of its three."""
    import time

    member, features, y = _forest_member(3)
    folds = list(member.learners)
    per_fold = folds[0].save_seconds()
    assert per_fold > 0.1  # the forests are big enough for their save to count
    settings = SearchSettings("binary", 2, get_metric("auc", "binary"), ["et"])
    notes: list[str] = []
    deadline = time.monotonic() + SAVE_MARGIN_S + 1.5 * per_fold
    out = _refit_or_bag([member], features, y, settings, deadline, False, notes.append)
    assert out[0].fit == "folds" and out[0].learners == folds[:1]
    assert "time to save 1 of et's 3 fold models" in notes
    assert not any("refitting" in n for n in notes)


def test_a_member_is_refit_when_its_fit_and_the_save_of_all_fit_in_the_budget() -> None:
    """A later member's save is reserved before an earlier member's refit starts."""
    import time

    first, features, y = _forest_member(3)
    second, _, _ = _forest_member(3)
    second.trial = 8
    settings = SearchSettings("binary", 2, get_metric("auc", "binary"), ["et"])
    notes: list[str] = []
    out = _refit_or_bag(
        [first, second], features, y, settings, time.monotonic() + 120, False, notes.append
    )
    assert [m.fit for m in out] == ["refit", "refit"]
    assert notes == ["refitting et on all 3,000 rows"] * 2
    # the refit model is a fold model's size grown by its share of the rows, as estimated
    assert out[0].learners[0].save_seconds() <= 1.6 * first.learners[0].save_seconds()


def test_a_search_that_cannot_start_before_its_deadline_fails_at_once() -> None:
    """Past the search deadline, or closer to it than the imports the search still needs
    take, there is no time for a trial: the budget error comes before any work."""
    import time

    import pytest

    from automl_cli.errors import EXIT_GATE, BudgetError
    from automl_cli.steps.search import _check_time_to_start

    started = time.monotonic() - 3.0
    with pytest.raises(BudgetError, match=r"took 3\.\d s of 5 s") as caught:
        _check_time_to_start(time.monotonic() - 0.1, started, 5.0)
    assert caught.value.exit_code == EXIT_GATE
    import optuna  # noqa: F401
    import sklearn  # noqa: F401  (both imported: nothing left to wait for)

    _check_time_to_start(time.monotonic() + 0.5, started, 5.0)  # half a second: one trial


def test_stashed_fold_models_predict_as_before_and_are_read_only_when_asked(tmp_path) -> None:
    """Kept fold models wait on disk; reading one back gives the same model, a slice reads
    nothing, their save time is known without reading, and dropping deletes the files."""
    from automl_cli.core.stash import StashedModels, save_seconds, stash

    member, features, _ = _forest_member(3)
    folds = list(member.learners)
    stashed = stash(folds, tmp_path / "models", "trial-7")
    files = sorted((tmp_path / "models").iterdir())
    assert [f.name for f in files] == ["trial-7-0.pkl", "trial-7-1.pkl", "trial-7-2.pkl"]
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in files)  # this user's alone
    assert (tmp_path / "models").stat().st_mode & 0o777 == 0o700
    X = features["encoded"]
    assert len(stashed) == 3
    for before, after in zip(folds, stashed, strict=True):
        assert after is not before
        np.testing.assert_array_equal(after.predict_output(X), before.predict_output(X))
    head = stashed[:1]
    files[2].unlink()  # a view of the first model never opens the others
    assert isinstance(head, StashedModels) and len(list(head)) == 1
    assert save_seconds(stashed) == save_seconds(folds) > 0.1  # noted, not read back
    stashed.drop()
    assert not list((tmp_path / "models").iterdir())


def test_big_kept_fold_models_move_to_disk_and_their_files_go_with_them(tmp_path) -> None:
    """Only models worth the write move (small ones cost more time than memory); a trial
    that leaves the kept set takes its files along."""
    from automl_cli.core.stash import STASH_MIN_BYTES, StashedModels

    big, small = _record(0, 0.2, STASH_MIN_BYTES), _record(1, 0.3, STASH_MIN_BYTES - 1)
    stash_dir = tmp_path / "models"
    _keep_best_models([big, small], keep=2, keep_bytes=10**12, stash_dir=stash_dir)
    assert isinstance(big.models, StashedModels) and isinstance(small.models, list)
    assert [f.name for f in stash_dir.iterdir()] == ["trial-0-0.pkl"]
    better = [_record(2, 0.1, 10), _record(3, 0.15, 10)]
    _keep_best_models([big, small, *better], keep=2, keep_bytes=10**12, stash_dir=stash_dir)
    assert big.models is None and small.models is None  # 3rd and 4th of keep=2
    assert not list(stash_dir.iterdir())


def test_a_member_kept_as_fold_models_is_read_back_from_disk(tmp_path, monkeypatch) -> None:
    """The search stashes its kept fold models; a member that is not refit gets them back as
    models in memory, and they reproduce the trial's out-of-fold predictions."""
    import time

    import automl_cli.core.search as core_search
    from automl_cli.core.stash import StashedModels
    from automl_cli.steps.search import _ensemble

    monkeypatch.setattr(core_search, "STASH_MIN_BYTES", 0)  # these forests are a few MB
    _, features, y = _forest_member(2)  # its table
    settings = SearchSettings(
        "binary", 2, get_metric("auc", "binary"), ["et"], cv=3, trials=2, n_jobs=1
    )
    result = run_search(features, y, settings, stash_dir=tmp_path / "models")
    kept = [t for t in result.complete() if t.models is not None]
    assert kept and all(isinstance(t.models, StashedModels) for t in kept)
    members, _ = _ensemble(result, y, settings.metric, 2)
    per_fold = members[0].learners[0].save_seconds()
    deadline = time.monotonic() + SAVE_MARGIN_S + 1.5 * per_fold  # no time to refit
    out = _refit_or_bag(members[:1], features, y, settings, deadline, False, lambda _: None)
    assert out[0].fit == "folds" and type(out[0].learners) is list and len(out[0].learners) == 1
    best = next(t for t in kept if t.number == out[0].trial)
    _, val = result.folds[0]
    np.testing.assert_allclose(
        out[0].learners[0].predict_output(features["encoded"].iloc[val]), best.oof[val]
    )


def test_a_running_trials_fold_models_go_to_disk_as_they_are_fit(tmp_path, monkeypatch) -> None:
    """Big fold models do not pile up in memory while their trial runs: each goes to disk
    once fit. A booster's rescoring at the folds' common round reaches the copies on disk
    (they reproduce the out-of-fold predictions), and trials that end unfinished leave no
    files behind."""
    import automl_cli.core.search as core_search
    from automl_cli.core.stash import StashedModels

    monkeypatch.setattr(core_search, "STASH_MIN_BYTES", 0)  # these boosters are small
    _, encoded, y = _forest_member(2)
    features = {**encoded, "native": encoded["encoded"]}  # all numeric: one and the same
    settings = SearchSettings(
        "binary", 2, get_metric("auc", "binary"), ["lgbm"], cv=3, trials=4, n_jobs=1
    )
    stash_dir = tmp_path / "models"
    result = run_search(features, y, settings, stash_dir=stash_dir)
    kept = [t for t in result.complete() if t.models is not None]
    assert kept and all(isinstance(t.models, StashedModels) for t in kept)
    on_disk = {f.name.split("-")[1] for f in stash_dir.iterdir()}
    assert on_disk == {str(t.number) for t in kept}  # nothing of dropped or pruned trials
    X = features["native"]
    for t in kept:
        # folds that early-stopped past the mean round were cut back to it: the out-of-fold
        # predictions are those of the cut models, and so must the models on disk be
        for k, (_, val) in enumerate(result.folds):
            model = t.models[k]
            assert model.fitted_iterations() == t.iterations[k]
            np.testing.assert_allclose(model.predict_output(X.iloc[val]), t.oof[val])


def test_a_trial_whose_next_fold_model_cannot_be_written_keeps_them_all_in_memory(
    tmp_path, monkeypatch
) -> None:
    """The stash only saves memory: when the disk refuses a running trial's next fold model,
    the trial goes on with all its models in memory and leaves no files."""
    import automl_cli.core.search as core_search
    from automl_cli.core.search import _keep_fold_model
    from automl_cli.core.stash import StashedModels

    monkeypatch.setattr(core_search, "STASH_MIN_BYTES", 0)
    member, features, _ = _forest_member(3)
    first, second, third = member.learners
    stash_dir = tmp_path / "models"
    models = _keep_fold_model([], first, 1, stash_dir, 5)
    models = _keep_fold_model(models, second, 2, stash_dir, 5)
    assert isinstance(models, StashedModels) and len(models) == 2
    (stash_dir / "trial-5-2.pkl").write_text("in the way")  # the next file cannot be made
    models = _keep_fold_model(models, third, 3, stash_dir, 5)
    assert type(models) is list and len(models) == 3 and models[2] is third
    X = features["encoded"]
    for before, after in zip(member.learners, models, strict=True):
        np.testing.assert_array_equal(after.predict_output(X), before.predict_output(X))
    assert [f.name for f in stash_dir.iterdir()] == ["trial-5-2.pkl"]  # only what was there


def test_a_stashed_booster_is_read_back_at_the_rounds_set_after_it_was_written(tmp_path) -> None:
    """The rescoring cuts a stashed booster back to the common round without writing it
    again: the cut is applied on every read, a slice keeps it, and a slice is read-only."""
    import pytest

    from automl_cli.core.stash import stash

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    y = (X["a"] + rng.normal(size=400) > 0).astype(int).to_numpy()
    boosters = [
        make_learner("lgbm", task="binary", n_classes=2, n_jobs=1, n_estimators=60).fit(X, y)
        for _ in range(2)
    ]
    stashed = stash(boosters[:1], tmp_path / "models", "trial-3")
    stashed.append(boosters[1])
    assert sorted(f.name for f in (tmp_path / "models").iterdir()) == [
        "trial-3-0.pkl",
        "trial-3-1.pkl",
    ]
    written = {f: f.stat().st_mtime_ns for f in (tmp_path / "models").iterdir()}
    stashed.use_iterations(1, 20)
    assert stashed[0].fitted_iterations() == 60 and stashed[1].fitted_iterations() == 20
    assert stashed[1:][0].fitted_iterations() == 20  # a view keeps the cut
    boosters[1].use_iterations(20)
    np.testing.assert_array_equal(stashed[1].predict_output(X), boosters[1].predict_output(X))
    assert {f: f.stat().st_mtime_ns for f in (tmp_path / "models").iterdir()} == written
    with pytest.raises(TypeError, match="read-only"):
        stashed[:1].append(boosters[0])


def test_models_that_cannot_be_stashed_stay_in_memory_and_leave_no_files(tmp_path) -> None:
    """The stash only saves memory: a disk that refuses the files must not fail the search,
    and a write that fails part-way removes what it wrote."""
    import pickle

    import pytest

    from automl_cli.core.stash import STASH_MIN_BYTES, stash

    (tmp_path / "in-the-way").write_text("a file where the directory should go")
    record = _record(0, 0.1, STASH_MIN_BYTES)
    models = record.models
    _keep_best_models([record], keep=1, keep_bytes=0, stash_dir=tmp_path / "in-the-way" / "m")
    assert record.models is models  # still the list in memory
    learner = make_learner("linear", task="binary", n_classes=2)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        stash([learner, lambda: None], tmp_path / "models", "trial-0")  # type: ignore[list-item]
    assert not list((tmp_path / "models").iterdir())


def test_a_stashed_model_whose_file_changed_is_refused_not_loaded(tmp_path) -> None:
    """Stashed files are unpickled only when their bytes are the ones this process wrote."""
    import pytest

    from automl_cli.core.stash import StashChanged, stash

    member, features, _ = _forest_member(2)
    stashed = stash(list(member.learners), tmp_path / "models", "trial-1")
    changed = tmp_path / "models" / "trial-1-1.pkl"
    data = bytearray(changed.read_bytes())
    data[-10] ^= 0xFF
    changed.write_bytes(bytes(data))
    X = features["encoded"]
    np.testing.assert_array_equal(
        stashed[0].predict_output(X), member.learners[0].predict_output(X)
    )
    with pytest.raises(StashChanged, match=r"trial-1-1\.pkl changed on disk") as caught:
        stashed[1]
    assert caught.value.exit_code != 0 and caught.value.hint


@pytest.mark.parametrize(
    ("cpus", "others", "wanted", "threads"),
    [
        (2, 0.0, 2, 2),  # an idle machine: what was asked
        (2, 0.4, 2, 2),  # a little background work is not worth a thread
        (2, 0.6, 2, 1),  # most of a core taken: one thread
        (2, 2.0, 2, 1),  # all taken: still one, never none
        (64, 20.0, 2, 2),  # a big host, busy elsewhere: room enough
        (4, 2.2, 4, 2),
        (8, 0.0, 1, 1),  # never more than asked
    ],
)
def test_threads_left_are_the_free_cores_within_what_was_asked(
    cpus: int, others: float, wanted: int, threads: int
) -> None:
    assert threads_left(cpus, others, wanted) == threads


def test_the_family_that_fits_the_time_left_is_the_best_one_that_can_finish() -> None:
    from automl_cli.core.search import TrialRecord as Rec

    timer = _TimeModel()
    for family, seconds in (("rf", 4.0), ("lgbm", 0.5), ("lgbm", 3.0), ("linear", 0.1)):
        timer.record(family, seconds)
    assert timer.fastest_fold("lgbm") == 0.5  # configurations differ: the fastest can finish
    done = [
        Rec(0, "rf", {}, "complete", False, fold_losses=[0.1], oof=np.zeros(3)),
        Rec(1, "lgbm", {}, "complete", False, fold_losses=[0.2], oof=np.zeros(3)),
        Rec(2, "linear", {}, "complete", False, fold_losses=[0.3], oof=np.zeros(3)),
    ]
    families = ["rf", "lgbm", "linear"]
    assert timer.family_that_fits(families, 5, 30.0, done) == "rf"  # 5 × 4 s fit: the best
    assert timer.family_that_fits(families, 5, 10.0, done) == "lgbm"  # rf's 20 s do not
    assert timer.family_that_fits(families, 5, 1.0, done) == "linear"
    assert timer.family_that_fits(families, 5, 0.4, done) is None
    # none finished yet: the cheapest of those that fit
    assert timer.family_that_fits(families, 5, 10.0, []) == "linear"


@pytest.mark.slow
def test_a_family_that_cannot_finish_in_the_time_left_gives_it_to_one_that_can() -> None:
    """A trial that cannot end by the deadline is no ensemble candidate. The search does not
    start one (it is not on the leaderboard, and failed in the study), and a slow family's
    stop does not end the search while a cheaper family can still finish a trial."""
    import time

    import optuna

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(4000, 10)), columns=[f"f{i}" for i in range(10)])
    y = X["f0"].to_numpy() * 2 + rng.normal(scale=0.3, size=len(X))
    features = {"native": X, "scaled": X, "encoded": X}
    forest = make_learner("rf", task="regression", n_classes=0, n_jobs=1,
                          max_features=1.0, min_samples_leaf=1)  # fmt: skip
    t0 = time.monotonic()
    forest.fit(X.iloc[:2667], y[:2667])
    fold = time.monotonic() - t0  # one forest fold on this machine, now
    settings = SearchSettings(
        task="regression",
        n_classes=0,
        metric=get_metric("rmse", "regression"),
        families=["linear", "rf"],
        cv=3,
        seed=0,
        n_jobs=1,
    )
    storage = optuna.storages.InMemoryStorage()
    # time for one or two forest folds, never three: the forest trial is stopped early
    result = run_search(features, y, settings, deadline=time.monotonic() + 1.6 * fold,
                        storage=storage)  # fmt: skip
    assert result.stopped_by == "deadline"
    recorded = {t.number: t for t in result.trials}
    forests = [t for t in result.trials if t.family == "rf"]
    assert len(forests) == 1 and forests[0].state == "stopped"  # the portfolio's, cut short
    later = [t for t in result.trials if t.number > forests[0].number and t.state == "complete"]
    assert later and {t.family for t in later} == {"linear"}  # the time left went to linear
    study = optuna.load_study(study_name="automl-search", storage=storage)
    unstarted = [t for t in study.trials if t.number not in recorded]
    assert unstarted, "no forest was proposed after the first: the test no longer tests"
    assert all(t.state == optuna.trial.TrialState.FAIL for t in unstarted)
    assert "rf" in {t.params["family"] for t in unstarted}
    # a linear trial goes unstarted only at the very end, when the time left, less what
    # refitting the members takes, no longer holds even one
    last_linear = max(t.number for t in later)
    assert all(t.number > last_linear for t in unstarted if t.params["family"] == "linear")
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))


def test_the_refit_reserve_covers_the_likely_members_of_the_ensemble() -> None:
    """Near the deadline the search keeps time to refit, on all rows, the best trial of
    each of the three best families: each at its mean fold time, grown to all rows."""
    from automl_cli.core.search import TrialRecord as Rec
    from automl_cli.core.search import refit_reserve, time_for_trials

    def rec(n: int, family: str, loss: float, seconds: list[float], state: str = "complete") -> Rec:
        # a trial that ran all its folds has its out-of-fold predictions
        return Rec(n, family, {}, state, False, fold_losses=[loss], fit_seconds=seconds,
                   oof=np.zeros(3))  # fmt: skip

    records = [
        rec(0, "lgbm", 0.10, [1.0, 3.0]),  # lgbm's best: mean 2 s
        rec(1, "lgbm", 0.20, [50.0]),  # not its family's best: no member
        rec(2, "xgb", 0.15, [1.0]),
        rec(3, "linear", 0.30, [0.5]),
        rec(4, "mlp", 0.40, [30.0]),  # the fourth family: unlikely to carry weight
        rec(5, "rf", 0.01, [99.0], state="pruned"),  # unfinished trials are no members
        # the running trial reads "complete" from its start; its first fold is no member
        Rec(6, "et", {}, "complete", False, fold_losses=[0.05], fit_seconds=[40.0]),
    ]
    growth = 1.3 / (1 - 1 / 5)  # 5-fold: a fold model learns from four fifths of the rows
    assert refit_reserve(records, 5, 1) == pytest.approx((2.0 + 1.0 + 0.5) * growth)
    # 5 folds × 2 repeats is still 5-fold; one holdout split trains on 80 %, grown as 50 %
    assert refit_reserve(records, 10, 2) == pytest.approx((2.0 + 1.0 + 0.5) * growth)
    assert refit_reserve(records, 1, 1) == pytest.approx((2.0 + 1.0 + 0.5) * 1.3 / 0.5)
    assert refit_reserve(records, 5, 1, cap=1.0) == 1.0  # a big table's refits wait
    assert refit_reserve([], 5, 1) == 0.0
    # the time new trials may use: less the reserve, capped at 15 % of the search's span
    assert time_for_trials(30.0, records, 5, 1, span=100.0) == pytest.approx(
        30.0 - (2.0 + 1.0 + 0.5) * growth
    )
    assert time_for_trials(30.0, records, 5, 1, span=20.0) == pytest.approx(30.0 - 3.0)
    # a worker refits nothing (the finishing search does): all of it
    assert time_for_trials(30.0, records, 5, 1, span=100.0, refits=False) == 30.0
