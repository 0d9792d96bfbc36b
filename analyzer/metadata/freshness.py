"""How long a cached index page, or a failure that was an answer about a file (gone, broken), may be used without
asking the index again: one rule for the engine and for remembered answers (``analyzer.answers``), which must not
import the network stack. A network failure is never kept past its run, so it has no window."""

from __future__ import annotations

import os
import time

__all__ = ["EMPTY_FRESHNESS", "PAGE_FRESHNESS", "local_stamp", "page_is_fresh"]

PAGE_FRESHNESS = 600.0
"""Seconds an index page is used from the cache without asking the index again."""
EMPTY_FRESHNESS = 60.0
"""The same for a page without a single file: a wrong "no such project" (a proxy's 404, a half-published
project) must not stick for the whole window."""


def page_is_fresh(
    fetched: float, has_rows: bool, *, freshness: float = PAGE_FRESHNESS, offline: bool = False,
    now: float | None = None,
) -> bool:
    """Whether a page fetched (or revalidated) at ``fetched`` may be used as it is (always, offline)."""
    if offline:
        return True
    window = freshness if has_rows else min(freshness, EMPTY_FRESHNESS)
    return (time.time() if now is None else now) - fetched < window


def local_stamp(path: str) -> str:
    """What tells a ``file://`` index's page unchanged: its size and modification time, or that it is absent."""
    try:
        st = os.stat(path)
    except OSError:
        return "absent"
    return f"{st.st_size}:{st.st_mtime_ns}"
