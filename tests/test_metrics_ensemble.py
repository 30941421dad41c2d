"""Metrics agree with scikit-learn and know their direction; greedy ensembling helps."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score

from automl_cli.core.ensemble import (
    FLOOR_ROWS,
    fit_temperature,
    floor_probabilities,
    greedy_ensemble,
    sharpen,
)
from automl_cli.core.metrics import METRICS, default_metric, get_metric
from automl_cli.errors import UsageError

rng = np.random.default_rng(0)


def test_binary_and_multiclass_metrics_match_sklearn() -> None:
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.6 + rng.random(200) * 0.4, 0, 1)
    proba = np.column_stack([1 - p1, p1])
    assert get_metric("auc", "binary").score(y, proba, 2) == pytest.approx(roc_auc_score(y, p1))
    assert get_metric("logloss", "binary").score(y, proba, 2) == pytest.approx(log_loss(y, proba))
    y3 = rng.integers(0, 3, 300)
    p3 = rng.dirichlet([1, 1, 1], 300)
    assert get_metric(None, "multiclass").score(y3, p3, 3) == pytest.approx(
        log_loss(y3, p3, labels=[0, 1, 2])
    )
    auc3 = roc_auc_score(y3, p3, multi_class="ovr", average="macro")
    assert get_metric("auc", "multiclass").score(y3, p3, 3) == pytest.approx(auc3)


def test_binary_auc_equals_sklearn_with_ties_and_one_class() -> None:
    """The ensemble step's fast AUC: ties (rounded scores, a constant model) count half."""
    auc = get_metric("auc", "binary")
    for n, decimals in ((50, 1), (500, 2), (3000, 8)):
        y = rng.integers(0, 2, n)
        p1 = np.round(np.clip(y * 0.3 + rng.random(n) * 0.7, 0, 1), decimals)
        proba = np.column_stack([1 - p1, p1])
        assert auc.score(y, proba, 2) == pytest.approx(roc_auc_score(y, p1), abs=1e-12)
    y = rng.integers(0, 2, 100)
    assert auc.score(y, np.full((100, 2), 0.5), 2) == 0.5
    assert np.isnan(auc.score(np.ones(10, dtype=int), rng.dirichlet([1, 1], 10), 2))
    # a multiclass target of which a fold holds two classes: the binary AUC of those two
    y3 = np.array([0, 2, 2, 0, 2, 0, 0, 2])
    p3 = rng.dirichlet([1, 1, 1], 8)
    two = p3[:, [0, 2]] / p3[:, [0, 2]].sum(axis=1, keepdims=True)
    expected = roc_auc_score(y3 == 2, two[:, 1])
    assert get_metric("auc", "multiclass").score(y3, p3, 3) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_label_metrics_and_multiclass_auc_equal_sklearn(k: int) -> None:
    """The fast metrics agree with scikit-learn's, also where a class is never predicted,
    never true, or missing from a bootstrap sample."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    task = "binary" if k == 2 else "multiclass"
    for n, skew in ((12, 0.0), (200, 0.0), (200, 4.0)):
        y = rng.choice(k, n, p=np.r_[1.0, np.ones(k - 1) * (1 + skew)] / (k + skew * (k - 1)))
        proba = rng.dirichlet(np.ones(k), n)
        proba[:, -1] *= 0.2 if skew else 1.0  # the last class is seldom predicted
        proba /= proba.sum(axis=1, keepdims=True)
        pred = proba.argmax(axis=1)
        average = "binary" if k == 2 else "macro"
        expected = {
            "f1": f1_score(y, pred, average=average, zero_division=0),
            "balanced_accuracy": balanced_accuracy_score(y, pred),
        }
        if len(np.unique(y)) > 1:
            present = np.unique(y)
            sub = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
            expected["auc"] = (
                roc_auc_score(y == present[1], sub[:, 1])
                if len(present) == 2
                else roc_auc_score(y, sub, multi_class="ovr", average="macro", labels=present)
            )
        for name, value in expected.items():
            got = get_metric(name, task).score(y, proba, k)
            assert got == pytest.approx(value, abs=1e-12), (name, n, skew)


def test_regression_metrics_and_direction() -> None:
    y = rng.normal(size=100)
    v = y + rng.normal(scale=0.1, size=100)
    rmse = get_metric("rmse", "regression")
    assert rmse.score(y, v) == pytest.approx(mean_squared_error(y, v) ** 0.5)
    assert rmse.loss(y, v) == rmse.score(y, v)  # lower is better already
    r2 = get_metric("r2", "regression")
    assert r2.loss(y, v) == -r2.score(y, v) and r2.to_score(r2.loss(y, v)) == r2.score(y, v)
    assert {default_metric(t) for t in ("binary", "multiclass", "regression")} == {
        "auc",
        "logloss",
        "rmse",
    }
    assert set(METRICS) >= {"accuracy", "balanced_accuracy", "f1", "mae", "r2"}


def test_metric_errors_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown metric"):
        get_metric("nope", "binary")
    with pytest.raises(UsageError, match="does not apply"):
        get_metric("rmse", "binary")


def test_greedy_ensemble_combines_complementary_models() -> None:
    y = rng.normal(size=400)
    noise_a, noise_b = rng.normal(size=400), rng.normal(size=400)
    a, b = y + noise_a, y + noise_b  # equally good, independent errors
    bad = y + 3 * rng.normal(size=400)
    metric = get_metric("rmse", "regression")
    result = greedy_ensemble([a, b, bad], y, metric, 0)
    assert {0, 1} <= set(result.weights)
    assert min(result.weights[0], result.weights[1]) > result.weights.get(2, 0.0)
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.loss < result.single_loss * 0.8  # averaging halves the error variance


def test_greedy_ensemble_keeps_a_single_dominant_model() -> None:
    y = rng.normal(size=300)
    good = y + 0.01 * rng.normal(size=300)
    poor = y + rng.normal(size=300)
    result = greedy_ensemble([poor, good], y, get_metric("rmse", "regression"), 0)
    assert result.weights == {1: 1.0} and result.single_best == 1


def test_ensemble_scores_only_rows_every_candidate_predicted() -> None:
    """A big table is validated on one holdout split: the other rows' OOF is NaN."""
    import numpy as np

    from automl_cli.core.ensemble import greedy_ensemble
    from automl_cli.core.metrics import get_metric

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    held = np.arange(400, 500)
    weak, strong = np.full((500, 2), np.nan), np.full((500, 2), np.nan)
    noise = rng.random(100)
    weak[held, 1] = noise
    strong[held, 1] = np.clip(0.3 * noise + 0.7 * y[held], 0, 1)
    for out in (weak, strong):
        out[held, 0] = 1 - out[held, 1]
    found = greedy_ensemble([weak, strong], y, get_metric("auc", "binary"), 2)
    assert found.single_best == 1 and np.isfinite(found.loss)


def test_an_ensemble_out_of_time_keeps_the_best_set_it_has() -> None:
    """``ends`` in the past: no round is run, the best single candidate stands (weight 1);
    with time, the same candidates blend."""
    import time

    gen = np.random.default_rng(3)
    y = gen.integers(0, 2, 400)
    outs = []
    for _ in range(3):
        p = 0.3 * y + 0.7 * gen.random(400)  # three independent, noisy views of y
        outs.append(np.c_[1 - p, p])
    metric = get_metric("auc", "binary")
    free = greedy_ensemble(outs, y, metric, 2)
    assert len(free.weights) > 1 and free.loss < free.single_loss  # blending pays here
    late = greedy_ensemble(outs, y, metric, 2, ends=time.monotonic() - 1.0)
    assert late.weights == {free.single_best: 1.0} and late.loss == late.single_loss


def _true_probabilities(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels drawn from them: calibrated by construction."""
    gen = np.random.default_rng(seed)
    proba = sharpen(gen.dirichlet(np.ones(k), n), 0.3)  # confident, as good models are
    y = np.array([gen.choice(k, p=row) for row in proba])
    return proba, y


def test_sharpen_rescales_confidence_but_keeps_each_rows_most_likely_class() -> None:
    proba = rng.dirichlet([1, 1, 1], 100)
    for t in (0.3, 2.0):
        out = sharpen(proba, t)
        assert np.allclose(out.sum(axis=1), 1.0)
        assert (out.argmax(axis=1) == proba.argmax(axis=1)).all()
    assert (sharpen(proba, 0.5).max(axis=1) >= proba.max(axis=1) - 1e-12).all()
    assert (sharpen(proba, 2.0).max(axis=1) <= proba.max(axis=1) + 1e-12).all()
    assert sharpen(proba, 1.0) is proba


@pytest.mark.parametrize("rows", [600, 30_000])  # the second is fitted on a sample of it
def test_a_temperature_undoes_probabilities_softened_by_averaging(rows: int) -> None:
    metric = get_metric("logloss", "multiclass")
    truth, y = _true_probabilities(rows, 3, seed=1)
    soft = sharpen(truth, 2.0)  # what the rows' classes warrant, made half as sure
    t = fit_temperature(soft, y, metric, 3)
    assert 0.4 < t < 0.6  # about the 1/2 that undoes it
    assert metric.loss(y, sharpen(soft, t), 3) < metric.loss(y, soft, 3) - 0.01


def test_no_temperature_where_it_does_not_help_rows_left_out() -> None:
    """On calibrated probabilities the cross-check refuses (or keeps a temperature near 1);
    on too few rows there is nothing to check with."""
    metric = get_metric("logloss", "multiclass")
    truth, y = _true_probabilities(600, 3, seed=2)
    assert abs(np.log(fit_temperature(truth, y, metric, 3))) < 0.1
    assert fit_temperature(truth[:9], y[:9], metric, 3) == 1.0


def test_a_temperature_ignores_rows_without_out_of_fold_predictions() -> None:
    """A big table is validated on one holdout: the other rows are NaN."""
    metric = get_metric("logloss", "multiclass")
    truth, y = _true_probabilities(600, 3, seed=1)
    soft = sharpen(truth, 2.0)
    holed = np.vstack([soft, np.full((200, 3), np.nan)])
    y_holed = np.concatenate([y, np.zeros(200, dtype=int)])
    assert fit_temperature(holed, y_holed, metric, 3) == fit_temperature(soft, y, metric, 3)


def test_the_floor_caps_one_sure_mistake_and_costs_sure_right_rows_little() -> None:
    """130 training rows, 3 classes: a row whose true class got 4e-6 costs 12.4 nats plain,
    at most log(3 · 1301) = 8.27 floored; a right row at 0.999998 pays about 0.0005."""
    metric = get_metric("logloss", "multiclass")
    wrong = np.array([[0.999996, 4e-6, 0.0]])
    right = np.array([[0.999998, 1e-6, 1e-6]])
    floored_wrong, floored_right = floor_probabilities(wrong, 130), floor_probabilities(right, 130)
    assert metric.loss(np.array([1]), wrong, 3) == pytest.approx(-np.log(4e-6))
    assert metric.loss(np.array([1]), floored_wrong, 3) < np.log(
        3 * (130 + FLOOR_ROWS) / FLOOR_ROWS
    )
    assert metric.loss(np.array([0]), floored_right, 3) < 0.0006
    assert floored_wrong.min() == pytest.approx(FLOOR_ROWS / (3 * (130 + FLOOR_ROWS)))  # the 0.0


def test_the_floor_keeps_every_order_and_sums_to_one() -> None:
    """An affine map of each row: the most likely class, and the rows' order by any class
    (so AUC), stay as they were; more rows, less floor; no rows, no floor."""
    metric = get_metric("auc", "multiclass")
    truth, y = _true_probabilities(500, 4, seed=3)
    floored = floor_probabilities(truth, 50)
    assert np.allclose(floored.sum(axis=1), 1.0)
    assert (floored.argmax(axis=1) == truth.argmax(axis=1)).all()
    for k in range(4):
        assert (
            np.argsort(floored[:, k], kind="stable") == np.argsort(truth[:, k], kind="stable")
        ).all()
    assert metric.score(y, floored, 4) == pytest.approx(metric.score(y, truth, 4))
    assert np.abs(floor_probabilities(truth, 5_000) - truth).max() < np.abs(floored - truth).max()
    assert np.array_equal(floor_probabilities(truth, 0), truth)
