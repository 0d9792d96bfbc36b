"""A transient progress bar on standard error for the metadata engine's batches (``MetadataEngine(progress=)``)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["progress_bar"]

MIN_ITEMS = 20
"""Smaller batches end before a bar would be worth drawing."""


def progress_bar() -> Callable[[str, int, int], None] | None:
    """A callback drawing each batch of at least ``MIN_ITEMS`` as a bar that disappears when it ends; None when
    standard error is not a terminal (a pipe, a CI log), so nothing is drawn there."""
    if not sys.stderr.isatty():
        return None
    lock = threading.Lock()
    shown: dict[str, Any] = {}

    def tell(what: str, done: int, total: int) -> None:
        if total < MIN_ITEMS:
            return
        with lock:
            if "bar" not in shown:
                from rich.console import Console
                from rich.progress import Progress

                shown["bar"] = Progress(transient=True, console=Console(stderr=True))
                shown["bar"].start()
                shown["task"] = shown["bar"].add_task(f"fetching {what}", total=total)
            shown["bar"].update(shown["task"], completed=done)
            if done >= total:
                shown.pop("bar").stop()

    return tell
