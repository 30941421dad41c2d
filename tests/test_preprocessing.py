"""Preprocessor: decisions from the profile, both variants, schema enforcement, JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.preprocessing import RARE, UNKNOWN, Preprocessor
from automl_cli.errors import EXIT_BAD_DATA, DataError, UsageError

N = 200


def make_frame(seed: int = 0, n: int = N) -> tuple[pd.DataFrame, pd.Series, dict[str, Any]]:
    rng = np.random.default_rng(seed)
    y = pd.Series(rng.choice(["no", "yes"], n, p=[0.6, 0.4]), name="y")
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "num_gap": np.where(y == "yes", np.nan, rng.normal(size=n)),  # missing = signal
            "small_cat": rng.choice(["a", "b", "c"], n),
            "big_cat": rng.choice([f"lvl{i}" for i in range(60)], n),
            "rare_cat": np.where(np.arange(n) < 3, "one-off", rng.choice(["p", "q"], n)),
            "flag": rng.choice(["yes", "no"], n),
            "when": pd.date_range("2021-01-01", periods=n, freq="D").astype(str),
            "notes": rng.choice(
                ["late delivery again", "great service thanks", "price too high"], n
            ),
            "ident": [f"C{i:05d}" for i in range(n)],
            "const": "NL",
            "leak": np.where(y == "yes", "closed", "active"),
        }
    )
    frame.loc[::9, "num"] = np.nan
    types = {
        "num": "numeric",
        "num_gap": "numeric",
        "small_cat": "categorical",
        "big_cat": "categorical",
        "rare_cat": "categorical",
        "flag": "boolean",
        "when": "datetime",
        "notes": "text",
        "ident": "id",
        "const": "constant",
        "leak": "categorical",
    }
    profile = {
        "columns": [{"name": k, "semantic_type": v} for k, v in types.items()],
        "target": {"name": "y", "task": "binary"},
        "warnings": [
            {"code": "leakage", "column": "leak", "message": "'leak' predicts 'y' almost perfectly"}
        ],
    }
    return frame, y, profile


@pytest.fixture
def fitted() -> tuple[Preprocessor, pd.DataFrame, pd.Series]:
    frame, y, profile = make_frame()
    return Preprocessor(profile=profile, target="y", max_categories=20).fit(frame, y), frame, y


def test_decisions_follow_the_profile_with_reasons(fitted: Any) -> None:
    prep, _, _ = fitted
    actions = {d.name: (d.action, d.reason) for d in prep.decisions_}
    assert actions["leak"][0] == "drop" and "leakage" in actions["leak"][1]
    assert actions["ident"][0] == "drop" and "ID-like" in actions["ident"][1]
    assert actions["const"][0] == "drop" and "constant" in actions["const"][1]
    assert actions["when"][0] == "datetime"
    assert actions["notes"][0] == "text"
    assert actions["flag"][0] == "boolean"
    state = prep.state_
    assert state["small_cat"]["onehot"] and not state["big_cat"]["onehot"]
    assert state["num_gap"]["indicator"] is True  # its missingness predicts the target
    assert state["num"]["indicator"] is False  # missing at random: no indicator
    assert state["rare_cat"]["pooled_levels"] == 1 and "one-off" not in state["rare_cat"]["levels"]


def test_native_variant_keeps_nan_and_uses_categories(fitted: Any) -> None:
    prep, frame, _ = fitted
    out = prep.transform(frame, variant="native")
    assert len(out) == len(frame)
    assert out["num"].isna().sum() == frame["num"].isna().sum()
    assert isinstance(out["small_cat"].dtype, pd.CategoricalDtype)
    assert RARE in out["rare_cat"].cat.categories and UNKNOWN in out["rare_cat"].cat.categories
    assert set(out["flag"].unique()) == {0.0, 1.0}
    assert {"when__year", "when__month", "when__dayofweek", "when__elapsed_days"} <= set(out)
    assert not any(c.startswith(("leak", "ident", "const")) for c in out.columns)


def test_encoded_variant_is_all_finite_numbers(fitted: Any) -> None:
    prep, frame, y = fitted
    out = prep.transform(frame, variant="encoded", y=y)
    assert all(pd.api.types.is_float_dtype(t) for t in out.dtypes)
    assert np.isfinite(out.to_numpy()).all()
    assert {"small_cat__a", "small_cat__b", "small_cat__c", "num_gap__missing"} <= set(out)
    assert {"big_cat__te", "big_cat__freq"} <= set(out)
    assert any(c.startswith("notes__w_") for c in out.columns)


def test_training_target_encoding_is_out_of_fold(fitted: Any) -> None:
    prep, frame, y = fitted
    oof = prep.transform(frame, variant="encoded", y=y)["big_cat__te"]
    full = prep.transform(frame, variant="encoded")["big_cat__te"]
    # in-sample encodings are closer to each row's own label than out-of-fold ones
    label = (y == "yes").to_numpy(dtype=float)
    assert np.abs(full - label).mean() < np.abs(oof - label).mean()
    assert not np.allclose(oof, full)


def test_same_rows_give_identical_features_whatever_the_frame_around_them(fitted: Any) -> None:
    prep, frame, _ = fitted
    base = {v: prep.transform(frame, variant=v) for v in ("native", "encoded")}
    shuffled = frame.sample(frac=1.0, random_state=3)[list(reversed(frame.columns))]
    shuffled = shuffled.assign(extra_column=1, another="x")
    shuffled = shuffled.drop(columns=["ident", "const", "leak"])  # dropped in training: optional
    changed = shuffled.index[:2]
    shuffled.loc[changed[0], "small_cat"] = "never-seen"
    shuffled.loc[changed[1], "num"] = np.nan
    for variant, expected in base.items():
        out, report = prep.transform_with_report(shuffled, variant=variant)
        untouched = [i for i in shuffled.index if i not in set(changed)]
        pd.testing.assert_frame_equal(out.loc[untouched], expected.loc[untouched])
        assert report.extra_columns == ["extra_column", "another"]
        assert report.unseen_categories == {"small_cat": 1}
    encoded = prep.transform(shuffled, variant="encoded")
    row = encoded.loc[changed[0]]
    assert row[["small_cat__a", "small_cat__b", "small_cat__c"]].sum() == 0  # unknown: no level
    assert prep.transform(shuffled, variant="native").loc[changed[0], "small_cat"] == UNKNOWN
    assert encoded.loc[changed[1], "num"] == prep.state_["num"]["median"]


def test_missing_required_column_is_exit_3_naming_it(fitted: Any) -> None:
    prep, frame, _ = fitted
    with pytest.raises(DataError, match=r"'num'.*'flag'|'flag'.*'num'") as info:
        prep.transform(frame.drop(columns=["num", "flag"]))
    assert info.value.exit_code == EXIT_BAD_DATA


def test_numeric_column_with_text_is_coerced_or_refused(fitted: Any) -> None:
    prep, frame, _ = fitted
    as_text = frame.assign(num=frame["num"].map(lambda v: "" if pd.isna(v) else f" {v} "))
    pd.testing.assert_frame_equal(prep.transform(as_text), prep.transform(frame))
    bad = frame.assign(num=frame["num"].astype(object))
    bad.loc[5, "num"] = "twelve"
    with pytest.raises(DataError, match=r"'num'.*'twelve'.*row") as info:
        prep.transform(bad)
    assert info.value.exit_code == EXIT_BAD_DATA


def test_inf_is_treated_as_missing(fitted: Any) -> None:
    prep, frame, _ = fitted
    with_inf = frame.assign(num=frame["num"].replace(frame["num"].iloc[1], np.inf))
    assert np.isnan(prep.transform(with_inf, variant="native")["num"].iloc[1])


def test_json_round_trip_gives_identical_output(fitted: Any) -> None:
    prep, frame, y = fitted
    clone = Preprocessor.from_dict(json.loads(json.dumps(prep.to_dict(), allow_nan=False)))
    for variant in ("native", "encoded"):
        pd.testing.assert_frame_equal(
            clone.transform(frame, variant=variant), prep.transform(frame, variant=variant)
        )
    pd.testing.assert_frame_equal(
        clone.transform(frame, variant="encoded", y=y),
        prep.transform(frame, variant="encoded", y=y),
    )


def test_fit_is_deterministic_and_row_order_invariant() -> None:
    frame, y, profile = make_frame(seed=4)
    a = Preprocessor(profile=profile, target="y").fit(frame, y)
    order = np.random.default_rng(1).permutation(len(frame))
    b = Preprocessor(profile=profile, target="y").fit(frame.iloc[order], y.iloc[order])
    pd.testing.assert_frame_equal(a.transform(frame), b.transform(frame))


def test_keep_overrides_and_drop_removes() -> None:
    frame, y, profile = make_frame()
    prep = Preprocessor(profile=profile, target="y", keep=("leak",), drop=("num",)).fit(frame, y)
    actions = {d.name: d for d in prep.decisions_}
    assert actions["leak"].action == "categorical" and "--keep" in actions["leak"].reason
    assert actions["num"].action == "drop" and "--drop" in actions["num"].reason


def test_text_drop_mode_and_bad_params() -> None:
    frame, y, profile = make_frame()
    prep = Preprocessor(profile=profile, target="y", text="drop").fit(frame, y)
    assert {d.name: d.action for d in prep.decisions_}["notes"] == "drop"
    with pytest.raises(UsageError, match="'text' parameter"):
        Preprocessor(profile=profile, target="y", text="bert").fit(frame, y)
    with pytest.raises(UsageError, match="nope"):
        Preprocessor(profile=profile, target="y", drop=("nope",)).fit(frame, y)


def test_params_are_not_mutated_by_fit() -> None:
    frame, y, profile = make_frame()
    prep = Preprocessor(profile=profile, target="y", drop=("num",))
    before = json.dumps(prep.get_params(), sort_keys=True, default=str)
    prep.fit(frame, y)
    assert json.dumps(prep.get_params(), sort_keys=True, default=str) == before


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_other_tasks(task: str) -> None:
    frame, _, profile = make_frame()
    rng = np.random.default_rng(2)
    y = pd.Series(
        rng.choice(["r", "g", "b"], N) if task == "multiclass" else rng.normal(size=N), name="y"
    )
    prep = Preprocessor(profile=profile, target="y", task=task).fit(frame, y)
    out = prep.transform(frame, variant="encoded", y=y)
    te_cols = [c for c in out.columns if c.startswith("big_cat__te")]
    assert len(te_cols) == (3 if task == "multiclass" else 1)
    assert np.isfinite(out.to_numpy()).all()
    assert prep.classes_ == (["b", "g", "r"] if task == "multiclass" else None)
