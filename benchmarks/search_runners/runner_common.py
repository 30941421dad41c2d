"""What every search-benchmark runner shares: its command line and the predictions file.

Runners run in foreign venvs (FLAML's, AutoGluon's), so this module needs nothing beyond the
standard library and pandas. Each runner is called twice, ``fit`` then ``predict``, as two
processes: the harness measures the ``fit`` process alone (wall time, peak RSS), which is what
``automl search`` is measured on too, and scores the predictions itself, identically for all.
The ``predict`` process also times single-row calls (``single_row_latency``), once the model is
loaded and the test predictions are made, so the figure is a warm model answering one request.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

CPUS = 2
METRICS = {"binary": "auc", "multiclass": "log_loss", "regression": "rmse"}
# as automl_cli.core.latency.time_scoring times automl's own scorer
LATENCY_CALLS = 20
LATENCY_WARMUP = 2


def parse(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``MODE --data CSV --target Y --task T --budget S --workdir DIR [--preset P]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("mode", choices=("fit", "predict"))
    parser.add_argument("--data", required=True, help="train CSV (fit) or test CSV (predict)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", required=True, choices=sorted(METRICS))
    parser.add_argument("--budget", type=float, default=60.0, help="seconds for the search")
    parser.add_argument("--workdir", required=True, type=Path, help="model and outputs")
    parser.add_argument("--preset", default=None, help="tool-specific preset")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    return args


def read(path: Path, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """The CSV as ``pandas.read_csv`` gives it (what a user of the tool would pass), split."""
    frame = pd.read_csv(path)
    return frame.drop(columns=[target]), frame[target]


def _plain(value: Any) -> Any:
    """A numpy scalar as a JSON-able Python value (labels may be ints, bools or strings)."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def write_predictions(
    workdir: Path,
    *,
    started: float,
    ended: float | None = None,
    classes: list[Any] | None = None,
    proba: Any = None,
    values: Any = None,
    info: dict[str, Any] | None = None,
) -> None:
    """``predictions.json``: class probabilities with their labels, or regression values.

    The harness aligns classes by label and checks the numbers; the runner only reports.
    ``ended`` (when the test predictions were done) keeps the latency calls out of ``predict_s``.
    """
    took = (time.perf_counter() if ended is None else ended) - started
    doc: dict[str, Any] = {"predict_s": round(took, 3), **(info or {})}
    if classes is not None:
        rows = [[float(p) for p in row] for row in proba]
        doc |= {"classes": [_plain(c) for c in classes], "proba": rows}
    else:
        doc["values"] = [float(v) for v in values]
    (workdir / "predictions.json").write_text(json.dumps(doc))


def write_fit_info(workdir: Path, info: dict[str, Any]) -> None:
    """``fit.json``: what the tool says it did (best model, its validation score...)."""
    (workdir / "fit.json").write_text(json.dumps(info, default=str))


def single_row_latency(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    *,
    calls: int = LATENCY_CALLS,
    warmup: int = LATENCY_WARMUP,
) -> dict[str, Any]:
    """``latency_ms_1row``: median ms of ``calls`` one-row ``predict`` calls, after ``warmup``.

    The protocol of ``automl_cli.core.latency.time_scoring`` (which times automl), rewritten
    here because peers' venvs cannot import automl: row i of ``frame`` (cycling), copied before
    timing so the copy is not timed, gc off while timing so a collection is not charged to one
    call. ``predict`` is the call a deployment would make on a raw row (the tool's own
    ``predict_proba``/``predict``, preprocessing included). A failure is reported, not raised:
    the test predictions are already made and must still be scored.
    """
    if not len(frame):
        return {"latency_ms_1row": None, "latency_error": "no rows"}
    rows = [frame.iloc[[i % len(frame)]].copy() for i in range(calls + warmup)]
    times: list[float] = []
    enabled = gc.isenabled()
    try:
        for row in rows[:warmup]:
            predict(row)
        gc.disable()
        for row in rows[warmup:]:
            t0 = time.perf_counter()
            predict(row)
            times.append(time.perf_counter() - t0)
    except Exception as exc:  # whatever the tool raises becomes the reason
        return {"latency_ms_1row": None, "latency_error": repr(exc)[:300]}
    finally:
        if enabled:
            gc.enable()
    return {
        "latency_ms_1row": round(statistics.median(times) * 1000, 3),
        "latency_calls": len(times),
    }
