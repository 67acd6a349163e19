"""Keep freed host memory in the process, so training steps stop paying page faults.

glibc's malloc serves every allocation above its mmap threshold (128 KiB, adjusted upwards
as blocks are freed) with a fresh ``mmap`` and hands freed memory back to the kernel; the next
step's tensors then fault their pages in again, zeroed by the kernel. A 10-seed toy step
allocates and frees tens of megabytes of activations, and ran about 2,000 minor page faults per
step (~5 % of its time on a 2-core machine). Raising the mmap threshold to glibc's maximum and
never trimming the heap keeps those pages mapped: the memory is reused, not returned, so the
peak resident size is unchanged.

``check_fits`` refuses, before anything is allocated, a request larger than the machine's
physical memory (a batch or sample count typed with a few zeros too many).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

from genzoo.core.errors import GenzooError

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's limit on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_NEVER = 2**31 - 1

_done = False


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above, once per process; False where there is no glibc."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_NEVER))
    return _done


def physical_memory() -> int | None:
    """This machine's physical memory in bytes, or None where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None


def check_fits(need: int, what: str, advice: str) -> None:
    """A one-line error when ``need`` bytes exceed the machine's memory: ``what`` needs at
    least that much; ``advice`` says what to ask for instead."""
    total = physical_memory()
    if total is not None and need > total:
        raise GenzooError(f"{what} needs at least {need / 2**30:.0f} GiB, more than this "
                          f"machine's {total / 2**30:.0f} GiB; {advice}")
