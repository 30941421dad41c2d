"""Profiling rules on small seeded frames, and the HTML report built from a profile."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.profiling import SEMANTIC_TYPES, WARNING_CODES, profile_frame
from automl_cli.core.report import render_profile_html
from automl_cli.errors import DataError

N = 200


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _types(profile: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["semantic_type"] for c in profile["columns"]}


def _codes(profile: dict[str, Any], column: str | None = "*") -> list[str]:
    return [w["code"] for w in profile["warnings"] if column == "*" or w["column"] == column]


def _warning(profile: dict[str, Any], code: str, column: str | None = None) -> dict[str, Any]:
    found = [w for w in profile["warnings"] if w["code"] == code and w["column"] == column]
    assert found, f"no {code} warning on {column}: {profile['warnings']}"
    return found[0]


def _clean_frame(seed: int = 0) -> pd.DataFrame:
    """Nothing wrong with it: a correlated feature, noise, a small categorical, balanced y."""
    rng = _rng(seed)
    x = rng.normal(size=N)
    y = (x + rng.normal(scale=1.0, size=N)) > 0
    return pd.DataFrame(
        {
            "signal": x,
            "noise": rng.uniform(0, 100, N),
            "colour": rng.choice(["red", "green", "blue", "grey"], N),
            "count": rng.integers(0, 8, N),
            "y": np.where(y, "good", "bad"),
        }
    )


# -- semantic types ----------------------------------------------------------------------------


def test_semantic_types_follow_the_documented_rules() -> None:
    rng = _rng(1)
    days = pd.date_range("2020-01-01", periods=N, freq="D")
    frame = pd.DataFrame(
        {
            "height_cm": rng.normal(170, 10, N),  # unique floats: a measurement, not an ID
            "colour": rng.choice(["red", "green", "blue"], N),
            "flag": rng.random(N) < 0.5,
            "answer": rng.choice(["yes", "No", " YES"], N),
            "zero_one": rng.integers(0, 2, N),
            "when": days,
            "when_text": days.strftime("%d %b %Y").astype(object),
            "year_text": rng.integers(1990, 2020, N).astype(str).astype(object),
            "notes": [f"the customer wrote message number {i} about the order" for i in range(N)],
            "row_number": np.arange(1000, 1000 + N),
            "code": [f"AB{i:05d}" for i in rng.permutation(N)],
            "customer_id": rng.integers(0, 200, N),  # only ~63 % distinct, but named like an ID
            "country": "NL",
            "empty": np.full(N, np.nan),
        }
    )
    types = _types(profile_frame(frame))
    assert types == {
        "height_cm": "numeric",
        "colour": "categorical",
        "flag": "boolean",
        "answer": "boolean",
        "zero_one": "boolean",
        "when": "datetime",
        "when_text": "datetime",
        "year_text": "categorical",
        "notes": "text",
        "row_number": "id",
        "code": "id",
        "customer_id": "id",
        "country": "constant",
        "empty": "constant",
    }
    assert set(types.values()) <= set(SEMANTIC_TYPES)


def test_a_name_hint_does_not_make_a_low_cardinality_column_an_id() -> None:
    frame = pd.DataFrame({"store_id": _rng().integers(0, 5, N), "paid": np.arange(N)})
    types = _types(profile_frame(frame))
    assert types["store_id"] == "numeric"
    assert types["paid"] == "id"  # unique whole numbers, and 'paid' is not an ID name hint


def test_column_details_are_filled_in() -> None:
    rng = _rng(2)
    values = rng.normal(10, 2, N)
    values[:10] = np.nan
    values[10] = np.inf
    frame = pd.DataFrame({"v": values, "c": rng.choice(["a", "b"], N, p=[0.8, 0.2])})
    profile = profile_frame(frame)
    v, c = profile["columns"]
    assert v["missing_count"] == 10 and v["missing_share"] == pytest.approx(0.05)
    assert v["numeric"]["inf_count"] == 1
    assert v["numeric"]["median"] == pytest.approx(np.nanmedian(values[np.isfinite(values)]))
    assert v["numeric"]["q05"] <= v["numeric"]["q25"] <= v["numeric"]["q75"] <= v["numeric"]["q95"]
    assert len(v["histogram"]["counts"]) <= 30
    assert sum(v["histogram"]["counts"]) == N - 11
    assert len(v["histogram"]["edges"]) == len(v["histogram"]["counts"]) + 1
    assert c["numeric"] is None and c["histogram"] is None
    assert [t["value"] for t in c["top_values"]] == ["a", "b"]
    assert sum(t["count"] for t in c["top_values"]) == N
    assert profile["dataset"]["rows"] == N and profile["dataset"]["columns"] == 2


# -- target and task -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (np.where(_rng().random(N) < 0.4, "yes", "no"), "binary"),
        (_rng().random(N) < 0.4, "binary"),
        (_rng().choice(["cat", "dog", "bird"], N), "multiclass"),
        (_rng().integers(0, 4, N), "multiclass"),
        (_rng().normal(size=N), "regression"),
        (_rng().integers(100, 400, N), "regression"),
        (np.full(N, "same"), None),
    ],
)
def test_task_is_guessed_from_the_target(values: np.ndarray, task: str | None) -> None:
    frame = pd.DataFrame({"x": _rng(3).normal(size=N), "y": values})
    target = profile_frame(frame, "y")["target"]
    assert target["task"] == task
    assert target["reason"]
    assert next(c for c in profile_frame(frame, "y")["columns"] if c["is_target"])["name"] == "y"
    if task in ("binary", "multiclass"):
        assert sum(c["count"] for c in target["classes"]) == N
    if task == "regression":
        assert target["numeric"]["mean"] == pytest.approx(float(np.mean(values)))


def test_unknown_target_is_a_data_error() -> None:
    with pytest.raises(DataError, match="'nope'"):
        profile_frame(_clean_frame(), "nope")


# -- warnings --------------------------------------------------------------------------------


def test_a_clean_frame_has_no_warnings() -> None:
    profile = profile_frame(_clean_frame(), "y")
    assert profile["warnings"] == []
    assert profile["target"]["task"] == "binary"


def test_a_correlated_feature_is_not_leakage() -> None:
    rng = _rng(4)
    x = rng.normal(size=N)
    frame = pd.DataFrame(
        {
            "x": x,
            "y_class": (x + rng.normal(scale=0.3, size=N)) > 0,  # ~90 % separable
            "y_reg": x * 3 + rng.normal(scale=1.0, size=N),  # r ≈ 0.95
        }
    )
    assert "leakage" not in _codes(profile_frame(frame.drop(columns="y_reg"), "y_class"))
    assert "leakage" not in _codes(profile_frame(frame.drop(columns="y_class"), "y_reg"))


def test_leakage_classification_categorical_and_numeric() -> None:
    rng = _rng(5)
    survived = rng.random(N) < 0.4
    alive = np.where(survived, "yes", "no").astype(object)
    alive[:1] = "no" if survived[0] else "yes"  # one row of noise
    frame = pd.DataFrame(
        {
            "alive": alive,
            "score": np.where(survived, 1.0, 0.0) + rng.uniform(0, 0.5, N),  # a threshold copy
            "noise": rng.normal(size=N),
            "survived": np.where(survived, 1, 0),
        }
    )
    profile = profile_frame(frame, "survived")
    warning = _warning(profile, "leakage", "alive")
    assert warning["severity"] == "high"
    assert "'alive' predicts 'survived' almost perfectly" in warning["message"]
    assert "99.5 %" in warning["message"]
    assert _warning(profile, "leakage", "score")
    assert "leakage" not in _codes(profile, "noise")


def test_leakage_finds_a_cut_off_that_falls_inside_a_quantile_bin() -> None:
    rng = _rng(10)
    score = rng.permutation(N) + rng.uniform(0.1, 0.5, N)  # fractions: a measurement
    frame = pd.DataFrame({"score": score, "y": np.where(score >= N - 25, "yes", "no")})
    warning = _warning(profile_frame(frame, "y"), "leakage", "score")
    assert "single cut-off" in warning["reason"]


def test_leakage_skips_unique_per_row_columns() -> None:
    frame = _clean_frame()
    frame["serial"] = [f"s{i}" for i in range(N)]
    frame["measure"] = _rng(6).normal(size=N)  # unique, but numbers are binned, not grouped
    assert "leakage" not in _codes(profile_frame(frame, "y"))


def test_leakage_regression_numeric_and_categorical() -> None:
    rng = _rng(7)
    price = rng.lognormal(3, 1, N)
    group = rng.choice(list("abcdefgh"), N)
    level = pd.Series(group).map({k: i * 100.0 for i, k in enumerate("abcdefgh")}).to_numpy()
    frame = pd.DataFrame(
        {
            "price_cents": price * 100 + 0.001,  # same information, different unit
            "log_price": np.log(price),  # monotone: Spearman 1
            "tier": group,
            "x": rng.normal(size=N),
        }
    )
    profile = profile_frame(frame.assign(price=price), "price")
    assert _warning(profile, "leakage", "price_cents")
    assert "Spearman" in _warning(profile, "leakage", "log_price")["message"]
    assert "leakage" not in _codes(profile, "tier") + _codes(profile, "x")
    profile = profile_frame(frame.assign(level=level + rng.normal(0, 1, N)), "level")
    assert "variance" in _warning(profile, "leakage", "tier")["message"]


def test_column_warnings_fire() -> None:
    rng = _rng(8)
    half = rng.normal(size=N)
    half[rng.permutation(N)[:100]] = np.nan
    most = rng.normal(size=N)
    most[rng.permutation(N)[:170]] = np.nan
    frame = pd.DataFrame(
        {
            "order_id": np.arange(N),
            "constant": 7,
            "region": [f"r{i % 60}" for i in range(N)],
            "half_missing": half,
            "mostly_missing": most,
            "x": rng.normal(size=N),
        }
    )
    profile = profile_frame(frame)
    assert _warning(profile, "id_like", "order_id")["reason"]
    assert "'7'" in _warning(profile, "constant", "constant")["message"]
    assert _warning(profile, "high_cardinality", "region")
    assert _warning(profile, "heavy_missing", "half_missing")["severity"] == "medium"
    assert _warning(profile, "heavy_missing", "mostly_missing")["severity"] == "high"
    assert _codes(profile, "x") == []
    assert "id_like" not in _codes(profile, "x")


def test_duplicate_rows_and_target_missing() -> None:
    frame = _clean_frame()
    frame = pd.concat([frame.iloc[:195], frame.iloc[:5]], ignore_index=True)
    frame.loc[[10, 20, 30], "y"] = None
    profile = profile_frame(frame, "y")
    assert profile["dataset"]["duplicate_rows"] == 5
    assert profile["dataset"]["duplicate_share"] == pytest.approx(5 / len(frame))
    assert "5 rows" in _warning(profile, "duplicate_rows")["message"]
    assert _warning(profile, "target_missing", "y")["severity"] == "medium"
    assert profile["target"]["missing_count"] == 3


@pytest.mark.parametrize(("minority", "severity"), [(12, "medium"), (3, "high")])
def test_class_imbalance_and_rare_classes(minority: int, severity: str) -> None:
    frame = _clean_frame()
    frame["y"] = ["rare"] * minority + ["common"] * (N - minority)
    profile = profile_frame(frame, "y")
    assert _warning(profile, "class_imbalance", "y")["severity"] == severity
    assert ("rare_classes" in _codes(profile, "y")) == (minority < 10)


def test_balanced_multiclass_is_not_called_imbalanced() -> None:
    frame = _clean_frame()
    frame["y"] = [f"class_{i % 12}" for i in range(N)]  # 12 classes of ~8 %
    codes = _codes(profile_frame(frame, "y"))
    assert "class_imbalance" not in codes


def test_warnings_are_ordered_by_severity_and_well_formed() -> None:
    frame = _clean_frame()
    frame["leak"] = frame["y"].map({"good": "g", "bad": "b"})
    frame["id"] = np.arange(N)
    frame["k"] = 1
    profile = profile_frame(frame, "y")
    order = {"high": 0, "medium": 1, "low": 2}
    ranks = [order[w["severity"]] for w in profile["warnings"]]
    assert ranks == sorted(ranks) and ranks[0] == 0
    for w in profile["warnings"]:
        assert set(w) == {"code", "column", "severity", "message", "reason"}
        assert w["code"] in WARNING_CODES and w["message"] and "\n" not in w["message"]


# -- output contract -------------------------------------------------------------------------


def test_profile_is_strict_json_and_deterministic() -> None:
    frame = _clean_frame()
    frame.loc[0, "signal"] = np.inf
    frame.loc[1, "signal"] = -np.inf
    frame["all_nan"] = np.nan
    frame["when"] = pd.date_range("2021-01-01", periods=N, freq="h")
    first = profile_frame(frame, "y", seed=3)
    text = json.dumps(first, allow_nan=False)
    assert json.loads(text) == first
    assert first == profile_frame(frame, "y", seed=3)
    assert first["schema_version"] == 1
    for col in first["columns"]:
        assert set(col) == {
            "name",
            "dtype",
            "semantic_type",
            "missing_count",
            "missing_share",
            "distinct",
            "distinct_share",
            "top_values",
            "numeric",
            "histogram",
            "datetime",
            "text",
            "is_target",
        }


def test_profile_does_not_modify_the_frame() -> None:
    frame = _clean_frame()
    before = frame.copy()
    profile_frame(frame, "y")
    pd.testing.assert_frame_equal(frame, before)


# -- HTML report -----------------------------------------------------------------------------

EVIL = "<script>alert(1)</script>"


def test_report_escapes_user_strings_and_draws_charts() -> None:
    frame = _clean_frame()
    frame[EVIL] = _rng(9).normal(size=N)
    frame["label"] = [EVIL if i % 2 else "<b>x</b>" for i in range(N)]
    profile = profile_frame(frame, "y")
    html = render_profile_html(
        profile,
        title=EVIL,
        source={"path": f"/data/{EVIL}.csv", "sha256": "0" * 64, "format": "csv", "size": 10},
    )
    assert "<script" not in html and "<b>x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    numeric = sum(c["semantic_type"] == "numeric" for c in profile["columns"])
    assert numeric >= 3
    assert html.count("<svg") >= numeric + 1  # one per numeric column, plus class balance
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_report_is_self_contained() -> None:
    frame = _clean_frame()
    frame["leak"] = frame["y"]
    html = render_profile_html(profile_frame(frame, "y"), title="t")
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", html)
    assert html.index("Warnings") < html.index("Target: y") < html.index("Columns (")
    assert 'class="warn high"' in html


def test_report_without_target_or_warnings() -> None:
    html = render_profile_html(profile_frame(_clean_frame().drop(columns="y")), title="plain")
    assert "No problems found" in html and "No target was given" in html
