"""One pooled ``requests`` session with timeouts and retries, shared by every thread of an engine.

Retries (with backoff) cover what is worth retrying: connection errors, read timeouts, 429 (honouring
Retry-After, capped so a hostile server cannot park us) and 5xx. Every response's size is counted so the
benchmark and the tests can say how many bytes were read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NameResolutionError
from urllib3.util.retry import Retry

from analyzer import __version__

__all__ = ["CONNECT_TIMEOUT", "READ_TIMEOUT", "Traffic", "make_session"]

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TIMEOUT = (CONNECT_TIMEOUT, READ_TIMEOUT)
MAX_RETRY_AFTER = 30.0
"""Longest Retry-After we honour, in seconds: a run must end in bounded time."""


class _CappedRetry(Retry):
    """urllib3's Retry, with Retry-After capped at ``MAX_RETRY_AFTER``, and no retry of a failed DNS lookup.

    A host that does not resolve (a direct reference to a host this machine cannot reach) will not resolve a
    quarter of a second later either: retrying only multiplies the wait by the number of such pins.
    """

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)

    def increment(  # type: ignore[no-untyped-def]
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if isinstance(error, NameResolutionError):
            raise MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


@dataclass
class Traffic:
    """Requests made and bytes received, thread-safe counters."""

    requests: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, nbytes: int) -> None:
        with self._lock:
            self.requests += 1
            self.bytes += nbytes


def make_session(pool_size: int = 32, retries: int = 4, backoff: float = 0.25) -> requests.Session:
    """A session whose connection pool matches the thread pool that shares it."""
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_max=10.0,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"tfconflict/{__version__}"
    return session
