"""How long a cached index page or a remembered failure may be used without asking the index again.

One rule, in a module of its own: the metadata engine applies it to every page it reads, and a remembered answer
(``analyzer.answers``) applies the same rule to the pages its answer was computed from, without importing the
network stack.
"""

from __future__ import annotations

import os
import time

__all__ = ["EMPTY_FRESHNESS", "PAGE_FRESHNESS", "local_stamp", "page_is_fresh"]

PAGE_FRESHNESS = 600.0
"""Seconds an index page is used from the cache without asking the index again."""
EMPTY_FRESHNESS = 60.0
"""The same for a page without a single file (a 404, an empty list): a wrong "no such project" (a proxy's 404, a
half-published project) must not stick for the whole window, and a name that is really missing is asked again
at most once a minute."""


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
    """What tells a local file (a ``file://`` index's page) unchanged: its size and modification time, or that it
    is absent. The page of a local index is read anew by every run, never cached."""
    try:
        st = os.stat(path)
    except OSError:
        return "absent"
    return f"{st.st_size}:{st.st_mtime_ns}"
