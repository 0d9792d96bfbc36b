"""Read one member of a remote zip with HTTP range requests, as pip's ``lazy_wheel`` does.

One suffix range fetches the tail (usually the whole central directory, and METADATA too: most wheels write
``*.dist-info`` last); ``zipfile`` parses it through a sparse file that fetches any missing range on demand.

Every read is bounded whatever the server or the zip claims: a range answer is read up to the bytes asked (one
that sends more is cut, a failure of that file), one range at most ``MAX_RANGE_BYTES``, and METADATA is inflated
up to ``MAX_METADATA_BYTES`` however small its entry says it is.
"""

from __future__ import annotations

import bisect
import io
import logging
import re
import zipfile
from collections.abc import Callable
from typing import IO

import requests
from packaging.utils import NormalizedName

from analyzer.metadata.coremeta import MAX_METADATA_BYTES, find_metadata_member
from analyzer.metadata.http import HttpSettings, TooLarge, Traffic, read_body, size_text

__all__ = ["RangeNotSupported", "WheelMetadataError", "fetch_wheel_metadata", "read_metadata_from_zip"]

log = logging.getLogger(__name__)

TAIL_BYTES = 32 * 1024
"""The first, suffix range: it holds METADATA and the central directory of most wheels; a larger one would cost
more bytes than the requests it saves (``scripts/bench_metadata.py`` counts both)."""
MAX_RANGE_BYTES = 64 * 1024 * 1024
"""Largest single range fetched (a central directory, METADATA's compressed bytes): a zip needing more is not a
wheel worth reading by range."""
MEMBER_SLACK = 1024
"""Extra bytes fetched past a member's compressed data: the local header's extra field is not in the directory."""
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


class RangeNotSupported(Exception):
    """The server answered a range request with the whole file; ``response`` is still open for streaming."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__("range request answered with 200")
        self.response = response


class WheelMetadataError(Exception):
    """The zip has no usable METADATA, or its directory is corrupt."""


class _SparseFile(io.RawIOBase):
    """A read-only file of known length whose bytes are fetched by range when first read."""

    def __init__(self, length: int, fetch: Callable[[int, int], bytes]) -> None:
        self._length = length
        self._fetch = fetch
        self._starts: list[int] = []
        self._chunks: dict[int, bytes] = {}
        self._pos = 0

    def add(self, start: int, data: bytes) -> None:
        if start not in self._chunks or len(self._chunks[start]) < len(data):
            if start not in self._chunks:
                bisect.insort(self._starts, start)
            self._chunks[start] = data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = self._length + offset
        self._pos = max(0, self._pos)
        return self._pos

    def _covered(self, start: int, end: int) -> bytes | None:
        i = bisect.bisect_right(self._starts, start) - 1
        if i < 0:
            return None
        chunk_start = self._starts[i]
        chunk = self._chunks[chunk_start]
        if chunk_start + len(chunk) >= end:
            return chunk[start - chunk_start : end - chunk_start]
        return None

    def ensure(self, start: int, end: int) -> None:
        """Make bytes [start, end) available, fetching only the part not yet held (one request)."""
        end = min(end, self._length)
        if start >= end or self._covered(start, end) is not None:
            return
        # Shrink the request to what is missing at either end (the usual case is one gap).
        i = bisect.bisect_right(self._starts, start) - 1
        fetch_start = start
        if i >= 0:
            cs = self._starts[i]
            fetch_start = max(start, cs + len(self._chunks[cs]))
        data = self._fetch(fetch_start, end)
        if fetch_start > start:
            head = self._covered(start, fetch_start) or b""
            data = head + data
        self.add(start, data)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._length - self._pos
        end = min(self._pos + size, self._length)
        if end <= self._pos:
            return b""
        self.ensure(self._pos, end)
        data = self._covered(self._pos, end) or b""
        self._pos += len(data)
        return data


def read_metadata_from_zip(fileobj: IO[bytes] | io.RawIOBase, name: NormalizedName, label: str) -> bytes:
    """METADATA of a wheel open as a seekable file (local, downloaded or sparse)."""
    try:
        with zipfile.ZipFile(fileobj) as zf:
            member = find_metadata_member(zf.namelist(), name)
            if member is None:
                raise WheelMetadataError(f"{label}: no *.dist-info/METADATA in the wheel")
            info = zf.getinfo(member)
            if max(info.file_size, info.compress_size) > MAX_METADATA_BYTES:
                size = max(info.file_size, info.compress_size)
                raise WheelMetadataError(
                    f"{label}: METADATA is implausibly large ({size} bytes, more than {size_text(MAX_METADATA_BYTES)})"
                )
            if isinstance(fileobj, _SparseFile):
                header_end = info.header_offset + 30 + len(info.orig_filename.encode()) + MEMBER_SLACK
                fileobj.ensure(info.header_offset, header_end + info.compress_size)
            with zf.open(info) as handle:
                # inflated in bounded steps: an entry claiming fewer bytes than it holds stops at its claim (and
                # fails its CRC), one holding more than the limit at the limit
                data = handle.read(MAX_METADATA_BYTES + 1)
            if len(data) > MAX_METADATA_BYTES:
                raise WheelMetadataError(
                    f"{label}: METADATA is implausibly large (more than {size_text(MAX_METADATA_BYTES)})"
                )
            return data
    except (
        zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, KeyError, NotImplementedError
    ) as exc:
        raise WheelMetadataError(f"{label}: not a readable zip ({exc})") from exc


def fetch_wheel_metadata(
    session: requests.Session,
    url: str,
    name: NormalizedName,
    label: str,
    traffic: Traffic,
    *,
    http: HttpSettings | None = None,
) -> bytes:
    """METADATA of a remote wheel through range requests; ``RangeNotSupported`` when the server sends it all."""
    http = http or HttpSettings()

    def get(span: str) -> requests.Response:
        headers = {"Range": f"bytes={span}", "Accept-Encoding": "identity"}
        return session.get(url, headers=headers, timeout=http.timeout, stream=True)

    response = get(f"-{TAIL_BYTES}")
    if response.status_code == 200:
        raise RangeNotSupported(response)
    try:
        if response.status_code >= 400:
            raise WheelMetadataError(f"{label}: HTTP {response.status_code}")
        if response.status_code != 206:
            raise WheelMetadataError(f"{label}: unexpected HTTP {response.status_code} to a range request")
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if match is None or match.group(3) == "*":
            raise WheelMetadataError(f"{label}: range answer without a usable Content-Range")
        tail = read_body(response, http, TAIL_BYTES, "the range answer")
    except TooLarge as exc:
        raise WheelMetadataError(f"{label}: the range answer is longer than the {TAIL_BYTES} bytes asked") from exc
    finally:
        response.close()
    traffic.add(len(tail))
    start, total = int(match.group(1)), int(match.group(3))
    if len(tail) != int(match.group(2)) - start + 1:
        raise WheelMetadataError(f"{label}: truncated range answer")

    def fetch(a: int, b: int) -> bytes:
        if b - a > MAX_RANGE_BYTES:
            raise WheelMetadataError(
                f"{label}: the zip asks for {size_text(b - a)} in one range, more than {size_text(MAX_RANGE_BYTES)}"
            )
        r = get(f"{a}-{b - 1}")
        try:
            if r.status_code != 206:
                raise WheelMetadataError(f"{label}: HTTP {r.status_code} to a range request")
            data = read_body(r, http, b - a, "the range answer")
        except TooLarge as exc:
            raise WheelMetadataError(f"{label}: the range answer is longer than the {b - a} bytes asked") from exc
        finally:
            r.close()
        traffic.add(len(data))
        if len(data) != b - a:
            raise WheelMetadataError(f"{label}: truncated range answer ({len(data)} of {b - a} bytes)")
        return data

    sparse = _SparseFile(total, fetch)
    sparse.add(start, tail)
    return read_metadata_from_zip(sparse, name, label)
