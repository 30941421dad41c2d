"""Baseline: LightGBM with its default parameters on the raw table, no search at all.

The product promise is "never worse than default LightGBM on any table", so this is the floor
automl is held to. The only preparation is what LightGBM needs to accept a table at all: text
columns become pandas ``category`` (levels fixed on train, unseen test levels become missing),
booleans become 0/1. No budget is used; the ``fit`` process takes what it takes.
Run by automl's own ``.venv`` python (its LightGBM), which is fine: nothing of automl is used.
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings
from typing import Any

import pandas as pd
from runner_common import (
    CPUS,
    parse,
    read,
    single_row_latency,
    write_fit_info,
    write_predictions,
)


def _levels(X: pd.DataFrame) -> dict[str, list[Any]]:
    """Sorted train levels of every non-numeric, non-boolean column."""
    return {
        c: sorted(X[c].dropna().astype(str).unique())
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    }


def _encode(X: pd.DataFrame, levels: dict[str, list[Any]]) -> pd.DataFrame:
    out = X.copy()
    for c in out.columns:
        if c in levels:
            text = out[c].astype("string")
            out[c] = pd.Categorical(text, categories=levels[c])
        elif pd.api.types.is_bool_dtype(out[c]):
            out[c] = out[c].astype(int)
    return out


def main(argv: list[str] | None = None) -> int:
    """Fit with defaults (seeded, 2 threads) and pickle, or load and predict the test CSV."""
    warnings.simplefilter("ignore")
    args = parse(__doc__.splitlines()[0], argv)
    model_path = args.workdir / "lightgbm.pkl"
    import lightgbm as lgb

    if args.mode == "fit":
        X, y = read(args.data, args.target)
        levels = _levels(X)
        cls = lgb.LGBMRegressor if args.task == "regression" else lgb.LGBMClassifier
        model = cls(random_state=args.seed, n_jobs=CPUS, verbose=-1)
        model.fit(_encode(X, levels), y)
        with model_path.open("wb") as fh:
            pickle.dump({"model": model, "levels": levels}, fh, pickle.HIGHEST_PROTOCOL)
        write_fit_info(args.workdir, {"params": "defaults", "categorical": sorted(levels)})
        return 0
    started = time.perf_counter()
    with model_path.open("rb") as fh:
        saved = pickle.load(fh)
    model, levels = saved["model"], saved["levels"]
    raw, _ = read(args.data, args.target)
    X = _encode(raw, levels)
    if args.task == "regression":
        values = model.predict(X)
        ended = time.perf_counter()
        # a deployment gets raw rows: the encoding is part of each call, as automl's is
        latency = single_row_latency(lambda row: model.predict(_encode(row, levels)), raw)
        write_predictions(args.workdir, started=started, ended=ended, values=values, info=latency)
    else:
        proba = model.predict_proba(X)
        ended = time.perf_counter()
        latency = single_row_latency(lambda row: model.predict_proba(_encode(row, levels)), raw)
        write_predictions(
            args.workdir,
            started=started,
            ended=ended,
            classes=list(model.classes_),
            proba=proba,
            info=latency,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
