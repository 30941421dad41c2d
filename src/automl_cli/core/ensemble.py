"""Greedy ensemble selection (Caruana et al., 2004) over out-of-fold predictions.

Members are added one at a time, with replacement, choosing the one that most lowers the
ensemble's loss; weights are how often each was picked. Because it only averages OOF
predictions it costs no training, and it is kept only when it beats the best single model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from automl_cli.core.metrics import Metric

__all__ = [
    "EnsembleResult",
    "NoCandidateFits",
    "finish_probabilities",
    "fit_temperature",
    "floor_probabilities",
    "greedy_ensemble",
    "predicted_rows",
    "sharpen",
]

TEMPERATURE_FOLDS = 5
TEMPERATURE_REPEATS = 3  # the cross-check's 5 parts, drawn three times: one draw is noisy
# rows a temperature is fitted on: one number needs few, and it is fitted in the time the
# budget keeps for the ensemble (5,000 rows of 10 classes: about half a second)
TEMPERATURE_ROWS = 5_000
LOG_T_BOUND = 2.0  # temperatures between e^-2 (sharper) and e^2 (softer)
# the uniform distribution's weight in a log-loss model's probabilities, in training rows:
# a tenth of a row (see floor_probabilities)
FLOOR_ROWS = 0.1


class NoCandidateFits(ValueError):
    """Not one candidate keeps to the limits on its own: there is no ensemble to build."""


@dataclass(frozen=True)
class EnsembleResult:
    weights: dict[int, float]  # candidate index -> weight (sum 1)
    loss: float
    single_best: int
    single_loss: float


def predicted_rows(output: np.ndarray) -> np.ndarray:
    """Rows an out-of-fold output predicts: a big table is validated on one holdout split,
    so the other rows are NaN."""
    finite = np.isfinite(output)
    return finite if finite.ndim == 1 else finite.all(axis=1)


def greedy_ensemble(
    outputs: list[np.ndarray],
    y: np.ndarray,
    metric: Metric,
    n_classes: int,
    *,
    rounds: int = 40,
    fits: Callable[[frozenset[int]], bool] | None = None,
    ends: float | None = None,
) -> EnsembleResult:
    """Select weights for ``outputs`` (same shape each) that minimise ``metric.loss`` on ``y``.

    Only rows every output predicts are scored: a big table is validated on one holdout
    split, so the other rows' out-of-fold predictions are NaN.

    ``fits(members)`` says whether a set of candidate indices keeps to the deployment's
    limits (latency and size add up over distinct members); a candidate is added only when
    the set with it still fits. Picking one already in the set again always fits.

    ``ends`` (``time.monotonic()``): no round starts after it, and the best set so far
    stands. A round scores every candidate on every predicted row: on a 1,000,000-row
    table's 200,000-row holdout, 40 rounds of 7 candidates took 8 s of a 120 s budget.
    """
    rows = np.ones(len(y), dtype=bool)
    for out in outputs:
        rows &= predicted_rows(out)
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
        if ends is not None and time.monotonic() >= ends:
            break
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


def sharpen(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Class probabilities raised to ``1 / temperature`` and renormalised per row.

    Below 1 the model grows more confident, above 1 less; the most likely class of every
    row stays the same.
    """
    if temperature == 1.0:
        return proba
    powered = np.clip(np.asarray(proba, dtype="float64"), 1e-15, 1.0) ** (1.0 / temperature)
    return powered / powered.sum(axis=1, keepdims=True)


def floor_probabilities(proba: np.ndarray, rows: int) -> np.ndarray:
    """Probabilities mixed with the uniform distribution as if it were ``FLOOR_ROWS`` of
    ``rows`` training rows: ``(p · rows + FLOOR_ROWS / k) / (rows + FLOOR_ROWS)``.

    No class then gets less than ``FLOOR_ROWS / (k · (rows + FLOOR_ROWS))``. A booster fitted
    on 130 rows can give a row's true class 4e-6: 12 nats, the whole loss of a 45-row test
    set, from one row that cross-validation never showed wrong (so no temperature fitted to
    it can guard against it). At 130 rows and 3 classes the floor caps a row's loss at 8.3
    nats and costs a correct, sure row 0.0005. It is an affine map of each row, so the
    order of the classes, and of the rows by any one class, stays the same.
    """
    if rows <= 0:
        return proba  # as given: no copy, no change of dtype
    proba = np.asarray(proba, dtype="float64")
    k = proba.shape[1]
    return (proba * rows + FLOOR_ROWS / k) / (rows + FLOOR_ROWS)


def finish_probabilities(proba: np.ndarray, temperature: float, floor_rows: int) -> np.ndarray:
    """The ensemble's averaged probabilities as a model ships them: tempered, then floored.

    One function for the search's out-of-fold rows and for predictions, so the CV score a
    search reports is that of what ``predict`` returns.
    """
    return floor_probabilities(sharpen(proba, temperature), floor_rows)


def fit_temperature(
    proba: np.ndarray, y: np.ndarray, metric: Metric, n_classes: int, seed: int = 0
) -> float:
    """One temperature for the out-of-fold probabilities ``proba`` that lowers ``metric``.

    Averaging members (and a linear model's regularisation) leaves probabilities less sure
    than the model is right, which log loss charges for on every row. One temperature
    cannot reorder the classes, only rescale the confidence. It is fitted on all rows and
    kept only when it passes a cross-check: temperatures fitted on four fifths of the rows,
    applied to the fifth left out (each fifth in turn, over three shuffles), must lower the
    loss on average. Otherwise 1.0 (no change). Above ``TEMPERATURE_ROWS`` rows, a seeded
    sample of that many is used.
    """
    from scipy.optimize import minimize_scalar

    rows = predicted_rows(proba)
    proba, y = proba[rows], y[rows]
    if len(y) < 2 * TEMPERATURE_FOLDS:
        return 1.0
    rng = np.random.default_rng(seed)
    if len(y) > TEMPERATURE_ROWS:
        sample = np.sort(rng.choice(len(y), TEMPERATURE_ROWS, replace=False))
        proba, y = proba[sample], y[sample]

    def fitted(idx: np.ndarray) -> float:
        found = minimize_scalar(
            lambda log_t: metric.loss(y[idx], sharpen(proba[idx], float(np.exp(log_t))), n_classes),
            bounds=(-LOG_T_BOUND, LOG_T_BOUND),
            method="bounded",
        )
        return float(np.exp(found.x))

    held_out_loss = 0.0
    for _ in range(TEMPERATURE_REPEATS):
        parts = np.array_split(rng.permutation(len(y)), TEMPERATURE_FOLDS)
        held_out = np.empty_like(proba)
        for k, part in enumerate(parts):
            rest = np.concatenate([p for j, p in enumerate(parts) if j != k])
            held_out[part] = sharpen(proba[part], fitted(rest))
        held_out_loss += metric.loss(y, held_out, n_classes) / TEMPERATURE_REPEATS
    if held_out_loss >= metric.loss(y, proba, n_classes):
        return 1.0
    return fitted(np.arange(len(y)))
