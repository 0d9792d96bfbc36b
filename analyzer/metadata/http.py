"""One pooled ``requests`` session with timeouts and retries (urllib3's ``Retry``), shared by an engine's threads.

Retried: connection errors, read timeouts, 429 and 5xx; never 404/410 or a failed DNS lookup. A host that cannot
be reached, or stalled or answered busy (5xx, 429) to three requests in a row, is not asked again in the run: a
private index behind a firewall, or a busy extra index, would otherwise cost each of hundreds of projects the full
wait. A busy host's Retry-After is honoured once per busy spell, capped, and shared by the requests that meet it.
A body must be complete within ten read timeouts, so a server trickling bytes cannot hold a run either.

A host that has not answered a single request in this run and lets one stall (a black hole: it accepts, never
answers) is given up at once, unretried: a dead extra index costs one timeout per run, not one per project.
Each host name is looked up once per session, a temporary resolver failure (EAI_AGAIN) tried again a few times
(``_Resolver``), and a body read to its end hands its connection back to the pool for the next request.
A body is read up to a limit its caller names (``TooLarge``), and a compressed one is inflated here in bounded steps
(``_inflate``, whatever urllib3's version), so the limit holds while inflating, not after.
"""

from __future__ import annotations

import os
import socket
import ssl
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import connection as _connection
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from analyzer import __version__
from analyzer.errors import InputError
from analyzer.metadata.sdist import size_text

__all__ = [
    "RETRIED_STATUSES", "HostDown", "HttpSettings", "TooLarge", "TooSlow", "Traffic", "attempts", "body_failed",
    "describe_failure", "given_up", "iter_body", "make_session", "read_body", "size_text", "troubles",
]

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
RETRIES = 4
RETRIED_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER = 10.0
"""Longest Retry-After we honour, in seconds, once per busy spell of a host: a run must end in bounded time."""
DEADLINE_FACTOR = 10
STALLS_BEFORE_DOWN = 3
"""Requests in a row that stalled, or were answered busy, before a host is given up for the run."""
LOOKUP_ATTEMPTS = 4
"""Tries of a host name lookup that failed temporarily (EAI_AGAIN: a resolver flooded by simultaneous lookups)."""
LOOKUP_BACKOFF = 0.2
"""Seconds before the second try of a lookup, doubled before each later one."""
REDIRECT_BODY_BYTES = 64 * 1024
"""Largest redirect body read (to keep its connection); a larger one is not read, its connection is closed."""
TIMEOUT_ENV = "TFCONFLICT_HTTP_TIMEOUT"
RETRIES_ENV = "TFCONFLICT_HTTP_RETRIES"


@dataclass(frozen=True)
class HttpSettings:
    """How long to wait and how often to try again: the bound on a run's time against a failing index; set by
    ``TFCONFLICT_HTTP_TIMEOUT`` (seconds per connection and per read) and ``TFCONFLICT_HTTP_RETRIES``."""

    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    retries: int = RETRIES

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def deadline(self) -> float:
        """Seconds one answer's body may take in all."""
        return self.read_timeout * DEADLINE_FACTOR

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        """The defaults, overridden by the environment; a bad value is bad input naming the variable."""
        env = os.environ if environ is None else environ
        settings = cls()
        text = env.get(TIMEOUT_ENV, "").strip()
        if text:
            try:
                seconds = float(text)
            except ValueError:
                seconds = -1.0
            if not 0 < seconds < float("inf"):
                raise InputError(f"{TIMEOUT_ENV}={text!r}: not a positive number of seconds")
            settings = cls(min(CONNECT_TIMEOUT, seconds), seconds, settings.retries)
        text = env.get(RETRIES_ENV, "").strip()
        if text:
            if not text.isdigit() or int(text) > 100:
                raise InputError(f"{RETRIES_ENV}={text!r}: not a number of retries (0 to 100)")
            settings = cls(settings.connect_timeout, settings.read_timeout, int(text))
        return settings


class _CappedRetry(Retry):
    """urllib3's Retry, with Retry-After capped, and no retry of a failed DNS lookup: a host that does not
    resolve will not a quarter of a second later either, retrying only multiplies the wait by such pins.

    With a ``guard`` (the adapter that sends), a busy answer's wait is the host's one wait of its busy spell
    (``_GuardedAdapter.busy_wait``), and a host given up meanwhile is not asked again."""

    guard: _GuardedAdapter | None = None

    def new(self, **kw: Any) -> _CappedRetry:
        retry = super().new(**kw)
        retry.guard = self.guard
        return retry

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), MAX_RETRY_AFTER)

    def increment(  # type: ignore[no-untyped-def]
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        if isinstance(error, NameResolutionError):
            raise MaxRetryError(_pool, url or "", error) from error
        stall = isinstance(error, ReadTimeoutError) or (
            isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError)
        )
        if stall and self.guard is not None and self.guard.black_hole(error):
            raise NeverAnswered(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if self.guard is not None and self.guard.given_up_here():
            return False  # another request gave the host up while this one was being retried
        return super().is_retry(method, status_code, has_retry_after)

    def sleep(self, response: Any = None) -> None:
        guard = self.guard
        if guard is None or response is None or response.status not in RETRIED_STATUSES:
            super().sleep(response)
            return
        after = self.get_retry_after(response) if self.respect_retry_after_header else None
        wait = guard.busy_wait(after) if after else None
        if wait is None:
            self._sleep_backoff()
            return
        time.sleep(wait)
        guard.waited()


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


HOST_FAILED = "failed earlier in this run"
"""How a request not made because its host failed is worded."""
DEFINITE_STATUSES = frozenset({404, 410})
"""Error statuses that answer about the thing asked (it is not there); others say the server cannot or will not
answer now (busy, refusing credentials, confused), which a later run may find otherwise."""


class HostDown(requests.ConnectionError):
    """Not asked: the host failed earlier in this run (see ``_GuardedAdapter``)."""


class NeverAnswered(MaxRetryError):
    """A stall at a host that has not answered a single request in this run: not retried, the host given up."""


NEVER_ANSWERED = "it has not answered a single request in this run"


class TooLarge(Exception):
    """An answer past the size its reader allows, cut there. Not a network failure: the same server would send
    the same bytes again."""


class _Resolver:
    """Host name -> addresses, looked up once per session: a resolver flooded by simultaneous lookups fails many
    of them (EAI_AGAIN), and the same name asked again by every new connection multiplies that. A temporary
    failure is tried again ``LOOKUP_ATTEMPTS`` times with a short backoff; a name that does not exist is not."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, int], list[tuple[str, int]]] = {}
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def addresses(self, host: str, port: int) -> list[tuple[str, int]]:
        """Socket addresses for ``host``: the first lookup's answer for the rest of the session."""
        key = (host.strip("[]"), port)
        if self._pid != os.getpid():  # a forked child: a lock another thread held at the fork stays held there
            self._locks, self._lock, self._pid = {}, threading.Lock(), os.getpid()
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one lookup per name, the other threads wait for its answer
            found = self._answers.get(key)
            if found is None:
                found = self._answers[key] = self._lookup(*key)
        return found

    def _lookup(self, host: str, port: int) -> list[tuple[str, int]]:
        family = _connection.allowed_gai_family()
        for attempt in range(LOOKUP_ATTEMPTS):
            try:
                infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
                break
            except socket.gaierror as exc:
                if exc.errno != socket.EAI_AGAIN or attempt == LOOKUP_ATTEMPTS - 1:
                    raise
                time.sleep(LOOKUP_BACKOFF * 2**attempt)
        found = list(dict.fromkeys((str(sa[0]), int(sa[1])) for *_, sa in infos))
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "getaddrinfo returned no address")
        return found


class _ResolvingConnection(HTTPConnection):
    """urllib3's connection, its host looked up by the session's ``_Resolver`` (its other behaviour unchanged)."""

    resolver: _Resolver

    def _new_conn(self) -> socket.socket:
        try:
            host = self._dns_host
            host.encode("idna")
            addresses = self.resolver.addresses(host, self.port)
        except UnicodeError:
            return super()._new_conn()  # a name that cannot be one: urllib3 says so its own way
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: Exception = NewConnectionError(self, "Failed to establish a new connection: no address")
        for address in addresses:
            try:
                sock = _connection.create_connection(
                    address, self.timeout, source_address=self.source_address, socket_options=self.socket_options
                )
            except TimeoutError:
                error = ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                )
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        raise error


class _ResolvingHTTPSConnection(_ResolvingConnection, HTTPSConnection):
    """The same for HTTPS (TLS still checks the host's name, not the address)."""


def _pool_classes(resolver: _Resolver) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections use ``resolver``: classes of one session, so its cache is its own."""
    plain = type("_Connection", (_ResolvingConnection,), {"resolver": resolver})
    tls = type("_TLSConnection", (_ResolvingHTTPSConnection,), {"resolver": resolver})
    return {
        "http": type("_Pool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("_TLSPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }


def _host(url: str) -> str:
    """``scheme://host:port`` of a URL, without credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


class _GuardedAdapter(HTTPAdapter):
    """An adapter that fails requests to hosts that could not be reached at once. A stall (every attempt got no
    answer in time, or the answer did not finish in time) counts, and so does a busy answer (5xx, 429 after the
    request's retries); an answer read to its end clears the stalls, any other answer the busy count.

    It also counts, per thread, the requests that met trouble on the wire (``troubles``): a failure met while
    some did is no answer about the thing asked, and is not remembered beyond the run."""

    def __init__(self, settings: HttpSettings, **kw: Any) -> None:
        self.resolver = _Resolver()
        super().__init__(**kw)
        self.settings = settings
        self.heard: set[str] = set()
        """Hosts that answered a request in this run (any status): a stall there is not a black hole."""
        self.down: dict[str, str] = {}
        self.stalls: Counter[str] = Counter()
        self.busy: Counter[str] = Counter()
        self._waits: dict[str, float | None] = {}
        """Host -> when its one wait of this busy spell ends; None once it was waited."""
        self._lock = threading.Lock()
        self._local = threading.local()
        self._contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
        if isinstance(self.max_retries, _CappedRetry):
            self.max_retries.guard = self

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        super().init_poolmanager(*args, **kw)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.resolver)

    def black_hole(self, error: Exception) -> bool:
        """Whether this thread's request stalled at a host that has not answered in this run; gives it up."""
        host = getattr(self._local, "host", "")
        with self._lock:
            if host in self.heard:
                return False
            self.down.setdefault(host, f"{_stall_text(error, self.settings)}; {NEVER_ANSWERED}")
        return True

    def send(self, request: requests.PreparedRequest, *args: Any, **kw: Any) -> requests.Response:
        host = _host(request.url or "")
        reason = self.down.get(host)
        if reason is not None:
            self.troubled()
            raise HostDown(f"not asked: {host} {HOST_FAILED} ({reason})", request=request)
        self._local.host = host  # for the retries' waits, which run in this thread
        try:
            response = super().send(request, *args, **kw)
        except requests.RequestException as exc:
            self.troubled()
            cause = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
            if isinstance(cause, (NewConnectionError, ConnectTimeoutError, NameResolutionError)):
                with self._lock:
                    self.down.setdefault(host, describe_failure(exc, self.settings))
            elif isinstance(cause, ReadTimeoutError):
                self.stalled(host, describe_failure(exc, self.settings))
            raise
        if host not in self.heard:
            with self._lock:
                self.heard.add(host)
        status = response.status_code
        if status in RETRIED_STATUSES:
            self.troubled()
            self.answered_busy(host, status)
        else:
            if status >= 400 and status not in DEFINITE_STATUSES:
                self.troubled()
            if self.busy.get(host) or host in self._waits:
                with self._lock:
                    self.busy.pop(host, None)
                    self._waits.pop(host, None)
        return response

    def troubled(self) -> None:
        """This thread's request met trouble on the wire."""
        self._local.troubles = getattr(self._local, "troubles", 0) + 1

    def troubles(self) -> int:
        return int(getattr(self._local, "troubles", 0))

    def given_up_here(self) -> bool:
        """Whether the host of this thread's request was given up while the request was on its way."""
        return getattr(self._local, "host", None) in self.down

    def answered_busy(self, host: str, status: int) -> None:
        with self._lock:
            self.busy[host] += 1
            if self.busy[host] >= STALLS_BEFORE_DOWN:
                self.down.setdefault(host, f"{STALLS_BEFORE_DOWN} requests in a row: HTTP {status}")

    def busy_wait(self, retry_after: float) -> float | None:
        """Seconds this thread waits before asking its busy host again: until the end of the host's one wait of
        this busy spell, which the first busy answer with a Retry-After starts and later ones join; None when
        that wait is over (the ordinary backoff then)."""
        host = getattr(self._local, "host", "")
        now = time.monotonic()
        with self._lock:
            if host not in self._waits:
                self._waits[host] = now + retry_after
            ends = self._waits[host]
        return None if ends is None or ends <= now else ends - now

    def waited(self) -> None:
        host = getattr(self._local, "host", "")
        with self._lock:
            if host in self._waits:
                self._waits[host] = None

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' pool key, with one shared TLS context per CA bundle instead of a path, from which urllib3
        would load the whole bundle again for every connection. A client certificate, no verification or a
        bundle that does not load keeps requests' own way (and its error messages)."""
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if host.get("scheme") != "https" or not verify or cert is not None or "ssl_context" in pool:
            return host, pool
        cafile = pool.get("ca_certs")
        capath = pool.get("ca_cert_dir")
        if cafile is None and capath is None:
            cafile = DEFAULT_CA_BUNDLE_PATH  # what ``cert_verify`` would give the pool for verify=True
        context = self._tls_context(cafile, capath)
        if context is not None:
            pool = {k: v for k, v in pool.items() if k not in ("ca_certs", "ca_cert_dir")}
            pool["ssl_context"] = context
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if getattr(conn, "conn_kw", {}).get("ssl_context") in self._contexts.values():
            # the shared context holds the bundle: not loaded again for every connection
            conn.ca_certs = conn.ca_cert_dir = None

    def _tls_context(self, cafile: str | None, capath: str | None) -> ssl.SSLContext | None:
        key = (cafile, capath)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                try:
                    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
                    context.load_verify_locations(cafile, capath)
                except (OSError, ValueError):
                    return None
                self._contexts[key] = context
        return context

    def stalled(self, host: str, what: str) -> None:
        with self._lock:
            self.stalls[host] += 1
            if self.stalls[host] >= STALLS_BEFORE_DOWN:
                self.down.setdefault(host, f"{STALLS_BEFORE_DOWN} requests in a row: {what}")

    def answered(self, host: str) -> None:
        if self.stalls.get(host):
            with self._lock:
                self.stalls[host] = 0


def _guards(session: requests.Session) -> list[_GuardedAdapter]:
    return [a for a in dict.fromkeys(session.adapters.values()) if isinstance(a, _GuardedAdapter)]


def given_up(session: requests.Session) -> dict[str, str]:
    """Hosts not asked again in this run (``scheme://host:port``, no credentials) -> why."""
    return {host: why for guard in _guards(session) for host, why in guard.down.items()}


def troubles(session: requests.Session) -> int:
    """How many of this thread's requests met trouble on the wire so far (a failure, a busy or refusing
    server, a host given up): unchanged across a fetch, what failed it was an answer about the thing asked."""
    return sum(guard.troubles() for guard in _guards(session))


def attempts(response: requests.Response) -> int:
    """How many times the request behind ``response`` was sent (retries included)."""
    retries = getattr(response.raw, "retries", None)
    return len(getattr(retries, "history", ())) + 1


def make_session(pool_size: int = 32, *, http: HttpSettings | None = None) -> requests.Session:
    """A session whose connection pool matches the thread pool that shares it."""
    http = http or HttpSettings()
    retries = http.retries
    retry = _CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.25,
        backoff_max=10.0,
        status_forcelist=RETRIED_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = _GuardedAdapter(http, pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"tfconflict/{__version__}"
    session.headers["Accept-Encoding"] = "gzip, deflate"  # what ``_inflate`` undoes
    session.hooks["response"].append(_skip_redirect_body)
    return session


def _skip_redirect_body(response: requests.Response, *args: Any, **kw: Any) -> requests.Response:
    """A redirect's body is of no use, and requests reads it whole before following: one that is not small is
    not read (its connection is closed instead)."""
    if response.is_redirect:
        length = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").strip().lower() != "identity"
        if encoded or not length.isdigit() or int(length) > REDIRECT_BODY_BYTES:
            response.raw.close()
            response._content = b""
            response._content_consumed = True
    return response


class TooSlow(requests.exceptions.Timeout):
    """An answer still arriving past its deadline: bytes trickled in, each within the read timeout."""


def iter_body(
    response: requests.Response, settings: HttpSettings, limit: int | None = None, what: str = "the answer"
) -> Iterator[bytes]:
    """The body of a streamed response, one socket read at a time so that the deadline is checked however slowly
    bytes come; closes the response, or hands its connection back to the pool when read to its end. urllib3's
    errors come out as the ``requests`` errors of ``.content``; past ``limit`` bytes (decoded), ``TooLarge``
    naming ``what``. A compressed body is inflated here (``_inflate``), in bounded steps whatever urllib3's
    version, so the limit holds while inflating."""
    deadline = time.monotonic() + settings.deadline
    connection = getattr(response, "connection", None)
    guard = connection if isinstance(connection, _GuardedAdapter) else None
    host = _host(response.url or "")
    total = 0
    try:
        encodings = _encodings(response.headers.get("Content-Encoding", ""))
        declared = response.headers.get("Content-Length", "")
        if limit is not None and not encodings and declared.isdigit() and int(declared) > limit:
            raise TooLarge(f"{what} is larger than {size_text(limit)} ({size_text(int(declared))}); not read")
        chunks: Iterator[bytes] = iter(lambda: response.raw.read1(BODY_STEP, decode_content=False), b"")
        for encoding in reversed(encodings):  # the last one applied is undone first
            chunks = _inflate(chunks, encoding)
        for chunk in chunks:
            total += len(chunk)
            if limit is not None and total > limit:
                raise TooLarge(f"{what} is larger than {size_text(limit)}; not read further")
            if time.monotonic() > deadline:
                slow = TooSlow(f"the answer took longer than {settings.deadline:g} s")
                if guard is not None:
                    guard.troubled()
                    guard.stalled(host, str(slow))
                raise slow
            yield chunk
        if guard is not None:
            guard.answered(host)
        response._content_consumed = True  # read to its end: ``close`` keeps the connection
    except ProtocolError as exc:
        if guard is not None:
            guard.troubled()
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except ReadTimeoutError as exc:
        if guard is not None:
            guard.troubled()
            guard.stalled(host, f"no answer within {settings.read_timeout:g} s")
        raise requests.ConnectionError(exc) from exc
    finally:
        response.close()


BODY_STEP = 256 * 1024
"""Bytes read from the socket, and inflated, at a time."""
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
MAX_ENCODINGS = 2
"""Content-Encodings undone at most (``gzip, gzip``); more is no index's answer."""


def _encodings(header: str) -> list[str]:
    """The Content-Encodings to undo, in the order applied; ``DecodeError`` for one this client did not ask for."""
    found = [e.strip().lower() for e in header.split(",") if e.strip() and e.strip().lower() != "identity"]
    unknown = [e for e in found if e not in _WBITS]
    if unknown or len(found) > MAX_ENCODINGS:
        raise DecodeError(f"unsupported Content-Encoding {header.strip()!r}")
    return found


def _inflate(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """``chunks`` inflated at most ``BODY_STEP`` bytes at a time: a few compressed bytes that inflate to gigabytes
    never do so in one call. gzip members one after another are read in turn; ``deflate`` may be raw (no zlib
    header), as some servers send it, and bytes after its end are ignored."""
    wbits = _WBITS[encoding]
    inflater = zlib.decompressobj(wbits)
    fed = started = False
    for data in chunks:
        while data or fed:
            try:
                out = inflater.decompress(data, BODY_STEP)
            except zlib.error as exc:
                if encoding != "deflate" or started:
                    raise DecodeError(f"the answer's {encoding} compression is broken ({exc})") from exc
                wbits = -zlib.MAX_WBITS  # raw deflate: tried once, on the first bytes
                inflater = zlib.decompressobj(wbits)
                started = True
                continue
            started = fed = True
            data = inflater.unconsumed_tail
            if out:
                yield out
            if inflater.eof:
                if encoding == "deflate":
                    return  # one stream; what follows it is not part of the answer
                data, inflater, fed = inflater.unused_data, zlib.decompressobj(wbits), False  # next gzip member
            elif not data and len(out) < BODY_STEP:
                break  # all taken in, nothing pending: the next chunk
    if fed:
        raise DecodeError(f"the answer's {encoding} compression ends early")


def read_body(
    response: requests.Response, settings: HttpSettings, limit: int | None = None, what: str = "the answer"
) -> bytes:
    """``iter_body`` joined; the response keeps it, so ``.json()`` and the page parsers work afterwards."""
    body = b"".join(iter_body(response, settings, limit, what))
    response._content = body  # what ``.content`` would have read
    response._content_consumed = True
    return body


def body_failed(exc: BaseException) -> bool:
    """Whether ``exc`` broke a body after its headers arrived: urllib3 retries only until the headers, so such a
    failure is worth one more attempt of the whole request."""
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    reason = exc.args[0] if exc.args else None
    return isinstance(exc, requests.ConnectionError) and isinstance(reason, (ReadTimeoutError, ProtocolError))


def _stall_text(error: object, settings: HttpSettings) -> str:
    if isinstance(error, ConnectTimeoutError):
        return f"no connection within {settings.connect_timeout:g} s"
    return f"no answer within {settings.read_timeout:g} s"


def describe_failure(exc: BaseException, settings: HttpSettings) -> str:
    """What went wrong on the wire, in words (no object reprs, no URL: the caller names the URL, redacted)."""
    reason: object = exc.args[0] if exc.args else None
    attempts = ""
    if isinstance(reason, NeverAnswered):
        return f"{_stall_text(reason.reason, settings)}; {NEVER_ANSWERED}, not asked again"
    if isinstance(reason, MaxRetryError):
        attempts = f" ({settings.retries + 1} attempts)" if settings.retries else ""
        reason = reason.reason
    if isinstance(reason, NameResolutionError):  # before NewConnectionError, which it derives from; never retried
        cause = reason.__cause__
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_AGAIN:
            return f"the host name could not be looked up (temporary failure, {LOOKUP_ATTEMPTS} attempts)"
        return "the host name does not resolve"
    if isinstance(reason, NewConnectionError):  # before timeouts: urllib3 derives it from ConnectTimeoutError
        detail = str(reason).rpartition("new connection: ")[2] or "refused"
        return f"cannot connect ({detail}){attempts}"
    if isinstance(exc, (TooSlow, HostDown)):
        return str(exc)
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError):
        return f"no connection within {settings.connect_timeout:g} s{attempts}"
    if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
        return f"no answer within {settings.read_timeout:g} s{attempts}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or isinstance(reason, ProtocolError):
        return f"the connection broke before the answer was complete{attempts}"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return f"the answer could not be decoded ({reason})"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects (a redirect loop?)"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error ({type(reason).__name__ if reason is not None else 'SSLError'})"
    return f"{type(exc).__name__}{attempts}"
