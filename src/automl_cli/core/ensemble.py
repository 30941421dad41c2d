"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Members are added one at a time, with replacement, choosing the one that most lowers the
ensemble's loss; weights are how often each was picked. Because it only averages OOF
predictions it costs no training, and it is kept only when it beats the best single model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automl_cli.core.metrics import Metric

__all__ = ["EnsembleResult", "greedy_ensemble"]


@dataclass(frozen=True)
class EnsembleResult:
    weights: dict[int, float]  # candidate index -> weight (sum 1)
    loss: float
    single_best: int
    single_loss: float


def greedy_ensemble(
    outputs: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    n_classes: int,
    *,
    rounds: int = 40,
) -> EnsembleResult:
    """Select weights for ``outputs`` (same shape each) that minimise ``metric.loss`` on ``y``.

    Only rows every output predicts are scored: a big table is validated on one holdout
    split, so the other rows' out-of-fold predictions are NaN.
    """
    rows = np.ones(len(y), dtype=bool)
    for out in outputs:
        finite = np.isfinite(out)
        rows &= finite if finite.ndim == 1 else finite.all(axis=1)
    if not rows.all():
        y, outputs = y[rows], [out[rows] for out in outputs]
    losses = [metric.loss(y, out, n_classes) for out in outputs]
    best = int(np.nanargmin(losses))
    counts = np.zeros(len(outputs), dtype=int)
    counts[best] = 1
    current = outputs[best].astype("float64").copy()
    best_loss, best_counts = losses[best], counts.copy()
    for size in range(2, rounds + 1):
        trial_losses = [
            metric.loss(y, (current * (size - 1) + out) / size, n_classes) for out in outputs
        ]
        pick = int(np.nanargmin(trial_losses))
        counts[pick] += 1
        current = (current * (size - 1) + outputs[pick]) / size
        if trial_losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = trial_losses[pick], counts.copy()
    total = best_counts.sum()
    weights = {int(i): float(c) / total for i, c in enumerate(best_counts) if c}
    return EnsembleResult(weights, float(best_loss), best, float(losses[best]))
