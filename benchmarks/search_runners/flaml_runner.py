"""FLAML peer: ``AutoML().fit(X, y, task, time_budget=B, n_jobs=2, seed=0, metric=...)``.

Run by ``.bench-venvs/flaml/bin/python``. The metric is the benchmark's own (AUC, log loss,
RMSE), so FLAML optimises what it is scored on; everything else is FLAML's default, as a user
would run it. The fitted ``AutoML`` object is pickled, as FLAML's docs recommend, and the
``predict`` process loads it, so the measured ``fit`` process includes saving the model; after
the test predictions it times single-row ``predict_proba`` (``predict``) calls.
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings

from runner_common import (
    CPUS,
    parse,
    read,
    single_row_latency,
    write_fit_info,
    write_predictions,
)

FLAML_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def main(argv: list[str] | None = None) -> int:
    """Fit within the budget and pickle, or load and predict the test CSV."""
    warnings.simplefilter("ignore")
    args = parse(__doc__.splitlines()[0], argv)
    model_path = args.workdir / "flaml.pkl"
    if args.mode == "fit":
        from flaml import AutoML

        X, y = read(args.data, args.target)
        automl = AutoML()
        automl.fit(
            X,
            y,
            task="regression" if args.task == "regression" else "classification",
            metric=FLAML_METRIC[args.task],
            time_budget=args.budget,
            n_jobs=CPUS,
            seed=args.seed,
            log_file_name=str(args.workdir / "flaml.log"),
            verbose=1,
        )
        with model_path.open("wb") as fh:
            pickle.dump(automl, fh, pickle.HIGHEST_PROTOCOL)
        write_fit_info(
            args.workdir,
            {
                "best_estimator": automl.best_estimator,
                "best_config": automl.best_config,
                "best_loss": automl.best_loss,
            },
        )
        return 0
    started = time.perf_counter()
    with model_path.open("rb") as fh:
        automl = pickle.load(fh)
    X, _ = read(args.data, args.target)
    if args.task == "regression":
        values = automl.predict(X)
        ended = time.perf_counter()
        latency = single_row_latency(automl.predict, X)
        write_predictions(args.workdir, started=started, ended=ended, values=values, info=latency)
    else:
        proba = automl.predict_proba(X)
        ended = time.perf_counter()
        latency = single_row_latency(automl.predict_proba, X)
        write_predictions(
            args.workdir,
            started=started,
            ended=ended,
            classes=list(automl.classes_),
            proba=proba,
            info=latency,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
