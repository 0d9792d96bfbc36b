"""Keeping the C heap small while many threads fetch and parse index pages (glibc; nothing elsewhere).

A first run of the day re-reads hundreds of pages in 24 threads. glibc then gives each thread an arena of its
own and, once a multi-MB page body is freed, raises its mmap threshold so that the next bodies come from those
arenas too: the memory of pages long parsed and dropped stays in the process (a check at 500 MB of which
Python held 160). Capping the arenas, fixing the threshold, and trimming after the burst keeps it near what
is alive.

These are settings of the whole process, so they are the command line's to take (``allow_heap_tuning``, called by
``analyzer.cli.main``): a notebook or program that imports tfconflict keeps its own allocator settings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading

__all__ = ["allow_heap_tuning", "limit_heap_growth", "return_free_memory"]

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_ARENAS = 2
_MMAP_THRESHOLD = 256 * 1024
"""Allocations from here up (page bodies, page texts, their split lines' lists) are mapped and unmapped alone."""

_lock = threading.Lock()
_libc: ctypes.CDLL | None = None
_limited = False
_allowed = False


def allow_heap_tuning() -> None:
    """Let this process's allocator be tuned: only a process that tfconflict owns (the command line) calls this."""
    global _allowed
    _allowed = True


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if (
                hasattr(libc, "mallopt")
                and hasattr(libc, "malloc_trim")
                and hasattr(libc, "gnu_get_libc_version")
            ):
                _libc = libc
        except OSError:
            pass
    return _libc


def limit_heap_growth() -> None:
    """Once per process, before the threads start: two arenas, a fixed mmap threshold (no-op off glibc)."""
    global _limited
    if not _allowed:
        return
    with _lock:
        if _limited:
            return
        _limited = True
        libc = _glibc()
        if libc is None:
            return
        for option, value in (
            (_M_ARENA_MAX, _ARENAS),
            (_M_MMAP_THRESHOLD, _MMAP_THRESHOLD),
            (_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD),
        ):
            if libc.mallopt(option, value) != 1:
                log.debug("mallopt(%d, %d) refused", option, value)


def return_free_memory() -> None:
    """Give the heap's free pages back to the system after a burst of parsing (no-op off glibc)."""
    libc = _glibc() if _allowed else None
    if libc is not None:
        libc.malloc_trim(0)
