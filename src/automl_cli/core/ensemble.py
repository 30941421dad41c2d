"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Members are added one at a time, with replacement, choosing the one that most lowers the
ensemble's loss; weights are how often each was picked. Because it only averages OOF
predictions it costs no training, and it is kept only when it beats the best single model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from automl_cli.core.metrics import Metric

__all__ = ["EnsembleResult", "NoCandidateFits", "greedy_ensemble"]


class NoCandidateFits(ValueError):
    """Not one candidate keeps to the limits on its own: there is no ensemble to build."""


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
    fits: Callable[[frozenset[int]], bool] | None = None,
) -> EnsembleResult:
    """Select weights for ``outputs`` (same shape each) that minimise ``metric.loss`` on ``y``.

    Only rows every output predicts are scored: a big table is validated on one holdout
    split, so the other rows' out-of-fold predictions are NaN.

    ``fits(members)`` says whether a set of candidate indices keeps to the deployment's
    limits (latency and size add up over distinct members); a candidate is added only when
    the set with it still fits. Picking one already in the set again always fits.
    """
    rows = np.ones(len(y), dtype=bool)
    for out in outputs:
        finite = np.isfinite(out)
        rows &= finite if finite.ndim == 1 else finite.all(axis=1)
    if not rows.all():
        y, outputs = y[rows], [out[rows] for out in outputs]
    losses = [metric.loss(y, out, n_classes) for out in outputs]
    allowed = [
        loss if fits is None or fits(frozenset([i])) else np.nan for i, loss in enumerate(losses)
    ]
    if np.all(np.isnan(allowed)):
        raise NoCandidateFits("no candidate keeps to the limits on its own")
    best = int(np.nanargmin(allowed))
    counts = np.zeros(len(outputs), dtype=int)
    counts[best] = 1
    current = outputs[best].astype("float64").copy()
    best_loss, best_counts = losses[best], counts.copy()
    for size in range(2, rounds + 1):
        chosen = frozenset(int(i) for i in np.flatnonzero(counts))
        trial_losses = [
            metric.loss(y, (current * (size - 1) + out) / size, n_classes)
            if fits is None or i in chosen or fits(chosen | {i})
            else np.nan
            for i, out in enumerate(outputs)
        ]
        pick = int(np.nanargmin(trial_losses))
        counts[pick] += 1
        current = (current * (size - 1) + outputs[pick]) / size
        if trial_losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = trial_losses[pick], counts.copy()
    total = best_counts.sum()
    weights = {int(i): float(c) / total for i, c in enumerate(best_counts) if c}
    return EnsembleResult(weights, float(best_loss), best, float(losses[best]))
