"""Deployment limits for ``automl search``: single-row latency, batch time, model size.

A limit is kept by measuring, never by guessing:

- every finished trial's first fold model is timed through ``automl predict``'s own scoring
  path (``BatchScorer``: value checks, schema, preprocessing, the learner, the output
  frame), and the learner's own share of that time is timed apart, so an ensemble's cost
  can be added up: the learners' shares plus each feature variant's path overhead once;
- its size is the bytes its files take when saved, scaled up for a model refit on all rows
  (trees and neighbour sets grow with the rows they are trained on); a forest or HGB model
  whose trees alone pass the size limit is neither saved nor timed: its size is recorded
  as those trees' bytes, a lower bound, and it is out of every ensemble all the same;
- the ensemble only takes members whose summed estimate keeps to every limit, and the
  chosen model is timed again after its refit, through the same path, before it is saved.
  The saved version's own size (all its files, manifest included) is checked at commit.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from automl_cli.core.latency import Timing
    from automl_cli.core.learners._base import Learner
    from automl_cli.core.search import TrialRecord
    from automl_cli.steps.search import FittedModel

__all__ = [
    "LIMIT_KEYS",
    "REFIT_GROWTH",
    "Assessor",
    "Limits",
    "measured_text",
    "saved_bytes",
    "time_model",
]

MB = 1_000_000  # the size limit is in decimal megabytes, as disks and uploads count them
# A model refit on all rows against fold model 0 (trained on (k-1)/k of them): forests and
# k-NN grow about linearly with rows, boosters get 10 % more rounds.
REFIT_GROWTH = 1.3
LATENCY_CALLS = 9  # single-row calls per trial (median)
BATCH_CALLS = 3  # 1,000-row calls per trial (median)
FINAL_CALLS = 21  # single-row calls on the chosen model
RECORDED_CALLS = 9  # ... when its latency is only recorded, not checked
# the settings (and their flags) that set a limit: search's, run's and retrain's alike
LIMIT_FLAGS = {
    "max_latency_ms": "--max-latency-ms",
    "max_batch_ms_per_1k": "--max-batch-ms-per-1k",
    "max_model_mb": "--max-model-mb",
}
LIMIT_KEYS = tuple(LIMIT_FLAGS)


@dataclass(frozen=True)
class Limits:
    """What the deployment allows; ``None`` means no limit on that measure."""

    latency_ms: float | None = None
    batch_ms_per_1k: float | None = None
    model_mb: float | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Limits:
        values: dict[str, float | None] = {}
        for key, flag in LIMIT_FLAGS.items():
            raw = config[key].value
            if raw is None:
                values[key] = None
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise UsageError(f"{flag} must be a number, not {raw!r}") from None
            if not math.isfinite(value) or value <= 0:
                raise UsageError(f"{flag} must be a positive number, not {raw}")
            values[key] = value
        return cls(values["max_latency_ms"], values["max_batch_ms_per_1k"], values["max_model_mb"])

    @property
    def active(self) -> bool:
        return self.timed or self.model_mb is not None

    @property
    def timed(self) -> bool:
        return self.latency_ms is not None or self.batch_ms_per_1k is not None

    @property
    def max_bytes(self) -> int | None:
        return None if self.model_mb is None else int(self.model_mb * MB)

    def excess(
        self, latency_ms: float | None, batch_ms: float | None, size_bytes: float | None
    ) -> float:
        """By how much the worst measure breaks its limit (0.25: 25 % over; ≤ 0: within)."""
        ratios = [
            value / limit - 1.0
            for value, limit in (
                (latency_ms, self.latency_ms),
                (batch_ms, self.batch_ms_per_1k),
                (size_bytes, self.max_bytes),
            )
            if value is not None and limit is not None
        ]
        return max(ratios, default=0.0)

    def describe(self) -> str:
        parts = []
        if self.latency_ms is not None:
            parts.append(f"{self.latency_ms:g} ms per row")
        if self.batch_ms_per_1k is not None:
            parts.append(f"{self.batch_ms_per_1k:g} ms per 1,000 rows")
        if self.model_mb is not None:
            parts.append(f"{self.model_mb:g} MB on disk")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "max_latency_ms": self.latency_ms,
            "max_batch_ms_per_1k": self.batch_ms_per_1k,
            "max_model_mb": self.model_mb,
        }


def saved_bytes(learner: Learner) -> int:
    """The bytes ``learner`` takes when saved as a model member (its own format)."""
    folder = Path(tempfile.mkdtemp(prefix="automl-size-"))
    try:
        learner.save(folder)
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Assessor:
    """Measures each finished trial against the limits (``run_search``'s ``assess``)."""

    def __init__(
        self,
        limits: Limits,
        make_model: Callable[[list[tuple[TrialRecord, list[Learner]]]], FittedModel],
        raw_rows: pd.DataFrame,
        features: dict[str, pd.DataFrame],
        overhead_bytes: Callable[[], int],
    ) -> None:
        self.limits = limits
        self.make_model = make_model
        self.raw_rows = raw_rows  # a sample of the training table, as predict would read it
        self.features = features  # the same rows preprocessed, per variant
        self.overhead_bytes = overhead_bytes  # files besides the members, as of now (estimated)

    def __call__(self, record: TrialRecord, seconds_left: float) -> None:
        if not record.models:
            return
        learner = record.models[0]
        max_bytes = self.limits.max_bytes
        overhead = 0  # the files besides the member: unchanged while this trial is measured
        if max_bytes is not None:
            overhead = self.overhead_bytes()
            # trees that alone pass the size limit: writing them (a second for a forest) or
            # timing them cannot make the candidate keep to it; record the lower bound
            floor = int(learner.saved_bytes_floor() * REFIT_GROWTH)
            if floor + overhead > max_bytes:
                record.size_bytes, record.artifact_bytes = floor, floor + overhead
                record.limit_excess = self.limits.excess(None, None, record.artifact_bytes)
                return
        if self.limits.timed:
            cap = max(0.2, min(1.0, seconds_left / 8))
            full, own = self.time(self.make_model([(record, [learner])]), learner, cap)
            record.latency_ms, record.model_ms = full.latency_ms, own.latency_ms
            record.batch_ms_per_1k = full.batch_ms_per_1k
            record.model_batch_ms_per_1k = own.batch_ms_per_1k
        if max_bytes is not None:
            record.size_bytes = int(saved_bytes(learner) * REFIT_GROWTH)
            record.artifact_bytes = record.size_bytes + overhead
        record.limit_excess = self.limits.excess(
            record.latency_ms, record.batch_ms_per_1k, record.artifact_bytes
        )

    def time(self, model: FittedModel, learner: Learner, cap: float) -> tuple[Timing, Timing]:
        """(predict's whole scoring path, the learner's own call) on the sample rows."""
        from automl_cli.core.latency import time_scoring
        from automl_cli.steps.predict import BatchScorer

        single, batch = self.limits.latency_ms is not None, self.limits.batch_ms_per_1k is not None
        scorer = BatchScorer(model, proba=model.task != "regression")
        full = time_scoring(
            scorer,
            self.raw_rows,
            single=single,
            batch=batch,
            single_calls=LATENCY_CALLS,
            batch_calls=BATCH_CALLS,
            max_seconds=cap,
        )
        own = time_scoring(
            learner.predict_output,
            self.features[learner.variant],
            single=single,
            batch=batch,
            single_calls=LATENCY_CALLS,
            batch_calls=BATCH_CALLS,
            max_seconds=cap,
        )
        return full, own

    def estimate(
        self, records: Iterable[TrialRecord], overhead: int | None = None
    ) -> dict[str, float | None]:
        """An ensemble's cost: learners' own times added up, plus the path's overhead once
        per feature variant (the largest measured for it), and the members' sizes."""
        chosen = list(records)

        def total(own: str, full: str) -> float | None:
            if any(getattr(r, full) is None for r in chosen):
                return None
            overhead: dict[str, float] = {}
            for r in chosen:
                variant = _variant(r.family)
                extra = float(getattr(r, full)) - float(getattr(r, own) or 0.0)
                overhead[variant] = max(overhead.get(variant, 0.0), max(extra, 0.0))
            return sum(float(getattr(r, own) or 0.0) for r in chosen) + sum(overhead.values())

        size = (
            None
            if any(r.size_bytes is None for r in chosen)
            else sum(int(r.size_bytes or 0) for r in chosen)
            + (self.overhead_bytes() if overhead is None else overhead)
        )
        return {
            "latency_ms": total("model_ms", "latency_ms") if self.limits.latency_ms else None,
            "batch_ms_per_1k": total("model_batch_ms_per_1k", "batch_ms_per_1k")
            if self.limits.batch_ms_per_1k
            else None,
            "size_bytes": size,
        }

    def fits(self, records: list[TrialRecord], slack: float) -> Callable[[frozenset[int]], bool]:
        """For the ensemble: does this set of candidates keep to ``slack`` × every limit?"""

        overhead = self.overhead_bytes()

        def check(members: frozenset[int]) -> bool:
            est = self.estimate((records[i] for i in members), overhead)
            return (
                self.limits.excess(
                    None if est["latency_ms"] is None else est["latency_ms"] / slack,
                    None if est["batch_ms_per_1k"] is None else est["batch_ms_per_1k"] / slack,
                    None if est["size_bytes"] is None else est["size_bytes"] / slack,
                )
                <= 0
            )

        return check


def time_model(
    model: FittedModel, rows: pd.DataFrame, limits: Limits, max_seconds: float
) -> Timing:
    """A model about to be saved, through predict's scoring path, on ``rows``.

    Under a latency or batch limit the figure is checked: more calls than a trial gets,
    1,000-row batches under a batch limit. Otherwise it is only recorded in the manifest:
    one warm-up, and it may stop after one call on a slow model, so it costs little.
    """
    from automl_cli.core.latency import time_scoring
    from automl_cli.steps.predict import BatchScorer

    scorer = BatchScorer(model, proba=model.task != "regression")
    if limits.timed:
        return time_scoring(
            scorer,
            rows,
            batch=limits.batch_ms_per_1k is not None,
            single_calls=FINAL_CALLS,
            max_seconds=max_seconds,
        )
    return time_scoring(
        scorer,
        rows,
        single_calls=RECORDED_CALLS,
        max_seconds=max_seconds,
        min_calls=1,
        warmup=1,
    )


def measured_text(m: dict[str, Any]) -> str:
    """Measured figures (``latency_ms``, ``batch_ms_per_1k``, ``artifact_bytes``) in words."""
    parts = []
    if m.get("latency_ms") is not None:
        parts.append(f"{m['latency_ms']:.2f} ms per row")
    if m.get("batch_ms_per_1k") is not None:
        parts.append(f"{m['batch_ms_per_1k']:.1f} ms per 1,000 rows")
    if m.get("artifact_bytes") is not None:
        parts.append(f"{m['artifact_bytes'] / 1e6:.2f} MB")
    return ", ".join(parts)


def _variant(family: str) -> str:
    from automl_cli.core.learners import FAMILIES

    return str(FAMILIES[family].variant)
