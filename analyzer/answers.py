"""Remembered answers: a question asked again is answered from the cache while everything it was computed from
is unchanged.

The question (code, snapshot, request, options) is keyed by an HMAC under the cache's own key, so no
credential in an index URL can be tested against the cache file. The answer keeps the stamp of every cache row
the engine read (``MetadataEngine.reads``) and is given again only while each row has the same stamp and is
still usable by the engine's own rules: exactly what a new computation would read. An answer that rested on a
network failure is never remembered: the engine keeps no such row, so its ``reads`` is None. This module imports
neither the network stack nor the resolver: a remembered answer costs a few queries.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import analyzer
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.freshness import local_stamp, page_is_fresh
from analyzer.redact import redact

__all__ = ["Remembered", "code_identity", "question_key", "recall", "remember"]

_FORMAT = 1
"""Bumped when what a remembered answer holds changes shape."""


@dataclass(frozen=True)
class Remembered:
    """A rendered answer given again, with the verdict its exit code comes from."""

    output: str
    verdict: str
    rows: int
    """How many cache rows were checked unchanged."""


@functools.cache
def code_identity() -> str:
    """This installation of tfconflict: its version, every source file's size and modification time, and the
    versions of the libraries whose behaviour is part of the answer (an edited or upgraded install asks anew)."""
    import packaging
    import resolvelib

    root = Path(analyzer.__file__).resolve().parent
    h = hashlib.sha256(f"{analyzer.__version__}|{packaging.__version__}|{resolvelib.__version__}".encode())
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".toml", ".html", ".j2", ".css", ".json")):
                st = os.stat(os.path.join(folder, name))
                h.update(f"{os.path.relpath(os.path.join(folder, name), root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def question_key(cache: MetadataCache, question: dict[str, Any]) -> str | None:
    """The question's key: an HMAC of its canonical JSON under the cache's key (None without a usable cache)."""
    tag_key = cache.tag_key() if cache.usable else None
    if tag_key is None:
        return None
    text = json.dumps({"format": _FORMAT, "code": code_identity(), **question}, sort_keys=True, default=repr)
    return hmac.new(tag_key, text.encode(), hashlib.sha256).hexdigest()


def recall(cache: MetadataCache, key: str | None, *, now: float | None = None) -> Remembered | None:
    """The answer remembered under ``key`` when every row it was computed from is unchanged; else None."""
    if key is None:
        return None
    stored = cache.get_answer(key)
    if not isinstance(stored, dict):
        return None
    try:
        reads = stored["reads"]
        if not _unchanged(cache, reads, time.time() if now is None else now):
            return None
        return Remembered(
            output=str(stored["output"]),
            verdict=str(stored["verdict"]),
            rows=len(reads["pages"]) + len(reads["metadata"]) + len(reads.get("local", [])),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a row of another shape is a miss


def remember(cache: MetadataCache, key: str | None, reads: dict[str, Any] | None, output: str, verdict: str) -> bool:
    """Keep an answer for ``key``; nothing is kept when the rows it came from are not known (``reads`` None)."""
    if key is None or reads is None:
        return False
    # what is kept is shown again later: no credential of a URL the answer quotes is stored
    return cache.put_answer(key, {"reads": reads, "output": redact(output), "verdict": verdict})


def _unchanged(cache: MetadataCache, reads: dict[str, Any], now: float) -> bool:
    """Whether every row is still there with its stamp, and usable as the engine would use it now."""
    freshness, offline = float(reads["freshness"]), bool(reads["offline"])
    pages: list[list[Any]] = reads["pages"]
    states = cache.page_stamps([key for key, _ in pages])
    for key, stamp in pages:
        state = states.get(key)
        if state is None or state[0] != stamp:
            return False
        if not page_is_fresh(state[0], state[1], freshness=freshness, offline=offline, now=now):
            return False
    for path, stamp in reads.get("local", []):  # pages of file:// indexes, read anew by every run
        if local_stamp(path) != stamp:
            return False
    metadata: list[list[Any]] = reads["metadata"]
    stored = cache.metadata_stamps([key for key, _, _ in metadata])
    for key, stamp, expires in metadata:
        if stored.get(key) != stamp:
            return False
        if expires is not None and (offline or now >= expires):
            return False  # a kept failure the engine would now ask about again
    return True
