"""What every search-benchmark runner shares: its command line and the predictions file.

Runners run in foreign venvs (FLAML's, AutoGluon's), so this module needs nothing beyond the
standard library and pandas. Each runner is called twice, ``fit`` then ``predict``, as two
processes: the harness measures the ``fit`` process alone (wall time, peak RSS), which is what
``automl search`` is measured on too, and scores the predictions itself, identically for all.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

CPUS = 2
METRICS = {"binary": "auc", "multiclass": "log_loss", "regression": "rmse"}


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
    classes: list[Any] | None = None,
    proba: Any = None,
    values: Any = None,
    info: dict[str, Any] | None = None,
) -> None:
    """``predictions.json``: class probabilities with their labels, or regression values.

    The harness aligns classes by label and checks the numbers; the runner only reports.
    """
    doc: dict[str, Any] = {"predict_s": round(time.perf_counter() - started, 3), **(info or {})}
    if classes is not None:
        rows = [[float(p) for p in row] for row in proba]
        doc |= {"classes": [_plain(c) for c in classes], "proba": rows}
    else:
        doc["values"] = [float(v) for v in values]
    (workdir / "predictions.json").write_text(json.dumps(doc))


def write_fit_info(workdir: Path, info: dict[str, Any]) -> None:
    """``fit.json``: what the tool says it did (best model, its validation score...)."""
    (workdir / "fit.json").write_text(json.dumps(info, default=str))
