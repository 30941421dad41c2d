"""How good a model is on given rows: metrics with bootstrap intervals, a baseline, curves.

Pure functions on arrays: ``y`` holds class codes ``0..k-1`` (classification) or floats
(regression), ``output`` the model's probabilities ``(n, k)`` or values ``(n,)``, as
everywhere in :mod:`automl_cli.core.metrics`. The intervals are percentile bootstrap
intervals over rows: they say how much the figure would move on another sample of the same
size, which is what a person deciding "is 0.86 really better than 0.85" needs to know.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from automl_cli.core.metrics import METRICS, Metric

__all__ = [
    "BOOTSTRAP",
    "baseline_output",
    "bootstrap_interval",
    "classification_details",
    "compare_outputs",
    "metric_table",
    "regression_details",
    "task_metrics",
]

BOOTSTRAP = 200  # resamples: enough for a 95 % percentile interval to two decimals
BOOTSTRAP_ROWS = 50_000  # rows per resample at most (see _resamples)
LEVEL = 0.95
MAX_CURVE_POINTS = 200  # ROC / PR points kept for plots and the JSON


def task_metrics(task: str) -> list[Metric]:
    """Every metric that applies to ``task``, in the order reports show them."""
    return [m for m in METRICS.values() if task in m.tasks]


def baseline_output(task: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    """What a model that ignores the features predicts: class shares, or the mean.

    Taken from the evaluated rows themselves, so it is a slightly flattering baseline: a
    model that cannot beat it has learnt nothing usable.
    """
    n = len(y)
    if task == "regression":
        return np.full(n, float(np.mean(y)) if n else 0.0)
    shares = np.bincount(y.astype(int), minlength=n_classes).astype(float)
    shares = shares / max(shares.sum(), 1.0)
    return np.tile(shares, (n, 1))


def _safe_score(metric: Metric, y: np.ndarray, out: np.ndarray, k: int) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = metric.score(y, out, k)
    except ValueError:  # e.g. AUC on a resample holding one class only
        return float("nan")
    return value


def _resamples(n: int, resamples: int, seed: int) -> tuple[list[np.ndarray], float]:
    """Row indices of each resample, and the factor that scales their spread to ``n`` rows.

    Up to ``BOOTSTRAP_ROWS`` rows this is the plain bootstrap (factor 1). Above, each resample
    draws ``BOOTSTRAP_ROWS`` rows and its deviation from the full-data value is shrunk by
    sqrt(m / n) (the m-out-of-n bootstrap): the same interval for smooth metrics, at a cost
    that does not grow with the table.
    """
    rng = np.random.default_rng(seed)
    m = min(n, BOOTSTRAP_ROWS)
    return [rng.integers(0, n, m) for _ in range(resamples)], float(np.sqrt(m / n))


def bootstrap_interval(
    metric: Metric,
    y: np.ndarray,
    output: np.ndarray,
    n_classes: int,
    *,
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> tuple[float, float]:
    """The central ``LEVEL`` percentile interval of ``metric`` over row resamples."""
    n = len(y)
    if n < 2 or resamples < 1:
        return float("nan"), float("nan")
    full = _safe_score(metric, y, output, n_classes)
    draws, scale = _resamples(n, resamples, seed)
    values = [
        full + (_safe_score(metric, y[idx], output[idx], n_classes) - full) * scale for idx in draws
    ]
    return _percentile_interval(values)


def _percentile_interval(values: list[float]) -> tuple[float, float]:
    """The central ``LEVEL`` share of the finite ``values`` (NaN, NaN when there are none)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return float("nan"), float("nan")
    tail = (1 - LEVEL) / 2 * 100
    return float(np.percentile(arr, tail)), float(np.percentile(arr, 100 - tail))


def metric_table(
    task: str,
    y: np.ndarray,
    output: np.ndarray,
    n_classes: int,
    *,
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Every task metric: value, interval, the baseline's value and the direction."""
    base = baseline_output(task, y, n_classes)
    table: dict[str, dict[str, Any]] = {}
    for metric in task_metrics(task):
        low, high = bootstrap_interval(metric, y, output, n_classes, resamples=resamples, seed=seed)
        table[metric.name] = {
            "value": _finite(_safe_score(metric, y, output, n_classes)),
            "ci_low": _finite(low),
            "ci_high": _finite(high),
            "baseline": _finite(_safe_score(metric, y, base, n_classes)),
            "greater_is_better": metric.greater_is_better,
            "description": metric.description,
        }
    return table


def compare_outputs(
    metric: Metric,
    y: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    n_classes: int,
    *,
    resamples: int = BOOTSTRAP,
    seed: int = 0,
) -> dict[str, Any]:
    """Paired bootstrap of ``metric(first) - metric(second)`` on the same resampled rows."""
    a = _safe_score(metric, y, first, n_classes)
    b = _safe_score(metric, y, second, n_classes)
    diff = a - b
    draws, scale = _resamples(len(y), resamples if len(y) > 1 else 0, seed)
    diffs = [
        diff
        + (
            _safe_score(metric, y[idx], first[idx], n_classes)
            - _safe_score(metric, y[idx], second[idx], n_classes)
            - diff
        )
        * scale
        for idx in draws
    ]
    low, high = _percentile_interval(diffs)
    significant = bool(np.isfinite(low)) and (low > 0 or high < 0)
    better = diff > 0 if metric.greater_is_better else diff < 0
    return {
        "metric": metric.name,
        "model": _finite(a),
        "other": _finite(b),
        "difference": _finite(diff),
        "ci_low": _finite(low),
        "ci_high": _finite(high),
        "better": "model" if better and diff != 0 else ("other" if diff != 0 else "tie"),
        "beyond_interval": significant,
    }


# -- classification ---------------------------------------------------------------------------


def classification_details(
    y: np.ndarray, proba: np.ndarray, classes: list[str], metric: Metric
) -> dict[str, Any]:
    """Confusion matrix, curves, calibration, Brier score and (binary) the best threshold."""
    k = proba.shape[1]
    codes = y.astype(int)
    predicted = proba.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (codes, predicted), 1)
    onehot = np.eye(k)[codes]
    details: dict[str, Any] = {
        "classes": classes,
        "confusion": confusion.tolist(),
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
        "support": np.bincount(codes, minlength=k).tolist(),
    }
    if k == 2:
        p = proba[:, 1]
        details["roc"] = _roc(codes, p)
        details["pr"] = _pr(codes, p)
        details["calibration"] = _calibration(codes, p)
        details["threshold"] = best_threshold(codes, p, metric)
    else:
        # one-vs-rest curves per class: the plots show each class's separability
        details["roc_per_class"] = {
            str(c): _roc((codes == j).astype(int), proba[:, j]) for j, c in enumerate(classes)
        }
        confident = proba.max(axis=1)
        correct = (predicted == codes).astype(int)
        details["calibration"] = _calibration(correct, confident)
    return details


def best_threshold(y: np.ndarray, p: np.ndarray, metric: Metric) -> dict[str, Any]:
    """The cut on P(positive) that maximises ``metric``; F1 when the metric ignores the cut.

    AUC and log loss do not depend on a threshold, so a user who asked for either still gets
    the cut that balances precision and recall best (F1), and is told so.
    """
    name = metric.name if metric.name in ("accuracy", "balanced_accuracy", "f1") else "f1"
    cuts = np.unique(np.quantile(p, np.linspace(0.01, 0.99, 99)))
    values = _threshold_scores(y.astype(int), p, np.append(cuts, 0.5), name)
    best = int(np.argmax(values[:-1]))
    return {
        "metric": name,
        "threshold": round(float(cuts[best]), 4),
        "value": float(values[best]),
        "value_at_0_5": float(values[-1]),
    }


def _threshold_scores(y: np.ndarray, p: np.ndarray, cuts: np.ndarray, name: str) -> np.ndarray:
    """``name`` when predicting positive for p ≥ cut, for every cut at once (sorted counts)."""
    pos, neg = np.sort(p[y == 1]), np.sort(p[y == 0])
    tp = len(pos) - np.searchsorted(pos, cuts, side="left")
    fp = len(neg) - np.searchsorted(neg, cuts, side="left")
    fn, tn = len(pos) - tp, len(neg) - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "accuracy":
            out = (tp + tn) / max(len(y), 1)
        elif name == "balanced_accuracy":
            out = (tp / max(len(pos), 1) + tn / max(len(neg), 1)) / 2
        else:
            out = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return np.asarray(out, dtype=float)


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    n = len(arrays[0])
    keep: Any = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).astype(int)) if n else []
    return [np.round(a[keep], 5).tolist() for a in arrays]


def _roc(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import roc_curve

    if len(np.unique(y)) < 2:
        return {"fpr": [], "tpr": []}
    fpr, tpr, _ = roc_curve(y, p)
    fpr_t, tpr_t = _thin(fpr, tpr)
    return {"fpr": fpr_t, "tpr": tpr_t}


def _pr(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    if len(np.unique(y)) < 2:
        return {"precision": [], "recall": [], "average_precision": None}
    precision, recall, _ = precision_recall_curve(y, p)
    prec_t, rec_t = _thin(precision, recall)
    return {
        "precision": prec_t,
        "recall": rec_t,
        "average_precision": float(average_precision_score(y, p)),
        "positive_share": float(np.mean(y)),
    }


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """Mean predicted vs observed rate in equal-count bins (quantile bins stay populated)."""
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(p))) if len(g)]
    return {
        "predicted": [round(float(p[g].mean()), 5) for g in groups],
        "observed": [round(float(y[g].mean()), 5) for g in groups],
        "count": [len(g) for g in groups],
    }


# -- regression -------------------------------------------------------------------------------


def regression_details(y: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """Error by target decile (where the model is weak) and the residuals' summary."""
    residual = pred - y
    edges = np.unique(np.quantile(y, np.linspace(0, 1, 11)))
    deciles = []
    if len(edges) > 1:
        which = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, len(edges) - 2)
        for d in range(len(edges) - 1):
            mask = which == d
            if not mask.any():
                continue
            r = residual[mask]
            deciles.append(
                {
                    "from": float(edges[d]),
                    "to": float(edges[d + 1]),
                    "rows": int(mask.sum()),
                    "mae": float(np.mean(np.abs(r))),
                    "rmse": float(np.sqrt(np.mean(r**2))),
                    "bias": float(np.mean(r)),
                }
            )
    return {
        "residual_mean": float(np.mean(residual)) if len(y) else None,
        "residual_std": float(np.std(residual)) if len(y) else None,
        "by_target_decile": deciles,
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
