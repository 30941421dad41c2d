"""An exclusive project lock on ``.lock`` with ``fcntl.flock``.

The kernel releases a flock when its holder dies, even after ``kill -9``, so a crashed
run can never leave the project locked. The holder's pid, host and start time are written
into the file only so the waiting process can say who holds it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automl_cli.errors import LockedError

__all__ = ["ProjectLock"]

_POLL_S = 0.1


class ProjectLock:
    """A re-entrant (within one process) exclusive lock over a project directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float) -> None:
        """Take the lock, waiting up to ``timeout`` seconds; raise LockedError after that."""
        if self._fd is not None:
            self._depth += 1
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockedError(
                        f"project {self.path.parent} is locked by another automl run"
                        f"{_describe(holder)}; waited {timeout:g} s",
                        hint="wait for that run to finish, or raise --lock-timeout "
                        "(seconds to wait; AUTOML_LOCK_TIMEOUT)",
                        holder=holder,
                    ) from None
                time.sleep(_POLL_S)
        _write_holder(fd)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if self._fd is None:
            return
        self._depth -= 1
        if self._depth > 0:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> ProjectLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_holder(fd: int) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw.decode() or "{}")
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return ""
    return f" (pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since_utc')})"
