"""A deadline for the work a search waits on: reading, profiling, preparing and encoding.

A search's own deadline is known before the table is read. When it passes while the table
is still being profiled or prepared, no model can come of the command, and going on would
only overrun the budget on the way to that error (a 1,000,000-row table takes about 15 s
to profile, prepare and encode on 2 cores). The loops that take seconds on a big table,
one column at a time in profiling and preprocessing, call :func:`check`, which raises the
error of the innermost :func:`cutoff` block once its deadline has passed. Outside such a
block it does nothing, so ``automl profile`` and ``automl prep``, which have no budget,
are never cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["check", "cutoff"]

_CUTOFF: ContextVar[tuple[float, Callable[[], Exception]] | None] = ContextVar(
    "automl_cutoff", default=None
)


@contextmanager
def cutoff(deadline: float | None, error: Callable[[], Exception]) -> Iterator[None]:
    """Within this block, :func:`check` raises ``error()`` once ``time.monotonic()`` passes
    ``deadline`` (None: never)."""
    token = _CUTOFF.set(None if deadline is None else (deadline, error))
    try:
        yield
    finally:
        _CUTOFF.reset(token)


def check() -> None:
    """Raise the current block's error if its deadline has passed; cheap enough per column."""
    current = _CUTOFF.get()
    if current is not None and time.monotonic() >= current[0]:
        raise current[1]()
