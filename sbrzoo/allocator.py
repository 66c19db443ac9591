"""Keep freed memory in the process: the CPU path's largest speed-up (docs/RESULTS.md, "glibc").

Every training step and evaluation batch allocates score tensors of shape (B, N), tens of MiB each
(512 x 43,097 floats are 88 MB), frees them, and allocates them again at the next step. glibc serves
blocks above its mmap threshold with a fresh ``mmap`` and hands them back on ``free``, so every step
page-faults and zeroes them again: on a 2-core Xeon that was a third to a half of a NARM or STAMP step.
:func:`keep_freed_memory` tells glibc to serve every block from its heap and not to trim the heap, so a
block freed at one step is served again at a later one instead of being faulted in. Not always at the
next: glibc's aligned allocations (torch asks for 64-byte alignment) leave small remainders between freed
blocks that keep some of them from merging, so the heap grows over the first steps before it settles
(tests/test_allocator.py counts it). The price: the process keeps its peak memory until it exits instead
of returning freed blocks (peak RSS of a NARM Diginetica benchmark 1.06 -> 1.51 GB).

``SBRZOO_RETURN_FREED_MEMORY=1`` keeps glibc's defaults. Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["OPT_OUT_ENV", "keep_freed_memory"]

#: Set to ``1`` to keep glibc's defaults (freed large blocks go back to the system).
OPT_OUT_ENV = "SBRZOO_RETURN_FREED_MEMORY"
# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER_TRIM = 2**31 - 1  # the largest value mallopt's int takes: trim only above 2 GiB of free heap top


def keep_freed_memory() -> bool:
    """Serve large blocks from the heap and keep freed ones for reuse (module docstring).

    Returns:
        Whether glibc's settings were changed: False outside glibc on Linux or when opted out.
    """
    if os.environ.get(OPT_OUT_ENV) == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
