"""Why the model decides as it does: permutation importance and partial dependence.

Both work on the *input columns* a user knows (not on encoded features) and on any model,
ensembles included, because they only call the model's prediction function:

- permutation importance: how much the metric worsens when one column's values are shuffled
  among the rows (Breiman, 2001; scikit-learn's ``permutation_importance``), repeated with
  several shuffles for an interval;
- partial dependence: the model's average output when a column is set to each value of a grid
  for every row (Friedman, 2001).

Rows are subsampled to bound the cost: each repeat of each column is one prediction pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from automl_cli.core.metrics import Metric

__all__ = ["partial_dependence", "permutation_importance"]

MAX_ROWS = 5_000
REPEATS = 5
PD_ROWS = 1_000
PD_GRID = 20
BATCH_ROWS = 100_000  # rows scored per prediction call

Predict = Callable[[pd.DataFrame], np.ndarray]


def _sample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def permutation_importance(
    predict: Predict,
    frame: pd.DataFrame,
    y: np.ndarray,
    metric: Metric,
    n_classes: int,
    *,
    columns: list[str] | None = None,
    repeats: int = REPEATS,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per column: the mean worsening of ``metric`` when shuffled, with a 95 % interval.

    The interval is mean ± t·sd/√repeats over the shuffles; a column whose interval holds 0 is
    one the model does not measurably rely on. Sorted, most important first.
    """
    from scipy import stats

    rows = _sample(len(frame), max_rows, seed)
    X = frame.iloc[rows].reset_index(drop=True)
    yy = y[rows]
    n = len(X)
    base = metric.loss(yy, predict(X), n_classes)
    rng = np.random.default_rng(seed)
    t = float(stats.t.ppf(0.975, max(repeats - 1, 1)))
    jobs = [(col, r) for col in (columns or list(X.columns)) for r in range(repeats)]
    drops: dict[str, list[float]] = {col: [] for col, _ in jobs}
    per_batch = max(1, BATCH_ROWS // max(n, 1))
    # many shuffled copies scored in one call: the model's fixed cost per call is paid once
    for start in range(0, len(jobs), per_batch):
        batch = jobs[start : start + per_batch]
        copies = []
        for col, _ in batch:
            shuffled = X.copy(deep=False)
            shuffled[col] = X[col].to_numpy()[rng.permutation(n)]
            copies.append(shuffled)
        scored = predict(pd.concat(copies, ignore_index=True))
        for i, (col, _) in enumerate(batch):
            drops[col].append(metric.loss(yy, scored[i * n : (i + 1) * n], n_classes) - base)
    out: list[dict[str, Any]] = []
    for col, values in drops.items():
        arr = np.asarray(values, dtype=float)
        mean = float(arr.mean())
        half = t * float(arr.std(ddof=1)) / np.sqrt(len(arr)) if len(arr) > 1 else 0.0
        out.append(
            {
                "column": str(col),
                "importance": mean,
                "ci_low": mean - half,
                "ci_high": mean + half,
                "repeats": len(arr),
            }
        )
    out.sort(key=lambda r: -r["importance"])
    return out


def partial_dependence(
    predict: Predict,
    frame: pd.DataFrame,
    column: str,
    task: str,
    classes: list[str] | None,
    *,
    max_rows: int = PD_ROWS,
    grid: int = PD_GRID,
    seed: int = 0,
) -> dict[str, Any] | None:
    """The model's mean output with ``column`` set to each grid value for every sampled row.

    Numbers get a grid of quantiles; anything else its most frequent values. Classification
    reports the mean probability of each class (binary: of the positive class only).
    """
    rows = _sample(len(frame), max_rows, seed)
    X = frame.iloc[rows].reset_index(drop=True)
    values = X[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    present = values.dropna()
    if present.empty:
        return None
    if numeric:
        quantiles = np.quantile(present.astype(float), np.linspace(0.05, 0.95, grid))
        if pd.api.types.is_integer_dtype(values):
            quantiles = np.round(quantiles)  # an integer column gets integer grid values
        points: list[Any] = sorted(set(quantiles.tolist()))
    else:
        points = present.astype("string").value_counts().index[:grid].tolist()
    if len(points) < 2:
        return None
    copies = []
    for point in points:
        copy = X.copy(deep=False)
        copy[column] = pd.Series([point] * len(X), dtype="float64" if numeric else object)
        copies.append(copy)
    scored = np.asarray(predict(pd.concat(copies, ignore_index=True)))
    n = len(X)
    curves = [scored[i * n : (i + 1) * n].mean(axis=0) for i in range(len(points))]
    matrix = np.vstack([np.atleast_1d(c) for c in curves])
    if task == "regression":
        series = {"prediction": matrix[:, 0].tolist()}
    elif task == "binary" and classes:
        series = {f"P({classes[1]})": matrix[:, 1].tolist()}
    else:
        names = classes or [str(j) for j in range(matrix.shape[1])]
        series = {f"P({c})": matrix[:, j].tolist() for j, c in enumerate(names)}
    return {
        "column": column,
        "kind": "numeric" if numeric else "categorical",
        "grid": [float(p) if numeric else str(p) for p in points],
        "series": series,
        "rows": len(X),
    }
