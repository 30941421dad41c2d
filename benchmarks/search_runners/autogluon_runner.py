"""AutoGluon peer: ``TabularPredictor(...).fit(train, presets=P, time_limit=B, num_cpus=2)``.

Run by ``.bench-venvs/autogluon/bin/python`` with ``--preset best_quality`` or
``medium_quality``. The problem type and the benchmark's metric are given, so AutoGluon neither
guesses the task nor optimises something else than it is scored on. AutoGluon saves its
predictor while it fits; the ``predict`` process loads it from the work directory, predicts
the test CSV, then times single-row ``predict_proba`` (``predict``) calls.
"""

from __future__ import annotations

import sys
import time
import warnings

from runner_common import CPUS, parse, single_row_latency, write_fit_info, write_predictions

AG_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}


def main(argv: list[str] | None = None) -> int:
    """Fit within the budget, or load the saved predictor and predict the test CSV."""
    warnings.simplefilter("ignore")
    args = parse(__doc__.splitlines()[0], argv)
    from autogluon.tabular import TabularDataset, TabularPredictor

    path = args.workdir / "ag"
    if args.mode == "fit":
        train = TabularDataset(str(args.data))
        predictor = TabularPredictor(
            label=args.target,
            problem_type=args.task,
            eval_metric=AG_METRIC[args.task],
            path=str(path),
            verbosity=2,
        )
        predictor.fit(
            train,
            presets=args.preset or "medium_quality",
            time_limit=args.budget,
            num_cpus=CPUS,
        )
        board = predictor.leaderboard(silent=True)
        write_fit_info(
            args.workdir,
            {
                "best_model": predictor.model_best,
                "models_fitted": len(board),
                "leaderboard_top": board.head(5)[["model", "score_val"]].to_dict("records"),
            },
        )
        return 0
    started = time.perf_counter()
    predictor = TabularPredictor.load(str(path))
    test = TabularDataset(str(args.data)).drop(columns=[args.target])
    if args.task == "regression":
        values = predictor.predict(test)
        ended = time.perf_counter()
        latency = single_row_latency(predictor.predict, test)
        write_predictions(args.workdir, started=started, ended=ended, values=values, info=latency)
    else:
        proba = predictor.predict_proba(test, as_multiclass=True)
        ended = time.perf_counter()
        latency = single_row_latency(predictor.predict_proba, test)
        write_predictions(
            args.workdir,
            started=started,
            ended=ended,
            classes=list(proba.columns),
            proba=proba.to_numpy(),
            info=latency,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
