"""docs/reliability.md is generated from the suite's cases and must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_reliability_table_is_generated_from_the_suite() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "reliability_table.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    table = (ROOT / "docs" / "reliability.md").read_text()
    ids = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert len(ids) == len(set(ids))  # every case documented once
