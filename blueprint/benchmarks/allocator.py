"""Keep freed memory in the process during a benchmark, so that no backend's timing includes page faults.

glibc's malloc returns large freed blocks to the operating system (blocks above its mmap threshold,
and the top of the heap beyond its trim threshold). A layer's forward and backward allocate and free
arrays of several MiB on every call, so each call then touches fresh pages, and on this machine (a
virtual machine, where a page fault is expensive) that cost both backends up to 6,000 faults and
3-10x the time on the 64 x 64 and 56 x 56 shapes, varying from run to run. Raising both thresholds
(``mallopt``) keeps the memory in the process for reuse, as a long-running training job's steady
state does. It affects only the benchmark process, and PyTorch and accel alike.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # the largest mmap threshold glibc accepts on 64-bit systems
TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> str:
    """Raise glibc's mmap and trim thresholds for this process; returns what was done, for the report header."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return "system allocator unchanged (not glibc)"
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    if not done:
        return "system allocator unchanged (mallopt refused)"
    return "glibc malloc keeps freed memory (mmap threshold 32 MiB, trim 1 GiB): no page faults in the timings"
