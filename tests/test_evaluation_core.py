"""The evaluation's arithmetic on hand-made rows: intervals, baseline, threshold, fairness gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.evaluation import (
    baseline_output,
    best_threshold,
    classification_details,
    compare_outputs,
    metric_table,
    regression_details,
)
from automl_cli.core.explain import partial_dependence, permutation_importance
from automl_cli.core.fairness import MIN_GROUP_ROWS, fairness_report
from automl_cli.core.metrics import METRICS


def _binary(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.25, n), 0.01, 0.99)
    return y, np.column_stack([1 - p1, p1])


def test_metric_table_has_an_interval_around_each_value_and_a_chance_baseline() -> None:
    y, proba = _binary()
    table = metric_table("binary", y, proba, 2, resamples=100, seed=0)
    assert set(table) == {"auc", "logloss", "accuracy", "balanced_accuracy", "f1"}
    for m in table.values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]
    assert table["auc"]["value"] > 0.8
    assert table["auc"]["baseline"] == pytest.approx(0.5)
    # the baseline predicts the class shares: its log loss is the entropy of the labels
    share = y.mean()
    entropy = -(share * np.log(share) + (1 - share) * np.log(1 - share))
    assert table["logloss"]["baseline"] == pytest.approx(entropy)
    # more rows give a narrower interval
    y4, p4 = _binary(4000)
    wide = table["auc"]["ci_high"] - table["auc"]["ci_low"]
    narrow = metric_table("binary", y4, p4, 2, resamples=100)["auc"]
    assert narrow["ci_high"] - narrow["ci_low"] < wide


def test_regression_baseline_is_the_mean_and_deciles_cover_every_row() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 500)
    pred = y + rng.normal(0, 1, 500)
    assert np.all(baseline_output("regression", y, 0) == pytest.approx(y.mean()))
    table = metric_table("regression", y, pred, 0, resamples=50)
    assert table["rmse"]["value"] < table["rmse"]["baseline"]
    assert table["r2"]["baseline"] == pytest.approx(0.0)
    deciles = regression_details(y, pred)["by_target_decile"]
    assert len(deciles) == 10 and sum(d["rows"] for d in deciles) == 500


def test_threshold_maximises_the_metric_and_falls_back_to_f1_for_auc() -> None:
    y = np.array([0] * 80 + [1] * 20)
    # positives score 0.3..0.4, negatives 0..0.25: a cut near 0.3 separates them perfectly
    p = np.concatenate([np.linspace(0, 0.25, 80), np.linspace(0.3, 0.4, 20)])
    found = best_threshold(y, p, METRICS["accuracy"])
    assert found["metric"] == "accuracy" and found["value"] == 1.0
    assert 0.25 < found["threshold"] <= 0.3
    assert found["value_at_0_5"] == pytest.approx(0.8)  # at 0.5 every row is called negative
    assert best_threshold(y, p, METRICS["auc"])["metric"] == "f1"


def test_confusion_matrix_counts_rows_by_actual_and_predicted_class() -> None:
    y = np.array([0, 0, 1, 1, 2, 2])
    proba = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    d = classification_details(y, proba, ["a", "b", "c"], METRICS["logloss"])
    assert d["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert set(d["roc_per_class"]) == {"a", "b", "c"}


def test_paired_comparison_tells_a_real_difference_from_noise() -> None:
    y, good = _binary(2000, seed=2)
    rng = np.random.default_rng(3)
    p1 = np.clip(good[:, 1] + rng.normal(0, 0.35, len(y)), 0.01, 0.99)
    worse = np.column_stack([1 - p1, p1])
    c = compare_outputs(METRICS["auc"], y, good, worse, 2, resamples=100)
    assert c["better"] == "model" and c["beyond_interval"] and c["ci_low"] > 0
    same = compare_outputs(METRICS["auc"], y, good, good.copy(), 2, resamples=20)
    assert same["better"] == "tie" and not same["beyond_interval"]


def test_fairness_gaps_follow_their_definitions_and_small_groups_are_flagged() -> None:
    # group a: 100 rows, half positive, predicted positive exactly when positive
    # group b: 100 rows, half positive, every row predicted positive
    # group c: 10 rows: too small to judge
    y = np.array([1, 0] * 50 + [1, 0] * 50 + [1, 0] * 5)
    pred = np.concatenate([y[:100], np.ones(100, dtype=int), y[200:]])
    proba = np.column_stack([1 - pred, pred]).astype(float)
    groups = pd.DataFrame({"g": ["a"] * 100 + ["b"] * 100 + ["c"] * 10})
    [sec] = fairness_report(groups, y, proba, "binary", ["no", "yes"], METRICS["accuracy"])
    by = {g["group"]: g for g in sec["groups"]}
    assert by["a"]["selection_rate"] == {"yes": 0.5} and by["b"]["selection_rate"] == {"yes": 1.0}
    assert by["b"]["fpr"] == {"yes": 1.0} and by["a"]["fpr"] == {"yes": 0.0}
    assert by["c"]["too_small"] and by["c"]["rows"] < MIN_GROUP_ROWS
    assert sec["gaps"]["demographic_parity_difference"] == pytest.approx(0.5)
    assert sec["gaps"]["equalized_odds_fpr_difference"] == pytest.approx(1.0)
    assert sec["gaps"]["equalized_odds_tpr_difference"] == pytest.approx(0.0)
    text = " ".join(sec["warnings"])
    assert "different rates" in text and "too small to judge" in text and "c" in text


def test_fairness_for_regression_compares_errors() -> None:
    y = np.zeros(120)
    pred = np.concatenate([np.full(60, 1.0), np.full(60, 3.0)])
    groups = pd.DataFrame({"region": ["x"] * 60 + ["y"] * 60})
    [sec] = fairness_report(groups, y, pred, "regression", None, METRICS["rmse"])
    assert sec["gaps"]["mae_ratio"] == pytest.approx(3.0)
    assert any("3.00×" in w for w in sec["warnings"])


def test_permutation_importance_finds_the_column_the_model_uses() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"signal": rng.normal(size=500), "noise": rng.normal(size=500)})
    y = (frame["signal"] > 0).astype(int).to_numpy()

    def predict(X: pd.DataFrame) -> np.ndarray:
        p = 1 / (1 + np.exp(-4 * X["signal"].to_numpy()))
        return np.column_stack([1 - p, p])

    rows = permutation_importance(predict, frame, y, METRICS["auc"], 2, seed=0)
    assert [r["column"] for r in rows] == ["signal", "noise"]
    assert rows[0]["ci_low"] > 0.2
    assert rows[1]["importance"] == pytest.approx(0.0)
    pd_ = partial_dependence(predict, frame, "signal", "binary", ["0", "1"])
    assert pd_ is not None
    curve = pd_["series"]["P(1)"]
    assert curve == sorted(curve) and curve[-1] - curve[0] > 0.5


def test_multiclass_groups_missing_a_class_are_still_compared() -> None:
    # island x: classes 0 and 1 only; island y: classes 1 and 2 only (as penguin species are)
    y = np.array([0, 1] * 30 + [1, 2] * 30)
    proba = np.eye(3)[y] * 0.9 + 0.1 / 3
    groups = pd.DataFrame({"island": ["x"] * 60 + ["y"] * 60})
    [sec] = fairness_report(groups, y, proba, "multiclass", ["a", "b", "c"], METRICS["logloss"])
    by = {g["group"]: g for g in sec["groups"]}
    assert not by["x"]["too_small"] and not by["y"]["too_small"]
    assert by["x"]["tpr"]["c"] is None and by["y"]["tpr"]["a"] is None  # no such rows there
    assert by["x"]["tpr"]["b"] == 1.0 and by["y"]["tpr"]["b"] == 1.0
    # class a is selected for half of x and none of y: a 50-point parity gap
    assert sec["gaps"]["demographic_parity_difference"] == pytest.approx(0.5)
    assert sec["gaps"]["equalized_odds_tpr_difference"] == pytest.approx(0.0)
