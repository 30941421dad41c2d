"""automl's predict half: load ``model@latest`` from the project and predict the test CSV.

The fit half is the CLI itself (``automl --project DIR --json --quiet search TRAIN --target Y
--time-budget B --seed 0``), measured like the peers' ``fit`` processes. This script is run by
automl's ``.venv`` python and reads the test CSV with automl's own reader, as ``automl predict``
would, so the model sees the types it was trained on.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from runner_common import parse, write_predictions


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
        write_predictions(out, started=started, values=model.predict(test))
    else:
        if model.classes_ is None:
            raise SystemExit("the model has no classes_: was it fitted as a regressor?")
        classes = list(model.classes_)
        write_predictions(out, started=started, classes=classes, proba=model.predict_proba(test))
    return 0


if __name__ == "__main__":
    sys.exit(main())
