"""``tfconflict cache info | clear``: the metadata cache's place, size and content; empty it."""

from __future__ import annotations

import argparse
from typing import Any

from analyzer.metadata.cache import MetadataCache


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cache", help="show or clear the metadata cache")
    sub = parser.add_subparsers(dest="cache_command", metavar="ACTION")
    sub.required = True
    info = sub.add_parser("info", help="where the cache is, its size and entries by kind")
    info.set_defaults(func=_info)
    clear = sub.add_parser("clear", help="remove every cached index page and metadata entry")
    clear.set_defaults(func=_clear)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _info(args: argparse.Namespace) -> int:
    cache = MetadataCache()
    info = cache.info()
    print(f"path: {info.path}")
    print(f"size: {_size(info.size)}")
    print(f"core metadata entries: {info.metadata_entries}")
    print(f"index page entries: {info.page_entries}")
    if not info.usable:
        print(f"unusable: {cache.disabled_reason}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    cache = MetadataCache()
    before = cache.info()
    if not before.usable:
        print(f"nothing cleared: {cache.disabled_reason}")
        return 0
    cache.clear()
    print(
        f"cleared {before.metadata_entries} metadata and {before.page_entries} page entries from {before.path}"
    )
    return 0
