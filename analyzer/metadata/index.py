"""Project pages of the simple repository API (PEP 691 JSON first, PEP 503 HTML as fallback) -> ``DistFile``.

A page is turned once into compact rows (filename, version, kind, URL, requires-python, yanked, upload time,
hashes, size, metadata URL and hashes) that the cache stores as they are; building ``DistFile`` objects from
rows is the warm path, so it only looks up memoized ``Version`` / ``SpecifierSet`` objects.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

import requests
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pypi_simple import ProjectPage
from pypi_simple.errors import UnsupportedContentTypeError, UnsupportedRepoVersionError

from analyzer.metadata.config import redact_url
from analyzer.metadata.http import TIMEOUT, Traffic
from analyzer.metadata.models import DistFile, DistKind

__all__ = ["ACCEPT", "PageResult", "fetch_page", "files_from_rows", "page_url", "rows_from_page"]

log = logging.getLogger(__name__)

ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)

_versions: dict[str, Version] = {}
_specifiers: dict[str, SpecifierSet] = {}
_memo_lock = threading.Lock()


def _version(text: str) -> Version:
    v = _versions.get(text)
    if v is None:
        v = Version(text)
        with _memo_lock:
            _versions[text] = v
    return v


def _specifier(text: str) -> SpecifierSet:
    s = _specifiers.get(text)
    if s is None:
        s = SpecifierSet(text)
        with _memo_lock:
            _specifiers[text] = s
    return s


def page_url(index_url: str, name: str) -> str:
    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))


def _restore_userinfo(url: str | None, index_url: str) -> str | None:
    """Cached URLs have no credentials; give back the index's own to URLs on the index's host."""
    if url is None:
        return None
    index = urlsplit(index_url)
    if "@" not in index.netloc:
        return url
    parts = urlsplit(url)
    host = index.netloc.rpartition("@")[2]
    if parts.netloc == host and parts.scheme == index.scheme:
        return urlunsplit((parts.scheme, index.netloc, parts.path, parts.query, parts.fragment))
    return url


@dataclass(frozen=True)
class PageResult:
    """One index's answer for one project: rows (None when not modified), validators, or a problem."""

    rows: list[list[Any]] | None
    problems: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    failed: bool = False


def rows_from_page(page: ProjectPage, name: NormalizedName, label: str) -> tuple[list[list[Any]], list[str]]:
    """Parse every file of a project page; files whose names or fields do not parse are left out and named."""
    rows: list[list[Any]] = []
    problems: list[str] = []
    for pkg in page.packages:
        filename = pkg.filename
        lower = filename.lower()
        try:
            if lower.endswith(".whl"):
                fname, version, _, _ = parse_wheel_filename(filename)
                kind = "w"
            elif lower.endswith((".tar.gz", ".zip")):
                fname, version = parse_sdist_filename(filename)
                kind = "s"
            else:
                continue  # eggs, installers, .tar.bz2: pip ignores them too
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
            problems.append(f"{label}: skipped {filename}: {exc}")
            continue
        if fname != name:
            problems.append(f"{label}: skipped {filename}: it is not a file of {name}")
            continue
        requires_python: str | None = None
        if pkg.requires_python:
            try:
                _specifier(pkg.requires_python)
                requires_python = pkg.requires_python
            except InvalidSpecifier:
                problems.append(
                    f"{label}: {filename}: ignored invalid Requires-Python {pkg.requires_python!r}"
                )
        yanked = (pkg.yanked_reason or "") if pkg.is_yanked else None
        upload = pkg.upload_time.astimezone(timezone.utc).isoformat() if pkg.upload_time else None
        metadata_url = pkg.metadata_url if pkg.has_metadata else None
        rows.append([
            filename,
            str(version),
            kind,
            _strip_userinfo(pkg.url),
            requires_python,
            yanked,
            upload,
            dict(pkg.digests or {}),
            pkg.size,
            _strip_userinfo(metadata_url) if metadata_url else None,
            dict(pkg.metadata_digests or {}),
        ])
    return rows, problems


def files_from_rows(rows: list[list[Any]], name: NormalizedName, index_url: str) -> tuple[DistFile, ...]:
    out = []
    label = redact_url(index_url)
    for filename, version, kind, url, rp, yanked, upload, hashes, size, murl, mhashes in rows:
        out.append(
            DistFile(
                project=name,
                version=_version(version),
                filename=filename,
                url=_restore_userinfo(url, index_url) or url,
                kind=DistKind.WHEEL if kind == "w" else DistKind.SDIST,
                index_url=label,
                requires_python=_specifier(rp) if rp else None,
                yanked=yanked,
                upload_time=datetime.fromisoformat(upload) if upload else None,
                hashes=hashes,
                size=size,
                metadata_url=_restore_userinfo(murl, index_url),
                metadata_hashes=mhashes,
            )
        )
    return tuple(out)


def _file_page(index_url: str, name: NormalizedName) -> PageResult:
    """A ``file://`` index: a folder of ``<project>/index.html`` pages (PEP 503 HTML)."""
    url = page_url(index_url, name)
    folder = Path(url2pathname(unquote(urlsplit(url).path)))
    page_file = folder / "index.html"
    if not page_file.is_file():
        return PageResult(rows=[])
    try:
        html = page_file.read_bytes()
        page = ProjectPage.from_html(project=name, html=html, base_url=url)
    except (OSError, ValueError) as exc:
        return PageResult(rows=None, problems=(f"{redact_url(url)}: cannot read the page: {exc}",), failed=True)
    rows, problems = rows_from_page(page, name, redact_url(url))
    return PageResult(rows=rows, problems=tuple(problems))


def fetch_page(
    session: requests.Session,
    index_url: str,
    name: NormalizedName,
    traffic: Traffic,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
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
    try:
        response = session.get(url, headers=headers, timeout=TIMEOUT)
        size = int(response.headers.get("Content-Length") or len(response.content))
        traffic.add(size)
    except requests.RequestException as exc:
        message = f"{label}: the index could not be reached ({type(exc).__name__})"
        return PageResult(rows=None, problems=(message,), failed=True)
    if response.status_code == 304:
        return PageResult(rows=None, not_modified=True, etag=etag, last_modified=last_modified)
    if response.status_code in (404, 410):
        return PageResult(rows=[])
    if response.status_code != 200:
        return PageResult(rows=None, problems=(f"{label}: HTTP {response.status_code}",), failed=True)
    try:
        page = ProjectPage.from_response(response, name)
    except (UnsupportedContentTypeError, UnsupportedRepoVersionError, ValueError, KeyError, TypeError) as exc:
        return PageResult(rows=None, problems=(f"{label}: unreadable project page ({exc})",), failed=True)
    rows, problems = rows_from_page(page, name, label)
    return PageResult(
        rows=rows,
        problems=tuple(problems),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
    )
