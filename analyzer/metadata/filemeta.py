"""Core metadata of distribution files and direct references: from memory, the cache, or the network.

From the network: a PEP 658 ``.metadata`` file, else range requests into the wheel, else the whole file (an
sdist's PKG-INFO is read as its archive streams in). A failure is a ``CoreMetadata`` with status UNAVAILABLE; a
success is remembered for ever. A failure is kept in the cache for the freshness window only when it is an answer
about the file (gone, a broken archive, metadata that is not metadata); one met while the network failed (no
connection, a timeout, a busy or refusing server, a host given up) is remembered for this run only, so the next
run asks again.

Every read is bounded: a ``.metadata`` file and METADATA at ``MAX_METADATA_BYTES`` (past it the package is opaque,
whatever the zip entry claims), a whole file at ``MAX_DOWNLOAD`` (spooled to disk past 32 MB), and a ``file://``
reference is opened only when it is a regular file (``open_regular``: a FIFO, a device or a directory is refused).

Contract with the diagnosis: an UNAVAILABLE ``CoreMetadata`` says why in ``source``: ``NETWORK_FAILURE`` (the
network failed in this run: the file may be fine, an answer resting on it may be wrong and must say so),
``OFFLINE_SOURCE`` (not in the cache, offline), ``LOCAL_SOURCE`` (a local file that cannot be read now), and ""
for an answer about the file itself (gone, broken, too large, not metadata).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import requests
from packaging.requirements import Requirement
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.metadata.config import redact_url, secret_tag
from analyzer.metadata.coremeta import (
    MAX_METADATA_BYTES,
    SdistError,
    parse_core_metadata,
    read_pkg_info,
    read_pkg_info_stream,
)
from analyzer.metadata.http import (
    HttpSettings,
    TooLarge,
    Traffic,
    body_failed,
    describe_failure,
    iter_body,
    read_body,
    size_text,
    troubles,
)
from analyzer.metadata.index import open_regular, split_dist_filename
from analyzer.metadata.lazywheel import (
    RangeNotSupported,
    WheelMetadataError,
    fetch_wheel_metadata,
    read_metadata_from_zip,
)
from analyzer.metadata.models import CoreMetadata, DistFile, DistKind, MetadataStatus
from analyzer.metadata.pages import NETWORK_FAILURE, OFFLINE_NOTE
from analyzer.metadata.pool import EngineState, Memo
from analyzer.versions import specifier_of, version_of

__all__ = [
    "LOCAL_SOURCE", "MAX_DOWNLOAD", "NETWORK_FAILURE", "OFFLINE_SOURCE", "FileMetadata", "local_file", "network_failed",
]

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 512 * 1024 * 1024
"""Largest file downloaded whole (a server without Range, an sdist)."""
OFFLINE_SOURCE = "offline"
LOCAL_SOURCE = "local-file"


def network_failed(meta: CoreMetadata) -> bool:
    """Whether ``meta`` is missing because the network failed in this run (see the module's contract)."""
    return meta.status is MetadataStatus.UNAVAILABLE and meta.source == NETWORK_FAILURE

_requirement = functools.cache(Requirement)
"""``Requirement(text)`` once per line: cached records of many releases repeat the same Requires-Dist lines."""
KEPT = "kept"
"""The field that marks a failure stored as an answer about the file; a stored failure without it (written by
an older version, which kept network failures too) is a miss."""


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
    requires = tuple(_requirement(r) for r in d["rd"])
    python = specifier_of(d["rp"]) if d["rp"] is not None else None
    extras = frozenset(NormalizedName(e) for e in d["pe"])
    status = MetadataStatus(d["st"])
    name, version = NormalizedName(d["n"]), version_of(d["v"])
    return CoreMetadata(name, version, requires, python, extras, status, d["src"], d["note"], tuple(d["sk"]))


class _BodyBroke(Exception):
    """A network failure inside an archive reader, carried out of it unchanged."""

    def __init__(self, cause: requests.RequestException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class _CountingReader:
    """A read-only stream over a response's body that counts what passes (for the traffic figures) and
    stops at the answer's deadline, or past ``MAX_DOWNLOAD`` (``TooLarge``)."""

    def __init__(self, response: requests.Response, http: HttpSettings) -> None:
        self.body = iter_body(response, http, MAX_DOWNLOAD, "the file")
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


def _local_path(url: str) -> Path:
    return Path(url2pathname(unquote(urlsplit(url).path)))


def local_file(url: str, limit: int | None = MAX_DOWNLOAD, what: str = "the file") -> IO[bytes]:
    """A ``file://`` URL's file open for reading: a regular file of at most ``limit`` bytes, else
    ``NotARegularFile`` / ``TooLarge`` (a FIFO, a device, a directory is never read)."""
    return open_regular(_local_path(url), limit, what)


def _digest_of(handle: IO[bytes], hashes: Any) -> tuple[str, str, str] | None:
    """(algorithm, actual, expected) for the first hash of ``hashes`` we can check, read from ``handle`` in
    chunks; None when none is checkable."""
    for algo, expected in dict(hashes or {}).items():
        if algo in hashlib.algorithms_guaranteed:
            digest = hashlib.new(algo)
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
            return algo, digest.hexdigest(), str(expected).lower()
    return None


def _verify(data: bytes, hashes: dict[str, str] | Any, label: str) -> str | None:
    """A mismatch message for the first hash we can check, or None when it matches (or none is checkable)."""
    for algo, expected in dict(hashes or {}).items():
        if algo in hashlib.algorithms_guaranteed:
            actual = hashlib.new(algo, data).hexdigest()
            if actual != expected.lower():
                return f"{label}: {algo} mismatch (expected {expected}, got {actual})"
            return None
    return None


class FileMetadata(EngineState):
    """Core metadata of files, memoized for one engine."""

    def __init__(self) -> None:
        self.traffic = Traffic()
        """Requests for distribution files and ``.metadata`` files (what range reads save)."""
        self._metadata: Memo[str, CoreMetadata] = Memo()

    def _metadata_key(self, file: DistFile) -> str:
        sha = dict(file.hashes).get("sha256")
        if sha:
            return f"sha256:{sha.lower()}"
        return f"url:{redact_url(file.url)}{secret_tag(file.url, self.tag_key)}"

    def metadata(self, file: DistFile) -> CoreMetadata:
        """Core metadata of one file; failures come back as a status, not an exception."""
        key = self._metadata_key(file)
        return self._metadata.get(key, lambda: self._load_metadata(file, key))

    def _from_cache(self, key: str, found: tuple[dict[str, Any], float] | None) -> CoreMetadata | None:
        """A cached record, stamped as read; None when absent, unreadable or an expired failure (a success is
        kept for ever, a definite failure until it expires, never offline)."""
        if found is None:
            return None
        record, stored = found
        expires = record.get("exp")
        if expires is not None and (self.offline or time.time() >= expires or not record.get(KEPT)):
            return None
        try:
            meta = _from_dict(record)
        except (KeyError, ValueError, TypeError):
            return None  # an unreadable row is a miss
        self._reads.metadata[key] = (stored, expires)
        return meta

    def _unavailable(self, name: NormalizedName, version: Version, note: str, source: str = "") -> CoreMetadata:
        """``source`` says why (the module's contract): "" for an answer about the file."""
        return CoreMetadata(name, version, status=MetadataStatus.UNAVAILABLE, source=source, note=self._redact(note))

    def _load_metadata(self, file: DistFile, key: str) -> CoreMetadata:
        meta = self._from_cache(key, self.cache.get_metadata_stamped(key)) if self.cache is not None else None
        if meta is not None:
            return meta
        label = f"{file.project} {file.version} ({redact_url(file.url)})"
        if self.offline and not file.url.startswith("file:"):
            self._reads.unstamped.add(key)
            return self._unavailable(file.project, file.version, f"{label}: metadata {OFFLINE_NOTE}", OFFLINE_SOURCE)
        meta, definite = self._fetch_with_retry(file, label)
        stored = None
        if self.cache is not None and (definite or meta.status is not MetadataStatus.UNAVAILABLE):
            record = _to_dict(meta)
            if meta.status is MetadataStatus.UNAVAILABLE:
                record["exp"] = time.time() + self.freshness  # an answer about the file, kept briefly
                record[KEPT] = True
            stored = self.cache.put_metadata(key, record)
            if stored is not None:
                self._reads.metadata[key] = (stored, record.get("exp"))
        if stored is None:
            # not in the cache as read: no answer computed from it is remembered (``analyzer.answers``)
            self._reads.unstamped.add(key)
        if meta.status is MetadataStatus.UNAVAILABLE:
            log.info("%s", meta.note)
        return meta

    def _fetch_with_retry(self, file: DistFile, label: str) -> tuple[CoreMetadata, bool]:
        """``_fetch_metadata`` with one more attempt when a body broke after its headers; failures as values.

        Also whether a failure is definite, an answer about the file that a later run would get too: not a
        network error, and no request on the way met trouble on the wire (``troubles``: a broken ``.metadata``
        file is followed by the wheel, whose own failure then says little).
        """
        before = troubles(self.session)
        source = ""
        for attempt in range(2):
            try:
                return self._fetch_metadata(file, label), troubles(self.session) == before
            except requests.RequestException as exc:  # HostDown too
                if attempt == 0 and self.http.retries and body_failed(exc):
                    continue
                what, source = describe_failure(exc, self.http), NETWORK_FAILURE
            except OSError as exc:  # a local file that cannot be read now, or is no regular file
                what, source = str(exc) if exc.errno is None else f"{type(exc).__name__}: {exc}", LOCAL_SOURCE
            except (WheelMetadataError, SdistError, TooLarge, ValueError) as exc:
                what = str(exc).removeprefix(f"{label}: ")
            break
        definite = not source and troubles(self.session) == before
        if not source and not definite:
            source = NETWORK_FAILURE  # an earlier step failed on the wire: this failure may be its consequence
        return self._unavailable(file.project, file.version, f"{label}: {what}", source), definite

    def _fetch_metadata(self, file: DistFile, label: str) -> CoreMetadata:
        name, version = file.project, file.version
        if file.metadata_url:
            problem = None
            try:
                data = self._get_bytes(file.metadata_url, label, MAX_METADATA_BYTES, "the .metadata file")
                problem = _verify(data, file.metadata_hashes, f"{label}: .metadata file")
            except TooLarge as exc:  # the wheel's METADATA is the same bytes (PEP 658): not asked for
                raise WheelMetadataError(f"{label}: {exc}; not metadata") from exc
            except WheelMetadataError as exc:
                problem = str(exc)
            except requests.RequestException as exc:  # the wheel itself may still answer
                problem = f"{label}: .metadata file: {describe_failure(exc, self.http)}"
            if problem is None:
                sdist = file.kind is DistKind.SDIST
                return parse_core_metadata(data, name=name, version=version, source="metadata-file", sdist=sdist)
            log.debug("%s; reading the distribution itself", self._redact(problem))
        if file.kind is DistKind.SDIST:
            if file.url.startswith(("http://", "https://")) and not file.filename.lower().endswith(".zip"):
                return self._stream_sdist(file, label)
            with self._whole_file(file.url, label, file.hashes) as whole:
                pkg_info = read_pkg_info(whole, file.filename)
            return parse_core_metadata(pkg_info, name=name, version=version, source="sdist", sdist=True)
        return self._wheel_metadata(file, label)

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

    def _wheel_metadata(self, file: DistFile, label: str) -> CoreMetadata:
        name = file.project
        if file.url.startswith("file:"):
            with local_file(file.url) as handle:
                data = read_metadata_from_zip(handle, name, label)
            source = "local"
        else:
            try:
                data = fetch_wheel_metadata(self.session, file.url, name, label, self.traffic, http=self.http)
                source = "range"
            except RangeNotSupported as exc:
                log.debug("%s: the server ignored Range; downloading the whole wheel", label)
                with self._spool(exc.response, label, file.hashes) as spooled:
                    data = read_metadata_from_zip(spooled, name, label)
                source = "download"
        return parse_core_metadata(data, name=name, version=file.version, source=source)

    @contextmanager
    def _spool(self, response: requests.Response, label: str, hashes: Any) -> Iterator[Any]:
        """Stream a whole body to a temporary file (memory first), checking size and hash on the way."""
        digest = hashlib.sha256()
        total = 0
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as spooled:
            try:
                for chunk in iter_body(response, self.http, MAX_DOWNLOAD, "the file"):
                    total += len(chunk)
                    digest.update(chunk)
                    spooled.write(chunk)
            except TooLarge as exc:
                raise WheelMetadataError(f"{label}: {exc}") from exc
            finally:
                response.close()
                self.traffic.add(total)
            expected = dict(hashes or {}).get("sha256")
            if expected and digest.hexdigest() != expected.lower():
                raise WheelMetadataError(f"{label}: sha256 mismatch")
            spooled.seek(0)
            yield spooled

    @contextmanager
    def _whole_file(self, url: str, label: str, hashes: Any) -> Iterator[IO[bytes]]:
        """A whole distribution file, seekable, its hash checked: a local regular file, or a download spooled."""
        if url.startswith("file:"):
            with local_file(url) as handle:
                digest = _digest_of(handle, hashes)
                if digest is not None and digest[1] != digest[2]:
                    raise WheelMetadataError(f"{label}: {digest[0]} mismatch (expected {digest[2]}, got {digest[1]})")
                handle.seek(0)
                yield handle
            return
        response = self.session.get(url, timeout=self.http.timeout, stream=True)
        if response.status_code != 200:
            response.close()
            raise WheelMetadataError(f"{label}: HTTP {response.status_code}")
        with self._spool(response, label, hashes) as spooled:
            yield spooled

    def _get_bytes(self, url: str, label: str, limit: int, what: str) -> bytes:
        """A small file whole (a ``.metadata`` file), at most ``limit`` bytes (``TooLarge`` past it)."""
        if url.startswith("file:"):
            with local_file(url, limit, what) as handle:
                data = handle.read(limit + 1)
            if len(data) > limit:
                raise TooLarge(f"{what} is larger than {size_text(limit)}")
            return data
        response = self.session.get(url, timeout=self.http.timeout, stream=True)
        if response.status_code != 200:
            response.close()
            raise WheelMetadataError(f"{label}: HTTP {response.status_code} for {redact_url(url)}")
        try:
            body = read_body(response, self.http, limit, what)
        finally:
            response.close()
        self.traffic.add(len(body))
        return body

    def metadata_for_url(self, name: str, url: str) -> CoreMetadata:
        """Core metadata of a direct reference (``name @ URL``); UNAVAILABLE (an opaque pin) when unreachable."""
        canonical = canonicalize_name(name)
        parts = urlsplit(url)
        filename = unquote(parts.path.rsplit("/", 1)[-1])
        hashes: dict[str, str] = {}
        if parts.fragment and "=" in parts.fragment:
            algo, _, value = parts.fragment.partition("=")
            hashes[algo] = value
        try:
            parsed = split_dist_filename(filename)
        except (InvalidWheelFilename, InvalidSdistFilename):
            parsed = None
        if parsed is None:
            return self._unavailable(
                canonical,
                Version("0"),
                f"{canonical} @ {redact_url(url)}: not a wheel or sdist file name; treated as an opaque pin",
            )
        _, version, kind = parsed
        meta = self.metadata(DistFile(canonical, version, filename, url.split("#", 1)[0], kind, "", hashes=hashes))
        if meta.status is MetadataStatus.UNAVAILABLE:
            return self._unavailable(canonical, version, meta.note + "; treated as an opaque pin", meta.source)
        return meta

    def prefetch(self, files: Iterable[DistFile]) -> None:
        """Warm the memo and the cache for many files at once (in parallel; cached ones first, in this thread,
        read in a few queries)."""
        todo = {self._metadata_key(f): f for f in files}
        items = {k: f for k, f in todo.items() if k not in self._metadata}
        found = self.cache.get_metadata_many(list(items)) if self.cache is not None and items else {}
        remote = []
        for key, file in items.items():
            meta = self._from_cache(key, found.get(key))
            if meta is None:
                remote.append(file)
            else:
                self._metadata.values[key] = meta
        self.pool.run(self.metadata, remote, "metadata")
