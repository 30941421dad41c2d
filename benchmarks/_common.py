"""Shared helpers: paths, child-process measurement, and small statistics.

Every figure comes from a fresh child process, so the harness's own imports and memory never
leak into what is measured.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / "work"
RESULTS = BENCH / "results"
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
AUTOML = VENV_BIN / "automl"
HEAVY = ("pandas", "numpy", "pyarrow", "sklearn", "xgboost", "lightgbm", "optuna")


def rel(path: Path | str) -> str:
    """A path relative to the repo when it is inside it: results stay readable and portable."""
    p = Path(path)
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def show(cmd: list[str]) -> str:
    """A command as one copy-pasteable line, repo paths shortened."""
    return shlex.join(rel(c) if c.startswith(str(ROOT)) else c for c in cmd)


@dataclass
class Measured:
    """Outcome of one child run; ``peak_rss_mib`` is the child's own high-water mark."""

    command: str
    returncode: int
    wall_s: float
    peak_rss_mib: float
    stdout_tail: str
    stderr_tail: str
    timed_out: bool = False
    cpu_s: float = 0.0  # user + system CPU seconds of the child and what it waited for

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tail(path: Path, limit: int = 2000) -> str:
    text = path.read_text(errors="replace")
    return text[-limit:]


def measure(
    cmd: list[str],
    *,
    timeout: float = 3600.0,
    env: dict[str, str] | None = None,
    logs: Path | None = None,
) -> Measured:
    """Run ``cmd`` once, returning wall time and peak RSS from ``os.wait4``.

    ``wait4`` gives the rusage of this one child (and anything it waited for), unlike
    ``getrusage(RUSAGE_CHILDREN)``, which is the maximum over every child the harness ever ran.
    Output goes to files, not pipes, so a chatty child cannot block on a full pipe: ``logs``
    + ``.stdout`` / ``.stderr`` when given (kept per run), else ``work/last.*``.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    out_path, err_path = WORK / "last.stdout", WORK / "last.stderr"
    if logs is not None:
        logs.parent.mkdir(parents=True, exist_ok=True)
        out_path, err_path = Path(f"{logs}.stdout"), Path(f"{logs}.stderr")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        # its own process group, so a timeout also ends the worker processes it started
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, process_group=0
        )
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C reaches our group only: take the child's down too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
    return Measured(
        command=show(cmd),
        returncode=proc.returncode,
        wall_s=round(wall, 3),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        stdout_tail=_tail(out_path),
        stderr_tail=_tail(err_path),
        timed_out=killed.is_set(),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
    )


def wall_once(cmd: list[str]) -> float:
    """Wall seconds of one quiet run; raises if the command fails, since a failing run is fast."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: with 15 samples, p90 is the 14th, a real observed run."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def summary_ms(values: list[float]) -> dict[str, float]:
    """Median and p90 in milliseconds, the two figures the README reports."""
    return {
        "median_ms": round(statistics.median(values) * 1000, 1),
        "p90_ms": round(percentile(values, 90) * 1000, 1),
        "min_ms": round(min(values) * 1000, 1),
    }


def ratio(a: float, b: float) -> float | None:
    """``a / b`` rounded, or None when ``b`` is missing or zero."""
    return round(a / b, 2) if b else None
