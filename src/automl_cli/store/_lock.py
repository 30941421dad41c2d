"""An exclusive project lock on ``.lock`` with ``fcntl.flock``, a heartbeat and stale-lock breaking.

The kernel releases a flock when its holder dies, but not while a child forked by the holder
still has the file open (the open file description lives on), and flock can be unreliable on
network filesystems. So the holder also keeps a record in the file (pid, host, a random token,
and a heartbeat rewritten by a daemon thread), and a waiter treats the lock as stale when the
holder's pid is gone on this machine or its heartbeat stopped ``stale_after`` seconds ago.

Breaking never deletes a lock someone may hold in good faith: under a second flock on
``.lock.break`` the waiter re-reads the record, confirms it is still the same stale holder on
the same inode, and renames the file to ``.lock.stale-<token>``; the next ``open`` creates a
fresh inode. Every acquirer checks, under that same ``.lock.break``, that the inode it locked
is still the one at ``.lock`` (the lock-file-with-unlink pattern), so a break and an acquire
can never both succeed on different inodes. A holder whose lock was broken (it hung, then
resumed) learns it from :meth:`ProjectLock.verify_held`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from automl_cli.errors import LockedError, UsageError

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_STALE_AFTER",
    "STALE_AFTER_ENV",
    "ProjectLock",
]

DEFAULT_HEARTBEAT_INTERVAL = 10.0
DEFAULT_STALE_AFTER = 300.0
STALE_AFTER_ENV = "AUTOML_LOCK_STALE_AFTER"

_POLL_S = 0.1
_BREAK_POLL_S = 0.01
# An acquirer that already holds ``.lock`` waits at least this long for ``.lock.break``,
# whose holders only ever do a stat, a read and a rename.
_BREAK_GRACE_S = 5.0
# The record is padded to a whole block and written with one pwrite, so it never shrinks
# in place and a reader sees either the old or the new bytes in practice; a torn read
# parses as "unknown", which is never judged stale while the file keeps changing.
_RECORD_BLOCK = 1024
_READ_MAX = 1 << 16
_SAFE_TAG = re.compile(r"[0-9A-Za-z_-]{1,64}")
_HINT = (
    "wait for that run to finish, or raise --lock-timeout (seconds to wait; AUTOML_LOCK_TIMEOUT)"
)

Record = dict[str, Any]


class ProjectLock:
    """A re-entrant (within one process, by depth) exclusive lock over a project directory."""

    def __init__(
        self,
        path: Path,
        *,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        stale_after: float | None = None,
    ) -> None:
        if not heartbeat_interval > 0:
            raise ValueError("heartbeat_interval must be > 0")
        if stale_after is not None and not stale_after > 0:
            raise ValueError("stale_after must be > 0")
        self.path = Path(path)
        self.heartbeat_interval = float(heartbeat_interval)
        self._stale_after = stale_after
        self._fd: int | None = None
        self._depth = 0
        # One instance is shared by every Project on the path in a process: serialise
        # state changes between threads (the heartbeat thread never takes it).
        self._mutex = threading.RLock()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._taken_over: Record | None = None
        #: What this acquisition broke: {pid, host, since_utc, heartbeat_utc, reason, moved_to}.
        self.broken_stale: Record | None = None

    # -- public --------------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._fd is not None

    @property
    def break_path(self) -> Path:
        return self.path.with_name(self.path.name + ".break")

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a holder is stale (argument > env > 300)."""
        if self._stale_after is not None:
            return self._stale_after
        raw = os.environ.get(STALE_AFTER_ENV)
        if raw is None or not raw.strip():
            return DEFAULT_STALE_AFTER
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (value > 0 and math.isfinite(value)):
            raise UsageError(
                f"{STALE_AFTER_ENV} is {raw!r}, which is not a positive number of seconds",
                hint=f"set {STALE_AFTER_ENV} to seconds, e.g. 300, or unset it",
            )
        return value

    @property
    def taken_over(self) -> Record | None:
        """Set by the heartbeat thread when ``.lock`` stopped being this holder's file."""
        return self._taken_over

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting up to ``timeout`` seconds; raise LockedError after that."""
        timeout = max(float(timeout), 0.0)
        if not self._mutex.acquire(timeout=min(timeout, threading.TIMEOUT_MAX)):
            raise LockedError(
                f"project {self.path.parent} is being locked by another thread of this process; "
                f"waited {timeout:g} s",
                hint=_HINT,
            )
        try:
            if self._fd is not None:
                self._depth += 1
                return
            stale_after = self.stale_after
            self.broken_stale = None
            self._taken_over = None
            fd, record = self._take(timeout, stale_after)
            self._fd = fd
            self._depth = 1
            self._start_heartbeat(fd, record)
        finally:
            self._mutex.release()

    def release(self) -> None:
        with self._mutex:
            if self._fd is None:
                return
            self._depth -= 1
            if self._depth > 0:
                return
            fd, self._fd = self._fd, None
            stop, thread, self._stop, self._thread = self._stop, self._thread, None, None
            if stop is not None:
                stop.set()
            if thread is not None:
                thread.join()
            # Only ever through our own fd: after a takeover this is the renamed file, so
            # the new holder's record and flock are untouched.
            try:
                os.ftruncate(fd, 0)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def verify_held(self) -> None:
        """Raise LockedError if another run broke this lock (call right before committing)."""
        fd = self._fd
        if fd is None:
            raise RuntimeError(f"verify_held() without holding the lock on {self.path}")
        if self._taken_over is None and _same_file(fd, self.path):
            return
        holder = _read_path_record(self.path) or self._taken_over or {}
        who = (
            f"pid {holder.get('pid')} on {holder.get('host')}"
            if holder.get("pid") is not None
            else "another automl run"
        )
        raise LockedError(
            f"this run's lock on {self.path.parent} was taken over by {who} after it looked "
            "stale; nothing was written",
            hint="this run stopped heartbeating for longer than the stale limit (hung or "
            f"suspended; {STALE_AFTER_ENV}); run it again once the other run is done",
            holder=holder,
        )

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- acquiring -----------------------------------------------------------------------------
    def _take(self, timeout: float, stale_after: float) -> tuple[int, Record]:
        """Open ``.lock`` until one flock sticks to the inode the path still names."""
        deadline = time.monotonic() + timeout
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                outcome = self._wait(fd, deadline, timeout, stale_after)
                if outcome == "locked":
                    record = self._confirm(fd, deadline)
                    if record is not None:
                        return fd, record
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)

    def _wait(
        self, fd: int, deadline: float, timeout: float, stale_after: float
    ) -> Literal["locked", "reopen"]:
        """Poll the flock on ``fd``; break the holder if it is stale; raise on the deadline."""
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return "locked"
            except BlockingIOError:
                pass
            if not _same_file(fd, self.path):
                return "reopen"  # broken or replaced by someone else: wait on the new one
            holder = _read_record(fd)
            if _stale_reason(fd, holder, stale_after) is not None:
                broken = self._break(fd, holder, deadline, stale_after)
                if broken is not None:
                    self.broken_stale = broken
                    return "reopen"
            if time.monotonic() >= deadline:
                raise LockedError(
                    f"project {self.path.parent} is locked by another automl run"
                    f"{_describe(holder)}; waited {timeout:g} s",
                    hint=_HINT,
                    holder=holder or {},
                )
            time.sleep(_POLL_S)

    def _confirm(self, fd: int, deadline: float) -> Record | None:
        """Write our record, then check under ``.lock.break`` that ``fd`` is still ``.lock``.

        The record goes in first so that a breaker who has not yet re-read it sees our token
        and backs off; one who already renamed the file is caught by the inode check.
        """
        record = _new_record(self.heartbeat_interval, self.broken_stale)
        try:
            _write_record(fd, record)
            with _flocked(self.break_path, max(deadline, time.monotonic() + _BREAK_GRACE_S)) as ok:
                if not ok:
                    raise LockedError(
                        f"project {self.path.parent}: {self.break_path.name} stayed locked by "
                        "another process",
                        hint=_HINT,
                    )
                if _same_file(fd, self.path):
                    return record
        except BaseException:
            fcntl.flock(fd, fcntl.LOCK_UN)
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None

    def _break(
        self, fd: int, holder: Record | None, deadline: float, stale_after: float
    ) -> Record | None:
        """Rename a stale ``.lock`` away if, under ``.lock.break``, it is still that holder's."""
        with _flocked(self.break_path, deadline) as ok:
            if not ok or not _same_file(fd, self.path):
                return None
            now = _read_record(fd)
            if _identity(now) != _identity(holder):
                return None
            reason = _stale_reason(fd, now, stale_after)  # it may have resumed heartbeating
            if reason is None:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:  # released meanwhile: nothing to break, just retry
                fcntl.flock(fd, fcntl.LOCK_UN)
                return None
            token = (now or {}).get("token")
            tag = token if isinstance(token, str) and _SAFE_TAG.fullmatch(token) else None
            tag = tag or uuid.uuid4().hex  # the record is untrusted text: never a path
            moved_to = self.path.with_name(f"{self.path.name}.stale-{tag}")
            os.rename(self.path, moved_to)
        info = now or {}
        return {
            "pid": info.get("pid"),
            "host": info.get("host"),
            "since_utc": info.get("since_utc"),
            "heartbeat_utc": info.get("heartbeat_utc"),
            "reason": reason,
            "moved_to": moved_to.name,
        }

    # -- heartbeat -----------------------------------------------------------------------------
    def _start_heartbeat(self, fd: int, record: Record) -> None:
        stop = threading.Event()
        thread = threading.Thread(
            target=self._heartbeat,
            args=(fd, stop, dict(record)),
            name=f"automl-lock-heartbeat:{self.path}",
            daemon=True,
        )
        self._stop, self._thread = stop, thread
        thread.start()

    def _heartbeat(self, fd: int, stop: threading.Event, record: Record) -> None:
        """Rewrite the record every interval; stop and flag it once ``.lock`` is not ours."""
        while not stop.wait(self.heartbeat_interval):
            try:
                if not _same_file(fd, self.path):
                    self._taken_over = _read_path_record(self.path) or {}
                    return
                _stamp(record)
                _write_record(fd, record)
            except OSError:
                continue  # a missed beat is harmless; a run of them makes the lock stale


# -- the holder record ---------------------------------------------------------------------------
def _new_record(interval: float, broke: Record | None) -> Record:
    record: Record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "boot_id": _BOOT_ID,
        "pidns": _pid_namespace(),
        "since_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "token": uuid.uuid4().hex,
        "heartbeat_interval_s": interval,
    }
    if broke is not None:
        record["broke_stale_lock"] = {
            k: broke.get(k) for k in ("pid", "host", "heartbeat_utc", "reason")
        }
    _stamp(record)
    return record


def _stamp(record: Record) -> None:
    now = time.time()
    record["heartbeat_unix"] = round(now, 3)
    record["heartbeat_utc"] = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")


def _write_record(fd: int, record: Record) -> None:
    data = json.dumps(record).encode()
    size = -(-(len(data) + 1) // _RECORD_BLOCK) * _RECORD_BLOCK
    blob = data + b" " * (size - len(data) - 1) + b"\n"
    if os.pwrite(fd, blob, 0) != len(blob):
        raise OSError(f"short write of the lock record to fd {fd}")
    os.ftruncate(fd, size)


def _read_record(fd: int) -> Record | None:
    """The holder record, or None when the file is empty, torn or not ours."""
    try:
        text = os.pread(fd, _READ_MAX, 0).decode().strip()
        data = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_path_record(path: Path) -> Record | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_record(fd)
    finally:
        os.close(fd)


def _identity(record: Record | None) -> Any:
    if record is None:
        return None
    return record.get("token") or (record.get("pid"), record.get("host"), record.get("since_utc"))


def _describe(holder: Record | None) -> str:
    if not holder:
        return ""
    text = f" (pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since_utc')}"
    beat = _number(holder.get("heartbeat_unix"))
    if beat is not None:
        text += f", last heartbeat {max(time.time() - beat, 0.0):.0f} s ago"
    return text + ")"


# -- staleness -----------------------------------------------------------------------------------
def _stale_reason(fd: int, holder: Record | None, stale_after: float) -> str | None:
    """Why the holder of ``fd`` is stale, or None while it may still be alive."""
    now = time.time()
    if holder is not None:
        pid = holder.get("pid")
        if isinstance(pid, int) and pid > 0 and _same_machine(holder) and not _pid_alive(pid):
            return f"pid {pid} no longer exists on {holder.get('host')}"
        beat = _number(holder.get("heartbeat_unix"))
        if beat is not None:
            # never below a few of the holder's own intervals, whatever this waiter was told
            limit = max(stale_after, 3 * (_number(holder.get("heartbeat_interval_s")) or 0.0))
            age = now - beat
            return f"no heartbeat for {age:.0f} s" if age > limit else None
    # unparseable, torn, empty or without a heartbeat: only an unchanged file is stale
    try:
        age = now - os.fstat(fd).st_mtime
    except OSError:
        return None
    return f"lock file unchanged for {age:.0f} s, no heartbeat" if age > stale_after else None


def _same_machine(holder: Record) -> bool:
    """Same host name, and (when both recorded) the same boot and pid namespace.

    Two containers can share a host name but not pids; two machines can share a name.
    """
    if holder.get("host") != socket.gethostname():
        return False
    for key, mine in (("boot_id", _BOOT_ID), ("pidns", _pid_namespace())):
        theirs = holder.get(key)
        if theirs is not None and mine is not None and theirs != mine:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's live process
        return True
    try:  # a zombie (killed, not yet reaped) holds no files
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except (OSError, IndexError):
        return True


def _read_boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


_BOOT_ID = _read_boot_id()


# -- files ---------------------------------------------------------------------------------------
def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the inode open as ``fd`` (False if it is gone)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


@contextlib.contextmanager
def _flocked(path: Path, until: float) -> Iterator[bool]:
    """Hold an exclusive flock on ``path``, polling until the monotonic ``until``; yields ok."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= until:
                    yield False
                    return
                time.sleep(_BREAK_POLL_S)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _number(value: Any) -> float | None:
    """A finite JSON number as float, else None (bools and strings are not numbers here)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None
