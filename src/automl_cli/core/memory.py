"""Process-level memory settings for long model searches."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["return_freed_memory"]

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter number
TRIM_THRESHOLD = 128 * 1024  # glibc's initial value, kept from then on


def return_freed_memory() -> bool:
    """Make glibc give freed memory back to the system instead of keeping it for reuse.

    glibc raises its trim and mmap thresholds each time a large block is freed, after which
    the trees that forests grow (and regrow, as their node arrays double) land in the heap
    and stay there: a search that fitted a booster, then two forests, held 2.5 GB for 0.4 GB
    of models. Setting the threshold once turns that adjustment off. Returns whether the
    setting was applied (False off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
