"""The evaluation report as a person sees it: rendered by headless Chromium.

It must load without console errors, from a ``file://`` URL (offline), with every figure
decoded. Chromium is a system package: CI installs Debian's ``chromium`` and sets
``AUTOML_REQUIRE_BROWSER=1``, so there a missing browser fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from .conftest import SAMPLE_DATA, cli_env

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _browser() -> str:
    found = next((p for b in BROWSERS if (p := shutil.which(b))), None)
    if found is None:
        message = "no Chromium on PATH (Debian: apt-get install chromium)"
        if os.environ.get("AUTOML_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _report(tmp_path: Path) -> Path:
    frame = pd.read_csv(SAMPLE_DATA / "breast_cancer.csv").sample(frac=1.0, random_state=1)
    frame["site"] = ["a", "b", "c"] * (len(frame) // 3) + ["a"] * (len(frame) % 3)
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.iloc[:400].to_csv(train, index=False)
    frame.iloc[400:].to_csv(test, index=False)
    project = tmp_path / "p"

    def cli(*args: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "automl_cli", "--project", str(project), "--json", *args],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=300,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    cli("search", str(train), "--target", "diagnosis", "--trials", "2", "--models", "lgbm,linear")
    doc = cli("evaluate", str(test), "--group", "site", "--fail-under", "auc=0.5")
    return Path(doc["report"])


@pytest.mark.slow
def test_report_renders_in_chromium_without_errors_and_with_every_figure(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    browser_path = _browser()
    report = _report(tmp_path)
    n_plots = len(list((report.parent / "plots").iterdir()))
    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=browser_path, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on(
            "console",
            lambda m: (
                problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri(), wait_until="load")
        images = page.evaluate(
            "Array.from(document.images).map(i => "
            "({alt: i.alt, ok: i.complete && i.naturalWidth > 0, width: i.naturalWidth}))"
        )
        headings = page.locator("h2").all_inner_texts()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    # nothing fetched from anywhere but the file itself and its embedded images
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert len(images) == n_plots >= 6
    assert all(i["ok"] for i in images), [i["alt"] for i in images if not i["ok"]]
    assert {"Quality gates", "Metrics", "What the model relies on", "Fairness"} <= set(headings)
    assert (tmp_path / "report.png").stat().st_size > 50_000
