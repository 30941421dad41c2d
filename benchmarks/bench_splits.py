"""Split noise: the search benchmark's comparison repeated over other 75/25 splits of a table.

The search benchmark scores every system on one fixed test split. On a small table (titanic's
test split has 223 rows) that one split decides a comparison by chance as much as by merit: a
difference of 0.01 AUC is within the spread between splits. This benchmark re-splits chosen
tables with other seeds (same stratified 75/25 protocol) and runs chosen systems on each, so a
single-split result can be read against the spread. It is run on demand, not by ``make bench``:
``make bench-splits TABLES=titanic`` (default systems: automl and default LightGBM).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench_search
import search_tables
from bench_search import _fmt

DEFAULT_SEEDS = (1, 2, 3, 4, 5)
DEFAULT_SYSTEMS = ("automl", bench_search.BASELINE)


def run(
    budget: float,
    table_names: list[str],
    system_names: list[str] | None,
    seeds: list[int],
    *,
    command: str,
    checkpoint: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Every (table, seed, system): fit, predict, score, as the search benchmark does."""
    tables = [search_tables.BY_NAME[n] for n in table_names]
    systems = [bench_search.SYSTEMS[n] for n in (system_names or DEFAULT_SYSTEMS)]
    results: dict[str, Any] = {
        "budget_s": budget,
        "seeds": seeds,
        "protocol": "as the search benchmark, with split seeds other than 0",
        "metrics": bench_search.METRICS,
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "systems": [s.name for s in systems],
        "runs": {},
    }
    skipped, _ = search_tables.export(tables)
    results["skipped_tables"] = skipped
    pythons: dict[str, Path | None] = {}
    for system in systems:
        pythons[system.name], info = bench_search.prepare(system)
        if pythons[system.name] is None:
            print(f"  {system.name}: UNAVAILABLE ({info['error'][:200]})", flush=True)
    for table in (t for t in tables if t.name not in skipped):
        per_seed = results["runs"].setdefault(table.name, {})
        for seed in seeds:
            search_tables.split(table, seed)
            for system in systems:
                python = pythons[system.name]
                if python is None:
                    continue
                entry = bench_search.run_one(system, python, table, budget, False, seed)
                kept = ("score", "wall_over_budget", "peak_rss_mib", "others_cores", "error")
                per_seed.setdefault(str(seed), {})[system.name] = {k: entry.get(k) for k in kept}
                print(f"  {table.name} seed {seed} {system.name}: {entry.get('score')}", flush=True)
                results["summary"] = summarize(results)
                if checkpoint is not None:
                    checkpoint(results)
    results["summary"] = summarize(results)
    return results


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per table and system: mean and spread of the score, and wins against the baseline."""
    out: dict[str, Any] = {}
    for table, per_seed in results["runs"].items():
        task = search_tables.BY_NAME[table].task
        lower_is_better = task != "binary"
        rows: dict[str, Any] = {}
        for system in results["systems"]:
            scores = [
                s[system]["score"]
                for s in per_seed.values()
                if system in s and s[system]["score"] is not None
            ]
            row: dict[str, Any] = {
                "splits": len(scores),
                "mean": round(statistics.fmean(scores), 6) if scores else None,
                "stdev": round(statistics.stdev(scores), 6) if len(scores) > 1 else None,
            }
            if system != bench_search.BASELINE:
                better = worse = 0
                for s in per_seed.values():
                    a, b = s.get(system, {}).get("score"), s.get(bench_search.BASELINE, {})
                    b = b.get("score")
                    if a is None or b is None:
                        continue
                    if (a < b) if lower_is_better else (a > b):
                        better += 1
                    elif a != b:
                        worse += 1
                row["better_than_baseline"] = better
                row["worse_than_baseline"] = worse
            rows[system] = row
        out[table] = rows
    return out


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown: one row per table and system, scores per seed, mean ± stdev, wins."""
    r = doc["results"]
    seeds = [str(s) for s in r["seeds"]]
    head = ["table", "system", *[f"seed {s}" for s in seeds], "mean ± stdev", "vs baseline"]
    lines = [
        f"Budget {r['budget_s']:g} s; metric as in the search benchmark "
        f"(AUC: higher is better; log loss, RMSE: lower). Baseline: {bench_search.BASELINE}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for table, per_seed in r["runs"].items():
        for system in r["systems"]:
            row = r["summary"][table][system]
            cells = [_fmt(per_seed.get(s, {}).get(system, {}).get("score")) for s in seeds]
            spread = (
                f"{_fmt(row['mean'])} ± {_fmt(row['stdev'])}" if row["mean"] is not None else "—"
            )
            versus = (
                f"better on {row['better_than_baseline']}, worse on {row['worse_than_baseline']}"
                if "better_than_baseline" in row
                else ""
            )
            lines.append("| " + " | ".join([table, system, *cells, spread, versus]) + " |")
    return lines


def summary_text(r: dict[str, Any]) -> str:
    """One line per table and system for the terminal."""
    out = []
    for table, rows in r["summary"].items():
        for system, row in rows.items():
            extra = (
                f", better than {bench_search.BASELINE} on {row['better_than_baseline']}"
                f" of {row['splits']} splits"
                if "better_than_baseline" in row
                else ""
            )
            out.append(
                f"splits: {table} {system}: mean {_fmt(row['mean'])} ± {_fmt(row['stdev'])}{extra}"
            )
    return "\n".join(out)
