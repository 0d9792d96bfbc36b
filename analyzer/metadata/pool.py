"""What the engine's parts share: worker threads for all batches, compute-once memo tables, their state."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from analyzer.metadata.config import redact_text
from analyzer.metadata.heap import limit_heap_growth, return_free_memory
from analyzer.metadata.http import given_up

if TYPE_CHECKING:
    import requests

    from analyzer.metadata.cache import MetadataCache, ReadLog
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.http import HttpSettings

__all__ = ["EngineState", "Memo", "Progress", "WorkerPool"]

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Progress = Callable[[str, int, int], None]
"""Told (what is being fetched, items done, items in the batch) as a batch advances."""


class Memo(Generic[K, V]):
    """A table whose values are computed once per key, even when several threads ask at the same time."""

    def __init__(self) -> None:
        self.values: dict[K, V] = {}
        self._locks: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()

    def __contains__(self, key: K) -> bool:
        return key in self.values

    def get(self, key: K, compute: Callable[[], V]) -> V:
        value = self.values.get(key)
        if value is not None:
            return value
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            value = self.values.get(key)
            if value is None:
                value = self.values[key] = compute()
        return value


class WorkerPool:
    """Threads made on the first batch and kept for the engine's life (each thread opens a SQLite connection of
    its own, so a pool per batch would open hundreds). A forked child makes its own: the parent's threads do not
    exist there. A batch asked from one of these threads runs in it, serially: waiting on the pool from inside
    the pool could deadlock it."""

    def __init__(self, workers: int, progress: Progress | None = None) -> None:
        self.workers = max(1, workers)
        self.progress = progress
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers, thread_name_prefix="tfconflict-fetch", initializer=self._mark
                )
                self._pid = os.getpid()
            return self._pool

    def _mark(self) -> None:
        self._local.active = True

    def run(self, fn: Callable[[Any], Any], items: list[Any], what: str, *, workers: int | None = None) -> None:
        """``fn`` over ``items``, at most ``workers`` at once, as a warm-up: what failed in a thread is tried
        once more here, and a second failure is left for the caller's own call to meet as a value."""
        workers = self.workers if workers is None else workers
        if len(items) <= 1 or workers == 1 or getattr(self._local, "active", False):
            for item in items:
                fn(item)
            return
        limit_heap_growth()
        pool = self._executor()
        gate = threading.BoundedSemaphore(workers)

        def run(item: Any) -> Any:
            with gate:
                return fn(item)

        futures = [pool.submit(run, item) for item in items]
        failed: list[Any] = []
        try:
            for done, (item, future) in enumerate(zip(items, futures), 1):
                if future.exception() is not None:
                    failed.append(item)
                if self.progress is not None:
                    self.progress(what, done, len(items))
        except BaseException:  # interrupted: what has not started never will
            for future in futures:
                future.cancel()
            raise
        for item in failed:
            try:
                fn(item)
            except Exception as exc:  # noqa: BLE001
                log.debug("%s: %s failed twice: %s: %s", what, item, type(exc).__name__, exc)
        return_free_memory()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.shutdown(wait=True, cancel_futures=True)


class EngineState:
    """What the parts of one engine (its pages, its files' metadata) share; ``MetadataEngine`` sets it all."""

    config: IndexConfig
    session: requests.Session
    http: HttpSettings
    cache: MetadataCache | None
    _reads: ReadLog
    pool: WorkerPool
    tag_key: bytes
    offline: bool
    as_of: datetime | None
    freshness: float

    def _redact(self, text: str) -> str:
        return redact_text(text, self.config.urls)

    def hosts_given_up(self) -> dict[str, str]:
        """Hosts not asked again in this run (``scheme://host:port``), and why: a report names them."""
        return given_up(self.session)
