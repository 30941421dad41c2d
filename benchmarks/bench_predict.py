"""Predict: ``automl predict`` throughput, single-row latency and memory on big inputs.

A model is searched once on the benchmark's 20,000-row table (30 columns of every type, the
profile benchmark's recipe; 30 s budget, the default families and ensemble), then:

- throughput on 1,000,000 rows: the CLI end to end (start, load and verify the model, parse the
  CSV in batches, check, score, write the CSV) against calling the same fitted model's
  ``predict_output`` in Python on the same rows already in memory (the raw model cost); the
  two alternate three times each and the medians are compared;
- the CLI's wall time for a 1-row file, start-up included (median of several runs);
- peak RSS of the CLI on 5,000,000 rows at the default batch size and at 20,000 rows per
  batch, next to the 1,000,000-row run: memory follows the batch, not the file.
"""

from __future__ import annotations

import json
import statistics
import textwrap
from pathlib import Path
from typing import Any

import gen_table
from _common import AUTOML, PYTHON, WORK, measure, ratio, rel, show

TRAIN_ROWS = 20_000
BIG_ROWS = 1_000_000
HUGE_ROWS = 5_000_000
SEARCH_BUDGET = 30
ONE_ROW_RUNS = 7
REPEATS = 3
TARGET = "target"
DIR = WORK / "predict"

_RAW = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    from pathlib import Path
    from automl_cli.core.io import read_table
    from automl_cli.steps.search import load_model
    model = load_model(Path(sys.argv[1]))
    frame, _ = read_table(sys.argv[2])
    frame = frame.drop(columns=[sys.argv[3]], errors="ignore")
    start = time.perf_counter()
    model.predict_output(frame)
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": len(frame), "seconds": seconds}))
    """
)


def _model(project: Path) -> dict[str, Any]:
    train = gen_table.ensure(TRAIN_ROWS)
    cmd = [str(AUTOML), "--project", str(project), "--json", "--quiet", "search", str(train),
           "--target", TARGET, "--time-budget", str(SEARCH_BUDGET), "--seed", "0"]  # fmt: skip
    run = measure(cmd, logs=DIR / "search")
    if not run.ok:
        raise RuntimeError(f"search failed: {run.stderr_tail[-500:]}")
    doc = json.loads((DIR / "search.stdout").read_text())
    return {
        "command": show(cmd),
        "members": [f"{m['family']}×{m['weight']:.2f} ({m['fit']})" for m in doc["ensemble"]],
        "cv_auc": doc["cv_score"],
    }


def _cli(project: Path, data: Path, out: Path, *extra: str, name: str) -> dict[str, Any]:
    cmd = [str(AUTOML), "--project", str(project), "--json", "predict", str(data), "-o",
           str(out), *extra]  # fmt: skip
    run = measure(cmd, logs=DIR / name)
    entry: dict[str, Any] = {
        "command": show(cmd),
        "ok": run.ok,
        "wall_s": round(run.wall_s, 3),
        "peak_rss_mib": run.peak_rss_mib,
    }
    if run.ok:
        doc = json.loads((DIR / f"{name}.stdout").read_text())
        entry["rows"] = doc["rows_out"]
        entry["rows_per_s_end_to_end"] = round(doc["rows_out"] / run.wall_s)
        entry["rows_per_s_scoring"] = doc["rows_per_second"]
    else:
        entry["error"] = run.stderr_tail[-500:]
    out.unlink(missing_ok=True)
    return entry


def run() -> dict[str, Any]:
    """Search once, then measure throughput, single-row latency and memory."""
    DIR.mkdir(parents=True, exist_ok=True)
    project = DIR / "project"
    import shutil

    shutil.rmtree(project, ignore_errors=True)
    model = _model(project)
    big, huge = gen_table.ensure(BIG_ROWS), gen_table.ensure(HUGE_ROWS)

    # raw and CLI alternate, REPEATS times each; medians (the machine is shared and noisy)
    raw_cmd = [str(PYTHON), "-c", _RAW, str(project), str(big), TARGET]
    raw_rates, raw_run, cli_runs = [], None, []
    for i in range(REPEATS):
        raw_run = measure(raw_cmd, logs=DIR / "raw")
        if raw_run.ok:
            raw = json.loads((DIR / "raw.stdout").read_text())
            raw_rates.append(raw["rows"] / raw["seconds"])
        cli_runs.append(_cli(project, big, DIR / "out.csv", name=f"cli_1m_{i}"))
    raw_rate = round(statistics.median(raw_rates)) if raw_rates else None
    ok_runs = sorted((c for c in cli_runs if c["ok"]), key=lambda c: c["wall_s"])
    cli_big = ok_runs[len(ok_runs) // 2] if ok_runs else cli_runs[0]
    cli_big["wall_s_all"] = [c["wall_s"] for c in cli_runs]

    one = DIR / "one_row.csv"
    with big.open() as fh:
        one.write_text(fh.readline() + fh.readline())
    walls = []
    for i in range(ONE_ROW_RUNS):
        entry = _cli(project, one, DIR / "one_out.csv", name=f"one_{i}")
        if entry["ok"]:
            walls.append(entry["wall_s"])
    cli_big_small = _cli(project, big, DIR / "out.csv", "--batch-size", "20000",
                         name="cli_1m_b20k")  # fmt: skip
    cli_huge = _cli(project, huge, DIR / "out.csv", name="cli_5m")
    cli_huge_small = _cli(project, huge, DIR / "out.csv", "--batch-size", "20000",
                          name="cli_5m_b20k")  # fmt: skip
    return {
        "model": model,
        "tables": {
            "train": rel(gen_table.path_for(TRAIN_ROWS)),
            "1m": {"path": rel(big), "mib": round(big.stat().st_size / 2**20, 1)},
            "5m": {"path": rel(huge), "mib": round(huge.stat().st_size / 2**20, 1)},
        },
        "raw_model_1m": {
            "command": "FittedModel.predict_output(frame) in Python, frame already in memory",
            "rows_per_s": raw_rate,
            "rows_per_s_all": [round(r) for r in raw_rates],
            "error": None if raw_rates or raw_run is None else raw_run.stderr_tail[-500:],
        },
        "cli_1m": cli_big,
        "throughput_ratio_end_to_end": ratio(
            cli_big.get("rows_per_s_end_to_end") or 0, raw_rate or 0
        )
        if raw_rate
        else None,
        "throughput_ratio_scoring": ratio(cli_big.get("rows_per_s_scoring") or 0, raw_rate or 0)
        if raw_rate
        else None,
        "one_row": {
            "runs": len(walls),
            "median_s": round(statistics.median(walls), 3) if walls else None,
            "max_s": round(max(walls), 3) if walls else None,
            "target_s": 1.5,
        },
        "cli_1m_batch_20k": cli_big_small,
        "cli_5m": cli_huge,
        "cli_5m_batch_20k": cli_huge_small,
    }


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown for the benchmark README."""
    r = doc["results"]
    c1, c5, c5s = r["cli_1m"], r["cli_5m"], r["cli_5m_batch_20k"]
    c1s = r["cli_1m_batch_20k"]
    return [
        f"Model: `{r['model']['command']}` → {', '.join(r['model']['members'])} "
        f"(CV AUC {r['model']['cv_auc']}).",
        "",
        "| measure | figure |",
        "| --- | ---: |",
        f"| raw model, 1M rows in memory (median of {len(r['raw_model_1m']['rows_per_s_all'])}) | "
        f"{r['raw_model_1m']['rows_per_s']:,} rows/s |",
        f"| `automl predict`, 1M-row CSV → CSV, end to end (median run) | "
        f"{c1.get('rows_per_s_end_to_end', 0):,} rows/s ({c1['wall_s']} s, peak "
        f"{c1['peak_rss_mib']} MiB) |",
        f"| … its scoring loop alone | {c1.get('rows_per_s_scoring') or 0:,} rows/s |",
        f"| ratio to raw: end to end / scoring loop | {r['throughput_ratio_end_to_end']} / "
        f"{r['throughput_ratio_scoring']} |",
        f"| 1-row file, whole command (median of {r['one_row']['runs']}) | "
        f"{r['one_row']['median_s']} s (max {r['one_row']['max_s']}) |",
        f"| 5M-row CSV ({r['tables']['5m']['mib']} MiB), default batch | {c5['wall_s']} s, "
        f"peak {c5['peak_rss_mib']} MiB |",
        f"| 1M-row CSV, `--batch-size 20000` | {c1s['wall_s']} s, peak {c1s['peak_rss_mib']} MiB |",
        f"| 5M-row CSV, `--batch-size 20000` | {c5s['wall_s']} s, peak {c5s['peak_rss_mib']} MiB |",
    ]


def summary_text(r: dict[str, Any]) -> str:
    """Terminal lines."""
    return "\n".join(f"predict: {line}" for line in render({"results": r})[2:] if line)
