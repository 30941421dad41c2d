"""A search on a busy machine: threads fixed at 2 against threads that follow the free cores.

Two cases per table, same split, seed and budget, one at a time, each beside the same
competing process (LightGBM with 2 threads, fitting over and over on a synthetic table,
started before the search and killed after it):

1. ``fixed``: ``AUTOML_JOBS=2``: every fit takes 2 threads, as before automl looked at the load.
2. ``free_cores``: the default: between trials the search gives fits only the cores other
   processes left free (``automl_cli.core.cpu``), here 1.

Boosting libraries' OpenMP threads spin while they wait, so two processes with 2 threads each
on 2 cores slow each other down many times over. Figures per case: trials finished
(complete + pruned), the test score (the search benchmark's metric), wall time / budget, and
how many trials ran with 1 thread. Predictions are made after the competitor is gone. Run on
demand: ``make bench-busy`` (``BUDGET=60 TABLES=hpc,titanic,credit``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import search_tables
from _common import PYTHON, WORK, measure, ratio, rel, show
from bench_search import (
    AUTOML_METRIC,
    SYSTEMS,
    _automl_result,
    _commands,
    _failure,
    _fmt,
    _md,
    _wait_for_quiet,
    error_of,
    score,
)

DEFAULT_BUDGET = 60
DEFAULT_TABLES = ("hpc", "titanic", "credit")
CASES = ("fixed", "free_cores")
SEED = search_tables.SEED
BUSY = WORK / "busy"
QUIET_WAIT_S = 90.0
COMPETITOR = """
import numpy as np, lightgbm as lgb
rng = np.random.default_rng(0)
X = rng.normal(size=(4000, 8)); y = (X[:, 0] + rng.normal(size=4000) > 0).astype(int)
while True:
    lgb.LGBMClassifier(n_estimators=200, n_jobs=2, verbose=-1).fit(X, y)
"""


def stem(budget: float) -> str:
    """``busy`` for the reference 60 s budget; another budget never overwrites it."""
    return "busy" if budget == DEFAULT_BUDGET else f"busy_{budget:g}s"


@contextlib.contextmanager
def _competitor() -> Iterator[subprocess.Popen[bytes]]:
    """The other busy process: 2 LightGBM threads, for as long as the block runs."""
    proc = subprocess.Popen(
        [str(PYTHON), "-c", COMPETITOR],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_case(table: search_tables.Table, case: str, budget: float) -> dict[str, Any]:
    """One search beside the competitor; prediction and scoring after it is gone."""
    rundir = BUSY / f"{budget:g}s" / table.name / case
    shutil.rmtree(rundir, ignore_errors=True)  # as bench_search.run_one clears its runs
    rundir.mkdir(parents=True)
    fit_cmd, predict_cmd = _commands(SYSTEMS["automl"], PYTHON, table, budget, rundir, SEED)
    env = {k: v for k, v in os.environ.items() if k != "AUTOML_JOBS"}
    if case == "fixed":
        env["AUTOML_JOBS"] = "2"
    waited, load = _wait_for_quiet(QUIET_WAIT_S, poll_s=5.0)
    entry: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fit_command": ("AUTOML_JOBS=2 " if case == "fixed" else "") + show(fit_cmd),
        "others_cores_before": load,
        "waited_for_quiet_s": waited,
        "score": None,
        "error": None,
    }
    with _competitor():
        fit = measure(fit_cmd, timeout=4 * budget + 300, env=env, logs=rundir / "fit")
    entry |= {"wall_over_budget": round(fit.wall_s / budget, 3), "peak_rss_mib": fit.peak_rss_mib}
    if not fit.ok:
        entry["error"] = _failure(fit, "fit")
        return entry
    doc = _automl_result(rundir / "fit.stdout") or {}
    trials = doc.get("trials") or {}
    entry["trials"] = trials
    entry["finished"] = int(trials.get("complete", 0)) + int(trials.get("pruned", 0))
    boards = sorted((rundir / "project" / "artifacts" / "model").glob("v*/leaderboard.csv"))
    if boards:
        threads = pd.read_csv(boards[-1])["threads"]
        entry["threads"] = {str(k): int(v) for k, v in threads.value_counts().items()}
    predict = measure(predict_cmd, timeout=900, logs=rundir / "predict")
    if not predict.ok:
        entry["error"] = _failure(predict, "predict")
        return entry
    try:
        pred = json.loads((rundir / "predictions.json").read_text())
        _, test = search_tables.paths(table, SEED)
        entry["score"] = round(score(table.task, pd.read_csv(test)[table.target], pred), 6)
    except (OSError, ValueError, KeyError) as exc:
        entry["error"] = f"scoring failed: {exc!r}"
    return entry


def run(
    budget: float,
    tables: list[str],
    *,
    command: str,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Both cases on each table, one after the other."""
    chosen = [search_tables.BY_NAME[t] for t in (tables or DEFAULT_TABLES)]
    results: dict[str, Any] = {
        "budget_s": budget,
        "command": command,
        "competitor": "LightGBM, 2 threads, fitting 4,000 × 8 synthetic rows over and over",
        "tables": {},
    }
    for table in chosen:
        search_tables.split(table, SEED)
        row: dict[str, Any] = {"task": table.task, "metric": AUTOML_METRIC[table.task]}
        for case in CASES:
            row[case] = run_case(table, case, budget)
            e = row[case]
            print(
                f"  {table.name:<10} {case:<10} score {_fmt(e.get('score'))} · "
                f"{e.get('finished', '-')} trials · wall/budget {e.get('wall_over_budget')}"
                + (f" · {e['error']}" if e.get("error") else ""),
                flush=True,
            )
        results["tables"][table.name] = row
        results["summary"] = summarize(results)
        if checkpoint is not None:
            checkpoint(results)
    results["summary"] = summarize(results)
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per table: trials and error of free_cores over fixed; then their geometric means."""
    per: dict[str, Any] = {}
    for name, row in results["tables"].items():
        a, b = row.get("fixed", {}), row.get("free_cores", {})
        task = row["task"]
        err = None
        if a.get("score") is not None and b.get("score") is not None:
            err = ratio(error_of(task, b["score"]), error_of(task, a["score"]))
        per[name] = {
            "trials_ratio": ratio(b.get("finished") or 0, a.get("finished") or 0),
            "error_ratio": err,
        }

    out: dict[str, Any] = {
        "per_table": per,
        # a case that saved no model (exit 5: nothing finished in the budget) has no ratio
        "failed": {
            case: sorted(
                n for n, row in results["tables"].items() if row.get(case, {}).get("error")
            )
            for case in CASES
        },
    }
    for key in ("trials_ratio", "error_ratio"):
        values = [v[key] for v in per.values() if v[key]]
        out[f"geomean_{key}"] = (
            round(math.exp(sum(math.log(v) for v in values) / len(values)), 3) if values else None
        )
    return out


def render(doc: dict[str, Any]) -> list[str]:
    """The results README section."""
    r = doc["results"]
    lines = [
        f"Budget **{r['budget_s']:g} s**, split seed {SEED}; beside each search: {r['competitor']}. "
        "`fixed` is `AUTOML_JOBS=2` (2 threads per fit whatever the load); `free_cores` is "
        "the default (fits get the cores others leave free).",
        "",
    ]
    head = ["table", "metric", "case", "score", "trials", "of all, on 1 thread", "wall/budget"]
    rows = []
    for name, row in r["tables"].items():
        for case in CASES:
            e = row.get(case, {})
            threads = e.get("threads") or {}
            rows.append(
                [
                    name,
                    row["metric"],
                    case,
                    _fmt(e.get("score")) if not e.get("error") else "failed",
                    str(e.get("finished", "-")),
                    str(threads.get("1", 0)),
                    str(e.get("wall_over_budget", "-")),
                ]
            )
    lines += _md(head, rows, right_from=3)
    lines += ["", _verdict(summarize(r))]
    return lines


def _verdict(s: dict[str, Any]) -> str:
    """One line: failures per case, then the ratios where both cases saved a model."""
    failed = s.get("failed") or {}
    parts = [
        f"`{case}` saved no model on {len(failed[case])} table(s) ({', '.join(failed[case])})"
        for case in CASES
        if failed.get(case)
    ]
    if s.get("geomean_trials_ratio") is not None:
        parts.append(
            f"free_cores / fixed where both saved one, geometric mean: trials "
            f"**{s['geomean_trials_ratio']}×**, test error **{s.get('geomean_error_ratio')}×** "
            "(1 − AUC, log loss or RMSE)"
        )
    return "; ".join(parts) + "." if parts else "No table finished."


def summary_text(r: dict[str, Any]) -> str:
    return f"busy: {_verdict(summarize(r))} Runs in {rel(BUSY)}"


if __name__ == "__main__":  # pragma: no cover - run through benchmarks/run.py
    sys.exit("run through benchmarks/run.py --only busy")
