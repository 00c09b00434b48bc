"""Keep freed memory for reuse while a synthetic population is made (glibc only; elsewhere nothing happens).

The generator allocates and frees the same large arrays chunk after chunk (persons x months matrices of
tens of megabytes). glibc hands every allocation above its mmap threshold (at most 32 MB) to the kernel and
takes it back when it is freed, so the next chunk's arrays are fresh pages again: at 1.1 million persons
about 14 s of system time, a sixth of the run. :func:`retained_heap` makes glibc serve them from its heap
(``M_MMAP_MAX=0``) and keep freed heap memory (a high ``M_TRIM_THRESHOLD``) for the next chunk; when it ends
the defaults are set back and ``malloc_trim(0)`` returns the free memory to the system. It changes where
memory comes from, never what is computed (peak memory rises by a few per cent).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager

__all__ = ["retained_heap"]

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
#: glibc's defaults (malloc/malloc.c: DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX)
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
_KEEP = 2**31 - 1  # the largest value mallopt takes (an int): in effect, never trim while generating


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@contextmanager
def retained_heap():
    """Within the block, large freed blocks stay in the process for reuse; afterwards they are released."""
    libc = _libc()
    if libc is None:
        yield False
        return
    ok = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP))
    try:
        yield ok
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
        libc.malloc_trim(0)
