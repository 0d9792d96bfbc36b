"""Index pages: each project's page on every configured index, fresh from the cache, revalidated, or fetched.

Where the cache holds a page, only its key stays in memory: the text is read again when asked (one version's
lines alone, for ``files_of``). Every failure is a stated problem on the answer, never an exception.

Contract with the diagnosis: a ``ProjectFiles`` whose ``notes`` hold one starting with ``NETWORK_FAILURE + ":"``
lacks the files of an index whose page failed on the wire in this run (no connection, a timeout, a busy or
refusing server, a host given up) and that no cached page stood in for: an answer resting on its file list
("fits", "no such version") may be wrong, and must say so or not be given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.metadata.cache import CachedPage
from analyzer.metadata.config import redact_url, secret_tag
from analyzer.metadata.freshness import local_stamp, page_is_fresh
from analyzer.metadata.http import Traffic
from analyzer.metadata.index import EMPTY_PAGE, PageText, fetch_page, files_from_page, local_page_file
from analyzer.metadata.models import DistFile, ProjectFiles
from analyzer.metadata.pool import EngineState, Memo

__all__ = ["NETWORK_FAILURE", "OFFLINE_NOTE", "PAGE_WORKERS", "IndexPages", "network_failed"]

log = logging.getLogger(__name__)

PAGE_WORKERS = 12
"""Threads fetching index pages at most: parsing holds the interpreter lock, more threads only contend for it."""
OFFLINE_NOTE = "not in the cache (offline)"
NETWORK_FAILURE = "network failure"
"""The start of a ``ProjectFiles`` note (and of a ``CoreMetadata.source``) saying an answer is missing because the
network failed in this run, not because the index said so."""

_PageRef = PageText | str
"""A page in memory, or the cache key it can be read again from."""
_IndexPage = tuple[str, _PageRef, tuple[str, ...], bool]
"""(index URL, its page, the problems met getting it, whether it failed on the wire with nothing cached instead)."""


def network_failed(files: ProjectFiles) -> bool:
    """Whether some index's files are missing from ``files`` because the network failed in this run."""
    return any(note.startswith(f"{NETWORK_FAILURE}:") for note in files.notes)


class IndexPages(EngineState):
    """The projects' pages on the configured indexes, memoized for one engine."""

    def __init__(self) -> None:
        self.page_traffic = Traffic()
        """Requests for index pages (for the benchmarks)."""
        self._projects: Memo[NormalizedName, ProjectFiles] = Memo()
        self._pages_memo: Memo[NormalizedName, tuple[_IndexPage, ...]] = Memo()
        self._version_files: dict[tuple[NormalizedName, Version], tuple[DistFile, ...]] = {}

    def project(self, name: str) -> ProjectFiles:
        """All files of ``name`` on every configured index, after ``--as-of`` filtering."""
        canonical = canonicalize_name(name)
        return self._projects.get(canonical, lambda: self._load_project(canonical))

    def page_key(self, index_url: str, name: NormalizedName) -> str:
        return f"{redact_url(index_url)}{secret_tag(index_url, self.tag_key)}|{name}"

    def _fresh(self, fetched: float, has_rows: bool) -> bool:
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
    ) -> tuple[_PageRef, list[str], bool]:
        """One index's page for ``name``, as its cache key when the cache holds it (unless ``hold``); and whether
        it failed on the wire with no cached page to stand in."""
        if index_url.startswith("file:"):
            return (*self._local_page(index_url, name), False)
        label = redact_url(index_url)
        key = self.page_key(index_url, name)
        if self.cache is not None and not hold:
            state = self.cache.page_state(key)
            if state is not None and self._fresh(*state):
                self._reads.pages[key] = state[0]
                return key, [], False  # its own problems are read with it, by ``_open_page``
        cached = self._cached(key, name, label)
        if cached is not None and self._fresh(cached[0].fetched, "\n" in cached[0].text):
            self._reads.pages[key] = cached[0].fetched
            return cached[1], list(cached[1].problems), False
        self._reads.unstamped.add(key)  # until it is stored below
        if self.offline:
            return EMPTY_PAGE, [f"{name}: the page of {label} is {OFFLINE_NOTE}"], False
        etag, modified = (cached[0].etag, cached[0].last_modified) if cached else (None, None)
        result = fetch_page(self.session, index_url, name, self.page_traffic, etag, modified, self.http)
        if result.not_modified and cached is not None:
            page = self._unchanged(key, *cached)
            if not hold and self._by_key(index_url):
                return key, [], False
            return page, list(page.problems), False
        problems = [self._redact(p) for p in result.problems]
        if result.failed or result.page is None:
            if cached is not None:
                problems.append(f"{label}: used the cached page of {name} instead")
                return cached[1], problems + list(cached[1].problems), False
            return EMPTY_PAGE, problems, result.network
        page = result.page.with_problems(problems)
        now = time.time()
        row = CachedPage(page.text, now, result.etag, result.last_modified)
        if self.cache is not None and self.cache.put_page(key, row) and not hold:
            self._reads.page(key, now)
            if self._by_key(index_url):
                return key, [], False
        return page, problems, False

    def _cached(self, key: str, name: NormalizedName, label: str) -> tuple[CachedPage, PageText] | None:
        """The stored row of a page and the page it holds; None when not cached or unreadable."""
        cached = self.cache.get_page(key) if self.cache is not None else None
        if cached is None:
            return None
        try:
            return cached, PageText.from_text(cached.text)
        except (ValueError, KeyError, TypeError):
            log.warning("the cached page of %s from %s is unreadable; fetching it again", name, label)
            return None

    def _unchanged(self, key: str, cached: CachedPage, page: PageText) -> PageText:
        """A cached page the index says is unchanged (304): fresh again from now, and given its line index."""
        assert self.cache is not None  # only a cached page is revalidated
        now = time.time()
        indexed = page.with_line_index()
        if indexed is not None:
            if self.cache.put_page(key, CachedPage(indexed.text, now, cached.etag, cached.last_modified)):
                self._reads.page(key, now)
                return indexed
        elif self.cache.touch_page(key, now):
            self._reads.page(key, now)
        return page

    def _local_page(self, index_url: str, name: NormalizedName) -> tuple[_PageRef, list[str]]:
        """A ``file://`` index's page, never cached, stamped by its file when unchanged during the read."""
        path = str(local_page_file(index_url, name))
        before = local_stamp(path)
        result = fetch_page(self.session, index_url, name, self.page_traffic)
        if not result.failed and local_stamp(path) == before:
            self._reads.local[path] = before
        else:
            self._reads.unstamped.add(path)
        problems = [self._redact(p) for p in result.problems]
        if result.failed or result.page is None:
            return EMPTY_PAGE, problems
        return result.page.with_problems(problems), problems

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
        page, _, _ = self._index_page(index_url, name, hold=True)
        self._reads.unstamped.add(ref)  # read again, perhaps different from the row the run began with
        assert isinstance(page, PageText)
        return page

    def _pages(self, name: NormalizedName) -> tuple[_IndexPage, ...]:
        """Every index's page for ``name`` (memoized), each with the problems met getting it."""

        def load() -> tuple[_IndexPage, ...]:
            pages = [(url, *self._index_page(url, name)) for url in self.config.urls]
            return tuple((url, page, tuple(problems), network) for url, page, problems, network in pages)

        return self._pages_memo.get(name, load)

    def _as_of_filter(self, name: NormalizedName, files: list[DistFile]) -> tuple[list[DistFile], list[str]]:
        if self.as_of is None:
            return files, []
        as_of = self.as_of
        kept = [f for f in files if f.upload_time is None or f.upload_time <= as_of]
        undated = sum(1 for f in kept if f.upload_time is None)
        note = f"{name}: {undated} file(s) have no upload time and were kept despite --as-of"
        return kept, [note] if undated else []

    def _load_project(self, name: NormalizedName) -> ProjectFiles:
        files: list[DistFile] = []
        indexes: list[str] = []
        problems: list[str] = []
        failed: list[str] = []
        for index_url, ref, index_problems, network in self._pages(name):
            page = self._open_page(index_url, name, ref)
            problems.extend(index_problems)
            if network:
                failed.append(redact_url(index_url))
            if isinstance(ref, str):
                problems.extend(page.problems)  # a page left in the cache brings its problems when read
            found = files_from_page(page, name, index_url)
            if found:
                indexes.append(redact_url(index_url))
                files.extend(found)
        files, notes = self._as_of_filter(name, files)
        notes += [f"{NETWORK_FAILURE}: the page of {label} could not be read; its files are missing" for label in failed]
        return ProjectFiles(name, tuple(files), tuple(indexes), tuple(problems), tuple(notes))

    def pages_failed_on_network(self) -> frozenset[NormalizedName]:
        """Projects whose files are incomplete in this run because an index's page failed on the wire (the same
        answer as ``network_failed`` on their ``ProjectFiles``, for those read through ``files_of`` alone)."""
        return frozenset(
            name for name, pages in list(self._pages_memo.values.items()) if any(page[3] for page in pages)
        )

    def files_of(self, name: str, version: Version) -> tuple[DistFile, ...]:
        """The files of one version of ``name`` (what an installed pin needs), without building the others."""
        canonical = canonicalize_name(name)
        memo_key = (canonical, version)
        answer = self._version_files.get(memo_key)
        if answer is not None:
            return answer
        known = self._projects.values.get(canonical)
        if known is not None:
            answer = self._version_files[memo_key] = tuple(f for f in known.files if f.version == version)
            return answer
        files: list[DistFile] = []
        for index_url, ref, _, _ in self._pages(canonical):
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
        """The lines of ``version`` of a page left in the cache, read alone where its header says where they are;
        None when it cannot say (the page is then read whole)."""
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
        keys = [self.page_key(url, name) for url in self.config.urls if not url.startswith("file:")]
        states = self.cache.page_stamps(keys)
        return all(key in states and self._fresh(*states[key]) for key in keys)

    def prefetch_projects(self, names: Iterable[str]) -> None:
        """Fetch many project pages in parallel; those fresh in the cache first, in this thread (pure CPU work,
        for which threads would only contend for the interpreter lock)."""
        todo = [canonicalize_name(n) for n in dict.fromkeys(names)]
        todo = [n for n in todo if n not in self._pages_memo]
        remote = []
        for name in todo:
            if self._fresh_in_cache(name):
                self._pages(name)
            else:
                remote.append(name)
        if not remote:
            return
        self.pool.run(self._pages, remote, "index pages", workers=min(self.pool.workers, PAGE_WORKERS))
