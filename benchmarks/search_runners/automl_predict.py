"""automl's predict half: load ``model@latest`` from the project and predict the test CSV.

The fit half is the CLI itself (``automl --project DIR --json --quiet search TRAIN --target Y
--time-budget B --seed 0``), measured like the peers' ``fit`` processes. This script is run by
automl's ``.venv`` python and reads the test CSV with automl's own reader, as ``automl predict``
would, so the model sees the types it was trained on. After the test predictions it times
single-row calls of ``automl predict``'s scorer (``BatchScorer``) with ``core.latency``.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from runner_common import LATENCY_CALLS, parse, write_predictions


def main(argv: list[str] | None = None) -> int:
    """Predict with the latest model of the project ``WORKDIR/project``."""
    warnings.simplefilter("ignore")
    args = parse(__doc__.splitlines()[0], argv)
    if args.mode != "predict":
        raise SystemExit("automl fits through its CLI: automl search")
    from automl_cli.core.io import read_table
    from automl_cli.steps.search import load_model

    started = time.perf_counter()
    model = load_model(Path(args.workdir) / "project", "model@latest")
    frame, _ = read_table(args.data)
    test = frame.drop(columns=[args.target])
    out = args.workdir
    if args.task == "regression":
        values = model.predict(test)
        ended = time.perf_counter()
        write_predictions(
            out, started=started, ended=ended, values=values, info=_latency(model, test)
        )
    else:
        if model.classes_ is None:
            raise SystemExit("the model has no classes_: was it fitted as a regressor?")
        classes = list(model.classes_)
        proba = model.predict_proba(test)
        ended = time.perf_counter()
        latency = _latency(model, test)
        write_predictions(
            out, started=started, ended=ended, classes=classes, proba=proba, info=latency
        )
    return 0


def _latency(model: Any, test: Any) -> dict[str, Any]:
    """Single-row latency through ``automl predict``'s own per-batch scorer and timer.

    ``max_seconds`` is lifted so automl gets exactly the peers' 20 calls (``time_scoring``
    would otherwise stop after 2 s); a failure is reported, the predictions still scored.
    """
    from automl_cli.core.latency import time_scoring
    from automl_cli.steps.predict import BatchScorer

    try:
        timing = time_scoring(
            BatchScorer(model, proba=True),
            test,
            single_calls=LATENCY_CALLS,
            max_seconds=math.inf,
        )
    except Exception as exc:  # whatever the scorer raises becomes the reason
        return {"latency_ms_1row": None, "latency_error": repr(exc)[:300]}
    ms = timing.latency_ms
    return {
        "latency_ms_1row": None if ms is None else round(ms, 3),
        "latency_calls": timing.single_calls,
    }


if __name__ == "__main__":
    sys.exit(main())
