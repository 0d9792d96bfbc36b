"""An in-process package index on a real socket (127.0.0.1) for the default, offline test tier.

It serves PEP 691 JSON or PEP 503 HTML project pages (switchable), files built by ``tests/wheelfactory.py``,
PEP 658 ``.metadata`` files for some, HTTP Range per file (switchable), ETag / 304 on pages, and the recorded
real metadata of ``tests/data/index/`` (as ``.metadata`` files and tiny wheels generated on the fly). It counts
requests and bytes per path so tests can assert what was read, and has a per-path fault hook for issue 7 with
ready-made faults (``status_fault``, ``slow_headers``, ``slow_body``, ``trickle``, ``truncated_body``,
``wrong_length``, ``replace_body``, ``whole_file``, ``redirect_loop``, ``drop_connection``), hostile answers for
issue 16 (``endless_body``: a page or a range answer that never ends; ``gzip_bomb``; ``lying_wheel``: a METADATA
entry that claims a few bytes and inflates to many), a fault for every path (``FixtureIndex.every``: an always-busy
index), made-up host names that resolve as a test says (``made_up_hosts``: a failing DNS lookup, a resolver that
fails temporarily, a host that comes back); ``running_index()`` starts a second index in a test, ``black_hole()`` a
host that accepts connections and never answers.

Usage: ``from tests.indexserver import index_server`` in a test module, then take the ``index_server`` fixture.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import io
import json
import re
import socket
import struct
import threading
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

from tests.wheelfactory import Built, make_sdist, make_wheel, metadata_text

__all__ = [
    "RECORDED",
    "BlackHole",
    "Fault",
    "FileEntry",
    "FixtureIndex",
    "MadeUpHosts",
    "RequestLog",
    "black_hole",
    "drop_connection",
    "endless_body",
    "gzip_bomb",
    "index_server",
    "lying_wheel",
    "made_up_hosts",
    "redirect_loop",
    "replace_body",
    "running_index",
    "slow_body",
    "slow_headers",
    "status_fault",
    "trickle",
    "truncated_body",
    "whole_file",
    "wrong_length",
]

RECORDED = Path(__file__).parent / "data" / "index"

Fault = Callable[["_Handler"], bool]
"""A fault hook: gets the request handler; returns True when it answered (or dropped) the request itself."""


@dataclass
class FileEntry:
    project: str
    filename: str
    data: bytes | Callable[[], bytes]
    metadata: bytes | None = None
    upload_time: datetime | None = None
    requires_python: str | None = None
    yanked: str | None = None
    metadata_file: bool = False
    metadata_hash: str | None = None
    range_ok: bool = True
    with_hash: bool = True
    size: int | None = None
    url: str | None = None
    """Where the page says the file is, when not on this server (a closed port, another host)."""

    def content(self) -> bytes:
        if callable(self.data):
            self.data = self.data()
        return self.data


@dataclass(frozen=True)
class RequestLog:
    method: str
    path: str
    range: str | None
    status: int
    sent: int


@dataclass
class FixtureIndex:
    """The index's content and switches; the server reads it on every request (tests may change it live)."""

    base_url: str = ""
    mode: str = "json"
    """``json`` (PEP 691), ``html`` (PEP 503) or ``negotiate`` (whatever the Accept header prefers)."""
    files: dict[str, FileEntry] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    every: Fault | None = None
    """The fault of every path without one of its own in ``faults``."""
    log: list[RequestLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    """Connections accepted (a client that reuses its connections opens few)."""

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple/"

    # -- content -----------------------------------------------------------------------------------------
    def add(
        self,
        built: Built,
        *,
        upload_time: datetime | None = None,
        requires_python: str | None = None,
        yanked: str | None = None,
        metadata_file: bool = False,
        range_ok: bool = True,
        with_hash: bool = True,
        metadata_hash: str | None = None,
        project: str | None = None,
    ) -> FileEntry:
        """Serve ``built``; ``project`` names its project when the file name does not parse (a bad-input test)."""
        if project is not None:
            project = canonicalize_name(project)
        elif built.filename.endswith(".whl"):
            project = parse_wheel_filename(built.filename)[0]
        else:
            project = parse_sdist_filename(built.filename)[0]
        entry = FileEntry(
            project=project,
            filename=built.filename,
            data=built.data,
            metadata=built.metadata,
            upload_time=upload_time,
            requires_python=requires_python,
            yanked=yanked,
            metadata_file=metadata_file,
            range_ok=range_ok,
            with_hash=with_hash,
            metadata_hash=metadata_hash or hashlib.sha256(built.metadata).hexdigest(),
        )
        self.files[built.filename] = entry
        return entry

    def wheel(
        self, name: str, version: str, requires: tuple[str, ...] | list[str] = (), **kw: Any
    ) -> FileEntry:
        """Shortcut: build a wheel and add it (wheel options and ``add`` options both accepted)."""
        build_keys = {"requires_python", "extras", "tag", "padding", "zip64", "metadata", "with_metadata"}
        built = make_wheel(name, version, requires, **{k: v for k, v in kw.items() if k in build_keys})
        add_keys = {k: v for k, v in kw.items() if k not in build_keys or k == "requires_python"}
        return self.add(built, **add_keys)

    def sdist(
        self, name: str, version: str, requires: tuple[str, ...] | list[str] = (), **kw: Any
    ) -> FileEntry:
        build_keys = {"requires_python", "metadata_version", "dynamic", "fmt", "marker_path", "padding"}
        built = make_sdist(name, version, requires, **{k: v for k, v in kw.items() if k in build_keys})
        add_keys = {k: v for k, v in kw.items() if k not in build_keys or k == "requires_python"}
        return self.add(built, **add_keys)

    def add_recorded(self, folder: Path = RECORDED, projects: set[str] | None = None) -> int:
        """Serve recorded real metadata: each file with a ``.metadata`` file and a tiny wheel/sdist made on demand."""
        count = 0
        for path in sorted(folder.glob("*.json.gz")):
            record = json.loads(gzip.decompress(path.read_bytes()))
            name = record["name"]
            if projects is not None and name not in projects:
                continue
            for row in record["files"]:
                filename, version, rp, yanked, upload, size = row
                meta_rec = record["metadata"].get(version)
                meta = None
                if meta_rec is not None:
                    meta = metadata_text(
                        name,
                        version,
                        meta_rec.get("requires_dist", ()),
                        meta_rec.get("requires_python"),
                        meta_rec.get("provides_extra", ()),
                        metadata_version="2.1" if filename.endswith(".whl") else "2.2",
                        dynamic=("Requires-Dist",) if meta_rec.get("unknown") else (),
                    )
                data = _lazy(filename, name, version, meta)
                self.files[filename] = FileEntry(
                    project=name,
                    filename=filename,
                    data=data,
                    metadata=meta,
                    upload_time=datetime.fromisoformat(upload) if upload else None,
                    requires_python=rp,
                    yanked=yanked,
                    metadata_file=meta is not None,
                    with_hash=False,
                    metadata_hash=hashlib.sha256(meta).hexdigest() if meta is not None else None,
                    size=size,
                )
                count += 1
        return count

    # -- observation -------------------------------------------------------------------------------------
    def requests_for(self, prefix: str) -> list[RequestLog]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def bytes_for(self, prefix: str) -> int:
        return sum(r.sent for r in self.requests_for(prefix))

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    # -- pages -------------------------------------------------------------------------------------------
    def project_files(self, project: str) -> list[FileEntry]:
        return [f for f in self.files.values() if f.project == project]

    def page_json(self, project: str) -> bytes:
        files = []
        for f in sorted(self.project_files(project), key=lambda f: f.filename):
            item: dict[str, Any] = {
                "filename": f.filename,
                "url": f.url or f"{self.base_url}/files/{f.filename}",
            }
            item["hashes"] = {"sha256": hashlib.sha256(f.content()).hexdigest()} if f.with_hash else {}
            if f.requires_python:
                item["requires-python"] = f.requires_python
            item["yanked"] = f.yanked if f.yanked else f.yanked == ""
            if f.upload_time:
                item["upload-time"] = f.upload_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            item["size"] = f.size if f.size is not None else len(f.content())
            if f.metadata_file:
                item["core-metadata"] = {"sha256": f.metadata_hash}
                item["data-dist-info-metadata"] = item["core-metadata"]
            files.append(item)
        body = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
        return json.dumps(body).encode()

    def page_html(self, project: str) -> bytes:
        links = []
        for f in sorted(self.project_files(project), key=lambda f: f.filename):
            href = f.url or f"{self.base_url}/files/{f.filename}"
            if f.with_hash:
                href += f"#sha256={hashlib.sha256(f.content()).hexdigest()}"
            attrs = [f'href="{html.escape(href)}"']
            if f.requires_python:
                attrs.append(f'data-requires-python="{html.escape(f.requires_python)}"')
            if f.yanked is not None:
                attrs.append(f'data-yanked="{html.escape(f.yanked)}"')
            if f.metadata_file:
                attrs.append(f'data-core-metadata="sha256={f.metadata_hash}"')
                attrs.append(f'data-dist-info-metadata="sha256={f.metadata_hash}"')
            links.append(f"<a {' '.join(attrs)}>{html.escape(f.filename)}</a><br/>")
        text = (
            '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1">'
            f"<title>Links for {project}</title></head><body><h1>Links for {project}</h1>"
            + "\n".join(links)
            + "</body></html>"
        )
        return text.encode()


def _lazy(filename: str, name: str, version: str, meta: bytes | None) -> Callable[[], bytes]:
    def build() -> bytes:
        if filename.endswith(".whl"):
            tag = "-".join(filename[:-4].split("-")[-3:])
            if meta is None:
                return make_wheel(name, version, tag=tag, with_metadata=False).data
            return make_wheel(name, version, tag=tag, metadata=meta).data
        return make_sdist(name, version, metadata_version="1.0").data

    return build


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.index.lock:
            self.index.connections += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def index(self) -> FixtureIndex:
        return self.server.index

    def send_body(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # recorded before the last bytes go: a client that has its answer may count the requests at once
        self.record(status, len(body) if self.command != "HEAD" else 0)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def record(self, status: int, sent: int) -> None:
        if getattr(self, "_capturing", False):
            return
        with self.index.lock:
            self.index.log.append(
                RequestLog(self.command, self.path, self.headers.get("Range"), status, sent)
            )

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        fault = self.index.faults.get(path, self.index.every)
        if fault is not None and fault(self):
            return
        self.route(path)

    def route(self, path: str) -> None:
        """The normal answer (what a fault hook may capture and then spoil)."""
        if path.startswith("/simple/"):
            self.serve_page(path)
        elif path.startswith("/files/"):
            self.serve_file(path[len("/files/") :])
        else:
            self.send_body(404, b"not found", "text/plain")

    def serve_page(self, path: str) -> None:
        parts = [p for p in path.split("/") if p]
        if len(parts) != 2:
            self.send_body(404, b"not found", "text/plain")
            return
        project = parts[1]
        if canonicalize_name(project) != project:
            self.send_response(301)
            self.send_header("Location", f"/simple/{canonicalize_name(project)}/")
            self.send_header("Content-Length", "0")
            self.record(301, 0)
            self.end_headers()
            return
        if not self.index.project_files(project):
            self.send_body(404, b"no such project", "text/plain")
            return
        mode = self.index.mode
        if mode == "negotiate":
            accept = self.headers.get("Accept", "")
            mode = "json" if "application/vnd.pypi.simple.v1+json" in accept else "html"
        if mode == "json":
            body, ctype = self.index.page_json(project), "application/vnd.pypi.simple.v1+json"
        else:
            body, ctype = self.index.page_html(project), "text/html; charset=utf-8"
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.record(304, 0)
            self.end_headers()
            return
        self.send_body(200, body, ctype, {"ETag": etag})

    def serve_file(self, filename: str) -> None:
        if filename.endswith(".metadata"):
            entry = self.index.files.get(filename[: -len(".metadata")])
            if entry is None or not entry.metadata_file or entry.metadata is None:
                self.send_body(404, b"not found", "text/plain")
                return
            self.send_body(200, entry.metadata, "text/plain")
            return
        entry = self.index.files.get(filename)
        if entry is None:
            self.send_body(404, b"not found", "text/plain")
            return
        data = entry.content()
        wanted = self.headers.get("Range")
        match = _RANGE.fullmatch(wanted.strip()) if wanted else None
        if not entry.range_ok or match is None:
            self.send_body(
                200,
                data,
                "application/octet-stream",
                {"Accept-Ranges": "none" if not entry.range_ok else "bytes"},
            )
            return
        first, last = match.groups()
        total = len(data)
        if first == "":
            start, end = max(0, total - int(last)), total - 1
        else:
            start, end = int(first), min(int(last) if last else total - 1, total - 1)
        if start > end or start >= total:
            self.send_body(416, b"", "text/plain", {"Content-Range": f"bytes */{total}"})
            return
        self.send_body(
            206,
            data[start : end + 1],
            "application/octet-stream",
            {"Content-Range": f"bytes {start}-{end}/{total}", "Accept-Ranges": "bytes"},
        )

    def capture(self) -> tuple[int, dict[str, str], bytes]:
        """The normal answer to this request as (status, headers, body), not sent: a fault hook's raw material."""
        real = self.wfile
        buffer = io.BytesIO()
        self.wfile = buffer
        self._capturing = True
        try:
            self.route(self.path.split("?", 1)[0])
        finally:
            self.wfile = real
            self._capturing = False
            self._headers_buffer: list[bytes] = []
        head, _, body = buffer.getvalue().partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return status, headers, body

    def send_raw(self, status: int, headers: dict[str, str], body: bytes, *, sent: int | None = None) -> None:
        """Send exactly these headers and the first ``sent`` bytes of ``body`` (all by default), then hang up
        when cut short; errors of a client that has gone away are ignored."""
        part = body if sent is None else body[:sent]
        self.record(status, len(part))
        try:
            self.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("server", "date"):
                    self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(part)
                self.wfile.flush()
        except OSError:
            pass
        if sent is not None:
            self.close_connection = True


# -- fault hooks (issue 7): each returns a ``Fault`` for ``FixtureIndex.faults[path]`` -------------------------


def status_fault(
    status: int, headers: dict[str, str] | None = None, *, times: int | None = None, body: bytes = b"fault"
) -> Fault:
    """Answer ``status`` (with ``headers``), every time or the first ``times`` times, then normally."""
    count = [0]

    def fault(handler: _Handler) -> bool:
        if times is not None and count[0] >= times:
            return False
        count[0] += 1
        handler.send_body(status, body, "text/plain", headers)
        return True

    return fault


def _sleep_quietly(handler: _Handler, seconds: float) -> None:
    """Sleep, but stop early when the server shuts down (a test's end), so no thread outlives its test."""
    handler.server.stopping.wait(seconds)


def slow_headers(seconds: float) -> Fault:
    """Say nothing for ``seconds`` (a server that accepted the connection and stalls), then answer normally."""

    def fault(handler: _Handler) -> bool:
        handler.record(0, 0)  # logged on arrival: a client that gave up leaves no other trace
        _sleep_quietly(handler, seconds)
        if handler.server.stopping.is_set():
            handler.close_connection = True
            return True
        return False

    return fault


def slow_body(seconds: float, after: int = 10) -> Fault:
    """Send the normal headers and ``after`` bytes of the body, stall ``seconds``, then send the rest."""

    def fault(handler: _Handler) -> bool:
        status, headers, body = handler.capture()
        handler.send_raw(status, headers, body, sent=after)
        handler.close_connection = True
        _sleep_quietly(handler, seconds)
        if not handler.server.stopping.is_set():
            try:
                handler.wfile.write(body[after:])
            except OSError:
                pass
        return True

    return fault


def trickle(delay: float, step: int = 1) -> Fault:
    """The normal answer, ``step`` bytes every ``delay`` seconds: each read is quick, the whole answer is not."""

    def fault(handler: _Handler) -> bool:
        status, headers, body = handler.capture()
        handler.send_raw(status, headers, b"", sent=0)
        handler.close_connection = True
        for at in range(0, len(body), step):
            if handler.server.stopping.wait(delay):
                break
            try:
                handler.wfile.write(body[at : at + step])
                handler.wfile.flush()
            except OSError:
                break
        return True

    return fault


def truncated_body(keep: float = 0.5) -> Fault:
    """The normal headers (Content-Length of the whole body), a fraction of the body, then the connection closes."""

    def fault(handler: _Handler) -> bool:
        status, headers, body = handler.capture()
        handler.send_raw(status, headers, body, sent=int(len(body) * keep))
        return True

    return fault


def wrong_length(delta: int) -> Fault:
    """The whole body under a Content-Length off by ``delta`` bytes (more: the client waits for bytes that
    never come until the connection closes; fewer: the body is cut where the header says)."""

    def fault(handler: _Handler) -> bool:
        status, headers, body = handler.capture()
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["Content-Length"] = str(max(0, len(body) + delta))
        handler.send_raw(status, headers, body)
        handler.close_connection = True
        return True

    return fault


def replace_body(body: bytes, content_type: str, status: int = 200) -> Fault:
    """Answer ``body`` (invalid JSON, broken HTML, a zip without METADATA...) with ``content_type``."""

    def fault(handler: _Handler) -> bool:
        handler.send_body(status, body, content_type)
        return True

    return fault


def whole_file() -> Fault:
    """Ignore a Range header: 200 with the whole file, while claiming ``Accept-Ranges: bytes``."""

    def fault(handler: _Handler) -> bool:
        del handler.headers["Range"]
        return False

    return fault


def redirect_loop() -> Fault:
    """Send the client back where it came from, for ever."""

    def fault(handler: _Handler) -> bool:
        handler.send_body(302, b"", "text/plain", {"Location": handler.path})
        return True

    return fault


def drop_connection() -> Fault:
    """Close the connection without a word (a proxy or a load balancer that gave up)."""

    def fault(handler: _Handler) -> bool:
        handler.close_connection = True
        handler.record(0, 0)
        return True

    return fault


# -- hostile answers (issue 16) ----------------------------------------------------------------------------------


def endless_body(
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    prefix: bytes = b"",
    filler: bytes = b"x" * 65536,
) -> Fault:
    """``prefix``, then ``filler`` again and again until the client hangs up (no Content-Length: the body ends
    only when the connection does). The bytes sent are counted in the log when the client has gone."""

    def fault(handler: _Handler) -> bool:
        sent = 0
        handler.close_connection = True
        try:
            handler.send_response(status)
            for k, v in (headers or {}).items():
                handler.send_header(k, v)
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(prefix)
            sent += len(prefix)
            while not handler.server.stopping.is_set():
                handler.wfile.write(filler)
                sent += len(filler)
        except OSError:
            pass
        handler.record(status, sent)
        return True

    return fault


def gzip_bomb(content_type: str, megabytes: int, *, layers: int = 1) -> Fault:
    """A small gzip-encoded answer that inflates to ``megabytes`` MB of spaces (members of 1 MB each, which gzip
    allows one after another), with an honest Content-Length of the compressed bytes; ``layers`` times gzipped
    (``Content-Encoding: gzip, gzip``)."""
    member = gzip.compress(b" " * (1024 * 1024), compresslevel=9)
    body = member * megabytes
    for _ in range(layers - 1):
        body = gzip.compress(body, compresslevel=9)
    encoding = ", ".join(["gzip"] * layers)

    def fault(handler: _Handler) -> bool:
        handler.send_body(200, body, content_type, {"Content-Encoding": encoding})
        return True

    return fault


def lying_wheel(name: str, version: str, *, claims: int = 200, inflates_to: int = 64 * 1024 * 1024) -> Built:
    """A wheel whose METADATA entry claims ``claims`` bytes (in its local header and in the central directory)
    while its deflated data inflates to ``inflates_to`` bytes: a real METADATA padded with a long description."""
    plain = make_wheel(name, version)
    head = metadata_text(name, version)
    member = f"{canonicalize_name(name).replace('-', '_')}-{version}.dist-info/METADATA"
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.data)) as src, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in src.infolist():
            if info.filename != member:
                out.writestr(info, src.read(info))
                continue
            with out.open(member, "w") as sink:  # the archive's compression, at its fastest level
                sink.write(head)
                block = b" " * (1024 * 1024)
                blocks, rest = divmod(inflates_to - len(head), len(block))
                for _ in range(blocks):
                    sink.write(block)  # streamed: the test never holds the inflated bytes either
                sink.write(block[:rest])
    data = bytearray(buffer.getvalue())
    _patch_sizes(data, member.encode(), claims)
    return Built(plain.filename, bytes(data), head)


def _patch_sizes(data: bytearray, member: bytes, claims: int) -> None:
    """Make the uncompressed size of ``member`` read ``claims`` in its local header and its directory entry."""
    for signature, name_at, size_at in ((b"PK\x03\x04", 26, 22), (b"PK\x01\x02", 28, 24)):
        fixed = 30 if signature == b"PK\x03\x04" else 46
        at = data.find(signature)
        while at >= 0:
            name_len = struct.unpack_from("<H", data, at + name_at)[0]
            if data[at + fixed : at + fixed + name_len] == member:
                struct.pack_into("<L", data, at + size_at, claims)
                break
            at = data.find(signature, at + 4)


@dataclass
class BlackHole:
    """A host that accepts connections and never says a word: its URL and the connections it took."""

    base_url: str
    held: list[socket.socket] = field(default_factory=list)

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/simple/"


@contextmanager
def black_hole() -> Iterator[BlackHole]:
    """A host that accepts connections and never says a word (nor reads one) until the block ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.05)
    hole = BlackHole(f"http://127.0.0.1:{listener.getsockname()[1]}")
    held = hole.held
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield hole
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


class MadeUpHosts:
    """Host names a test makes up (``*.test``), resolved as it says without asking any DNS server: to a port of
    this machine, or not at all (the lookup fails as a DNS failure does). Other names resolve as usual.
    ``flaky[name] = n``: the next ``n`` lookups of ``name`` fail temporarily (EAI_AGAIN, a flooded resolver);
    ``lookups`` counts the lookups of each made-up name."""

    def __init__(self) -> None:
        self.ports: dict[str, int | None] = {}
        self.flaky: dict[str, int] = {}
        self.lookups: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in self.ports:
            return self._real(host, port, *args, **kw)
        with self._lock:
            self.lookups[name] += 1
            if self.flaky.get(name, 0) > 0:
                self.flaky[name] -= 1
                raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        target = self.ports[name]
        if target is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self._real("127.0.0.1", target, *args, **kw)


@pytest.fixture
def made_up_hosts(monkeypatch: pytest.MonkeyPatch) -> MadeUpHosts:
    hosts = MadeUpHosts()
    monkeypatch.setattr(socket, "getaddrinfo", hosts.getaddrinfo)
    return hosts


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    index: FixtureIndex
    stopping: threading.Event


@contextmanager
def running_index() -> Iterator[FixtureIndex]:
    """A running fixture index for as long as the block lasts (a test that needs a second index)."""
    server = _Server(("127.0.0.1", 0), _Handler)
    index = FixtureIndex()
    server.index = index
    server.stopping = threading.Event()
    index.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def index_server() -> Iterator[FixtureIndex]:
    """A running fixture index (empty; tests add files); its ``index_url`` is the simple API root."""
    with running_index() as index:
        yield index
