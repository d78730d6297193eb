"""Giving the system back what a run freed (numpy only; no Qt)."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, another system)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def give_back_freed_memory() -> bool:
    """Return the heap's free pages to the system where glibc keeps them: the arenas of a run's worker threads kept its
    freed temporaries (a large cine registered and its layers removed: the viewer held about twice its memory from
    before the run, not growing over runs; trimmed, near it again). Returns whether it could (False off glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
