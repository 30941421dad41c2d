"""Profile: ``automl profile`` against ydata-profiling (minimal mode) on one large CSV.

The issue's bound is automl's peak RSS at most 3x the table's in-memory size (pandas deep
``memory_usage``); the Arrow size is reported too, since it is what a columnar reader holds.
Both tools' wall times include reading the CSV, as a user would experience them.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import gen_table
import ydata_env
from _common import AUTOML, PYTHON, WORK, Measured, measure, ratio, rel

MEMORY_BOUND = 3.0
MIB = 1024 * 1024
SMALL = 500_000  # below this, fixed interpreter/library memory swamps the table's size

_PANDAS_SIZE = (
    "import sys, json, pandas as pd\n"
    "df = pd.read_csv(sys.argv[1])\n"
    "print(json.dumps({'bytes': int(df.memory_usage(deep=True).sum()), 'rows': len(df),"
    " 'columns': df.shape[1]}))\n"
)
_ARROW_SIZE = (
    "import sys, json, pyarrow.csv as c\n"
    "t = c.read_csv(sys.argv[1])\n"
    "print(json.dumps({'bytes': t.nbytes, 'rows': t.num_rows, 'columns': t.num_columns}))\n"
)
_YDATA = (
    "import sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "import pandas as pd\n"
    "from ydata_profiling import ProfileReport\n"
    "df = pd.read_csv(sys.argv[1])\n"
    "ProfileReport(df, minimal=True, progress_bar=False).to_file(sys.argv[2])\n"
)
_VERSIONS = (
    "import importlib.metadata as m, json\n"
    "print(json.dumps({p: m.version(p) for p in ('automl-cli', 'pandas', 'pyarrow', 'numpy')}))\n"
)


def _size(code: str, path: str) -> tuple[dict[str, Any], Measured]:
    """In-memory size from a fresh reader process, plus that reader's own time and peak RSS."""
    run = measure([str(PYTHON), "-c", code, path])
    if not run.ok:
        raise RuntimeError(f"size probe failed: {run.stderr_tail}")
    doc: dict[str, Any] = json.loads(run.stdout_tail.strip().splitlines()[-1])
    return doc, run


def _headline(runs: list[Measured]) -> dict[str, Any]:
    """Median wall and peak RSS over the successful runs; the failure reason when none were."""
    good = [r for r in runs if r.ok]
    if not good:
        last = runs[-1]
        why = "timed out" if last.timed_out else f"exit {last.returncode}"
        return {"ok": False, "error": f"{why}: {last.stderr_tail.strip()[-800:]}"}
    return {
        "ok": True,
        "wall_s": round(statistics.median(r.wall_s for r in good), 2),
        "peak_rss_mib": round(statistics.median(r.peak_rss_mib for r in good), 1),
    }


def run(rows: int, repeat: int = 1) -> dict[str, Any]:
    """Generate (or reuse) the table, size it, then run the two profilers alternately."""
    started = time.perf_counter()
    path = gen_table.ensure(rows)
    generated_s = round(time.perf_counter() - started, 1)
    file = str(path)
    with path.open() as fh:
        columns = len(fh.readline().rstrip("\n").split(","))

    pandas_size, pandas_read = _size(_PANDAS_SIZE, file)
    arrow_size, arrow_read = _size(_ARROW_SIZE, file)
    versions = json.loads(
        measure([str(PYTHON), "-c", _VERSIONS]).stdout_tail.strip().splitlines()[-1]
    )

    project = WORK / "project"
    automl_cmd = [str(AUTOML), "--project", str(project), "--quiet"]
    automl_cmd += ["profile", file, "--target", "target"]
    ydata_python, ydata_versions, ydata_error = ydata_env.ensure()
    ydata_cmd = None
    if ydata_python is not None:
        ydata_cmd = [str(ydata_python), "-c", _YDATA, file, str(WORK / "ydata_report.html")]

    automl_runs: list[Measured] = []
    ydata_runs: list[Measured] = []
    for _ in range(repeat):  # alternate, so drift on the shared machine hits both tools
        automl_runs.append(measure(automl_cmd))
        if ydata_cmd is not None:
            ydata_runs.append(measure(ydata_cmd))

    automl = _headline(automl_runs)
    ydata: dict[str, Any] = {"ok": False, "error": ydata_error}
    if ydata_runs:
        ydata = _headline(ydata_runs)
    pandas_mib = pandas_size["bytes"] / MIB
    arrow_mib = arrow_size["bytes"] / MIB
    bound: dict[str, Any] = {"limit": MEMORY_BOUND, "verdict": "n/a (automl failed)"}
    if automl["ok"]:
        vs_pandas = ratio(automl["peak_rss_mib"], pandas_mib)
        bound |= {
            "peak_rss_over_pandas_deep": vs_pandas,
            "peak_rss_over_arrow": ratio(automl["peak_rss_mib"], arrow_mib),
            "peak_rss_over_plain_read_csv_rss": ratio(
                automl["peak_rss_mib"], pandas_read.peak_rss_mib
            ),
            "verdict": "PASS" if vs_pandas is not None and vs_pandas <= MEMORY_BOUND else "FAIL",
        }
    versus: dict[str, Any] = {}
    if automl["ok"] and ydata["ok"]:
        versus = {
            "ydata_over_automl_wall": ratio(ydata["wall_s"], automl["wall_s"]),
            "ydata_over_automl_peak_rss": ratio(ydata["peak_rss_mib"], automl["peak_rss_mib"]),
        }
    return {
        "table": {
            "path": rel(path),
            "rows": pandas_size["rows"],
            "columns": columns,
            "file_mib": round(path.stat().st_size / MIB, 1),
            "prepare_s": generated_s,
        },
        "versions": {**versions, "ydata-profiling": ydata_versions.get("ydata-profiling")},
        "ydata_venv_versions": ydata_versions,
        "repeat": repeat,
        "in_memory": {
            "pandas_deep_mib": round(pandas_mib, 1),
            "arrow_mib": round(arrow_mib, 1),
            "pandas_read_csv": pandas_read.to_dict(),
            "arrow_read_csv": arrow_read.to_dict(),
        },
        "automl": {**automl, "command": automl_runs[0].command, "runs": _runs(automl_runs)},
        "ydata": {
            **ydata,
            "command": ydata_runs[0].command if ydata_runs else None,
            "runs": _runs(ydata_runs),
        },
        "memory_bound": bound,
        "ratios": versus,
    }


def _runs(runs: list[Measured]) -> list[dict[str, Any]]:
    """Per-run figures without the successful runs' output noise."""
    keep = ("returncode", "wall_s", "peak_rss_mib", "timed_out")
    return [
        {k: v for k, v in r.to_dict().items() if k in keep or (not r.ok and k == "stderr_tail")}
        for r in runs
    ]


def _one_line(text: str | None, limit: int = 300) -> str:
    """An error message fit for one Markdown code span."""
    return " / ".join(line.strip() for line in (text or "").splitlines() if line.strip())[:limit]


def _cell(tool: dict[str, Any], key: str) -> str:
    return str(tool[key]) if tool.get("ok") else "—"


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown lines for the README section."""
    r = doc["results"]
    t, mem, bound, v = r["table"], r["in_memory"], r["memory_bound"], r["versions"]
    a, y = r["automl"], r["ydata"]
    lines = [
        f"Table `{t['path']}`: {t['rows']:,} rows × {t['columns']} columns, "
        f"{t['file_mib']} MiB on disk. automl {v['automl-cli']} (pandas {v['pandas']}, "
        f"pyarrow {v['pyarrow']}); ydata-profiling {v.get('ydata-profiling') or 'n/a'} "
        f"(pandas {r['ydata_venv_versions'].get('pandas', 'n/a')}, own venv). "
        "Times include reading the CSV.",
        "",
        "| tool | wall s | peak RSS MiB |",
        "| --- | ---: | ---: |",
        f"| automl profile | {_cell(a, 'wall_s')} | {_cell(a, 'peak_rss_mib')} |",
        f"| ydata-profiling (minimal) | {_cell(y, 'wall_s')} | {_cell(y, 'peak_rss_mib')} |",
        f"| *pandas.read_csv alone* | {mem['pandas_read_csv']['wall_s']} "
        f"| {mem['pandas_read_csv']['peak_rss_mib']} |",
        "",
        f"In-memory size: pandas deep {mem['pandas_deep_mib']} MiB, Arrow {mem['arrow_mib']} MiB.",
        "",
    ]
    if a.get("ok"):
        lines.append(
            f"Memory bound (automl peak RSS ≤ {bound['limit']}× pandas deep size): "
            f"**{bound['peak_rss_over_pandas_deep']}× → {bound['verdict']}** "
            f"({bound['peak_rss_over_arrow']}× the Arrow size)."
        )
        if t["rows"] < SMALL:
            lines.append(
                "(A small table: the interpreter and libraries dominate the RSS here; the bound "
                "is meant for the million-row table.)"
            )
    else:
        lines.append(f"automl failed: `{_one_line(a.get('error'))}`")
    if r["ratios"]:
        lines.append(
            f"ydata / automl: **{r['ratios']['ydata_over_automl_wall']}×** wall time, "
            f"**{r['ratios']['ydata_over_automl_peak_rss']}×** peak RSS."
        )
    elif not y.get("ok"):
        lines.append(f"ydata-profiling did not produce a figure: `{_one_line(y.get('error'))}`")
    lines += ["", f"automl: `{a['command']}`"]
    if y.get("command"):
        lines.append("ydata: `ProfileReport(pd.read_csv(FILE), minimal=True).to_file(...)`")
    return lines
