"""The search benchmark's paired comparison against default LightGBM.

The bar "never worse than default LightGBM on any table" is judged on one test split per
table; these tests hold the harness to scoring both systems alike and to an interval that
separates a real loss from a gap a few test rows make.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_search


def _binary(n: int, noise: float, seed: int) -> tuple[pd.Series, dict[str, object]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(y * 0.6 + 0.2 + rng.normal(0, noise, n), 0, 1)
    return pd.Series(y), {"classes": [0, 1], "proba": np.c_[1 - p, p].tolist()}


def test_the_rows_give_the_metrics_scikit_learn_gives() -> None:
    y, pred = _binary(300, 0.3, 0)
    rows = bench_search.test_rows("binary", y, pred)
    p1 = np.asarray(pred["proba"])[:, 1]  # type: ignore[call-overload]
    assert bench_search.metric_of("binary", rows) == pytest.approx(roc_auc_score(y, p1))
    assert bench_search.score("binary", y, pred) == pytest.approx(roc_auc_score(y, p1))

    rng = np.random.default_rng(1)
    y3 = pd.Series(rng.choice(["a", "b", "c"], 200))
    proba = rng.dirichlet([1, 1, 1], 200)
    rows3 = bench_search.test_rows("multiclass", y3, {"classes": ["a", "b", "c"], "proba": proba})
    assert bench_search.metric_of("multiclass", rows3) == pytest.approx(
        log_loss(y3, proba, labels=["a", "b", "c"])
    )


def test_a_loss_a_few_rows_make_has_an_interval_across_zero() -> None:
    y, pred = _binary(200, 0.35, 2)
    rows = bench_search.test_rows("binary", y, pred)
    other = {"y": rows["y"], "p": rows["p"].copy()}
    wrong = np.flatnonzero(rows["y"])[:2]
    other["p"][wrong] = 0.0  # two positive rows ranked last: a small, chance-sized gap
    out = bench_search.paired_difference("binary", other, rows, resamples=500)
    direct = bench_search.metric_of("binary", rows) - bench_search.metric_of("binary", other)
    assert out["error_diff"] == pytest.approx(direct, abs=1e-6)
    assert out["error_diff"] > 0
    lo, hi = out["ci95"]
    assert lo <= 0 < out["error_diff"] <= hi  # resamples without those rows see no gap
    assert not bench_search._beyond_noise({"score": 0.9, "vs_lightgbm_default": out})
    assert out["test_rows"] == 200 and out["resamples"] == 500


def test_a_real_loss_has_an_interval_above_zero_and_counts_as_one() -> None:
    y, pred = _binary(400, 0.15, 3)
    good = bench_search.test_rows("binary", y, pred)
    rng = np.random.default_rng(4)
    bad = {"y": good["y"], "p": np.clip(good["p"] + rng.normal(0, 0.5, 400), 0, 1)}
    out = bench_search.paired_difference("binary", bad, good, resamples=500)
    assert out["ci95"][0] > 0  # clearly worse: the whole interval is a loss
    assert bench_search._beyond_noise({"score": 0.7, "vs_lightgbm_default": out})
    chance = {"error_diff": 0.004, "ci95": [-0.02, 0.03], "test_rows": 223, "resamples": 2000}
    assert not bench_search._beyond_noise({"score": 0.86, "vs_lightgbm_default": chance})
    assert bench_search._beyond_noise({"score": None, "error": "fit exit 1"})
    assert not bench_search._beyond_noise({"score": 0.86})  # not measured: not claimed


def test_systems_scored_on_different_rows_are_not_compared() -> None:
    a = {"y": np.array([1.0, 2.0, 3.0]), "p": np.array([1.0, 2.0, 3.0])}
    b = {"y": np.array([1.0, 2.0, 4.0]), "p": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(ValueError, match="different test rows"):
        bench_search.paired_difference("regression", a, b)


def test_the_summary_names_only_the_losses_beyond_noise(tmp_path: Path) -> None:
    chance = {"error_diff": 0.004, "ci95": [-0.02, 0.03], "test_rows": 223, "resamples": 2000}
    real = {"error_diff": 0.05, "ci95": [0.01, 0.09], "test_rows": 500, "resamples": 2000}
    results = {
        "systems": {"automl": {}, "flaml": {}, "lightgbm_default": {}},
        "tables": {"t1": {"task": "binary"}, "t2": {"task": "regression"}},
        "runs": {
            "t1": {
                "automl": {"score": 0.86, "vs_lightgbm_default": chance},
                "flaml": {"score": 0.80, "vs_lightgbm_default": real},
                "lightgbm_default": {"score": 0.87},
            },
            "t2": {
                "automl": {"score": 1.0, "vs_lightgbm_default": real | {"error_diff": -0.1}},
                "flaml": {"score": 1.2, "vs_lightgbm_default": real},
                "lightgbm_default": {"score": 1.1},
            },
        },
    }
    summary = bench_search.summarize(results)
    assert summary["automl"]["worse_than_lightgbm_default"] == ["t1"]
    assert summary["automl"]["worse_beyond_noise"] == []
    assert summary["flaml"]["worse_beyond_noise"] == ["t1", "t2"]
    cell = bench_search._worse_cell(results["runs"], "automl", ["t1"])
    assert cell == "t1 +0.0040 [-0.020, +0.030]"
    results["summary"] = summary
    lines = bench_search._noise_lines(results, ["automl", "flaml", "lightgbm_default"])
    assert lines[0].startswith("- automl: worse than lightgbm_default on 1 table(s), beyond")
    assert lines[0].endswith("noise on 0 of 1 measured")
    assert lines[1].endswith("noise on 2 of 2 measured (t1, t2)")
    del results["runs"]["t1"]["flaml"]["vs_lightgbm_default"]  # a run from before intervals
    results["summary"] = bench_search.summarize(results)
    lines = bench_search._noise_lines(results, ["automl", "flaml", "lightgbm_default"])
    assert lines[1].endswith("on 1 of 1 measured (t2); no interval for 1 (runs before it was kept)")
