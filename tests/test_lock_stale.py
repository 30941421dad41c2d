"""Stale project locks: heartbeat, dead and hung holders, safe breaking, takeover detection.

Every holder is a real process on real files; nothing of os or fcntl is mocked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from automl_cli.errors import EXIT_LOCKED, LockedError, UsageError
from automl_cli.store import ProjectLock


def _spawn(code: str, *args: str, ready: str = "LOCKED") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line == ready, f"holder did not start: {line!r}"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait(timeout=10)


@contextlib.contextmanager
def _running(code: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    proc = _spawn(code, *args)
    try:
        yield proc
    finally:
        _kill(proc)


LIVE = """
    import sys, time
    from pathlib import Path
    from automl_cli.store import ProjectLock
    lock = ProjectLock(Path(sys.argv[1]), heartbeat_interval=0.05)
    lock.acquire(5)
    print("LOCKED", flush=True)
    time.sleep(60)
"""

# Holds the flock by hand with a record from "another host" and never heartbeats.
REMOTE = """
    import fcntl, json, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    if sys.argv[2] == "garbage":
        os.write(fd, b'{"pid": 1, "host": "elsewh')
    else:
        beat = time.time() - float(sys.argv[2])
        record = {"pid": os.getpid(), "host": "elsewhere.example",
                  "since_utc": "2020-01-01T00:00:00+00:00", "heartbeat_utc": "long ago",
                  "heartbeat_unix": beat, "token": "remote-token"}
        os.write(fd, json.dumps(record).encode())
    print("LOCKED", flush=True)
    time.sleep(60)
"""


def test_live_heartbeating_holder_is_never_broken(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with _running(LIVE, str(path)) as holder:
        time.sleep(0.5)  # the holder is now older than stale_after: only its heartbeat counts
        lock = ProjectLock(path, stale_after=0.4)
        t0 = time.monotonic()
        with pytest.raises(LockedError) as info:
            lock.acquire(timeout=0.5)
        assert time.monotonic() - t0 >= 0.45
        err = info.value
        assert err.exit_code == EXIT_LOCKED
        assert f"pid {holder.pid} on {socket.gethostname()} since " in err.message
        assert "last heartbeat 0 s ago" in err.message
        assert "waited 0.5 s" in err.message
        assert "--lock-timeout" in err.hint and "AUTOML_LOCK_TIMEOUT" in err.hint
        assert err.details["holder"]["pid"] == holder.pid
        assert not lock.held and lock.broken_stale is None
        assert not list(tmp_path.glob(".lock.stale-*"))


FORKING = """
    import os, sys, time
    from pathlib import Path
    from automl_cli.store import ProjectLock
    lock = ProjectLock(Path(sys.argv[1]), heartbeat_interval=0.05)
    lock.acquire(5)
    child = os.fork()
    if child == 0:  # a worker that inherits the locked file and outlives its parent
        time.sleep(60)
        os._exit(0)
    Path(sys.argv[2]).write_text(str(child))
    print("LOCKED", flush=True)
    time.sleep(60)
"""


def test_killed_holder_whose_forked_child_keeps_the_flock_is_broken(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    pid_file = tmp_path / "orphan.pid"
    parent = _spawn(FORKING, str(path), str(pid_file))
    orphan = int(pid_file.read_text())
    try:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        with open(path, "rb") as fh, pytest.raises(BlockingIOError):  # the flock outlived it
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)

        lock = ProjectLock(path, heartbeat_interval=0.05, stale_after=60)
        t0 = time.monotonic()
        lock.acquire(timeout=5)
        try:
            assert time.monotonic() - t0 < 2
            broken = lock.broken_stale
            assert broken is not None
            assert broken["pid"] == parent.pid and broken["host"] == socket.gethostname()
            assert "no longer exists" in broken["reason"]
            assert (tmp_path / broken["moved_to"]).exists()
            record = json.loads(path.read_text())
            assert record["pid"] == os.getpid()
            assert record["broke_stale_lock"]["pid"] == parent.pid
            lock.verify_held()
        finally:
            lock.release()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)
        _kill(parent)


@pytest.mark.parametrize(
    ("heartbeat_age", "old_mtime", "broken"),
    [
        ("1000", False, True),  # stale heartbeat, whatever the host
        ("0", False, False),  # fresh heartbeat from another host
        ("garbage", False, False),  # unreadable record in a file that just changed
        ("garbage", True, True),  # unreadable record and the file unchanged for long
    ],
)
def test_remote_holder_is_judged_by_its_heartbeat(
    tmp_path: Path, heartbeat_age: str, old_mtime: bool, broken: bool
) -> None:
    path = tmp_path / ".lock"
    with _running(REMOTE, str(path), heartbeat_age):
        if old_mtime:
            past = time.time() - 1000
            os.utime(path, (past, past))
        lock = ProjectLock(path, heartbeat_interval=0.05, stale_after=5)
        if not broken:
            with pytest.raises(LockedError):
                lock.acquire(timeout=0.5)
            assert lock.broken_stale is None and not list(tmp_path.glob(".lock.stale-*"))
            return
        lock.acquire(timeout=5)
        try:
            assert lock.broken_stale is not None
            if heartbeat_age == "garbage":
                assert "unchanged" in lock.broken_stale["reason"]
            else:
                assert lock.broken_stale["host"] == "elsewhere.example"
                assert "no heartbeat for 1000 s" in lock.broken_stale["reason"]
                assert (tmp_path / ".lock.stale-remote-token").exists()
        finally:
            lock.release()


def test_stale_after_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".lock"
    monkeypatch.delenv("AUTOML_LOCK_STALE_AFTER", raising=False)
    assert ProjectLock(path).stale_after == 300
    with _running(REMOTE, str(path), "100"):
        with pytest.raises(LockedError):  # 100 s is not stale under the default 300 s
            ProjectLock(path).acquire(timeout=0.2)
        monkeypatch.setenv("AUTOML_LOCK_STALE_AFTER", "5")
        lock = ProjectLock(path)
        lock.acquire(timeout=5)
        assert lock.broken_stale is not None
        lock.release()
    monkeypatch.setenv("AUTOML_LOCK_STALE_AFTER", "soon")
    with pytest.raises(UsageError, match="AUTOML_LOCK_STALE_AFTER"):
        ProjectLock(path).acquire(timeout=0)


RACER = """
    import os, sys, time
    from pathlib import Path
    from automl_cli.store import ProjectLock
    path, log, go = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.001)
    for _ in range(2):
        lock = ProjectLock(path, heartbeat_interval=0.05, stale_after=5)
        lock.acquire(20)
        with open(log, "a") as fh:
            fh.write(f"enter {os.getpid()} {lock.broken_stale is not None}\\n")
        time.sleep(0.05)
        with open(log, "a") as fh:
            fh.write(f"exit {os.getpid()}\\n")
        lock.release()
"""


def test_racing_breakers_never_hold_the_lock_together(tmp_path: Path) -> None:
    path, log, go = tmp_path / ".lock", tmp_path / "log.txt", tmp_path / "go"
    with _running(REMOTE, str(path), "1000"):
        racers = [_spawn(RACER, str(path), str(log), str(go), ready="READY") for _ in range(4)]
        try:
            go.touch()
            for racer in racers:
                assert racer.wait(timeout=30) == 0
        finally:
            for racer in racers:
                _kill(racer)
    lines = [line.split() for line in log.read_text().splitlines()]
    assert len(lines) == 2 * 2 * len(racers)
    for enter, leave in zip(lines[::2], lines[1::2], strict=True):
        assert enter[0] == "enter" and leave == ["exit", enter[1]], lines
    assert sum(line[2] == "True" for line in lines[::2]) == 1  # exactly one broke it
    assert [p.name for p in tmp_path.glob(".lock.stale-*")] == [".lock.stale-remote-token"]


def test_verify_held_raises_once_the_lock_file_was_replaced(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    lock = ProjectLock(path, heartbeat_interval=0.05)
    lock.acquire(timeout=1)
    try:
        lock.verify_held()
        os.rename(path, tmp_path / "moved-away")
        with _running(LIVE, str(path)) as taker:
            with pytest.raises(LockedError) as info:
                lock.verify_held()
            assert f"taken over by pid {taker.pid} on {socket.gethostname()}" in info.value.message
            assert "nothing was written" in info.value.message
            deadline = time.monotonic() + 2
            while lock.taken_over is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert lock.taken_over is not None  # the heartbeat thread noticed too
            lock.release()
            # our release went to our own (moved) file: the new holder still holds .lock
            with pytest.raises(LockedError):
                ProjectLock(path, stale_after=60).acquire(timeout=0.2)
    finally:
        lock.release()


HUNG = """
    import sys, time
    from pathlib import Path
    from automl_cli.errors import LockedError
    from automl_cli.store import ProjectLock
    lock = ProjectLock(Path(sys.argv[1]), heartbeat_interval=0.05)
    lock.acquire(5)
    print("LOCKED", flush=True)
    sys.stdin.readline()
    deadline = time.monotonic() + 5
    while lock.taken_over is None and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        lock.verify_held()
        print("STILL HELD", flush=True)
    except LockedError as exc:
        print(f"FLAGGED={lock.taken_over is not None}", exc.message, flush=True)
    lock.release()
    print("RELEASED", flush=True)
"""


def test_hung_holder_is_broken_and_finds_out_when_it_resumes(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with _running(HUNG, str(path)) as hung:
        assert hung.stdin is not None and hung.stdout is not None
        os.kill(hung.pid, signal.SIGSTOP)
        lock = ProjectLock(path, heartbeat_interval=0.05, stale_after=0.3)
        try:
            lock.acquire(timeout=5)
            assert lock.broken_stale is not None and lock.broken_stale["pid"] == hung.pid
            assert "no heartbeat" in lock.broken_stale["reason"]
            os.kill(hung.pid, signal.SIGCONT)
            hung.stdin.write("go\n")
            hung.stdin.flush()
            report = hung.stdout.readline()
            assert report.startswith("FLAGGED=True"), report
            assert f"taken over by pid {os.getpid()}" in report
            assert hung.stdout.readline().strip() == "RELEASED"
            lock.verify_held()  # the resumed holder's release did not touch our lock
            assert json.loads(path.read_text())["pid"] == os.getpid()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hung.pid, signal.SIGCONT)
            lock.release()


def test_the_cli_breaks_a_stale_lock_and_says_so(tmp_path: Path) -> None:
    """A real ``automl`` process gets past a holder that stopped heart-beating, and warns."""
    from .conftest import SAMPLE_DATA, cli_env

    project = tmp_path / "project"
    project.mkdir()
    with _running(REMOTE, str(project / ".lock"), "1000"):
        proc = subprocess.run(
            [sys.executable, "-m", "automl_cli", "--project", str(project), "--lock-timeout",
             "10", "profile", str(SAMPLE_DATA / "wine.csv")],
            capture_output=True, text=True, timeout=120,
            env=cli_env(AUTOML_LOCK_STALE_AFTER="5"),
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "broke a stale project lock" in proc.stderr and "elsewhere.example" in proc.stderr
    assert (project / "artifacts" / "profile" / "v0001" / "manifest.json").is_file()
