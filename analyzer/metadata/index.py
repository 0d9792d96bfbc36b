"""Project pages of the simple repository API (PEP 691 JSON first, PEP 503 HTML as fallback) -> ``DistFile``.

A page is parsed once into compact per-version rows that the cache stores as they are; a warm run builds
``DistFile`` objects only for the versions it asks for.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import requests
from packaging.specifiers import InvalidSpecifier
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from analyzer.metadata.config import redact_url
from analyzer.metadata.http import (
    HttpSettings,
    TooLarge,
    Traffic,
    attempts,
    body_failed,
    describe_failure,
    read_body,
    size_text,
)
from analyzer.metadata.models import DistFile, DistKind
from analyzer.versions import specifier_of, version_of

if TYPE_CHECKING:
    from pypi_simple import ProjectPage

import orjson as _orjson

__all__ = [
    "EMPTY_PAGE", "MAX_PAGE_BYTES", "NotARegularFile", "PageResult", "PageText", "compact_body", "fetch_page",
    "files_from_page", "open_regular", "page_url", "split_dist_filename",
]

log = logging.getLogger(__name__)

MAX_PAGE_BYTES = 64 * 1024 * 1024
"""Largest project page read (decoded): the largest real ones are a few MB; past it an answer is no page."""
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

_ARCHIVES: tuple[str, ...] = (".whl", ".tar.gz", ".zip", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_ARCHIVES += (".egg", ".exe", ".msi", ".rpm", ".dmg")
"""What a link on a project page points to; an HTML answer with none of them (and no API version) is no page."""
_STATUS_HINTS = {401: " (credentials missing or refused)", 403: " (access refused)"}

_import_lock = threading.Lock()
"""The HTML parser is imported by the first thread that meets an HTML page, once, while the others wait."""
_PARSE_SLOTS = threading.BoundedSemaphore(2)
"""Pages parsed at once, whatever the number of downloads: parsing holds the interpreter lock anyway, and 24
threads each decoding a big page left hundreds of MB of freed memory that the allocator never gave back."""


_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _dumps(obj: Any, fast: bool = True) -> str:
    """Compact JSON, by orjson when ``fast`` (a cold run writes every page's rows); what orjson refuses (integers
    past 64 bits, lone surrogates) falls back. Not ``fast`` when the rows may hold NaN, which orjson writes null."""
    if fast and _orjson is not None:
        try:
            return _orjson.dumps(obj).decode()
        except TypeError:  # orjson's JSONEncodeError
            pass
    return _encode(obj)


def _page_json(response: requests.Response) -> tuple[Any, bool]:
    """A JSON page's content, and whether it is free of NaN and infinities (the fast writer may write it)."""
    constants: list[str] = []

    def constant(name: str) -> float:
        constants.append(name)
        return float(name)

    return response.json(parse_constant=constant), not constants


def page_url(index_url: str, name: str) -> str:
    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url) if "@" in url else None  # every URL of a public page: no split needed
    if parts is None or "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _restore_userinfo(url: str | None, index_url: str) -> str | None:
    """Cached URLs have no credentials; give back the index's own to URLs on the index's host."""
    if url is None:
        return None
    index, parts = urlsplit(index_url), urlsplit(url)
    if parts.netloc == index.netloc.rpartition("@")[2] and parts.scheme == index.scheme:
        return parts._replace(netloc=index.netloc).geturl()
    return url


@dataclass(frozen=True)
class PageResult:
    """One index's answer for one project: a compact body (None when not modified), validators, or a problem."""

    page: PageText | None
    problems: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    failed: bool = False
    network: bool = False
    """Failed on the wire (no connection, a timeout, a busy or refusing server, a host given up): the page may be
    there, unlike a 404 or an answer that is no page."""


_Optional = str | None
_Entry = tuple[
    str, str, _Optional, _Optional, _Optional, dict[str, str], int | None, _Optional, dict[str, str]
]
"""One file as any page format gives it, before validation: (filename, URL, Requires-Python, yanked reason,
upload time, hashes, size, metadata URL, metadata hashes). A plain tuple: a cold run builds one per file listed."""


def _entries_from_json(data: dict[str, Any], base_url: str) -> list[_Entry]:
    """PEP 691 JSON read directly: the hot part of a cold run (a page may list thousands of files)."""
    meta = data.get("meta") or {}
    api = str(meta.get("api-version", "1.0"))
    if not api.startswith("1."):
        raise ValueError(f"unsupported repository API version {api}")
    out: list[_Entry] = []
    append = out.append
    for f in data["files"]:
        url = f["url"]
        if not url.startswith(("https://", "http://")):
            url = urljoin(base_url, url)
        yanked = f.get("yanked", False)
        upload = f.get("upload-time")
        if upload and upload.endswith("Z"):
            upload = upload[:-1] + "+00:00"
        core = f.get("core-metadata")
        if core is None:
            core = f.get("data-dist-info-metadata", f.get("dist-info-metadata"))
        hashes = f.get("hashes") or {}
        append(
            (
                f["filename"],
                url,
                f.get("requires-python") or None,
                None if yanked is False or yanked is None else ("" if yanked is True else str(yanked)),
                upload or None,
                hashes if type(hashes) is dict else dict(hashes),
                f.get("size"),
                url.split("#", 1)[0] + ".metadata" if core else None,
                core if isinstance(core, dict) else {},
            )
        )
    return out


def _entries_from_page(page: ProjectPage) -> list[_Entry]:
    return [
        (
            pkg.filename,
            pkg.url,
            pkg.requires_python or None,
            (pkg.yanked_reason or "") if pkg.is_yanked else None,
            pkg.upload_time.astimezone(timezone.utc).isoformat() if pkg.upload_time else None,
            dict(pkg.digests or {}),
            pkg.size,
            pkg.metadata_url if pkg.has_metadata else None,
            dict(pkg.metadata_digests or {}),
        )
        for pkg in page.packages
    ]


def split_dist_filename(filename: str) -> tuple[NormalizedName, Version, DistKind] | None:
    """(project, version, kind) of a wheel or sdist file name; None for other archives (eggs, installers,
    ``.tar.bz2``); ``InvalidWheelFilename`` / ``InvalidSdistFilename`` when the name does not parse."""
    if filename.endswith(".whl"):
        name, version, _, _ = parse_wheel_filename(filename)
        return name, version, DistKind.WHEEL
    if filename.lower().endswith((".tar.gz", ".zip")):
        name, version = parse_sdist_filename(filename)
        return name, version, DistKind.SDIST
    return None


def compact_body(entries: list[_Entry], name: NormalizedName, label: str) -> tuple[dict[str, Any], list[str]]:
    """Validate entries and group them by version in the compact form the cache stores."""
    problems: list[str] = []
    urls = [_strip_userinfo(e[1]) for e in entries]
    base = os.path.commonprefix(urls).rpartition("/")[0] + "/" if urls else ""
    groups: dict[str, list[list[Any]]] = {}
    fromiso = datetime.fromisoformat
    for (filename, raw_url, rp, yanked, upload, hashes, size, murl, mhashes), url in zip(entries, urls):
        try:
            parsed = split_dist_filename(filename)
            if parsed is not None and parsed[0] != name:
                raise ValueError(f"it is not a file of {name}")
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion, ValueError) as exc:
            problems.append(f"{label}: skipped {filename}: {exc}")
            continue
        if parsed is None:
            continue  # eggs, installers, .tar.bz2: pip ignores them too
        version, kind = str(parsed[1]), "w" if parsed[2] is DistKind.WHEEL else "s"
        if rp:
            try:
                specifier_of(rp)
            except InvalidSpecifier:
                problems.append(f"{label}: {filename}: ignored invalid Requires-Python {rp!r}")
                rp = None
        if upload:
            try:
                fromiso(upload)
            except ValueError:
                problems.append(f"{label}: {filename}: ignored invalid upload time {upload!r}")
                upload = None
        url_c = url
        if url.startswith(base) and url.endswith("/" + filename):
            url_c = "~" + url[len(base) : len(url) - len(filename)]
        mflag: Any = None
        if murl:
            mflag = 1 if murl == raw_url.split("#", 1)[0] + ".metadata" else _strip_userinfo(murl)
        row = [filename, kind, url_c, rp, yanked, upload, hashes, size, mflag, mhashes]
        groups.setdefault(version, []).append(row)
    return {"base": base, "groups": list(groups.items())}, problems


def _equal_keys(text: str, only: Version) -> Iterator[tuple[str, int, int]]:
    """(key, where its rest starts, where its line ends) of every line of ``text`` (lines of ``key<TAB>rest``
    after a first line) whose key is a version equal to ``only``, in order.

    Every key equal to ``only`` starts with its epoch and release without trailing zeros (``2.12`` for 2.12.0,
    which pages may also spell 2.12.0.0): one scan for that prefix, each hit checked exactly.
    """
    release = list(only.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    prefix = "\n" + (f"{only.epoch}!" if only.epoch else "") + ".".join(map(str, release))
    at = text.find(prefix)
    while at >= 0:
        tab = text.find("\t", at)
        end = text.find("\n", at + 1)
        end = len(text) if end < 0 else end
        if 0 <= tab < end:
            key = text[at + 1 : tab]
            try:
                if version_of(key) == only:
                    yield key, tab + 1, end
            except InvalidVersion:
                pass
        at = text.find(prefix, end)


@dataclass(frozen=True)
class PageText:
    """A parsed page as the cache stores it: a header line, then one JSON line of rows per version.

    A version's line is found in the text only when asked, so a warm run that needs one version of a project
    decodes one small line. ``at`` in the header says where each line is (in bytes, so only for ASCII lines),
    so that the cache can read one line without the rest of the page.
    """

    text: str
    base: str
    problems: tuple[str, ...] = ()
    at: str | None = None
    """``\\nKEY\\tSTART\\tEND`` per version, counted from the line after the header; None for a page stored
    without it (by an older version, or with non-ASCII rows)."""

    @classmethod
    def from_compact(
        cls, compact: dict[str, Any], problems: list[str] | tuple[str, ...] = (), *, finite: bool = True
    ) -> PageText:
        """``finite`` says the rows hold no NaN or infinity."""
        lines = [f"{v}\t{_dumps(rows, finite)}" for v, rows in compact["groups"]]
        return _of_lines(compact["base"], problems, lines)

    @classmethod
    def from_text(cls, text: str) -> PageText:
        """Reads the header only; ValueError (or KeyError, TypeError) when it is not one."""
        end = text.find("\n")
        return cls.from_header(text if end < 0 else text[:end], text)

    @classmethod
    def from_header(cls, header: str, text: str) -> PageText:
        meta = json.loads(header)
        at = meta.get("at")
        return cls(text, str(meta["base"]), tuple(meta.get("problems", ())), at if isinstance(at, str) else None)

    def with_problems(self, problems: list[str] | tuple[str, ...]) -> PageText:
        if tuple(problems) == self.problems:
            return self  # the usual case: no copy of a page text of several MB
        end = self.text.find("\n")
        header = _header(self.base, problems, self.at)
        return PageText(header + ("" if end < 0 else self.text[end:]), self.base, tuple(problems), self.at)

    def with_line_index(self) -> PageText | None:
        """This page with ``at``, for a page stored without it and found unchanged (a 304): None when it has it
        already, lists no file, or its rows are not ASCII."""
        end = self.text.find("\n")
        if self.at is not None or end < 0 or not self.text.isascii():
            return None
        return _of_lines(self.base, self.problems, self.text[end + 1 :].split("\n"))

    def spans(self, only: Version) -> list[tuple[str, int, int]] | None:
        """(key, start, end) of the rows of every version equal to ``only``; None when the header does not say."""
        if self.at is None:
            return None
        out = []
        for key, rest, end in _equal_keys(self.at, only):
            start, _, stop = self.at[rest:end].partition("\t")
            out.append((key, int(start), int(stop)))
        return out

    def groups(self, only: Version | None = None) -> list[tuple[str, str]]:
        """(version key, JSON rows) of every version, or of the versions equal to ``only``, in page order."""
        text = self.text
        if only is None:
            start = text.find("\n")
            if start < 0:
                return []
            return [
                (v, rows) for v, _, rows in (line.partition("\t") for line in text[start + 1 :].split("\n"))
            ]
        return [(key, text[rest:end]) for key, rest, end in _equal_keys(text, only)]


def _of_lines(base: str, problems: list[str] | tuple[str, ...], lines: list[str]) -> PageText:
    """A page of version lines, with where each line's rows are when every line is ASCII."""
    at: str | None = None
    if all(line.isascii() for line in lines):
        spans = []
        start = 0
        for line in lines:
            key = line.partition("\t")[0]
            spans.append(f"\n{key}\t{start + len(key) + 1}\t{start + len(line)}")
            start += len(line) + 1
        at = "".join(spans)
    return PageText("\n".join([_header(base, problems, at), *lines]), base, tuple(problems), at)


def _header(base: str, problems: list[str] | tuple[str, ...], at: str | None) -> str:
    """The first line of a stored page (ASCII: non-ASCII characters are escaped)."""
    meta: dict[str, Any] = {"base": base, "problems": list(problems)}
    if at is not None:
        meta["at"] = at
    return _encode(meta)


EMPTY_PAGE = PageText.from_compact({"base": "", "groups": []})


def files_from_page(
    page: PageText, name: NormalizedName, index_url: str, only: Version | None = None
) -> tuple[DistFile, ...]:
    """PageText -> DistFile objects (of one version when ``only`` is given)."""
    out: list[DistFile] = []
    label = redact_url(index_url)
    has_secret = "@" in urlsplit(index_url).netloc
    decoded = [(v, json.loads(rows)) for v, rows in page.groups(only)]
    _build(decoded, name, index_url, label, page.base, has_secret, out.append)
    return tuple(out)


def _build(
    groups: list[tuple[str, list[list[Any]]]],
    name: NormalizedName,
    index_url: str,
    label: str,
    base: str,
    has_secret: bool,
    append: Any,
) -> None:
    wheel, sdist = DistKind.WHEEL, DistKind.SDIST
    fromiso = datetime.fromisoformat
    for vtext, rows in groups:
        version = version_of(vtext)
        for filename, kind, url_c, rp, yanked, upload, hashes, size, mflag, mhashes in rows:
            url = base + url_c[1:] + filename if url_c[:1] == "~" else url_c
            murl = url + ".metadata" if mflag == 1 else mflag
            if has_secret:
                url = _restore_userinfo(url, index_url) or url
                murl = _restore_userinfo(murl, index_url)
            rp = specifier_of(rp) if rp else None
            upload = fromiso(upload) if upload else None
            kind = wheel if kind == "w" else sdist
            fields = (filename, url, kind, label, rp, yanked, upload, hashes, size, murl, mhashes)
            append(DistFile(name, version, *fields))


class NotARegularFile(OSError):
    """A local path that is no regular file (a FIFO, a device, a directory): never read, as it may block for ever
    or never end."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str | os.PathLike[str], limit: int | None = None, what: str = "the file") -> BinaryIO:
    """``path`` open for reading when it is a regular file (after symlinks) of at most ``limit`` bytes; else
    ``NotARegularFile`` or ``TooLarge``, naming ``what``. Opened without blocking, so a FIFO is refused, not
    waited on; the caller still reads at most ``limit`` bytes (a regular file may grow while it is read)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise NotARegularFile(f"{what} is not a regular file ({kind}); not read")
        if limit is not None and info.st_size > limit:
            raise TooLarge(f"{what} is larger than {size_text(limit)} ({size_text(info.st_size)}); not read")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def local_page_file(index_url: str, name: str) -> Path:
    """Where a ``file://`` index keeps the page of ``name``: ``<project>/index.html`` (PEP 503 HTML)."""
    return Path(url2pathname(unquote(urlsplit(page_url(index_url, name)).path))) / "index.html"


def _file_page(index_url: str, name: NormalizedName) -> PageResult:
    """A ``file://`` index: a folder of ``<project>/index.html`` pages (PEP 503 HTML); only a regular file is read
    (a FIFO would block for ever, a device never end), at most ``MAX_PAGE_BYTES``."""
    url = page_url(index_url, name)
    page_file = local_page_file(index_url, name)
    if not page_file.exists():
        return PageResult(page=EMPTY_PAGE)
    with _import_lock:  # imported when a page is parsed: a warm run never needs it
        from pypi_simple import ProjectPage

    try:
        with open_regular(page_file, MAX_PAGE_BYTES, "the page") as handle:
            html = handle.read(MAX_PAGE_BYTES + 1)
        if len(html) > MAX_PAGE_BYTES:
            raise TooLarge(f"the page is larger than {size_text(MAX_PAGE_BYTES)}; not read further")
        page = ProjectPage.from_html(project=name, html=html, base_url=url)
    except (OSError, ValueError, TooLarge) as exc:
        return _failed(f"{redact_url(url)}: cannot read the page: {exc}")
    body, problems = compact_body(_entries_from_page(page), name, redact_url(url))
    return PageResult(page=PageText.from_compact(body, problems), problems=tuple(problems))


def fetch_page(
    session: requests.Session,
    index_url: str,
    name: NormalizedName,
    traffic: Traffic,
    etag: str | None = None,
    last_modified: str | None = None,
    http: HttpSettings | None = None,
) -> PageResult:
    """Ask one index for one project's page, conditionally when validators are known. Never raises."""
    if index_url.startswith("file:"):
        return _file_page(index_url, name)

    url = page_url(index_url, name)
    label = redact_url(url)
    headers = {"Accept": ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    http = http or HttpSettings()
    for attempt in range(2):
        try:
            response = session.get(url, headers=headers, timeout=http.timeout, stream=True)
            traffic.add(len(read_body(response, http, MAX_PAGE_BYTES, "the page")))
            break
        except TooLarge as exc:
            return _failed(f"{label}: cannot read the page: {exc}")
        except requests.exceptions.ContentDecodingError as exc:  # an answer, broken: not the network's failure
            return _failed(f"{label}: cannot read the page: {describe_failure(exc, http)}")
        except requests.RequestException as exc:
            if attempt == 0 and http.retries and body_failed(exc):
                continue  # the headers came, the body broke: once more from the start
            return _failed(f"{label}: cannot read the page: {describe_failure(exc, http)}", network=True)
    if response.status_code == 304:
        return PageResult(page=None, not_modified=True, etag=etag, last_modified=last_modified)
    if response.status_code in (404, 410):
        return PageResult(page=EMPTY_PAGE)
    if response.status_code != 200:
        sent = attempts(response)
        tried = f" ({sent} attempts)" if sent > 1 else ""
        hint = _STATUS_HINTS.get(response.status_code, "")
        # 401, 403, 5xx, 429: the server cannot or will not answer now; the page may be there
        return _failed(f"{label}: HTTP {response.status_code}{hint}{tried}", network=True)
    with _PARSE_SLOTS:
        return _parse_response(response, name, label)


class _NotAPage(Exception):
    """An HTML answer that is no project page (a captive portal, a proxy's login): not "no such project"."""


def _html_entries(response: requests.Response, name: NormalizedName) -> list[_Entry]:
    """A PEP 503 page's entries (``pypi_simple`` and the pydantic it loads are imported for HTML only)."""
    with _import_lock:
        from pypi_simple import ProjectPage
        from pypi_simple.errors import UnsupportedContentTypeError, UnsupportedRepoVersionError

    try:
        page = ProjectPage.from_response(response, name)
    except (UnsupportedContentTypeError, UnsupportedRepoVersionError) as exc:
        raise ValueError(str(exc)) from exc
    files = [p.filename.lower() for p in page.packages]
    if page.repository_version is None and not any(f.endswith(_ARCHIVES) for f in files):
        raise _NotAPage("not a project page (HTML without a single file link: a login or proxy page?)")
    return _entries_from_page(page)


def _parse_response(response: requests.Response, name: NormalizedName, label: str) -> PageResult:
    """A 200 answer -> its compact page, or a stated problem."""
    content_type = response.headers.get("Content-Type", "text/html").split(";", 1)[0].strip()
    finite = True
    try:
        if content_type == "application/vnd.pypi.simple.v1+json":
            data, finite = _page_json(response)
            entries = _entries_from_json(data, response.url)
        else:
            entries = _html_entries(response, name)
        # a field of the wrong type (a number for a file name or a Requires-Python) is met while compacting
        body, problems = compact_body(entries, name, label)
        page = PageText.from_compact(body, problems, finite=finite)
    except _NotAPage as exc:
        return _failed(f"{label}: {exc}")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return _failed(f"{label}: unreadable project page ({exc})")
    headers = response.headers
    return PageResult(page, tuple(problems), headers.get("ETag"), headers.get("Last-Modified"))


def _failed(problem: str, *, network: bool = False) -> PageResult:
    return PageResult(page=None, problems=(problem,), failed=True, network=network)
