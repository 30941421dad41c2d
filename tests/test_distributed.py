"""Shared studies: several ``automl`` processes on one study (PostgreSQL, journal file)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from automl_cli.errors import EXIT_BAD_DATA, EXIT_USAGE

from .conftest import cli_env
from .postgres import postgres_url  # noqa: F401
from .test_pipeline_cli import churn_table

pytestmark = pytest.mark.slow

SETTINGS = ("--target", "churned", "--models", "linear,lgbm", "--cv", "3", "--seed", "1")
ENV = cli_env(AUTOML_STUDY_HEARTBEAT="1")  # heartbeat 1 s, stale after 2 s


def _cmd(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "automl_cli", "--project", str(project), *args]


def _run(project: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cmd(project, *args), cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300
    )


def _has_heartbeat(url: str, trial_id: int) -> bool:
    """Whether the trial's worker has recorded a heartbeat in the study's database."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            query = sqlalchemy.text("SELECT count(*) FROM trial_heartbeats WHERE trial_id = :t")
            return bool(conn.execute(query, {"t": trial_id}).scalar())
    finally:
        engine.dispose()


def _start(project: Path, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _cmd(project, *args),
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _leaderboard(project: Path, ref: str) -> list[dict[str, str]]:
    version = int(ref.rsplit("@v", 1)[1])
    path = project / "artifacts" / "model" / f"v{version:04d}" / "leaderboard.csv"
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def table(tmp_path: Path) -> Path:
    churn_table(400, 0).to_csv(tmp_path / "train.csv", index=False)
    return tmp_path / "train.csv"


def test_two_workers_and_a_finalize_build_one_model(
    tmp_path: Path,
    table: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    storage = ("--storage", postgres_url, "--study", "two-workers")
    first = _run(tmp_path / "a", "search", "train.csv", *SETTINGS, *storage, "--trials", "2",
                 cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    # two more processes join without repeating the data arguments
    workers = [_start(tmp_path / name, "--json", "worker", *storage, "--trials", "3",
                      cwd=tmp_path) for name in ("b", "c")]  # fmt: skip
    outs = [w.communicate(timeout=300) for w in workers]
    for w, (out, err) in zip(workers, outs, strict=True):
        assert w.returncode == 0, err
        assert json.loads(out)["trials"]["complete"] + json.loads(out)["trials"]["pruned"] == 3
    final = _run(tmp_path / "a", "--json", "search", "train.csv", *SETTINGS, *storage,
                 "--finalize", cwd=tmp_path)  # fmt: skip
    assert final.returncode == 0, final.stderr
    doc = json.loads(final.stdout)
    board = _leaderboard(tmp_path / "a", doc["artifact"])
    assert len(board) == 8  # 2 + 3 + 3: every worker's trials
    assert len({row["worker"] for row in board}) == 3
    assert sorted(int(r["trial"]) for r in board) == list(range(8))
    manifest = json.loads(
        (Path(doc["path"]) / "manifest.json").read_text()
    )  # the password never reaches a manifest; the workers are named
    assert len(manifest["summary"]["workers"]) == 3
    assert manifest["config"]["storage"]["value"] == postgres_url  # no password in this URL
    predicted = _run(tmp_path / "a", "predict", "train.csv", "-o", "p.csv", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr

    # a worker must search the same bytes, and a second search must agree with the study
    other = tmp_path / "other.csv"
    churn_table(400, 9).to_csv(other, index=False)
    wrong = _run(tmp_path / "b", "worker", *storage, "--data", str(other), cwd=tmp_path)
    assert wrong.returncode == EXIT_BAD_DATA and "sha256" in wrong.stderr
    clash = _run(tmp_path / "d", "search", "other.csv", *SETTINGS, *storage, "--trials", "1",
                 cwd=tmp_path)  # fmt: skip
    assert clash.returncode == EXIT_USAGE and "data sha256" in clash.stderr
    missing = _run(tmp_path / "b", "worker", "--storage", postgres_url, "--study", "nope",
                   cwd=tmp_path)  # fmt: skip
    assert missing.returncode == EXIT_USAGE and "no study 'nope'" in missing.stderr


def test_a_killed_worker_leaves_the_study_usable(
    tmp_path: Path,
    table: Path,
    postgres_url: str,  # noqa: F811
) -> None:
    name = "killed-worker"
    storage = ("--storage", postgres_url, "--study", name)
    slow = ("--target", "churned", "--models", "rf", "--cv", "3", "--seed", "1")
    first = _run(tmp_path / "a", "search", "train.csv", *slow, *storage, "--trials", "1",
                 cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    study = optuna.load_study(study_name=name, storage=postgres_url)
    victim = subprocess.Popen(
        _cmd(tmp_path / "b", "worker", *storage, "--trials", "50"),
        cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    running: list[int] = []
    while not running and time.monotonic() < deadline:
        time.sleep(0.2)
        # a trial is failed by its stale heartbeat: a kill before the first one leaves no
        # trace of its worker, so wait until the trial has beaten once
        running = [
            t.number
            for t in study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
            if t.number > 0 and _has_heartbeat(postgres_url, t._trial_id)
        ]
    assert running, "the worker never started a trial"
    os.kill(victim.pid, signal.SIGKILL)  # mid-trial: no chance to tell the study
    victim.wait(timeout=30)
    time.sleep(3)  # past the 2 s grace period of its last heartbeat

    # the next worker fails the stale trial and runs it again (once)
    rescuer = _run(tmp_path / "c", "--json", "worker", *storage, "--trials", "2", cwd=tmp_path)
    assert rescuer.returncode == 0, rescuer.stderr
    trials = {t.number: t for t in study.get_trials()}
    dead = trials[running[0]]
    assert dead.state == optuna.trial.TrialState.FAIL
    retried = [t for t in trials.values() if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retried) == 1 and retried[0].state == optuna.trial.TrialState.COMPLETE
    # the retry keeps what the dead trial had chosen (a kill can land between two of its
    # suggestions, so the rest may be sampled afresh)
    assert dead.params.items() <= retried[0].params.items()

    final = _run(tmp_path / "a", "--json", "search", "train.csv", *slow, *storage, "--finalize",
                 cwd=tmp_path)  # fmt: skip
    assert final.returncode == 0, final.stderr
    board = _leaderboard(tmp_path / "a", json.loads(final.stdout)["artifact"])
    states = {int(r["trial"]): r["state"] for r in board}
    assert states[dead.number] == "failed" and states[retried[0].number] == "complete"


def test_a_journal_file_shares_a_study_between_processes_on_one_machine(
    tmp_path: Path, table: Path
) -> None:
    storage = ("--storage", f"journal:{tmp_path / 'study.log'}", "--study", "local")
    first = _run(tmp_path / "a", "search", "train.csv", *SETTINGS, *storage, "--trials", "2",
                 cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    joined = _run(tmp_path / "b", "worker", *storage, "--trials", "2", cwd=tmp_path)
    assert joined.returncode == 0, joined.stderr
    final = _run(tmp_path / "a", "--json", "search", "train.csv", *SETTINGS, *storage,
                 "--finalize", cwd=tmp_path)  # fmt: skip
    assert final.returncode == 0, final.stderr
    assert len(_leaderboard(tmp_path / "a", json.loads(final.stdout)["artifact"])) == 4


def test_storage_mistakes_are_usage_errors(tmp_path: Path, table: Path) -> None:
    for args in (
        ("search", "train.csv", *SETTINGS, "--storage", "redis://x", "--trials", "1"),
        ("search", "train.csv", *SETTINGS, "--study", "s", "--trials", "1"),
        ("search", "train.csv", *SETTINGS, "--finalize"),
    ):
        proc = _run(tmp_path / "a", *args, cwd=tmp_path)
        assert proc.returncode == EXIT_USAGE, (args, proc.stderr)
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    down = _run(tmp_path / "a", "search", "train.csv", *SETTINGS, "--trials", "1",
                "--storage", "postgresql://u:secret@127.0.0.1:9/db", cwd=tmp_path)  # fmt: skip
    assert down.returncode == EXIT_BAD_DATA and "cannot open the study storage" in down.stderr
    assert "secret" not in down.stderr


def test_sqlite_refuses_a_second_process_while_one_is_searching(
    tmp_path: Path, table: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    storage = ("--storage", url, "--study", "solo")
    rf = ("--target", "churned", "--models", "rf", "--cv", "3", "--seed", "1")
    first = _start(tmp_path / "a", "search", "train.csv", *rf, *storage, "--trials", "30",
                   cwd=tmp_path)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                study = optuna.load_study(study_name="solo", storage=url)
            except KeyError:
                continue
            if study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
                break
        second = _run(tmp_path / "b", "worker", *storage, "--trials", "1", cwd=tmp_path)
        assert second.returncode == EXIT_USAGE, second.stderr
        assert "SQLite is for one process" in second.stderr and "journal:" in second.stderr
    finally:
        first.kill()
        first.communicate(timeout=60)
