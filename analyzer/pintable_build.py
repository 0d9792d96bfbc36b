"""Making a source's requirements table (``analyzer.pintable``): read what every pin of every release requires,
as a check would, and keep only permanent answers.

Besides the pins, the table holds other versions' files: what a minimal-set search reads when it frees a pin
and the resolver tries the project's versions, newest first, as far down as it must. For every project the
history pins, the file pip would pick on each target (``metadata.select.best_file``) for every version it
considers by default: final and post releases (no pre-releases or development releases: pip takes those only
when a specifier names one), files that install on the target, none yanked (a yanked file is chosen only by an
exact ``==`` pin, as PEP 592 says). From the project's oldest pinned version on, every such file; below it,
wheels only (a range read of the archive's tail each), as an old version's sdist is a stream of the archive to
its PKG-INFO, many times the cost, and a check reaches that far down seldom. A file is read once however many
targets pick it.

Two passes per target (``env_key``), and two for the other versions' files. The first reads through the
configured engine, in parallel (pages, then every pin's records or files in the worker pool), filling the
metadata cache. The second makes each record again through
an engine on the same cache whose network refuses every request: what it answers comes from the cache alone. The
engine keeps in its cache only answers about the thing asked (a file, a 404 page, a broken archive), never a
network failure, so a record whose making asked the network for anything (other than revalidating a page the
cache holds, which the engine then uses) rested on a failure, and is left out: a check asks the index for it, as
before, and the next update tries it again.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from packaging.utils import NormalizedName
from packaging.version import Version
from requests.adapters import BaseAdapter

from analyzer.environment import TargetEnvironment
from analyzer.errors import InputError
from analyzer.freeze import parse_freeze
from analyzer.git import read_blobs
from analyzer.metadata.models import (
    CoreMetadata,
    DistFile,
    DistKind,
    MetadataStatus,
    ProjectFiles,
    SdistFacts,
)
from analyzer.metadata.select import best_file
from analyzer.pintable import (
    PinRecord,
    TableData,
    env_key,
    load_overlay,
    load_table,
    overlay_path,
    read_table_file,
    shipped_digest,
    write_table_file,
)
from analyzer.resolver.candidates import DistInfo, InstalledCandidate
from analyzer.resolver.factory import Factory
from analyzer.snapshot import Snapshot
from analyzer.versions import parse_version

if TYPE_CHECKING:
    from analyzer.catalog import Catalog, Release
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.sources import SourceDeclaration

__all__ = [
    "BuildResult",
    "HistoryPins",
    "PinSpec",
    "Written",
    "build_table",
    "held_for_update",
    "history_pins",
    "read_at",
    "record_of",
    "version_files",
    "write_update",
]

T = TypeVar("T")

PinSpec = tuple[NormalizedName, str, str | None]
"""(name, version as ``pin_key`` writes it, direct reference URL or None)."""


def record_of(info: DistInfo) -> PinRecord:
    """A ``DistInfo`` as the table holds it: plain strings, a URL in a message written as its file name (the
    table ships in the wheel and names no host; the file name says which file it was)."""
    return PinRecord(
        requires_dist=tuple(str(r) for r in info.requires_dist),
        requires_python=str(info.requires_python) if info.requires_python is not None else None,
        provides_extra=tuple(sorted(info.provides_extra)),
        known=info.known,
        route=info.route.value,
        filename=info.file.filename if info.file is not None else None,
        warnings=tuple((w.kind.value, _URL.sub(r"\1", w.message)) for w in info.warnings),
    )


_URL = re.compile(r"\bhttps?://[^\s()]*/([^/\s()]+)")
"""A URL in a message (an engine's label of a file), its last path segment kept."""


@dataclass(frozen=True)
class HistoryPins:
    """The pins of every release of a source, by target."""

    releases: int
    targets: Mapping[str, TargetEnvironment]
    pins: Mapping[str, frozenset[PinSpec]]
    """``env_key`` -> the distinct pins of the releases with that target."""
    releases_of: Mapping[str, tuple[str, ...]]
    """``env_key`` -> the ids of its releases."""
    pins_of_release: Mapping[str, tuple[str, frozenset[PinSpec]]]
    """release id -> (its ``env_key``, its pins)."""


def history_pins(catalog: Catalog, releases: Sequence[Release] | None = None) -> HistoryPins:
    """Every release's pins with a PEP 440 version (what a check makes installed candidates of), read in one
    batch from the synced history; ``releases``: only these."""
    releases = catalog.releases if releases is None else releases
    blobs = {name: content for name, _, content in read_blobs(catalog.repo, [r.freeze_blob for r in releases])}
    targets: dict[str, TargetEnvironment] = {}
    pins: dict[str, set[PinSpec]] = {}
    releases_of: dict[str, list[str]] = {}
    of_release: dict[str, tuple[str, frozenset[PinSpec]]] = {}
    for release in releases:
        env = TargetEnvironment.from_snapshot(Snapshot(release.id, release.python, platform=release.platform))
        key = env_key(env)
        targets.setdefault(key, env)
        content = blobs.get(release.freeze_blob)
        text = content.decode("utf-8", "replace") if content is not None else ""
        found = frozenset(
            (pin.name, str(version), pin.url)
            for pin in parse_freeze(text, release.freeze_file).pins
            if (version := parse_version(pin.version)) is not None
        )
        pins.setdefault(key, set()).update(found)
        releases_of.setdefault(key, []).append(release.id)
        of_release[release.id] = (key, found)
    return HistoryPins(
        len(releases),
        targets,
        {k: frozenset(v) for k, v in pins.items()},
        {k: tuple(v) for k, v in releases_of.items()},
        of_release,
    )


def _missing(history: HistoryPins, held: TableData, retry_urls: bool) -> dict[str, list[PinSpec]]:
    """The pins (per target) whose record the table lacks; with ``retry_urls``, also those whose direct
    reference has no record of its own yet (its host did not answer before)."""
    out: dict[str, list[PinSpec]] = {}
    for key, specs in history.pins.items():
        todo = [
            spec
            for spec in sorted(specs, key=_order)
            if (spec[0], spec[1], key) not in held.pins
            or (retry_urls and spec[2] is not None and spec[2] not in held.urls)
        ]
        if todo:
            out[key] = todo
    return out


def _order(spec: PinSpec) -> tuple[str, str, str]:
    return (spec[0], spec[1], spec[2] or "")


@dataclass
class BuildResult:
    """What an update did, for the CLI to say."""

    releases: int
    releases_complete: int
    """Releases every pin of which the table held before the update."""
    pins: int
    """Distinct (name, version, target) pins of the history."""
    pins_held: int
    pins_read: int
    """Pins whose record the table lacked."""
    urls_tried: int = 0
    """Direct references without a record of their own, asked of their URL."""
    records_added: int = 0
    urls_added: int = 0
    files_added: int = 0
    transient: int = 0
    """Pins whose reading met a network failure: left out, asked of the index at run time."""
    urls_unreadable: set[str] = field(default_factory=set)
    """Direct references that gave no metadata from their own URL (the runtime falls back to the index)."""
    data: TableData = field(default_factory=lambda: TableData("", ""))
    """The entries read."""
    transient_examples: list[str] = field(default_factory=list)
    projects: int = 0
    """Projects the history pins (whose other versions' files the table holds)."""
    versions: int = 0
    """Their versions pip considers by default with a file the table holds for some target (``version_files``)."""
    version_files: int = 0
    """Distinct files pip picks for those versions across the targets."""
    version_files_held: int = 0
    version_files_read: int = 0
    """Files the table lacked, asked of the index."""
    version_files_added: int = 0
    version_files_transient: int = 0
    """Files whose reading met a network failure: left out, asked of the index at run time."""
    version_pages_transient: int = 0
    """Projects whose page met a network failure: their other versions are not known yet."""
    version_files_unreadable: int = 0
    """Files with no metadata (a permanent answer, e.g. a broken archive) or no sha256 on the page: not held."""

    @property
    def added(self) -> bool:
        return bool(self.records_added or self.urls_added or self.version_files_added)


class _Refusals(BaseAdapter):
    """A transport that sends nothing: it notes the URL and fails as an unreachable host does."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        with self._lock:
            self.urls.append(str(request.url))
        raise requests.ConnectionError(f"{request.url}: not asked while the table is made", request=request)

    def close(self) -> None:
        pass


class _Witness:
    """The cache-only engine as the factory's metadata source, noting what each reading rested on: a page or
    file whose reading asked the network (a page the cache holds excepted: the engine falls back to it)."""

    def __init__(self, engine: MetadataEngine, refusals: _Refusals) -> None:
        from analyzer.metadata.index import page_url

        self.engine = engine
        self.refusals = refusals
        self._page_url = page_url
        self.touched: set[tuple[str, str]] = set()
        self.tainted: set[tuple[str, str]] = set()
        self.files: dict[str, tuple[str, CoreMetadata]] = {}
        """Index files read for the current pin, with their sha256."""

    def begin(self) -> None:
        self.touched = set()
        self.files = {}

    @property
    def clean(self) -> bool:
        return not (self.touched & self.tainted)

    def _watch(self, key: tuple[str, str], call: Callable[[], T], harmless: frozenset[str] = frozenset()) -> T:
        before = len(self.refusals.urls)
        result = call()
        if any(url not in harmless for url in self.refusals.urls[before:]):
            self.tainted.add(key)
        self.touched.add(key)
        return result

    def _cached_pages(self, name: NormalizedName) -> frozenset[str]:
        cache = self.engine.cache
        assert cache is not None
        return frozenset(
            self._page_url(url, name)
            for url in self.engine.config.urls
            if cache.page_state(self.engine.page_key(url, name)) is not None
        )

    def project(self, name: NormalizedName) -> ProjectFiles:
        return self._watch(("page", name), lambda: self.engine.project(name), self._cached_pages(name))

    def files_of(self, name: NormalizedName, version: Version) -> tuple[DistFile, ...]:
        return self._watch(("page", name), lambda: self.engine.files_of(name, version), self._cached_pages(name))

    def metadata(self, file: DistFile) -> CoreMetadata:
        meta = self._watch(("file", file.url), lambda: self.engine.metadata(file))
        sha = dict(file.hashes).get("sha256")
        if sha and meta.status is not MetadataStatus.UNAVAILABLE:
            self.files[file.filename] = (sha.lower(), meta)
        return meta

    def metadata_for_url(self, name: NormalizedName, url: str) -> CoreMetadata:
        return self._watch(("url", url), lambda: self.engine.metadata_for_url(name, url))

    def prefetch(self, files: Iterable[DistFile]) -> None:
        pass  # every answer here comes from the cache, one by one

    def prefetch_projects(self, names: Iterable[NormalizedName]) -> None:
        pass

    def sdist_facts(self, file: DistFile) -> SdistFacts:
        return self.engine.sdist_facts(file)


def _read(engine: MetadataEngine, env: TargetEnvironment, specs: list[PinSpec], lacking: set[PinSpec]) -> None:
    """The first pass: the records of ``specs`` the table lacks (``lacking``: the pin's, else its direct
    reference's) made once through ``engine`` (in its pool), which keeps what it reads in its cache."""
    engine.prefetch_projects(sorted({name for name, _, _ in lacking}))

    def one(spec: PinSpec) -> None:
        name, version, url = spec
        factory = Factory(engine, env)
        if spec in lacking:
            factory.info_for_installed(InstalledCandidate(factory, name, _version(version)))
        if url is not None and engine.metadata_for_url(name, url).status is MetadataStatus.OK:
            factory.info_for_installed(InstalledCandidate(factory, name, _version(version), url=url))

    engine.pool.run(one, specs, "installed packages' metadata")


def _version(text: str) -> Version:
    parsed = parse_version(text)
    assert parsed is not None  # history_pins keeps PEP 440 versions only
    return parsed


def _witnessed(
    engine: MetadataEngine, env: TargetEnvironment, key: str, specs: list[PinSpec], lacking: set[PinSpec],
    out: TableData, result: BuildResult,
) -> None:
    """The second pass: each record again from the cache alone, kept when it asked the network for nothing."""
    witness, offline_engine = _cache_only(engine)
    try:
        for spec in specs:
            name, version, url = spec
            factory = Factory(witness, env)
            pin_at = (name, version, key)
            if spec in lacking and pin_at not in out.pins:
                witness.begin()
                info = factory.info_for_installed(InstalledCandidate(factory, name, _version(version)))
                if witness.clean:
                    out.pins[pin_at] = record_of(info)
                    out.files.update(witness.files)
                    result.records_added += 1
                else:
                    result.transient += 1
                    if len(result.transient_examples) < 5:
                        result.transient_examples.append(f"{name} {version}")
            if url is None or url in out.urls:
                continue
            witness.begin()
            meta = witness.metadata_for_url(name, url)
            if meta.status is MetadataStatus.OK and witness.clean:
                info = factory.info_for_installed(InstalledCandidate(factory, name, _version(version), url=url))
                out.urls[url] = record_of(info)
                result.urls_added += 1
            else:
                result.urls_unreadable.add(url)
    finally:
        offline_engine.close()


def build_table(
    history: HistoryPins,
    held: TableData,
    make_engine: Callable[[], MetadataEngine],
    *,
    source: str,
    retry_urls: bool = False,
    tell: Callable[[str], None] | None = None,
) -> BuildResult:
    """The entries ``held`` lacks for ``history``, read and witnessed target by target (an engine each, so
    memory holds one target's readings at a time). ``make_engine`` gives engines on the same cache. A direct
    reference is read from its own URL with its pin, and again only with ``retry_urls``."""
    missing = _missing(history, held, retry_urls)
    pins = sum(len({(n, v) for n, v, _ in specs}) for specs in history.pins.values())
    read = sum(len({(n, v) for n, v, _ in specs if (n, v, key) not in held.pins}) for key, specs in missing.items())
    lacking = {key: frozenset(s for s in specs if (s[0], s[1], key) not in held.pins) for key, specs in missing.items()}
    complete = sum(
        1 for key, specs in history.pins_of_release.values() if not (specs & lacking.get(key, frozenset()))
    )
    result = BuildResult(history.releases, complete, pins, pins - read, read)
    result.urls_tried = len({u for specs in missing.values() for _, _, u in specs if u and u not in held.urls})
    result.data = TableData(source, held.index, as_of=held.as_of)
    for number, key in enumerate(sorted(missing), 1):
        specs = missing[key]
        if tell is not None:
            tell(f"{key} ({number} of {len(missing)}): {len(lacking[key])} pins to read")
        engine = _engine(make_engine)
        try:
            lacks = set(lacking[key])
            _read(engine, history.targets[key], specs, lacks)
            _witnessed(engine, history.targets[key], key, specs, lacks, result.data, result)
        finally:
            engine.close()
    _other_versions(history, held, make_engine, result, tell)
    result.files_added = len(result.data.files)
    return result


def _floors(history: HistoryPins) -> dict[NormalizedName, Version]:
    """Each pinned project's oldest pinned version, across every target."""
    out: dict[NormalizedName, Version] = {}
    for specs in history.pins.values():
        for name, version, _ in specs:
            found = _version(version)
            if name not in out or found < out[name]:
                out[name] = found
    return out


def version_files(
    project: ProjectFiles, floor: Version, targets: Iterable[TargetEnvironment]
) -> tuple[dict[str, DistFile], int]:
    """The files pip would pick on each of ``targets`` for the versions of ``project`` it considers by default
    (final and post releases, unyanked): every one from ``floor`` on, wheels only below it; by file name, and how
    many versions have one."""
    by_version: dict[Version, list[DistFile]] = {}
    for file in project.files:
        if not file.version.is_prerelease:  # is_prerelease: pre and development releases
            by_version.setdefault(file.version, []).append(file)
    out: dict[str, DistFile] = {}
    versions = 0
    envs = list(targets)
    for version, group in by_version.items():
        picked = [
            best
            for env in envs
            if (best := best_file(group, env)) is not None
            and not best.is_yanked
            and (version >= floor or best.kind is DistKind.WHEEL)
        ]
        out.update((file.filename, file) for file in picked)
        versions += bool(picked)
    return out, versions


_PROJECTS_AT_ONCE = 100


def _engine(make_engine: Callable[[], MetadataEngine]) -> MetadataEngine:
    """An engine from ``make_engine`` whose cache can witness what it read (else an InputError)."""
    engine = make_engine()
    if engine.cache is None or not engine.cache.usable:
        engine.close()
        raise InputError("the requirements table needs a usable metadata cache: it keeps permanent answers only")
    return engine


def _other_versions(
    history: HistoryPins, held: TableData, make_engine: Callable[[], MetadataEngine], result: BuildResult,
    tell: Callable[[str], None] | None,
) -> None:
    """Other versions' files the table lacks: the pages and the files read in parallel through an engine (the
    first pass), then each file again from the cache alone, kept when it asked the network for nothing."""
    floors = _floors(history)
    targets = list(history.targets.values())
    result.projects = len(floors)
    names = sorted(floors)
    for start in range(0, len(names), _PROJECTS_AT_ONCE):
        chunk = {name: floors[name] for name in names[start : start + _PROJECTS_AT_ONCE]}
        engine = _engine(make_engine)  # an engine per group of projects: memory holds their pages alone
        try:
            engine.prefetch_projects(list(chunk))
            todo: list[DistFile] = []
            for name, floor in chunk.items():
                files, _ = version_files(engine.project(name), floor, targets)
                todo += [
                    f for n, f in sorted(files.items())
                    if _sha256(f) and n not in held.files and n not in result.data.files
                ]
            if tell is not None:
                tell(f"other versions of projects {start + 1}-{start + len(chunk)} of {len(names)}: {len(todo)} files")
            engine.prefetch(todo)
            _witness_files(engine, chunk, targets, held, result)
        finally:
            engine.close()


def _witness_files(
    engine: MetadataEngine, floors: Mapping[NormalizedName, Version], targets: list[TargetEnvironment],
    held: TableData, result: BuildResult,
) -> None:
    """The second pass over other versions' files, from the cache alone (the pages too)."""
    witness, offline_engine = _cache_only(engine)
    try:
        for name in sorted(floors):
            witness.begin()
            files, versions = version_files(witness.project(name), floors[name], targets)
            if not witness.clean:
                result.version_pages_transient += 1
            result.versions += versions
            result.version_files += len(files)
            for filename, file in sorted(files.items()):
                if filename in held.files or filename in result.data.files:
                    result.version_files_held += 1
                    continue
                if not _sha256(file):
                    result.version_files_unreadable += 1  # the table keeps a file by its sha256
                    continue
                result.version_files_read += 1
                witness.begin()
                witness.metadata(file)
                if not witness.clean:
                    result.version_files_transient += 1
                elif filename in witness.files:
                    result.data.files[filename] = witness.files[filename]
                    result.version_files_added += 1
                else:
                    result.version_files_unreadable += 1
    finally:
        offline_engine.close()


def _sha256(file: DistFile) -> str | None:
    return dict(file.hashes).get("sha256")


def _cache_only(engine: MetadataEngine) -> tuple[_Witness, MetadataEngine]:
    """An engine on ``engine``'s cache whose network refuses every request, as a witnessed metadata source."""
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.metadata.http import HttpSettings

    assert engine.cache is not None
    refusals = _Refusals()
    session = requests.Session()
    session.mount("http://", refusals)
    session.mount("https://", refusals)
    offline_engine = MetadataEngine(
        engine.config,
        cache=MetadataCache(engine.cache.path),
        as_of=engine.as_of,
        session=session,
        workers=1,
        freshness=math.inf,
        http=HttpSettings(retries=0),
    )
    return _Witness(offline_engine, refusals), offline_engine


def read_at() -> str:
    """The table's reading date (UTC day): the same day's runs write the same bytes."""
    return datetime.now(timezone.utc).date().isoformat()


def held_for_update(
    decl: SourceDeclaration,
    index: str,
    out: Path | None,
    cache_root: Path | None = None,
    as_of: datetime | None = None,
) -> TableData:
    """What an update starts from: the shipped table and the user's overlay (when read from the same indexes
    ``index`` names, at the same ``as_of``), and ``out``'s own entries when it exists. Bad input (``out`` a
    folder, or a table read otherwise) is an InputError naming it."""
    if out is not None and out.is_dir():
        raise InputError("is a folder; give the file to write the table to", file=str(out))
    moment = as_of.isoformat() if as_of is not None else None
    otherwise = "from other indexes (or at another --as-of) than these"
    table = load_table(decl, cache_root=cache_root)
    held = TableData(decl.name, index, as_of=moment)
    if table is not None and (table.index, table.as_of) == (index, moment):
        held.update(table.data())
    elif table is not None and out is None:
        raise InputError(
            f"the {decl.name} requirements table was read {otherwise}; give --out FILE to make a table of your own"
        )
    if out is not None and out.is_file():
        own = read_table_file(out)
        if (own.index, own.as_of) != (index, moment):
            raise InputError(f"holds a requirements table read {otherwise}", file=str(out))
        held.update(own.data())
    return held


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    pins: int
    urls: int
    files: int


def write_update(
    decl: SourceDeclaration, held: TableData, result: BuildResult, out: Path | None,
    cache_root: Path | None = None,
) -> Written | None:
    """Write what an update read: the whole table to ``out``, else the user's overlay (its entries and the new
    ones, on top of the shipped file of today). None when there was nothing to write."""
    if not result.added and (out is None or out.is_file()):
        return None
    if out is not None:
        data, path = held, out
    else:
        data = load_overlay(decl, cache_root=cache_root) or TableData(decl.name, held.index)
        data.base, path = shipped_digest(decl), overlay_path(decl.name, cache_root)
    data.index, data.as_of = held.index, held.as_of
    data.update(result.data)
    size = write_table_file(path, data, read_at=read_at())
    return Written(path, size, len(data.pins), len(data.urls), len(data.files))
