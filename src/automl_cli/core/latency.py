"""How fast a model answers: single-row latency and batch time, measured, never guessed.

Both figures are medians of repeated calls of one scoring function (``automl predict``'s
own, ``steps.predict.BatchScorer``), each call on rows copied beforehand so the copy is not
timed. Single-row calls cycle through different rows; the batch figure scores 1,000 rows
(drawn with replacement when the table is smaller) and is reported per 1,000 rows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BATCH_ROWS", "Timing", "sample_rows", "time_scoring"]

BATCH_ROWS = 1000


@dataclass(frozen=True)
class Timing:
    latency_ms: float | None  # median single-row call
    batch_ms_per_1k: float | None  # median 1,000-row call
    single_calls: int
    batch_calls: int

    def metrics(self) -> dict[str, float]:
        """The measured figures, rounded, as a manifest's metrics hold them."""
        out: dict[str, float] = {}
        if self.latency_ms is not None:
            out["latency_ms"] = round(self.latency_ms, 3)
        if self.batch_ms_per_1k is not None:
            out["batch_ms_per_1k"] = round(self.batch_ms_per_1k, 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "batch_ms_per_1k": None
            if self.batch_ms_per_1k is None
            else round(self.batch_ms_per_1k, 3),
            "single_calls": self.single_calls,
            "batch_calls": self.batch_calls,
        }


def sample_rows(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` rows of ``frame`` (with replacement only when it has fewer), index reset."""
    import numpy as np

    rng = np.random.default_rng(seed)
    replace = len(frame) < n
    picked = rng.choice(len(frame), size=n, replace=replace)
    return frame.iloc[np.sort(picked)].reset_index(drop=True)


def time_scoring(
    score: Callable[[pd.DataFrame], Any],
    rows: pd.DataFrame,
    *,
    single: bool = True,
    batch: bool = False,
    single_calls: int = 15,
    batch_calls: int = 3,
    max_seconds: float = 2.0,
    min_calls: int = 3,
    warmup: int = 2,
    seed: int = 0,
) -> Timing:
    """Median milliseconds of ``score`` on one row and on 1,000 rows of ``rows``.

    ``warmup`` calls come first (lazy imports, first-call allocations). Measuring stops
    early once ``max_seconds`` are spent and at least ``min_calls`` calls were timed: a
    slow model is clearly slow after three calls, and the search's time budget pays for
    this (a figure only recorded, not checked, may stop after one).
    """
    latency = per_1k = None
    n_single = n_batch = 0
    if single and len(rows):
        one_rows = [rows.iloc[[i % len(rows)]].copy() for i in range(single_calls + warmup)]
        times = _timed(score, one_rows, warmup, max_seconds, min_calls)
        latency, n_single = statistics.median(times) * 1000, len(times)
    if batch and len(rows):
        base = sample_rows(rows, BATCH_ROWS, seed)
        frames = [base.copy() for _ in range(batch_calls + 1)]
        times = _timed(score, frames, 1, max_seconds, min_calls)
        per_1k, n_batch = statistics.median(times) * 1000 * 1000 / BATCH_ROWS, len(times)
    return Timing(latency, per_1k, n_single, n_batch)


def _timed(
    score: Callable[[pd.DataFrame], Any],
    frames: list[pd.DataFrame],
    warmup: int,
    max_seconds: float,
    min_calls: int,
) -> list[float]:
    import gc

    for frame in frames[:warmup]:
        score(frame)
    times: list[float] = []
    spent = 0.0
    enabled = gc.isenabled()
    gc.disable()  # a collection landing in one call would be timed as the model's
    try:
        for frame in frames[warmup:]:
            t0 = time.perf_counter()
            score(frame)
            took = time.perf_counter() - t0
            times.append(took)
            spent += took
            if spent > max_seconds and len(times) >= min_calls:
                break
    finally:
        if enabled:
            gc.enable()
    return times
