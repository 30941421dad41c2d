"""Screenshot of an evaluation report for the README: ``docs/evaluation_report.png``.

Searches the sample breast-cancer table (first 400 shuffled rows), evaluates the other 169
with a ``site`` group column, and renders the report in headless Chromium (Playwright with the
system browser). Usage: ``.venv/bin/python scripts/report_screenshot.py [OUT.png]``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    """Make the report, then the screenshot (the page's top 1280×2200 pixels)."""
    from playwright.sync_api import sync_playwright

    out = Path(argv[0]) if argv else ROOT / "docs" / "evaluation_report.png"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("no Chromium on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        frame = pd.read_csv(ROOT / "sample_data" / "breast_cancer.csv")
        frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
        frame["site"] = np.random.default_rng(0).choice(["north", "south", "east"], len(frame))
        frame.iloc[:400].to_csv(work / "train.csv", index=False)
        frame.iloc[400:].to_csv(work / "test.csv", index=False)
        automl = [sys.executable, "-m", "automl_cli", "--project", str(work / "p"), "--json"]
        subprocess.run(
            [*automl, "search", "train.csv", "--target", "diagnosis",
             "--trials", "8", "--models", "lgbm,linear"],
            check=True, capture_output=True, cwd=work,
        )  # fmt: skip
        done = subprocess.run(
            [*automl, "evaluate", "test.csv", "--group", "site",
             "--fail-under", "auc=0.95"],
            check=True, capture_output=True, text=True, cwd=work,
        )  # fmt: skip
        report = Path(json.loads(done.stdout)["report"])
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=browser, args=["--no-sandbox"])
            page = chromium.new_page(viewport={"width": 1280, "height": 2200})
            page.goto(report.as_uri(), wait_until="load")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            chromium.close()
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
