"""Index options of every command that reads metadata (``--index-url``, ``--extra-index-url``, ``--as-of``,
``--offline``) and the one way to build a ``MetadataEngine``, whose progress is drawn on standard error."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from analyzer.config import Settings
from analyzer.errors import InputError
from analyzer.reqfile import RequirementsSet

if TYPE_CHECKING:
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine

MIN_ITEMS = 20
"""Smaller batches end before a progress bar would be worth drawing."""


def parse_as_of(text: str) -> datetime:
    """``YYYY-MM-DD`` (end of that day, UTC) or an ISO 8601 date-time (UTC when no offset is given)."""
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d")
            return day.replace(hour=23, minute=59, second=59, tzinfo=timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--as-of: {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def add_index_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("package index")
    group.add_argument(
        "--index-url",
        metavar="URL",
        help="the simple-API index to read (default: pip's configuration, else the public index)",
    )
    group.add_argument(
        "--extra-index-url",
        metavar="URL",
        action="append",
        help="another index to read as well, as pip does (repeatable; replaces pip's configured extras)",
    )
    group.add_argument(
        "--as-of",
        metavar="DATE",
        help="ignore files uploaded after DATE (YYYY-MM-DD or ISO date-time), so an answer can be replayed",
    )
        # None when absent: only a given --offline overrides the configuration's offline
    group.add_argument(
        "--offline",
        action="store_true",
        default=None,
        help="answer from the metadata cache alone and name what is missing",
    )


def add_table_option(parser: argparse.ArgumentParser) -> None:
    """For the commands that read installed packages' requirements (check, hook, why, matrix)."""
    parser.add_argument(
        "--no-requirements-table",
        action="store_true",
        help="read installed packages' requirements from the index, not from the requirements table the "
        "snapshot source ships (slower on a first run; the same answer unless the index changed)",
    )


def index_config(settings: Settings, parsed: RequirementsSet | None) -> IndexConfig:
    """The indexes pip would read (``analyzer.metadata.config.index_config``): the settings and the command
    line, then the requirements files' own index lines."""
    from analyzer.metadata.config import index_config as pip_index_config

    files = parsed or RequirementsSet()
    return pip_index_config(
        settings.index_url,
        settings.extra_index_urls,
        file_index_url=files.index_url,
        file_extra_index_urls=files.extra_index_urls,
        no_index=files.no_index,
    )


def engine_for(
    settings: Settings, config: IndexConfig, *, progress: bool = True, cache: MetadataCache | None = None
) -> MetadataEngine:
    """The one place a command builds a metadata engine: the indexes ``config`` names (:func:`index_config`),
    the settings' ``as-of`` and ``offline``; ``progress`` draws a bar when standard error is a terminal."""
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.engine import MetadataEngine

    return MetadataEngine(
        config,
        cache=cache if cache is not None else MetadataCache(),
        offline=settings.offline,
        as_of=settings.as_of,
        progress=_progress_bar() if progress and sys.stderr.isatty() else None,
    )


def engine_from_args(args: argparse.Namespace, *, progress: bool = True) -> MetadataEngine:
    """The engine the index options alone describe, without the project's configuration (``why``,
    ``metadata``)."""
    settings = Settings(
        index_url=args.index_url,
        extra_index_urls=tuple(args.extra_index_url or ()),
        as_of=parse_as_of(args.as_of) if args.as_of else None,
        offline=bool(args.offline),
    )
    return engine_for(settings, index_config(settings, None), progress=progress)


def _progress_bar() -> Callable[[str, int, int], None]:
    """A callback drawing each batch of at least ``MIN_ITEMS`` as a bar that disappears when it ends."""
    lock = threading.Lock()
    shown: dict[str, Any] = {}

    def tell(what: str, done: int, total: int) -> None:
        if total < MIN_ITEMS:
            return
        with lock:
            if "bar" not in shown:
                from rich.console import Console
                from rich.progress import Progress

                # stdout carries the answer (`--format json > f`): the live display must never take it over
                shown["bar"] = Progress(
                    transient=True, console=Console(stderr=True), redirect_stdout=False, redirect_stderr=False
                )
                shown["bar"].start()
                shown["task"] = shown["bar"].add_task(f"fetching {what}", total=total)
            shown["bar"].update(shown["task"], completed=done)
            if done >= total:
                shown.pop("bar").stop()

    return tell


class StageLines:
    """A sign of life where no bar can be drawn (CI, pre-commit: stderr is not a terminal): once a run has lasted
    ``after`` seconds, one short line per stage on stderr. A quick run prints nothing."""

    def __init__(self, after: float = 3.0) -> None:
        self.after = after
        self.started = time.monotonic()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def __call__(self, stage: str) -> None:
        self.close()
        waited = time.monotonic() - self.started
        if waited >= self.after:
            self._say(stage)
            return
        with self._lock:
            self._timer = threading.Timer(self.after - waited, self._say, (stage,))
            self._timer.daemon = True
            self._timer.start()

    def _say(self, stage: str) -> None:
        print(f"tfconflict: {stage}... ({time.monotonic() - self.started:.0f} s)", file=sys.stderr, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


def stage_lines() -> StageLines | None:
    """Stage lines when stderr is not a terminal (a terminal has the progress bar)."""
    return None if sys.stderr.isatty() else StageLines()
