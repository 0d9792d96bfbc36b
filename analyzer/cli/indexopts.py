"""Index options shared by every command that reads metadata: ``--index-url``, ``--extra-index-url``,
``--as-of``, ``--offline``; and the one way to build a ``MetadataEngine`` from them."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from analyzer.errors import InputError

if TYPE_CHECKING:
    from analyzer.metadata.engine import MetadataEngine

__all__ = ["add_index_options", "engine_from_args", "parse_as_of"]


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
        default=None,
        help="the simple-API index to read (default: pip's configuration, else the public index)",
    )
    group.add_argument(
        "--extra-index-url",
        metavar="URL",
        action="append",
        default=None,
        help="another index to read as well, as pip does (repeatable; replaces pip's configured extras)",
    )
    group.add_argument(
        "--as-of",
        metavar="DATE",
        default=None,
        help="ignore files uploaded after DATE (YYYY-MM-DD or ISO date-time), so an answer can be replayed",
    )
    group.add_argument(
        "--offline", action="store_true", help="answer from the metadata cache alone and name what is missing"
    )


def engine_from_args(args: argparse.Namespace, *, progress: bool = True) -> MetadataEngine:
    """The metadata engine the options describe: options > pip's variables > pip's files; ``progress`` draws a
    bar on standard error when it is a terminal."""
    from analyzer.cli.progress import progress_bar
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine

    config = IndexConfig.from_pip().override(
        getattr(args, "index_url", None), getattr(args, "extra_index_url", None)
    )
    as_of_text = getattr(args, "as_of", None)
    return MetadataEngine(
        config,
        cache=MetadataCache(),
        offline=bool(getattr(args, "offline", False)),
        as_of=parse_as_of(as_of_text) if as_of_text else None,
        progress=progress_bar() if progress else None,
    )
