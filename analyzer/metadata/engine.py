"""``MetadataEngine``: the ``MetadataSource`` everything else constructs. Answers come, cheapest first, from
memory, the SQLite cache and the network; it prints nothing (progress is a callback)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any

import requests

from analyzer.metadata.cache import MetadataCache, ReadLog
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.filemeta import FileMetadata
from analyzer.metadata.freshness import EMPTY_FRESHNESS, PAGE_FRESHNESS
from analyzer.metadata.http import HttpSettings, make_session
from analyzer.metadata.pages import IndexPages
from analyzer.metadata.pool import Progress, WorkerPool

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
        self.pool.close()
        self.session.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> MetadataEngine:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
