"""``MetadataEngine``: the ``MetadataSource`` everything else constructs (index pages, core metadata, cache).

Answers come, cheapest first, from memory (memoized per engine, thread-safe), the SQLite cache, and the
network: a PEP 658 ``.metadata`` file, else range requests into the wheel, else the whole file. Every failure
comes back as a value (a problem on ``ProjectFiles``, a ``CoreMetadata`` with status UNAVAILABLE and a note
naming the package and the redacted URL), never as an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests
from packaging.requirements import Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from analyzer.metadata.cache import CachedPage, MetadataCache
from analyzer.metadata.config import IndexConfig, redact_text, redact_url
from analyzer.metadata.coremeta import SdistError, parse_core_metadata, read_pkg_info, read_pkg_info_stream
from analyzer.metadata.freshness import EMPTY_FRESHNESS, PAGE_FRESHNESS, local_stamp, page_is_fresh
from analyzer.metadata.heap import limit_heap_growth, return_free_memory
from analyzer.metadata.http import (
    HOST_FAILED,
    HostDown,
    HttpSettings,
    Traffic,
    body_failed,
    describe_failure,
    iter_body,
    make_session,
)
from analyzer.metadata.index import (
    EMPTY_PAGE,
    PageText,
    _specifier,
    _version,
    fetch_page,
    files_from_page,
    local_page_file,
)
from analyzer.metadata.lazywheel import (
    RangeNotSupported,
    WheelMetadataError,
    fetch_wheel_metadata,
    read_metadata_from_zip,
)
from analyzer.metadata.models import CoreMetadata, DistFile, DistKind, MetadataStatus, ProjectFiles

__all__ = ["DEFAULT_WORKERS", "EMPTY_FRESHNESS", "PAGE_FRESHNESS", "PAGE_WORKERS", "MetadataEngine"]

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 24
PAGE_WORKERS = 12
"""Threads fetching index pages at most: parsing a page holds the interpreter lock, and 24 threads contending for
it cost a cold Colab check 0.4-0.9 s more CPU and 0.3-0.5 s more wall than 8-12 (range reads of wheels, waiting
on the network rather than parsing, keep the full ``workers``)."""
MAX_DOWNLOAD = 512 * 1024 * 1024
"""Largest file downloaded whole (a server without Range, an sdist)."""
OFFLINE_NOTE = "not in the cache (offline)"

T = TypeVar("T")
_PageRef = PageText | str
"""A page in memory, or the cache key it can be read again from."""
_IndexPage = tuple[str, _PageRef, tuple[str, ...]]
"""(index URL, its page, the problems met getting it)."""
_requirements: dict[str, Requirement] = {}


def _requirement(text: str) -> Requirement:
    req = _requirements.get(text)
    if req is None:
        req = _requirements[text] = Requirement(text)
    return req


def _secret_tag(url: str, key: bytes) -> str:
    """A short keyed digest that tells apart two credentials for one host without storing either.

    Keyed (the cache's own random key, kept out of the SQLite file): an unkeyed hash of the URL would let anyone
    holding the file test guessed passwords against it.
    """
    if "@" not in urlsplit(url).netloc:
        return ""
    return "#" + hmac.new(key, url.encode(), hashlib.sha256).hexdigest()[:12]


def _to_dict(meta: CoreMetadata) -> dict[str, Any]:
    return {
        "n": meta.name,
        "v": str(meta.version),
        "rd": [str(r) for r in meta.requires_dist],
        "rp": str(meta.requires_python) if meta.requires_python is not None else None,
        "pe": sorted(meta.provides_extra),
        "st": meta.status.value,
        "src": meta.source,
        "note": meta.note,
        "sk": list(meta.skipped),
    }


def _from_dict(d: dict[str, Any]) -> CoreMetadata:
    return CoreMetadata(
        name=NormalizedName(d["n"]),
        version=_version(d["v"]),
        requires_dist=tuple(_requirement(r) for r in d["rd"]),
        requires_python=_specifier(d["rp"]) if d["rp"] is not None else None,
        provides_extra=frozenset(NormalizedName(e) for e in d["pe"]),
        status=MetadataStatus(d["st"]),
        source=d["src"],
        note=d["note"],
        skipped=tuple(d["sk"]),
    )


class _BodyBroke(Exception):
    """A network failure inside an archive reader, carried out of it unchanged."""

    def __init__(self, cause: requests.RequestException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _CountingReader:
    """A read-only stream over a response's body that counts what passes (for the traffic figures) and
    stops at the answer's deadline."""

    def __init__(self, response: requests.Response, http: HttpSettings) -> None:
        self.body = iter_body(response, http)
        self.pending = b""
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            try:
                self.pending = next(self.body, b"")
            except requests.RequestException as exc:
                # requests' errors are OSErrors, which the archive reader would take for a bad archive
                raise _BodyBroke(exc) from exc
        if size < 0:
            size = len(self.pending)
        data, self.pending = self.pending[:size], self.pending[size:]
        self.count += len(data)
        return data


def _verify(data: bytes, hashes: dict[str, str] | Any, label: str) -> str | None:
    """A mismatch message for the first hash we can check, or None when it matches (or none is checkable)."""
    for algo, expected in dict(hashes or {}).items():
        if algo in hashlib.algorithms_guaranteed:
            actual = hashlib.new(algo, data).hexdigest()
            if actual != expected.lower():
                return f"{label}: {algo} mismatch (expected {expected}, got {actual})"
            return None
    return None


class MetadataEngine:
    """The metadata source over the configured indexes, with a persistent cache and an in-memory memo."""

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
        progress: bool = True,
        http: HttpSettings | None = None,
    ) -> None:
        self.config = config or IndexConfig.from_pip()
        self.http = http or HttpSettings.from_env()
        self.cache = cache
        self.offline = offline
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=timezone.utc)
        self.as_of = as_of
        self.workers = max(1, workers)
        self.freshness = freshness
        self.progress = progress
        self.session = session or make_session(pool_size=self.workers, http=self.http)
        self.traffic = Traffic()
        """Requests for distribution files and ``.metadata`` files (what range reads save)."""
        self.page_traffic = Traffic()
        """Requests for index pages."""
        self._projects: dict[NormalizedName, ProjectFiles] = {}
        self._page_memo: dict[NormalizedName, tuple[_IndexPage, ...]] = {}
        """Per index, the page itself or, when the cache holds it, its cache key: 100 MB of page texts stay in
        SQLite and are read again when a project or a pin asks (a few ms each)."""
        self._version_files: dict[tuple[NormalizedName, Version], tuple[DistFile, ...]] = {}
        """``files_of`` answers: each factory asks again for every installed pin."""
        self._metadata: dict[str, CoreMetadata] = {}
        self._page_stamps: dict[str, float] = {}
        self._metadata_stamps: dict[str, tuple[float, float | None]] = {}
        self._local_stamps: dict[str, str] = {}
        """Pages of ``file://`` indexes: path -> ``local_stamp`` when read."""
        self._unstamped: set[str] = set()
        """What this engine read that the cache does not hold as read (``reads`` is then None)."""
        self._key_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._worker = threading.local()
        """``active`` in the engine's own worker threads: a batch asked from one of them runs there, serially."""
        self._tag_key = (cache.tag_key() if cache is not None else None) or secrets.token_bytes(32)

    # -- plumbing ------------------------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return redact_text(text, self.config.urls)

    def _memo(self, memo: dict[Any, T], key: Any, compute: Callable[[], T]) -> T:
        """Compute once per key even when several threads ask at the same time."""
        value = memo.get(key)
        if value is not None:
            return value
        with self._lock:
            lock = self._key_locks.setdefault(f"{id(memo)}:{key}", threading.Lock())
        with lock:
            value = memo.get(key)
            if value is None:
                value = compute()
                memo[key] = value
        return value

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.shutdown(wait=True, cancel_futures=True)
        self.session.close()
        if self.cache is not None:
            self.cache.close()

    def _executor(self) -> ThreadPoolExecutor:
        """The engine's worker threads, made once and kept: each batch of a run used to start up to 24 threads,
        each opening a SQLite connection of its own (277 connections and 1.2 s of thread time in a cold full
        check). A forked child makes its own: the parent's threads do not exist there."""
        with self._lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers,
                    thread_name_prefix="tfconflict-fetch",
                    initializer=self._mark_worker,
                )
                self._pool_pid = os.getpid()
            return self._pool

    def _mark_worker(self) -> None:
        self._worker.active = True

    def __enter__(self) -> MetadataEngine:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- projects ------------------------------------------------------------------------------------------
    def project(self, name: str) -> ProjectFiles:
        """All files of ``name`` on every configured index, after ``--as-of`` filtering."""
        canonical = canonicalize_name(name)
        return self._memo(self._projects, canonical, lambda: self._load_project(canonical))

    def _page_key(self, index_url: str, name: NormalizedName) -> str:
        return f"{redact_url(index_url)}{_secret_tag(index_url, self._tag_key)}|{name}"

    def _fresh(self, fetched: float, has_rows: bool) -> bool:
        """Whether a cached page may be used without asking the index (always, offline)."""
        return page_is_fresh(fetched, has_rows, freshness=self.freshness, offline=self.offline)

    def _by_key(self, index_url: str) -> bool:
        """Whether the page just handled may be left in the cache and read again from there when asked."""
        return (
            self.cache is not None
            and self.cache.usable
            and self.cache.read_only_reason is None
            and not index_url.startswith("file:")
        )

    def _index_page(
        self, index_url: str, name: NormalizedName, *, hold: bool = False
    ) -> tuple[_PageRef, list[str]]:
        """One index's page for ``name``: fresh from the cache, revalidated, fetched, or a stated problem.

        The page comes back as its cache key when the cache holds it (unless ``hold``), else as itself.
        """
        if index_url.startswith("file:"):
            return self._local_page(index_url, name)
        label = redact_url(index_url)
        key = self._page_key(index_url, name)
        if self.cache is not None and not hold:
            state = self.cache.page_state(key)
            if state is not None and self._fresh(*state):
                self._page_stamps[key] = state[0]
                return key, []  # its own problems are read with it, by ``_open_page``
        cached = self.cache.get_page(key) if self.cache is not None else None
        cached_page: PageText | None = None
        if cached is not None:
            try:
                cached_page = PageText.from_text(cached.text)
            except (ValueError, KeyError, TypeError):
                log.warning("the cached page of %s from %s is unreadable; fetching it again", name, label)
                cached = None
        if (
            cached_page is not None
            and cached is not None
            and self._fresh(cached.fetched, "\n" in cached.text)
        ):
            self._page_stamps[key] = cached.fetched
            return cached_page, list(cached_page.problems)
        self._unstamped.add(key)  # until it is stored below
        if self.offline:
            return EMPTY_PAGE, [f"{name}: the page of {label} is {OFFLINE_NOTE}"]
        result = fetch_page(
            self.session,
            index_url,
            name,
            self.page_traffic,
            etag=cached.etag if cached else None,
            last_modified=cached.last_modified if cached else None,
            http=self.http,
        )
        now = time.time()
        if result.not_modified and cached_page is not None:
            indexed = cached_page.with_line_index()  # stored by an older version: worth storing once more
            if indexed is not None and self.cache is not None and cached is not None:
                if self.cache.put_page(key, CachedPage(indexed.text, now, cached.etag, cached.last_modified)):
                    cached_page = indexed
                    self._stamp_page(key, now)
            elif self.cache is not None and self.cache.touch_page(key, now):
                self._stamp_page(key, now)
            if not hold and self._by_key(index_url):
                return key, []
            return cached_page, list(cached_page.problems)
        if result.failed or result.page is None:
            problems = [self._redact(p) for p in result.problems]
            if cached_page is not None:
                problems.append(f"{label}: used the cached page of {name} instead")
                return cached_page, problems + list(cached_page.problems)
            return EMPTY_PAGE, problems
        problems = [self._redact(p) for p in result.problems]
        page = result.page.with_problems(problems)
        if self.cache is not None and not index_url.startswith("file:"):
            stored = self.cache.put_page(
                key, CachedPage(page.to_text(), now, result.etag, result.last_modified)
            )
            if stored and not hold:
                self._stamp_page(key, now)
            if stored and not hold and self._by_key(index_url):
                return key, []
        return page, problems

    def _local_page(self, index_url: str, name: NormalizedName) -> tuple[_PageRef, list[str]]:
        """A ``file://`` index's page, read anew every time (never cached), stamped by its file: unchanged from
        before the read to after it, or the answers computed from it cannot be remembered."""
        path = str(local_page_file(index_url, name))
        before = local_stamp(path)
        result = fetch_page(self.session, index_url, name, self.page_traffic)
        if not result.failed and local_stamp(path) == before:
            self._local_stamps[path] = before
        else:
            self._unstamped.add(path)
        problems = [self._redact(p) for p in result.problems]
        if result.failed or result.page is None:
            return EMPTY_PAGE, problems
        return result.page.with_problems(problems), problems

    def _stamp_page(self, key: str, fetched: float) -> None:
        self._page_stamps[key] = fetched
        self._unstamped.discard(key)

    def reads(self) -> dict[str, Any] | None:
        """The cache rows this engine's answers came from, each with the stamp it had when read: pages by when
        they were fetched, metadata by when it was stored (and when a remembered failure expires).

        None when something was read that the cache does not hold as it was read (no cache, a page the cache
        could not store or kept from a failed refresh, a failure not remembered): an answer computed from it
        cannot be told unchanged later. See ``analyzer.answers``.
        """
        if self.cache is None or not self.cache.usable or self._unstamped:
            return None
        return {
            "pages": sorted(self._page_stamps.items()),
            "local": sorted(self._local_stamps.items()),
            "metadata": sorted((key, stored, exp) for key, (stored, exp) in self._metadata_stamps.items()),
            "freshness": self.freshness,
            "offline": self.offline,
        }

    def _open_page(self, index_url: str, name: NormalizedName, ref: _PageRef) -> PageText:
        """The page behind a reference: read again from the cache (fetched again if its row went away)."""
        if isinstance(ref, PageText):
            return ref
        cached = self.cache.get_page(ref) if self.cache is not None else None
        if cached is not None:
            try:
                return PageText.from_text(cached.text)
            except (ValueError, KeyError, TypeError):
                pass
        page, _ = self._index_page(index_url, name, hold=True)
        self._unstamped.add(ref)  # read again, perhaps different from the row the run began with
        assert isinstance(page, PageText)
        return page

    def _pages(self, name: NormalizedName) -> tuple[_IndexPage, ...]:
        """Every index's page for ``name`` (memoized, as cache keys where the cache holds them), each with the
        problems met getting it."""

        def load() -> tuple[_IndexPage, ...]:
            out = []
            for index_url in self.config.urls:
                page, problems = self._index_page(index_url, name)
                out.append((index_url, page, tuple(problems)))
            return tuple(out)

        return self._memo(self._page_memo, name, load)

    def _as_of_filter(self, name: NormalizedName, files: list[DistFile]) -> tuple[list[DistFile], list[str]]:
        if self.as_of is None:
            return files, []
        as_of = self.as_of
        kept = [f for f in files if f.upload_time is None or f.upload_time <= as_of]
        undated = sum(1 for f in kept if f.upload_time is None)
        notes = (
            [f"{name}: {undated} file(s) have no upload time and were kept despite --as-of"]
            if undated
            else []
        )
        return kept, notes

    def _load_project(self, name: NormalizedName) -> ProjectFiles:
        files: list[DistFile] = []
        indexes: list[str] = []
        problems: list[str] = []
        for index_url, ref, index_problems in self._pages(name):
            page = self._open_page(index_url, name, ref)
            problems.extend(index_problems)
            if isinstance(ref, str):
                problems.extend(page.problems)  # a page left in the cache brings its problems when read
            found = files_from_page(page, name, index_url)
            if found:
                indexes.append(redact_url(index_url))
                files.extend(found)
        files, notes = self._as_of_filter(name, files)
        return ProjectFiles(
            name=name,
            files=tuple(files),
            indexes=tuple(indexes),
            problems=tuple(problems),
            notes=tuple(notes),
        )

    def files_of(self, name: str, version: Version) -> tuple[DistFile, ...]:
        """The files of one version of ``name``, without building the others (what an installed pin needs).

        Same answer as filtering ``project(name).files``; much cheaper on a warm run when the project lists
        thousands of files and only one version matters.
        """
        canonical = canonicalize_name(name)
        memo_key = (canonical, version)
        answer = self._version_files.get(memo_key)
        if answer is not None:
            return answer
        known = self._projects.get(canonical)
        if known is not None:
            answer = self._version_files[memo_key] = tuple(f for f in known.files if f.version == version)
            return answer
        files: list[DistFile] = []
        for index_url, ref, _ in self._pages(canonical):
            lines = self._version_lines(ref, version)
            if lines is not None:
                try:
                    files.extend(files_from_page(lines, canonical, index_url, only=version))
                    continue
                except (ValueError, TypeError):
                    pass  # a header pointing off its lines (a damaged row): read the page whole, as before
            page = self._open_page(index_url, canonical, ref)
            files.extend(files_from_page(page, canonical, index_url, only=version))
        answer = self._version_files[memo_key] = tuple(self._as_of_filter(canonical, files)[0])
        return answer

    def _version_lines(self, ref: _PageRef, version: Version) -> PageText | None:
        """The lines of ``version`` of a page left in the cache, read alone where its header says where they are
        (a few KB instead of a page of up to several MB); None when it cannot say (``_open_page`` then reads the
        page whole, or fetches it again if its row went away)."""
        if not isinstance(ref, str) or self.cache is None:
            return None
        found: list[PageText] = []

        def pick(header: str) -> list[tuple[int, int]] | None:
            try:
                page = PageText.from_header(header, "")
                spans = page.spans(version)
            except (ValueError, KeyError, TypeError):
                return None
            if spans is None:
                return None
            found.append(page)
            return [(start, end) for _, start, end in spans]

        read = self.cache.read_page_parts(ref, pick)
        if read is None or not found:
            return None
        header, parts = read
        keys = [key for key, _, _ in found[0].spans(version) or ()]
        text = "\n".join([header, *(f"{key}\t{rows}" for key, rows in zip(keys, parts))])
        return PageText(text, found[0].base, found[0].problems, found[0].at)

    def _fresh_in_cache(self, name: NormalizedName) -> bool:
        """Whether every index's page for ``name`` can come from the cache without asking the network."""
        if self.cache is None:
            return False
        for index_url in self.config.urls:
            if index_url.startswith("file:"):
                continue
            state = self.cache.page_state(self._page_key(index_url, name))
            if state is None or not self._fresh(*state):
                return False
        return True

    def prefetch_projects(self, names: Iterable[str]) -> None:
        """Fetch many project pages in parallel; answers come later from ``project`` or ``files_of``.

        Pages already fresh in the cache are loaded first, in this thread: that work is pure CPU, and threads
        would only contend for the interpreter lock.
        """
        todo = [canonicalize_name(n) for n in dict.fromkeys(names)]
        todo = [n for n in todo if n not in self._page_memo]
        remote = []
        for name in todo:
            if self._fresh_in_cache(name):
                self._pages(name)
            else:
                remote.append(name)
        if not remote:
            return
        self._run_parallel(self._pages, remote, "index pages", workers=min(self.workers, PAGE_WORKERS))

    # -- core metadata -------------------------------------------------------------------------------------
    def _metadata_key(self, file: DistFile) -> str:
        sha = dict(file.hashes).get("sha256")
        if sha:
            return f"sha256:{sha.lower()}"
        return f"url:{redact_url(file.url)}{_secret_tag(file.url, self._tag_key)}"

    def metadata(self, file: DistFile) -> CoreMetadata:
        """Core metadata of one file; failures come back as a status, not an exception."""
        key = self._metadata_key(file)
        return self._memo(self._metadata, key, lambda: self._load_metadata(file, key))

    def _usable_record(self, stored: dict[str, Any]) -> bool:
        """Successes are kept forever; a remembered failure only until it expires (never offline)."""
        expires = stored.get("exp")
        return expires is None or (not self.offline and time.time() < expires)

    def _unavailable(
        self, name: NormalizedName, version: Version, note: str, source: str = ""
    ) -> CoreMetadata:
        return CoreMetadata(
            name=name,
            version=version,
            status=MetadataStatus.UNAVAILABLE,
            source=source,
            note=self._redact(note),
        )

    def _load_metadata(self, file: DistFile, key: str) -> CoreMetadata:
        if self.cache is not None:
            found = self.cache.get_metadata_stamped(key)
            if found is not None and self._usable_record(found[0]):
                try:
                    meta = _from_dict(found[0])
                    self._metadata_stamps[key] = (found[1], found[0].get("exp"))
                    return meta
                except (KeyError, ValueError, TypeError):
                    pass  # an unreadable row is a miss
        label = f"{file.project} {file.version} ({redact_url(file.url)})"
        if self.offline and not file.url.startswith("file:"):
            self._unstamped.add(key)
            return self._unavailable(file.project, file.version, f"{label}: metadata {OFFLINE_NOTE}")
        meta, remember = self._fetch_with_retry(file, label)
        stored = None
        if self.cache is not None and remember:
            record = _to_dict(meta)
            if meta.status is MetadataStatus.UNAVAILABLE:
                record["exp"] = time.time() + self.freshness  # a failure is remembered briefly, not forever
                # a later run reads this note: "earlier in this run" would be its run, not this one
                record["note"] = meta.note.replace(
                    HOST_FAILED, time.strftime("failed in a run at %H:%M UTC", time.gmtime())
                )
            stored = self.cache.put_metadata(key, record)
            if stored is not None:
                self._metadata_stamps[key] = (stored, record.get("exp"))
        if stored is None:
            self._unstamped.add(key)
        if meta.status is MetadataStatus.UNAVAILABLE:
            log.info("%s", meta.note)
        return meta

    def _fetch_with_retry(self, file: DistFile, label: str) -> tuple[CoreMetadata, bool]:
        """``_fetch_metadata`` with one more attempt when a body broke after its headers; failures as values.

        The flag says whether the answer may be cached. A file not asked for because its host failed earlier in
        this run is remembered as failed for as long as the failure that stopped it: a later run inside that
        window would not ask the host either (it does not ask for that first file), so it gives the same answer,
        and an answer remembered from this run (``analyzer.answers``) stays valid with it.
        """
        for attempt in range(2):
            try:
                return self._fetch_metadata(file, label), True
            except HostDown as exc:
                return self._unavailable(file.project, file.version, f"{label}: {exc}"), True
            except requests.RequestException as exc:
                if attempt == 0 and self.http.retries and body_failed(exc):
                    continue
                what = describe_failure(exc, self.http)
            except OSError as exc:
                what = f"{type(exc).__name__}: {exc}"
            except (WheelMetadataError, SdistError, ValueError) as exc:
                what = str(exc).removeprefix(f"{label}: ")
            break
        return self._unavailable(file.project, file.version, f"{label}: {what}"), True

    def _fetch_metadata(self, file: DistFile, label: str) -> CoreMetadata:
        name, version = file.project, file.version
        if file.metadata_url:
            problem = None
            try:
                data = self._get_bytes(file.metadata_url, label)
                problem = _verify(data, file.metadata_hashes, f"{label}: .metadata file")
            except WheelMetadataError as exc:
                problem = str(exc)
            except requests.RequestException as exc:  # the wheel itself may still answer
                problem = f"{label}: .metadata file: {describe_failure(exc, self.http)}"
            if problem is None:
                return parse_core_metadata(
                    data,
                    name=name,
                    version=version,
                    source="metadata-file",
                    sdist=file.kind is DistKind.SDIST,
                )
            log.debug("%s; reading the distribution itself", self._redact(problem))
        if (
            file.kind is DistKind.SDIST
            and file.url.startswith(("http://", "https://"))
            and not (file.filename.lower().endswith(".zip"))
        ):
            return self._stream_sdist(file, label)
        if file.kind is DistKind.SDIST:
            data = self._get_bytes(file.url, label)
            problem = _verify(data, file.hashes, label)
            if problem:
                return self._unavailable(name, version, problem)
            return parse_core_metadata(
                read_pkg_info(data, file.filename), name=name, version=version, source="sdist", sdist=True
            )
        return self._wheel_metadata(file.url, name, version, label, file.hashes)

    def _stream_sdist(self, file: DistFile, label: str) -> CoreMetadata:
        """PKG-INFO of a remote ``.tar.gz``, reading only up to it (the body is closed early, so its hash
        cannot be checked; the metadata is not executed and comes over the same channel as the page)."""
        response = self.session.get(file.url, timeout=self.http.timeout, stream=True)
        counter = _CountingReader(response, self.http)
        try:
            if response.status_code != 200:
                raise WheelMetadataError(f"{label}: HTTP {response.status_code}")
            data = read_pkg_info_stream(counter, file.filename)
        except _BodyBroke as exc:
            raise exc.cause from None
        finally:
            response.close()
            self.traffic.add(counter.count)
        return parse_core_metadata(data, name=file.project, version=file.version, source="sdist", sdist=True)

    def _wheel_metadata(
        self, url: str, name: NormalizedName, version: Version, label: str, hashes: Any
    ) -> CoreMetadata:
        if url.startswith("file:"):
            path = Path(url2pathname(unquote(urlsplit(url).path)))
            with path.open("rb") as handle:
                data = read_metadata_from_zip(handle, name, label)
            return parse_core_metadata(data, name=name, version=version, source="local")
        try:
            data = fetch_wheel_metadata(self.session, url, name, label, self.traffic, http=self.http)
            source = "range"
        except RangeNotSupported as exc:
            log.debug("%s: the server ignored Range; downloading the whole wheel", label)
            with self._spool(exc.response, label, hashes) as spooled:
                data = read_metadata_from_zip(spooled, name, label)
            source = "download"
        return parse_core_metadata(data, name=name, version=version, source=source)

    @contextmanager
    def _spool(self, response: requests.Response, label: str, hashes: Any) -> Iterator[Any]:
        """Stream a whole body to a temporary file (memory first), checking size and hash on the way."""
        digest = hashlib.sha256()
        total = 0
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spooled:
            try:
                for chunk in iter_body(response, self.http):
                    total += len(chunk)
                    if total > MAX_DOWNLOAD:
                        raise WheelMetadataError(f"{label}: larger than {MAX_DOWNLOAD} bytes, not downloaded")
                    digest.update(chunk)
                    spooled.write(chunk)
            finally:
                response.close()
                self.traffic.add(total)
            expected = dict(hashes or {}).get("sha256")
            if expected and digest.hexdigest() != expected.lower():
                raise WheelMetadataError(f"{label}: sha256 mismatch")
            spooled.seek(0)
            yield spooled

    def _get_bytes(self, url: str, label: str) -> bytes:
        if url.startswith("file:"):
            return Path(url2pathname(unquote(urlsplit(url).path))).read_bytes()
        response = self.session.get(url, timeout=self.http.timeout, stream=True)
        if response.status_code != 200:
            response.close()
            raise WheelMetadataError(f"{label}: HTTP {response.status_code} for {redact_url(url)}")
        with self._spool(response, label, None) as spooled:
            data: bytes = spooled.read()
        return data

    def metadata_for_url(self, name: str, url: str) -> CoreMetadata:
        """Core metadata of a direct reference (``name @ URL``); UNAVAILABLE (an opaque pin) when unreachable."""
        canonical = canonicalize_name(name)
        parts = urlsplit(url)
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        hashes: dict[str, str] = {}
        if parts.fragment and "=" in parts.fragment:
            algo, _, value = parts.fragment.partition("=")
            hashes[algo] = value
        clean_url = url.split("#", 1)[0]
        try:
            if filename.endswith(".whl"):
                _, version, _, _ = parse_wheel_filename(filename)
                kind = DistKind.WHEEL
            else:
                _, version = parse_sdist_filename(filename)
                kind = DistKind.SDIST
        except (InvalidWheelFilename, InvalidSdistFilename):
            return self._unavailable(
                canonical,
                Version("0"),
                f"{canonical} @ {redact_url(url)}: not a wheel or sdist file name; treated as an opaque pin",
            )
        file = DistFile(
            project=canonical,
            version=version,
            filename=filename,
            url=clean_url,
            kind=kind,
            index_url="",
            hashes=hashes,
        )
        meta = self.metadata(file)
        if meta.status is MetadataStatus.UNAVAILABLE:
            return self._unavailable(canonical, version, meta.note + "; treated as an opaque pin")
        return meta

    def prefetch(self, files: Iterable[DistFile]) -> None:
        """Warm the memo and the cache for many files at once (in parallel; cached ones first, in this thread,
        read in a few queries)."""
        todo = {self._metadata_key(f): f for f in files}
        items = {k: f for k, f in todo.items() if k not in self._metadata}
        found = self.cache.get_metadata_many(list(items)) if self.cache is not None and items else {}
        remote = []
        for key, file in items.items():
            row = found.get(key)
            if row is not None and self._usable_record(row[0]):
                try:
                    self._metadata[key] = _from_dict(row[0])
                    self._metadata_stamps[key] = (row[1], row[0].get("exp"))
                    continue
                except (KeyError, ValueError, TypeError):
                    pass
            remote.append(file)
        self._run_parallel(self.metadata, remote, "metadata")

    # -- parallel work -------------------------------------------------------------------------------------
    def _run_parallel(
        self, fn: Callable[[Any], Any], items: list[Any], what: str, *, workers: int | None = None
    ) -> None:
        workers = self.workers if workers is None else workers
        if not items:
            return
        if len(items) == 1 or workers == 1 or getattr(self._worker, "active", False):
            for item in items:
                fn(item)
            return
        show = self.progress and len(items) >= 20 and sys.stderr.isatty()
        failed: list[Any] = []
        limit_heap_growth()  # before the threads: they parse and drop many MB each
        pool = self._executor()
        gate = threading.BoundedSemaphore(workers) if workers < self.workers else None

        def run(item: Any) -> Any:
            if gate is None:
                return fn(item)
            with gate:  # fewer at once than the pool has threads (index pages)
                return fn(item)

        futures = [pool.submit(run, item) for item in items]
        try:
            if show:
                from rich.progress import Progress

                with Progress(transient=True) as progress:
                    task = progress.add_task(f"fetching {what}", total=len(futures))
                    for item, future in zip(items, futures):
                        if future.exception() is not None:
                            failed.append(item)
                        progress.advance(task)
            else:
                failed = [item for item, future in zip(items, futures) if future.exception() is not None]
        except BaseException:  # interrupted: what has not started never will
            for future in futures:
                future.cancel()
            raise
        # A prefetch is a warm-up: whatever failed in a worker thread (CPython 3.11.7 can raise a spurious
        # SystemError from its AST validation under threads) is tried once more here, serially; a second
        # failure is left for the caller's own ``project``/``metadata`` call to meet as a value.
        for item in failed:
            try:
                fn(item)
            except Exception as exc:  # noqa: BLE001
                log.debug("prefetch of %s failed twice: %s: %s", item, type(exc).__name__, exc)
        return_free_memory()
