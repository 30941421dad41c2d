"""Faults: signals mid-run, kill -9 mid-write, a full disk, a read-only project, two writers.

Every case runs the real ``automl`` process against a copy of a small ready project (profile,
prep and model v1) and checks the documented exit code, a readable message without a
traceback, and a project that still verifies with its earlier versions untouched. Signals
are sent after a given progress line (printed on stderr when it is not a terminal) so they
land mid-run; big inputs are generated (seeded) so the step lasts a few seconds.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_cli.errors import (
    EXIT_BAD_DATA,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_TERMINATED,
)
from automl_cli.store import Project

from ..conftest import cli_env
from ._matrix import Case, automl, check_outcome, copy_project, snapshot

F = "test_faults.py::"
SIG = {"sigint": signal.SIGINT, "sigterm": signal.SIGTERM}
CODE = {"sigint": EXIT_INTERRUPTED, "sigterm": EXIT_TERMINATED}
KEYS = {"sigint": "Ctrl-C (SIGINT)", "sigterm": "SIGTERM (`kill PID`)"}

CASES: list[Case] = [
    *(
        Case(
            f"{sig}-profile",
            "fault",
            f"{KEYS[sig]} while `profile` profiles a 300,000-row table",
            "stops at once; no new profile version, no temp folder left; prints 'interrupted'",
            CODE[sig],
            F + "test_a_signal_mid_run_stops_cleanly",
        )
        for sig in SIG
    ),
    *(
        Case(
            f"{sig}-prep",
            "fault",
            f"{KEYS[sig]} while `prep` profiles and fits a 300,000-row table",
            "stops at once; no new profile or prep version, no temp folder left; prints "
            "'interrupted'",
            CODE[sig],
            F + "test_a_signal_mid_run_stops_cleanly",
        )
        for sig in SIG
    ),
    *(
        Case(
            f"{sig}-search",
            "fault",
            f"{KEYS[sig]} during `search`, after two trials finished",
            "stops at the next safe point and saves the best model so far as a complete new "
            "version ('saved as model@v2'); no scratch folder left",
            CODE[sig],
            F + "test_a_signal_mid_run_stops_cleanly",
        )
        for sig in SIG
    ),
    *(
        Case(
            f"{sig}-predict",
            "fault",
            f"{KEYS[sig]} while `predict --output FILE` scores a 300,000-row table",
            "stops at once; neither the output file nor its temp file is left behind",
            CODE[sig],
            F + "test_a_signal_mid_run_stops_cleanly",
        )
        for sig in SIG
    ),
    *(
        Case(
            f"kill-9-{kind}",
            "fault",
            f"`kill -9` while the {kind} artifact is being written",
            "earlier versions intact, no half version visible; the `.tmp-*` folder left is "
            "removed by the next command that takes the project lock",
            "137 (killed), then 0",
            F + "test_kill_9_during_an_artifact_write",
        )
        for kind in ("profile", "model")
    ),
    Case(
        "file-size-limit-artifact",
        "fault",
        "a file of the profile artifact cannot be written (file-size limit: EFBIG)",
        "'error: could not write the profile artifact: File too large' with a hint to free "
        "space; no new version, no temp folder",
        EXIT_BAD_DATA,
        F + "test_a_write_that_does_not_fit",
    ),
    Case(
        "file-size-limit-scratch",
        "fault",
        "`search` cannot grow its scratch study database (file-size limit)",
        "'error: could not write the search's study database: disk I/O error' with a hint to "
        "free space; no new model version",
        EXIT_BAD_DATA,
        F + "test_a_write_that_does_not_fit",
    ),
    Case(
        "disk-full",
        "fault",
        "the project's disk is full (a 2 MiB tmpfs; skipped where mounting is not allowed)",
        "'error: could not write the profile artifact: No space left on device'; no new "
        "version; the same command succeeds once space is freed",
        EXIT_BAD_DATA,
        F + "test_a_full_disk",
    ),
    Case(
        "read-only-project",
        "fault",
        "a write into a read-only project directory (a read-only mount, or no write permission)",
        "'error: the project directory … is read-only or not writable by this user' when it "
        "comes to save; nothing changes",
        EXIT_BAD_DATA,
        F + "test_a_read_only_project",
    ),
    Case(
        "read-only-project-reads",
        "fault",
        "`predict` and `runs list` from a read-only project directory",
        "work as usual: reading needs no lock and writes nothing into the project",
        EXIT_OK,
        F + "test_a_read_only_project",
    ),
    Case(
        "two-profiles",
        "fault",
        "two `automl profile` of the same project at once",
        "both succeed; each version is written under the project lock, one after the other: "
        "exactly two new, complete versions",
        EXIT_OK,
        F + "test_two_writers_at_once",
    ),
    Case(
        "two-searches",
        "fault",
        "two `automl search --trials 2` of the same project at once",
        "both succeed; their writes take the project lock in turn: exactly two new, complete "
        "model versions",
        EXIT_OK,
        F + "test_two_writers_at_once",
    ),
    Case(
        "lock-timeout-0",
        "fault",
        "`--lock-timeout 0 profile` while `automl run` (which holds the project lock for its "
        "whole chain) is searching",
        "'error: project … is locked by …' naming the holder's pid, at once; the running chain "
        "is not disturbed and finishes",
        EXIT_LOCKED,
        F + "test_two_writers_at_once",
    ),
]

_BY_ID = {c.id: c for c in CASES}


def _cases(test: str) -> list[Case]:
    return [c for c in CASES if c.test == F + test]


def _table(path: Path, rows: int, seed: int) -> Path:
    """A seeded binary table: 12 numeric columns, one categorical, target ``y``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(12)})
    frame["cat"] = rng.choice(list("abcdefgh"), size=rows)
    frame["y"] = np.where(frame["x0"] + rng.normal(size=rows) > 0, "yes", "no")
    frame.to_csv(path, index=False, float_format="%.5f")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fault-data")
    _table(folder / "small.csv", 3_000, 1)
    _table(folder / "other.csv", 3_000, 2)  # same columns, not profiled yet
    _table(folder / "big.csv", 300_000, 3)
    return folder


@pytest.fixture(scope="module")
def base(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with profile@v1, prep@v1 and model@v1 (a quick linear search)."""
    project = tmp_path_factory.mktemp("fault-base") / "project"
    proc = automl(
        project, "search", "small.csv", "--target", "y", "--trials", "2", "--models", "linear",
        cwd=data,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return project


@pytest.fixture
def project(base: Path, tmp_path: Path) -> Path:
    return copy_project(base, tmp_path)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The CLI's $TMPDIR, to check that nothing is left in it."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


def _versions(project: Path) -> dict[str, list[int]]:
    store = Project(project)
    return {kind: store.versions(kind) for kind in ("profile", "prep", "model", "evaluation")}


def _start(
    project: Path,
    *args: str,
    cwd: Path,
    env: dict[str, str],
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "automl_cli", "--project", str(project), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def _sigint_default() -> None:
    """Ctrl-C as at a terminal. A test worker (pytest -n) ignores SIGINT, and a process
    started with SIGINT ignored keeps ignoring it, as Unix programs do (nohup, background
    jobs of a script): automl honours that, so the child must start with it restored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120) -> list[str]:
    """Read stderr until a line contains ``marker``; the lines read so far."""
    assert proc.stderr is not None
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"no '{marker}' line before exit {proc.wait()}: {''.join(lines)}")


def _finish(
    proc: subprocess.Popen[str], before: list[str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(before or []) + err)


# -- 1. SIGINT / SIGTERM mid-run ---------------------------------------------------------------

_SIGNAL_RUNS = {
    "profile": (("profile", "big.csv", "--target", "y"), "profiling"),
    "prep": (("prep", "big.csv", "--target", "y"), "profiling"),
    "search": (
        ("search", "small.csv", "--target", "y", "--models", "linear", "--time-budget", "120"),
        "trial 2 ",
    ),
    "predict": (("predict", "big.csv", "--output", "{out}/predictions.csv"), "scored "),
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=[pytest.mark.slow] if "search" in c.id else [])
        for c in _cases("test_a_signal_mid_run_stops_cleanly")
    ],
    ids=lambda c: c.id,
)
def test_a_signal_mid_run_stops_cleanly(
    case: Case, project: Path, data: Path, scratch: Path, tmp_path: Path
) -> None:
    sig, command = case.id.split("-")
    args, marker = _SIGNAL_RUNS[command]
    out = tmp_path / "out"
    out.mkdir()
    args = tuple(a.format(out=out) for a in args)
    before, versions = snapshot(project), _versions(project)
    proc = _start(
        project, *args, cwd=data, env=cli_env(TMPDIR=str(scratch)), preexec_fn=_sigint_default
    )
    lines = _wait_for(proc, marker)
    proc.send_signal(SIG[sig])
    done = _finish(proc, lines)

    check_outcome(done, int(case.exit_code), project, before, error_line=False)
    assert "interrupted" in done.stderr
    after = _versions(project)
    if command == "search":
        assert "saved as model@v2" in done.stderr, done.stderr[-2000:]
        assert after == {**versions, "model": [1, 2]}
    else:
        assert after == versions
        assert "error:" not in done.stderr
    assert not list(out.iterdir()), "predict left its output (or its temp file) behind"
    assert not list(scratch.iterdir()), "scratch files left in $TMPDIR"


# -- 2. kill -9 while a version is written -----------------------------------------------------

_KILL_RUNS = {
    "profile": ("profile", "big.csv", "--target", "y"),
    "model": ("search", "small.csv", "--target", "y", "--trials", "2", "--models", "linear"),
}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=[pytest.mark.slow] if "model" in c.id else [])
        for c in _cases("test_kill_9_during_an_artifact_write")
    ],
    ids=lambda c: c.id,
)
def test_kill_9_during_an_artifact_write(case: Case, project: Path, data: Path) -> None:
    kind = case.id.removeprefix("kill-9-")
    before, versions = snapshot(project), _versions(project)
    proc = _start(project, *_KILL_RUNS[kind], cwd=data, env=cli_env())
    lines = _wait_for(proc, f"saving the {kind} artifact")
    folder = project / "artifacts" / kind
    deadline = time.monotonic() + 30
    while not any(p.name.startswith(".tmp-") for p in folder.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
        time.sleep(0.002)
    proc.kill()  # SIGKILL: no cleanup runs at all
    done = _finish(proc, lines)
    assert done.returncode == -signal.SIGKILL

    # whatever the kill left: no half version is visible, earlier ones are intact
    store = Project(project)
    assert store.versions(kind)[: len(versions[kind])] == versions[kind]
    assert all((folder / f"v{v:04d}" / "manifest.json").is_file() for v in store.versions(kind))
    assert not [
        p for p in folder.iterdir() if p.name.startswith("v") and not (p / "manifest.json").exists()
    ]
    assert snapshot(project).items() >= before.items()

    # the next command that takes the lock clears the leftover, and the project verifies
    nxt = automl(project, "--lock-timeout", "30", "profile", "other.csv", "--target", "y", cwd=data)
    check_outcome(nxt, EXIT_OK, project, before)


# -- 3. a full disk / a file-size limit --------------------------------------------------------


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:  # in the child, before exec: writes past `limit` bytes fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


_LIMIT_RUNS = {
    "file-size-limit-artifact": (
        ("profile", "other.csv", "--target", "y"),
        32_768,
        "could not write the profile artifact: File too large",
    ),
    "file-size-limit-scratch": (
        ("search", "small.csv", "--target", "y", "--trials", "1", "--models", "linear"),
        65_536,
        "could not write the search's study database",
    ),
}


@pytest.mark.parametrize("case", _cases("test_a_write_that_does_not_fit"), ids=lambda c: c.id)
def test_a_write_that_does_not_fit(case: Case, project: Path, data: Path, scratch: Path) -> None:
    args, limit, message = _LIMIT_RUNS[case.id]
    before, versions = snapshot(project), _versions(project)
    proc = _start(
        project, *args, cwd=data, env=cli_env(TMPDIR=str(scratch)),
        preexec_fn=_file_size_limit(limit),
    )  # fmt: skip
    done = _finish(proc)
    check_outcome(done, int(case.exit_code), project, before)
    assert message in done.stderr and "hint: free disk space" in done.stderr
    assert _versions(project) == versions
    assert not list(scratch.iterdir()), "scratch files left in $TMPDIR"


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root and CAP_SYS_ADMIN; skipped otherwise)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("case", _cases("test_a_full_disk"), ids=lambda c: c.id)
def test_a_full_disk(case: Case, base: Path, data: Path, tmpfs: Path) -> None:
    project = tmpfs / "project"
    shutil.copytree(base, project)
    before, versions = snapshot(project), _versions(project)
    filler = tmpfs / "filler"
    with open(filler, "wb") as fh:  # leave ~16 KiB: less than a profile artifact needs
        st = os.statvfs(tmpfs)
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 16_384))
    done = automl(project, "profile", "other.csv", "--target", "y", cwd=data)
    check_outcome(done, int(case.exit_code), project, before)
    assert "could not write the profile artifact: No space left on device" in done.stderr
    assert _versions(project) == versions

    filler.unlink()
    again = automl(project, "profile", "other.csv", "--target", "y", cwd=data)
    check_outcome(again, EXIT_OK, project, before)
    assert _versions(project)["profile"] == [*versions["profile"], versions["profile"][-1] + 1]


# -- 4. a read-only project --------------------------------------------------------------------


@pytest.fixture
def read_only(project: Path) -> Iterator[Path]:
    """``project`` made read-only: no write permission for a normal user; for root (to whom
    permissions do not apply) a read-only bind mount, or a skip where mounting is refused."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [project, *project.rglob("*")] if p.is_dir()}
        for p in modes:
            p.chmod(0o555)
        try:
            yield project
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(project), str(project)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"running as root and cannot bind-mount: {bind.stderr.decode().strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(project)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only: {ro.stderr.decode().strip()}")
        yield project
    finally:
        subprocess.run(["umount", "-l", str(project)], check=False)


def _listing(project: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(project)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in project.rglob("*")
    }


def test_a_read_only_project(read_only: Path, data: Path, tmp_path: Path) -> None:
    project = read_only
    before, listing = snapshot(project), _listing(project)
    write = _BY_ID["read-only-project"]
    done = automl(project, "profile", "other.csv", "--target", "y", cwd=data)
    check_outcome(done, int(write.exit_code), project, before)
    assert "is read-only or not writable" in done.stderr
    assert _listing(project) == listing

    reads = _BY_ID["read-only-project-reads"]
    out = tmp_path / "predictions.csv"
    done = automl(project, "predict", "small.csv", "--output", str(out), cwd=data)
    check_outcome(done, int(reads.exit_code), project, before)
    assert len(pd.read_csv(out)) == 3_000
    check_outcome(automl(project, "runs", "list", cwd=data), int(reads.exit_code))
    assert _listing(project) == listing


# -- 5. two writers at once --------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=[pytest.mark.slow] if c.id != "two-profiles" else [])
        for c in _cases("test_two_writers_at_once")
    ],
    ids=lambda c: c.id,
)
def test_two_writers_at_once(case: Case, project: Path, data: Path) -> None:
    before, versions = snapshot(project), _versions(project)
    env = cli_env()
    if case.id == "lock-timeout-0":
        chain = _start(
            project, "run", "small.csv", "--target", "y", "--trials", "3",
            "--models", "linear", cwd=data, env=env,
        )  # fmt: skip
        lines = _wait_for(chain, "searching")  # `run` holds the lock for its whole chain
        locked = automl(project, "--lock-timeout", "0", "profile", "other.csv", "--target", "y",
                        cwd=data)  # fmt: skip
        check_outcome(locked, int(case.exit_code), project, before)
        assert "lock" in locked.stderr and str(chain.pid) in locked.stderr
        check_outcome(_finish(chain, lines), EXIT_OK, project, before)
        assert _versions(project)["profile"] == versions["profile"]
        assert _versions(project)["model"] == [*versions["model"], 2]
        return

    args = {
        "two-profiles": ("profile", "other.csv", "--target", "y"),
        "two-searches": ("search", "small.csv", "--target", "y", "--trials", "2", "--models",
                         "linear"),
    }[case.id]  # fmt: skip
    kind = "profile" if case.id == "two-profiles" else "model"
    procs = [_start(project, *args, cwd=data, env=env) for _ in range(2)]
    for proc in procs:
        check_outcome(_finish(proc), int(case.exit_code), project, before)
    last = versions[kind][-1]
    assert _versions(project) == {**versions, kind: [*versions[kind], last + 1, last + 2]}
