"""Startup: how much ``automl --help`` costs over a bare interpreter, and what it imports.

The two commands alternate so that a noisy neighbour on the shared 2-core machine slows both
alike; the ratio of medians is the figure to trust, not the absolute milliseconds.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from _common import AUTOML, HEAVY, PYTHON, ratio, show, summary_ms, wall_once

RUNS = 15
WARMUPS = 2

# Same recipe as tests/test_layers.py: run the app in-process, then list what it loaded.
_IMPORTS_PROBE = (
    "import sys, json\n"
    "sys.argv = ['automl', '--help']\n"
    "from automl_cli.cli.app import main\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
)


def heavy_imports() -> list[str]:
    """Heavy libraries that ``automl --help`` pulls in; the design wants none."""
    proc = subprocess.run(
        [str(PYTHON), "-c", _IMPORTS_PROBE], capture_output=True, text=True, check=True
    )
    found: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def run() -> dict[str, Any]:
    """Time both commands, interleaved, and report medians, p90s and their ratio."""
    automl = [str(AUTOML), "--help"]
    bare = [str(PYTHON), "-c", "pass"]
    for _ in range(WARMUPS):
        wall_once(automl)
        wall_once(bare)
    automl_s: list[float] = []
    bare_s: list[float] = []
    for _ in range(RUNS):
        automl_s.append(wall_once(automl))
        bare_s.append(wall_once(bare))
    a, b = summary_ms(automl_s), summary_ms(bare_s)
    return {
        "runs": RUNS,
        "warmups": WARMUPS,
        "automl_help": {"command": show(automl), **a},
        "python_pass": {"command": show(bare), **b},
        "ratio_median": ratio(a["median_ms"], b["median_ms"]),
        "ratio_p90": ratio(a["p90_ms"], b["p90_ms"]),
        "overhead_median_ms": round(a["median_ms"] - b["median_ms"], 1),
        "heavy_modules_imported_by_help": heavy_imports(),
        "samples_ms": {
            "automl_help": [round(s * 1000, 1) for s in automl_s],
            "python_pass": [round(s * 1000, 1) for s in bare_s],
        },
    }


def render(doc: dict[str, Any]) -> list[str]:
    """Markdown lines for the README section."""
    r = doc["results"]
    heavy = ", ".join(r["heavy_modules_imported_by_help"]) or "none"
    return [
        f"{r['runs']} alternating runs each after {r['warmups']} warm-ups.",
        "",
        "| command | median ms | p90 ms |",
        "| --- | ---: | ---: |",
        f"| `{r['automl_help']['command']}` | {r['automl_help']['median_ms']} "
        f"| {r['automl_help']['p90_ms']} |",
        f"| `{r['python_pass']['command']}` | {r['python_pass']['median_ms']} "
        f"| {r['python_pass']['p90_ms']} |",
        f"| **ratio** | **{r['ratio_median']}×** | {r['ratio_p90']}× |",
        "",
        f"Heavy modules imported by `automl --help`: {heavy}.",
    ]
