"""A real "nightly" sequence of ``automl retrain`` processes on one project.

Day 1 trains and promotes; day 2 (same data) skips every step; day 3 (new rows) trains a
challenger and promotes or refuses by the rule; two overlapping runs leave a consistent
project; a run that cannot get the lock in time exits 6; the champion is reproducible.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from automl_cli.errors import EXIT_GATE, EXIT_LOCKED
from automl_cli.store import KINDS, Project

from .conftest import automl, cli_env
from .test_pipeline_cli import churn_table

pytestmark = pytest.mark.slow

RETRAIN = ("retrain", "--target", "churned", "--promote-if-better", "--trials", "3",
           "--models", "linear,lgbm", "--cv", "3", "--seed", "1")  # fmt: skip


def _retrain(project: Path, data: str, *extra: str, cwd: Path) -> tuple[int, dict]:
    proc = automl(project, "--json", RETRAIN[0], data, *RETRAIN[1:], *extra, cwd=cwd)
    assert proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    return proc.returncode, doc.get("details", doc)  # a refusal (exit 5) carries it as details


def _champion(project: Path) -> str:
    return str(json.loads((project / "refs.json").read_text())["model"]["champion"])


def _versions(project: Path) -> dict[str, list[int]]:
    store = Project(project)
    return {kind: store.versions(kind) for kind in KINDS}


def _assert_consistent(project: Path, cwd: Path) -> None:
    """Every version is complete and verifies; no temp folder is left; refs point at models."""
    assert not list((project / "artifacts").glob("*/.tmp-*"))
    store = Project(project)
    for kind, versions in _versions(project).items():
        for v in versions:
            store.load(f"{kind}@{v}")  # checks every file's sha256 against the manifest
    assert store.resolve("model@champion")[1] in _versions(project)["model"]
    # what a user would run: the champion checks out through the CLI as well
    shown = automl(project, "--json", "runs", "show", "model@champion", cwd=cwd)
    assert shown.returncode == 0 and json.loads(shown.stdout)["verified"] is True, shown.stderr


def test_nightly_retrain_sequence(tmp_path: Path) -> None:
    day1 = churn_table(400, 0)
    day1.to_csv(tmp_path / "day1.csv", index=False)
    day3 = pd.concat([day1, churn_table(300, 7)], ignore_index=True)
    day3.to_csv(tmp_path / "day3.csv", index=False)
    project = tmp_path / "project"

    # day 1: the first model becomes the champion
    code, doc = _retrain(project, "day1.csv", cwd=tmp_path)
    assert code == 0 and doc["decision"]["action"] == "promote" and doc["decision"]["promoted"]
    assert doc["challenger"] == "model@v1" and _champion(project) == "v0001"
    assert doc["split"]["holdout_rows"] + doc["split"]["train_rows"] == len(day1)
    predicted = automl(project, "--json", "predict", "day1.csv", "-o", "p.csv", cwd=tmp_path)
    assert json.loads(predicted.stdout)["model"] == "model@v1"
    listed = json.loads(automl(project, "--json", "runs", "list", "model", cwd=tmp_path).stdout)
    assert listed["artifacts"][0]["data_label"] == "day1.csv (train part)"
    assert listed["artifacts"][0]["aliases"] == ["champion"]
    after_day1 = _versions(project)

    # day 2: the same table again: every step is skipped, nothing is written
    code, doc = _retrain(project, "day1.csv", cwd=tmp_path)
    assert code == 0 and doc["changed"] is False
    assert {s["status"] for s in doc["steps"]} == {"unchanged"}
    assert doc["decision"]["action"] == "unchanged"
    assert _versions(project) == after_day1 and _champion(project) == "v0001"

    # day 3: new rows make a challenger; a bar it cannot clear refuses it (exit 5) ...
    code, doc = _retrain(project, "day3.csv", "--min-improvement", "1", cwd=tmp_path)
    assert code == EXIT_GATE and doc["decision"]["action"] == "refuse"
    assert doc["challenger"] == "model@v2" and doc["champion"] == "model@v1"
    assert _champion(project) == "v0001"
    # day-1 holdout rows are still held out today, and the champion trained on none of them
    day1_split = project / "splits" / _split_of(project, "day1.csv", tmp_path)
    today = _rows(Path(doc["holdout"]))
    assert _rows(day1_split / "holdout.parquet") <= today
    assert not _rows(day1_split / "train.parquet") & today

    # ... and with no minimum the rule decides on the measured improvement
    code, doc = _retrain(project, "day3.csv", cwd=tmp_path)
    statuses = {s["step"]: s["status"] for s in doc["steps"]}
    assert statuses["search"] == "unchanged" and statuses["evaluate"] == "unchanged"
    gain = doc["decision"]["improvement"]
    if gain > 0:
        assert code == 0 and doc["decision"]["action"] == "promote"
        assert _champion(project) == "v0002"
    else:
        assert code == EXIT_GATE and doc["decision"]["action"] == "refuse"
        assert _champion(project) == "v0001"
    _assert_consistent(project, tmp_path)

    # a quick night: the champion's exact pipeline refit on today's rows, no search
    champion = _champion(project)
    source = f"model@v{int(champion.lstrip('v'))}"
    refit = ("--json", "retrain", "day3.csv", "--refit-only", "--promote-if-better")
    proc = automl(project, *refit, cwd=tmp_path)
    assert proc.returncode in (0, EXIT_GATE), proc.stderr
    doc = json.loads(proc.stdout)
    doc = doc.get("details", doc)
    assert [s["step"] for s in doc["steps"]] == ["profile", "prep", "refit", "evaluate"]
    refit_model = Project(project).load(doc["challenger"]).manifest
    assert doc["refit"]["from"] == refit_model["summary"]["refit_of"] == source
    assert source in {p["ref"] for p in refit_model["parents"]}
    assert doc["champion"] == source and doc["decision"]["action"] in ("promote", "refuse")
    promoted = proc.returncode == 0
    assert promoted == (doc["decision"]["action"] == "promote")
    assert _champion(project) == (f"v{refit_model['version']:04d}" if promoted else champion)
    # the same night again writes nothing, whichever way it went
    after_refit = _versions(project)
    proc = automl(project, *refit, cwd=tmp_path)
    assert proc.returncode == (0 if promoted else EXIT_GATE), proc.stderr
    again = json.loads(proc.stdout)
    again = again.get("details", again)
    assert {s["status"] for s in again["steps"]} == {"unchanged"}
    assert _versions(project) == after_refit
    # and a refit is reproducible like a searched model
    redo = automl(project, "--json", "runs", "reproduce", doc["challenger"], cwd=tmp_path)
    assert redo.returncode == 0, redo.stderr
    assert json.loads(redo.stdout)["reproduced"] is True
    _assert_consistent(project, tmp_path)

    # two overlapping runs on new data: one does the work, the other waits and reuses it
    day4 = pd.concat([day3, churn_table(150, 8)], ignore_index=True)
    day4.to_csv(tmp_path / "day4.csv", index=False)
    before = _versions(project)
    cmd = [sys.executable, "-m", "automl_cli", "--project", str(project), "--json",
           RETRAIN[0], "day4.csv", *RETRAIN[1:]]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    docs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    docs = [d.get("details", d) for d in docs]
    assert all(p.returncode in (0, EXIT_GATE) for p in procs)
    kinds = sorted(tuple(sorted({s["status"] for s in d["steps"]})) for d in docs)
    assert kinds[0] == ("created",) or "created" in kinds[0]
    assert ("unchanged",) in kinds  # the second one found the first one's work
    after = _versions(project)
    assert {k: len(after[k]) - len(before[k]) for k in ("profile", "prep", "model")} == {
        "profile": 1,
        "prep": 1,
        "model": 1,
    }
    _assert_consistent(project, tmp_path)

    # a run that cannot get the lock within --lock-timeout exits 6 and writes nothing
    slow = subprocess.Popen(
        [*cmd, "--force"], cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while f'"pid": {slow.pid}' not in _lock_text(project) and time.monotonic() < deadline:
        time.sleep(0.05)
    blocked = automl(project, "--lock-timeout", "0.5", *RETRAIN[:1], "day4.csv", *RETRAIN[1:],
                     cwd=tmp_path)  # fmt: skip
    slow.communicate(timeout=300)
    assert blocked.returncode == EXIT_LOCKED, blocked.stderr
    assert "locked" in blocked.stderr and str(slow.pid) in blocked.stderr
    _assert_consistent(project, tmp_path)

    # the reproducibility check: the challenger of day 3 is re-made byte for byte
    again = automl(project, "--json", "runs", "reproduce", "model@v2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["reproduced"] is True

    # housekeeping: gc keeps what the champion and the newest versions need, splits included
    cleaned = automl(project, "--json", "gc", "--keep", "1", cwd=tmp_path)
    assert cleaned.returncode == 0, cleaned.stderr
    assert json.loads(cleaned.stdout)["removed"]
    _assert_consistent(project, tmp_path)
    store = Project(project)
    for kind, versions in _versions(project).items():
        for v in versions:
            for inp in store.load(f"{kind}@{v}").manifest["inputs"]:
                assert (tmp_path / inp["path"]).is_file()
    code, doc = _retrain(project, "day4.csv", cwd=tmp_path)
    assert {s["step"]: s["status"] for s in doc["steps"]}["search"] == "unchanged"


def _rows(path: Path) -> set[tuple[str, ...]]:
    return set(pd.read_parquet(path).astype(str).itertuples(index=False, name=None))


def _lock_text(project: Path) -> str:
    try:
        return (project / ".lock").read_text(errors="replace")
    except OSError:
        return ""


def _split_of(project: Path, name: str, cwd: Path) -> str:
    """The split folder made for ``name`` (by the sha256 of its bytes)."""
    from automl_cli.hashing import sha256_file

    digest = sha256_file(cwd / name)
    (folder,) = (project / "splits").glob(f"{digest[:16]}-*")
    return folder.name
