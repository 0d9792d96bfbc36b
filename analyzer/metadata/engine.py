"""``MetadataEngine``: the ``MetadataSource`` everything else constructs. Answers come, cheapest first, from
memory, the SQLite cache and the network; it prints nothing (progress is a callback)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests

from analyzer.metadata.cache import MetadataCache, ReadLog
from analyzer.metadata.config import IndexConfig, redact_url, secret_tag
from analyzer.metadata.filemeta import FileMetadata
from analyzer.metadata.freshness import EMPTY_FRESHNESS, PAGE_FRESHNESS
from analyzer.metadata.http import HttpSettings, describe_failure, iter_body, make_session
from analyzer.metadata.models import DistFile, SdistFacts
from analyzer.metadata.pages import OFFLINE_NOTE, IndexPages
from analyzer.metadata.pool import Memo, Progress, WorkerPool
from analyzer.metadata.sdist import MAX_SDIST_BYTES, facts_from_chunks, not_read, size_text

__all__ = ["DEFAULT_WORKERS", "EMPTY_FRESHNESS", "PAGE_FRESHNESS", "MetadataEngine"]

DEFAULT_WORKERS = 24


class MetadataEngine(IndexPages, FileMetadata):
    """The metadata source over the configured indexes, with a persistent cache and an in-memory memo: pages'
    methods (``project``, ``files_of``, ``prefetch_projects``) from ``IndexPages``, files' from ``FileMetadata``."""

    def __init__(
        self,
        config: IndexConfig | None = None,
        *,
        cache: MetadataCache | None = None,
        offline: bool = False,
        as_of: datetime | None = None,
        session: requests.Session | None = None,
        workers: int = DEFAULT_WORKERS,
        freshness: float = PAGE_FRESHNESS,
        progress: Progress | None = None,
        http: HttpSettings | None = None,
    ) -> None:
        self.config = config or IndexConfig.from_pip()
        self.http = http or HttpSettings.from_env()
        self.cache = cache
        self.offline = offline
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=timezone.utc)
        self.as_of = as_of
        self.freshness = freshness
        self.pool = WorkerPool(workers, progress)
        self.session = session or make_session(pool_size=self.pool.workers, http=self.http)
        self._reads = ReadLog()
        self.tag_key = (cache.tag_key() if cache is not None else None) or secrets.token_bytes(32)
        IndexPages.__init__(self)
        FileMetadata.__init__(self)
        self._sdist_facts: Memo[str, SdistFacts] = Memo()

    def sdist_facts(self, file: DistFile) -> SdistFacts:
        """What an sdist's archive says about its build, read once per run; a file known by its hash keeps its
        facts in the cache (the same bytes always say the same), a failure to fetch it is asked again next run."""
        sha = dict(file.hashes).get("sha256")
        key = f"sdist-facts:sha256:{sha.lower()}" if sha else f"sdist-facts:url:{redact_url(file.url)}"
        key += "" if sha else secret_tag(file.url, self.tag_key)
        return self._sdist_facts.get(key, lambda: self._load_sdist_facts(file, key, keep=bool(sha)))

    def _load_sdist_facts(self, file: DistFile, key: str, *, keep: bool) -> SdistFacts:
        found = self.cache.get_metadata_stamped(key) if self.cache is not None and keep else None
        if found is not None:
            try:
                facts = _facts_from_dict(found[0])
            except (KeyError, TypeError, ValueError):
                facts = None  # an unreadable row is a miss
            if facts is not None:
                self._reads.metadata[key] = (found[1], None)
                return facts
        facts, fetched = self._read_sdist(file)
        stored = None
        if keep and fetched and self.cache is not None:
            stored = self.cache.put_metadata(key, _facts_to_dict(facts))
        if stored is None:
            self._reads.unstamped.add(key)
        else:
            self._reads.metadata[key] = (stored, None)
        return facts

    def _read_sdist(self, file: DistFile) -> tuple[SdistFacts, bool]:
        """The facts and whether they are the archive's own answer (not a failure to fetch it)."""
        name = file.filename
        if file.size is not None and file.size > MAX_SDIST_BYTES:
            return not_read(name, f"too large ({size_text(file.size)}, more than {size_text(MAX_SDIST_BYTES)})"), True
        if file.url.startswith("file:"):
            path = Path(url2pathname(unquote(urlsplit(file.url).path)))
            try:
                with path.open("rb") as handle:
                    chunks = iter(lambda: handle.read(1024 * 1024), b"")
                    return facts_from_chunks(chunks, name, limit=MAX_SDIST_BYTES), True
            except OSError as exc:
                return not_read(name, f"{type(exc).__name__}: {exc}"), False
        if self.offline:
            return not_read(name, OFFLINE_NOTE), False
        try:
            response = self.session.get(file.url, timeout=self.http.timeout, stream=True)
            if response.status_code != 200:
                response.close()
                return not_read(name, f"HTTP {response.status_code}"), False
            return facts_from_chunks(iter_body(response, self.http), name, limit=MAX_SDIST_BYTES), True
        except requests.RequestException as exc:
            return not_read(name, describe_failure(exc, self.http)), False

    def reads(self) -> dict[str, Any] | None:
        """The cache rows this engine's answers came from, each with its stamp when read (``analyzer.answers``).

        None when something was read that the cache does not hold as it was read: an answer computed from it
        cannot be told unchanged later.
        """
        log = self._reads
        if self.cache is None or not self.cache.usable or log.unstamped:
            return None
        return {
            "pages": sorted(log.pages.items()),
            "local": sorted(log.local.items()),
            "metadata": sorted((key, stored, exp) for key, (stored, exp) in log.metadata.items()),
            "freshness": self.freshness,
            "offline": self.offline,
        }

    def close(self) -> None:
        """Stop the worker threads, close the connections and the cache's files: an engine per check in a
        long-lived process must leave nothing behind, even when one of them fails to close."""
        try:
            self.pool.close()
        finally:
            try:
                self.session.close()
            finally:
                if self.cache is not None:
                    self.cache.close()

    def __enter__(self) -> MetadataEngine:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _facts_to_dict(facts: SdistFacts) -> dict[str, Any]:
    return {
        "sdist_facts": 1,
        "filename": facts.filename,
        "read": facts.read,
        "note": facts.note,
        "backend": facts.build_backend,
        "backend_declared": facts.backend_declared,
        "requires": list(facts.build_requires),
        "requires_declared": facts.requires_declared,
        "sources": [list(pair) for pair in facts.sources],
        "tools": list(facts.compiling_tools),
        "members": facts.members,
    }


def _facts_from_dict(d: dict[str, Any]) -> SdistFacts:
    return SdistFacts(
        filename=str(d["filename"]),
        read=bool(d["read"]),
        note=str(d["note"]),
        build_backend=d["backend"],
        backend_declared=bool(d["backend_declared"]),
        build_requires=tuple(str(r) for r in d["requires"]),
        requires_declared=bool(d["requires_declared"]),
        sources=tuple((str(lang), int(n)) for lang, n in d["sources"]),
        compiling_tools=tuple(str(t) for t in d["tools"]),
        members=int(d["members"]),
    )
