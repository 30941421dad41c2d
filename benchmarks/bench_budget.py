"""The time budget on big tables: ``automl search`` on generated tables of 300,000 and
1,000,000 rows (30 columns: numbers with holes, categories, a date, an ID; binary target),
at budgets from 10 s to 120 s, one run at a time.

``--time-budget`` is a hard limit on the whole command, reading, profiling, preparing and
saving included. On a table this big a short budget cannot hold a search at all (reading,
profiling, preparing and encoding 1,000,000 rows take about 15 s on 2 cores): the command
must then end within the budget with exit 5 and no model, not run on to say so. Figures per
run: wall time / budget (from outside the process), the outcome (a model, or exit 5 and the
error line), trials finished, the CV score, peak RSS. Each run starts in an empty project,
as a first search on a new table does.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
from collections.abc import Callable
from typing import Any

import gen_table
from _common import AUTOML, WORK, measure, rel, show
from bench_search import _md

ROWS = (300_000, 1_000_000)
BUDGETS = (10.0, 30.0, 60.0, 120.0)
TARGET = "target"
RUNS = WORK / "budget"
BOUND = 1.05  # the limit on wall time / budget


def run_one(rows: int, budget: float) -> dict[str, Any]:
    """One search in a fresh project, measured from outside."""
    data = gen_table.ensure(rows)
    rundir = RUNS / f"{rows}r_{budget:g}s"
    shutil.rmtree(rundir, ignore_errors=True)
    rundir.mkdir(parents=True)
    cmd = [
        str(AUTOML),
        "--project",
        str(rundir / "project"),
        "--json",
        "--quiet",
        "search",
        str(data),
        "--target",
        TARGET,
        "--time-budget",
        f"{budget:g}",
    ]
    fit = measure(cmd, timeout=4 * budget + 300, logs=rundir / "search")
    entry: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": show(cmd),
        "exit_code": fit.returncode,
        "wall_s": fit.wall_s,
        "wall_over_budget": round(fit.wall_s / budget, 3),
        "peak_rss_mib": fit.peak_rss_mib,
        "timed_out": fit.timed_out,
    }
    try:
        doc = json.loads((rundir / "search.stdout").read_text())
    except (OSError, ValueError):
        doc = {}
    if fit.returncode == 0:
        trials = doc.get("trials") or {}
        entry |= {
            "outcome": "model",
            "finished": int(trials.get("complete", 0)) + int(trials.get("pruned", 0)),
            "cv_score": doc.get("cv_score"),
            "members": [f"{m['family']}:{m['fit']}" for m in doc.get("ensemble", [])],
        }
    else:
        entry |= {"outcome": f"exit {fit.returncode}", "error": doc.get("message") or "?"}
    return entry


def run(
    *, command: str, checkpoint: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    results: dict[str, Any] = {"command": command, "bound": BOUND, "runs": {}}
    for rows in ROWS:
        for budget in BUDGETS:
            e = run_one(rows, budget)
            results["runs"][f"{rows}r_{budget:g}s"] = {"rows": rows, "budget_s": budget, **e}
            print(
                f"  {rows:>9,} rows {budget:>5g} s: wall/budget {e['wall_over_budget']} · "
                f"{e['outcome']}"
                + (f" · {e.get('finished')} trials" if e["outcome"] == "model" else ""),
                flush=True,
            )
            results["summary"] = summarize(results)
            if checkpoint is not None:
                checkpoint(results)
    results["summary"] = summarize(results)
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    runs = list(results["runs"].values())
    worst = max((r["wall_over_budget"] for r in runs), default=None)
    return {
        "runs": len(runs),
        "max_wall_over_budget": worst,
        "within_bound": worst is not None and worst <= BOUND,
        "models": sum(r["outcome"] == "model" for r in runs),
        "crashed": sorted(k for k, r in results["runs"].items() if r["exit_code"] not in (0, 5)),
    }


def render(doc: dict[str, Any]) -> list[str]:
    r = doc["results"]
    lines = [
        "`automl search` on generated tables (`benchmarks/gen_table.py`, 30 columns, binary "
        "target), each run in an empty project, one at a time. Wall time from outside the "
        "process. Exit 5: no model could finish in the budget (reading and preparing the "
        "table take most of a short one); the command must still end within it.",
        "",
    ]
    head = ["rows", "budget s", "wall s", "wall/budget", "outcome", "trials", "CV AUC", "peak MiB"]
    rows = []
    for e in r["runs"].values():
        rows.append(
            [
                f"{e['rows']:,}",
                f"{e['budget_s']:g}",
                f"{e['wall_s']:.1f}",
                f"{e['wall_over_budget']:.3f}",
                e["outcome"],
                str(e.get("finished", "—")),
                f"{e['cv_score']:.4f}" if e.get("cv_score") is not None else "—",
                f"{e['peak_rss_mib']:,.0f}",
            ]
        )
    lines += _md(head, rows, right_from=1)
    lines += ["", _verdict(r["summary"])]
    return lines


def _verdict(s: dict[str, Any]) -> str:
    ok = "within" if s["within_bound"] else "**over**"
    text = (
        f"Max wall/budget **{s['max_wall_over_budget']}** over {s['runs']} runs ({ok} the "
        f"{BOUND} bound); a model in {s['models']} of them."
    )
    if s["crashed"]:
        text += f" Ended with another exit code: {', '.join(s['crashed'])}."
    return text


def summary_text(r: dict[str, Any]) -> str:
    return f"budget: {_verdict(r['summary'])} Runs in {rel(RUNS)}"


if __name__ == "__main__":  # pragma: no cover - run through benchmarks/run.py
    sys.exit("run through benchmarks/run.py --only budget")
