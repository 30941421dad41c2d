"""Metrics with a known direction, computed from one model output shape.

Model outputs are probabilities ``(n, n_classes)`` for classification and values ``(n,)``
for regression; targets are class codes ``0..k-1`` or floats. ``loss`` turns any metric into
"lower is better" so search, pruning and ensembling never need to know the direction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from automl_cli.errors import UsageError

__all__ = ["METRICS", "Metric", "default_metric", "get_metric"]

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    name: str
    greater_is_better: bool
    tasks: tuple[str, ...]
    fn: Callable[[np.ndarray, np.ndarray, int], float]
    description: str

    def score(self, y: np.ndarray, output: np.ndarray, n_classes: int = 0) -> float:
        return float(self.fn(y, output, n_classes))

    def loss(self, y: np.ndarray, output: np.ndarray, n_classes: int = 0) -> float:
        """The score oriented so that lower is better."""
        value = self.score(y, output, n_classes)
        return -value if self.greater_is_better else value

    def to_score(self, loss: float) -> float:
        return -loss if self.greater_is_better else loss


def _labels(output: np.ndarray) -> np.ndarray:
    return np.asarray(output).argmax(axis=1)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank (``scipy.stats.rankdata``, whose import
    alone costs a second of a CLI call)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    mean_rank = (bounds[:-1] + bounds[1:] + 1) / 2.0  # of positions bounds[i]+1 .. bounds[i+1]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mean_rank, np.diff(bounds))
    return ranks


def _binary_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic (ties count half), equal to scikit-learn's.

    ``roc_auc_score`` spends most of its time checking its inputs; the ensemble step scores
    hundreds of candidate blends, where that was seconds of a small table's budget.
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined with one class, as scikit-learn says
    ranks = _average_ranks(np.asarray(scores, dtype="float64"))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _auc(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """Binary AUC; for more classes, the unweighted mean of each class's AUC against the
    rest, over the classes present (scikit-learn's ``multi_class="ovr"``, macro)."""
    if p.shape[1] == 2:
        return _binary_auc(y.astype(int) == 1, p[:, 1])
    codes = y.astype(int)
    present = np.unique(codes)
    if len(present) < 2:
        return float("nan")
    probs = p[:, present] / np.clip(p[:, present].sum(axis=1, keepdims=True), _EPS, None)
    if len(present) == 2:
        return _binary_auc(codes == present[1], probs[:, 1])
    return float(np.mean([_binary_auc(codes == c, probs[:, i]) for i, c in enumerate(present)]))


def _logloss(y: np.ndarray, p: np.ndarray, k: int) -> float:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    clipped = clipped / clipped.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(clipped[np.arange(len(y)), y.astype(int)])))


def _accuracy(y: np.ndarray, p: np.ndarray, k: int) -> float:
    return float(np.mean(_labels(p) == y.astype(int)))


def _confusion(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confusion matrix over the output's classes, the classes seen in ``y`` or predicted).

    The label metrics below are computed from it, as scikit-learn's are, without its input
    checks: evaluation bootstraps them a thousand times per metric."""
    width = p.shape[1]
    truth, pred = y.astype(int), _labels(p)
    matrix = np.bincount(truth * width + pred, minlength=width * width).reshape(width, width)
    seen = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    return matrix, seen


def _balanced_accuracy(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """Mean recall over the classes present in ``y``."""
    matrix, _ = _confusion(y, p)
    support = matrix.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(matrix)[present] / support[present]))


def _f1(y: np.ndarray, p: np.ndarray, k: int) -> float:
    """F1 of class 1 for two classes; else the mean F1 over the classes seen; 0 where a
    class has no true or predicted rows (``zero_division=0``)."""
    matrix, seen = _confusion(y, p)
    tp = np.diag(matrix).astype(float)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # 2·tp + fp + fn
    f1 = np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)
    return float(f1[1]) if p.shape[1] == 2 else float(np.mean(f1[seen]))


def _rmse(y: np.ndarray, v: np.ndarray, k: int) -> float:
    return float(np.sqrt(np.mean((np.asarray(v, dtype=float) - y) ** 2)))


def _mae(y: np.ndarray, v: np.ndarray, k: int) -> float:
    return float(np.mean(np.abs(np.asarray(v, dtype=float) - y)))


def _r2(y: np.ndarray, v: np.ndarray, k: int) -> float:
    ss_res = float(np.sum((y - np.asarray(v, dtype=float)) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0


_CLS = ("binary", "multiclass")
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("auc", True, _CLS, _auc, "area under the ROC curve (one-vs-rest for multiclass)"),
        Metric("logloss", False, _CLS, _logloss, "log loss of the predicted probabilities"),
        Metric("accuracy", True, _CLS, _accuracy, "share of rows classified correctly"),
        Metric("balanced_accuracy", True, _CLS, _balanced_accuracy, "mean recall per class"),
        Metric("f1", True, _CLS, _f1, "F1 of the positive class (macro for multiclass)"),
        Metric("rmse", False, ("regression",), _rmse, "root mean squared error"),
        Metric("mae", False, ("regression",), _mae, "mean absolute error"),
        Metric("r2", True, ("regression",), _r2, "coefficient of determination"),
    )
}
_DEFAULTS = {"binary": "auc", "multiclass": "logloss", "regression": "rmse"}


def default_metric(task: str) -> str:
    return _DEFAULTS[task]


def get_metric(name: str | None, task: str) -> Metric:
    """The metric by name (or the task's default); refuses one that does not fit the task."""
    key = (name or default_metric(task)).lower().replace("-", "_")
    metric = METRICS.get(key)
    if metric is None:
        raise UsageError(
            f"unknown metric '{name}'",
            hint=f"choose one of: {', '.join(m for m, v in METRICS.items() if task in v.tasks)}",
        )
    if task not in metric.tasks:
        fitting = ", ".join(m for m, v in METRICS.items() if task in v.tasks)
        raise UsageError(
            f"metric '{metric.name}' does not apply to a {task} task",
            hint=f"for {task} use one of: {fitting}",
        )
    return metric
