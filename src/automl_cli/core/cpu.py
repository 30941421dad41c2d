"""How many threads a fit can use, given what other processes on the machine are running.

Boosting libraries wait for their OpenMP threads by spinning. When another busy process
shares the cores, the threads of both spin for cores the others hold: LightGBM with 2
threads on 2 cores beside one other 2-thread process ran 9× slower than alone (hpc, 1.6 s
→ 14.4 s), while with 1 thread it ran 1.6× slower (2.9 s). On small tables 1 thread costs
little even alone (1.8 s against 1.6). A 60-second search on a busy machine finished no
trial at all with 2 threads. So between trials the search looks at how busy the other
processes kept the cores it may run on, and gives each fit only the cores they leave free.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["CpuShare", "threads_left"]

MIN_WINDOW_S = 0.5  # shorter windows are mostly the 10 ms tick of the kernel's counters
FIRST_WINDOW_S = 0.1  # ... but the first answer cannot wait: it is waited for, if need be
SPARE = 0.5  # a core counts as free when others used less than half of it


@dataclass(frozen=True)
class _Sample:
    at: float  # time.monotonic()
    busy: float  # CPU seconds the cores we may run on spent busy (anyone's work)
    own: float  # CPU seconds this process used


class CpuShare:
    """Threads for the next fit: at most ``wanted``, and no more than the cores left free.

    Measured over the time since the last measurement (at least ``MIN_WINDOW_S``; asked
    sooner, the last answer stands; the first answer waits for ``FIRST_WINDOW_S`` if the
    object is younger). Busy time counts every process's work and the time a
    hypervisor gave the core to another machine (steal); this process's own use is taken
    off. Only the cores this process may run on count, so a container pinned to 2 of a
    host's 64 cores is judged by those 2. Where the counters cannot be read, fits get
    ``wanted`` threads, as without this.
    """

    def __init__(self, wanted: int) -> None:
        self.wanted = max(1, int(wanted))
        self.cpus = _usable_cpus()
        self.threads = self.wanted
        self.others = 0.0  # cores other processes kept busy in the last window
        self._measured = False
        self._me: Any = None  # psutil.Process of this process, made once
        self._last = self._sample()  # None: the counters cannot be read here

    def next_threads(self) -> int:
        """Threads for the next fit (and remember them as ``threads``)."""
        if self._last is None or self.wanted == 1:  # unreadable counters, or nothing to share
            return self.threads
        seconds = time.monotonic() - self._last.at
        if seconds < MIN_WINDOW_S and self._measured:  # decided without reading the counters
            return self.threads
        if seconds < FIRST_WINDOW_S:
            time.sleep(FIRST_WINDOW_S - seconds)
        now = self._sample()
        if now is None:
            return self.threads
        seconds = now.at - self._last.at
        self._measured = True
        others = (now.busy - self._last.busy - (now.own - self._last.own)) / seconds
        self.others = max(0.0, others)
        self.threads = threads_left(len(self.cpus), self.others, self.wanted)
        self._last = now
        return self.threads

    def _sample(self) -> _Sample | None:
        import psutil

        try:
            if self._me is None:
                self._me = psutil.Process()
            per_cpu = psutil.cpu_times(percpu=True)
            own = self._me.cpu_times()
        except (OSError, psutil.Error):
            return None
        busy = 0.0
        for i in self.cpus:
            if i < len(per_cpu):
                t = per_cpu[i]
                idle = t.idle + getattr(t, "iowait", 0.0)
                # guest time is already counted in user time (Linux)
                total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)
                busy += total - idle
        return _Sample(time.monotonic(), busy, own.user + own.system)


def threads_left(cpus: int, others: float, wanted: int) -> int:
    """Threads for a fit on ``cpus`` cores while other processes keep ``others`` of them
    busy: the free cores, rounded up from half a core, at least 1 and at most ``wanted``."""
    return max(1, min(wanted, int(cpus - others + SPARE)))


def _usable_cpus() -> list[int]:
    """The CPUs this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))
