"""A source's release history, read from git: sync into the cache, list releases, read files at a commit.

Every commit that changed a kind's freeze file is a release of that kind, dated by the commit. The history is
mirrored into ``cache_dir()/sources/<name>/repo.git`` and read offline afterwards. The facts of every release
are indexed once per synced HEAD (a JSON file beside the mirror): listing is instant, loading reads one blob.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from filelock import FileLock
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from analyzer.colabtables import ColabTables, load_tables, sync_tables
from analyzer.errors import InputError, SourceError
from analyzer.freeze import parse_freeze, url_filename
from analyzer.git import clone_or_fetch, git, normalize_origin, read_blobs
from analyzer.metadata.cache import folder_problem, without_cache
from analyzer.osinfo import OsInfo, parse_os_info
from analyzer.paths import cache_dir
from analyzer.redact import redact
from analyzer.snapshot import Pin, Platform, Snapshot
from analyzer.sources import RuntimeFiles, SourceDeclaration, load_source

__all__ = [
    "Catalog", "CommitInfo", "Release", "RuntimeName", "SyncResult", "alternative_releases", "infer_python",
    "source_dir", "sync_source",
]

log = logging.getLogger(__name__)

INDEX_VERSION = 2
"""Bumped whenever the index's content changes meaning, so an old index is rebuilt rather than misread."""

_PREFERRED_EVIDENCE = ("torch", "torchvision", "torchaudio", "jaxlib", "tensorflow")
_CP_TAG = re.compile(r"^cp(\d)(\d+)$")


def source_dir(decl: SourceDeclaration) -> Path:
    """Where one source's mirror, index and tables live: in the cache folder, else (a file in the way, a folder
    that cannot be made) in a folder of this run's own, said once, as the metadata cache goes on without one."""
    root = cache_dir()
    problem = folder_problem(root)
    if problem is not None:
        without_cache(problem)  # the metadata cache says the same, once
        return _scratch(None) / decl.name
    problem = folder_problem(root / "sources")
    return root / "sources" / decl.name if problem is None else _scratch(problem) / decl.name


@functools.cache
def _scratch(problem: str | None) -> Path:
    """This run's folder for the histories, removed when it ends; the ``problem`` that calls for it is said once."""
    if problem is not None:
        log.warning("%s; the snapshot histories are synced for this run only", problem)
    folder = Path(tempfile.mkdtemp(prefix="tfconflict-sources-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@dataclass(frozen=True)
class SyncResult:
    """What ``sync_source`` did, for the CLI to report."""

    source: str
    origin: str
    origin_reason: str
    head: str
    cloned: bool
    releases: int
    tables: tuple[str, ...] = ()


def sync_source(decl: SourceDeclaration, origin: str | None = None) -> SyncResult:
    """Mirror the source's history into the cache and index its releases. ``origin`` wins over
    ``$<origin_env>``, which wins over the declared upstream; a bundle file works too."""
    raw, reason = decl.origin(origin)
    where = normalize_origin(raw)
    root = source_dir(decl)
    repo = root / "repo.git"
    try:
        root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(root / ".lock")):
            cloned = not (repo / "HEAD").is_file()
            log.info("%s %s into %s", "cloning" if cloned else "fetching", where, repo)
            clone_or_fetch(where, repo)
            _write_text(root / "origin.json", json.dumps({"origin": redact(where)}) + "\n")
            head = _head(repo)
            tables = sync_tables(decl, root, where, repo)
            count = len(Catalog(decl, root, head).releases)
    except OSError as exc:  # a full disk, a folder made read-only meanwhile: the sync stops, in words
        raise SourceError(f"cannot sync the {decl.name} history into {root}: {exc.strerror or exc}") from exc
    return SyncResult(decl.name, where, reason, head, cloned, count, tables)


def _write_text(path: Path, text: str) -> None:
    """Write whole or not at all: a file cut by a full disk must not be read later as a shorter one."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parse_index(data: Any) -> tuple[tuple[CommitInfo, ...], tuple[Release, ...]]:
    """The commits and releases an index holds; KeyError, TypeError or ValueError when it is not one."""
    commits = tuple(CommitInfo(c, datetime.fromisoformat(d), u, i) for i, (c, d, u) in enumerate(data["commits"]))
    return commits, tuple(Release.from_json_dict(r) for r in data["releases"])


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def _head(repo: Path) -> str:
    try:
        return git(["rev-parse", "--verify", "HEAD^{commit}"], cwd=repo).decode().strip()
    except SourceError:
        refs = git(["for-each-ref", "--format=%(objectname)", "--count=1", "refs/heads/"], cwd=repo).split()
        if not refs:
            raise SourceError(f"the synced history in {repo} has no branch") from None
        return refs[0].decode()


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the history, in order (``position`` 0 is the oldest)."""

    commit: str
    date: datetime
    upstream_commit: str | None
    position: int


@dataclass(frozen=True)
class Release:
    """One release: the freeze file of one kind as a commit changed it, with what the index knows of it."""

    source: str
    kind: str
    selector: str
    commit: str
    upstream_commit: str | None
    date: datetime
    position: int
    freeze_file: str
    freeze_blob: str
    python: str
    python_evidence: str
    python_inferred: bool
    platform: Platform
    packages: int
    problems: int
    notes: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.selector}@{self.commit[:10]}"

    def to_json_dict(self) -> dict[str, Any]:
        return {**asdict(self), "date": self.date.isoformat(), "notes": list(self.notes)}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Release:
        return cls(**{
            **data,
            "date": datetime.fromisoformat(data["date"]),
            "platform": Platform(**data["platform"]),
            "notes": tuple(data["notes"]),
        })


@dataclass(frozen=True)
class RuntimeName:
    """A release as people name it: the runtime version a notebook can select (``colab 2025.07 (2025-08-11)``),
    else the named version it follows (``colab after 2025.07 (2025-09-02)``), else its date alone."""

    prefix: str
    """The kind's selector prefix (``colab``, ``colab-gpu``)."""
    day: date
    version_name: str | None = None
    """The named runtime version(s) in force at this release, ``/``-joined in the rare case of several."""
    follows: str | None = None
    """For a release without a name, the latest named version of its kind before it."""
    time: str | None = None
    """``HH:MM`` of a release without a name whose day another release of its kind shares (tells them apart)."""

    @property
    def label(self) -> str:
        when = self.day.isoformat() + (f" {self.time}" if self.time else "")
        if self.version_name:
            return f"{self.prefix} {self.version_name} ({when})"
        if self.follows:
            return f"{self.prefix} after {self.follows} ({when})"
        return f"{self.prefix} {when}"

    def to_json_dict(self) -> dict[str, Any]:
        return {"name": self.label, "version_name": self.version_name, "follows": self.follows}


def infer_python(pins: Iterable[Pin]) -> tuple[str, str] | None:
    """Python ``X.Y`` from the ``cpXY`` tags of direct-reference wheel URLs, with the evidence in words
    (``abi3`` wheels are left out: they name a lowest version, not the interpreter)."""
    votes: dict[str, list[str]] = {}
    for pin in pins:
        filename = url_filename(pin.url) if pin.url is not None else ""
        if not filename.endswith(".whl"):
            continue
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        found = {t.interpreter for t in tags if _CP_TAG.match(t.interpreter) and t.abi != "abi3"}
        if len(found) == 1:
            votes.setdefault(found.pop(), []).append(pin.display_name)
    if not votes:
        return None
    tag = max(votes, key=lambda t: len(votes[t]))  # the first of equals, as Counter.most_common
    agree, total = len(votes[tag]), sum(len(names) for names in votes.values())
    witness = next((n for n in _PREFERRED_EVIDENCE if n in votes[tag]), votes[tag][0])
    python = f"{tag[2]}.{tag[3:]}"  # cpXY: one digit of major version, the rest minor
    agreement = f"{agree} of {total} cpXY wheel URLs agree" if total > 1 else "the only cpXY wheel URL"
    return python, f"inferred from the {tag} tag of {witness}'s wheel URL ({agreement})"


class Catalog:
    """The releases of one synced source, read from the index of its HEAD (built on first use)."""

    def __init__(self, decl: SourceDeclaration, root: Path, head: str) -> None:
        self.decl = decl
        self.root = root
        self.repo = root / "repo.git"
        self.head = head
        try:
            self.commits, self.releases = _parse_index(json.loads(self.index_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            log.info("indexing the %s history at %s", decl.name, head[:12])
            self._reindex()
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # derived from the history alone: damage costs one indexing, never an answer
            log.warning("the index of the %s history %s is damaged (%s); indexing it again", decl.name,
                        self.index_path, _first_line(exc))
            self._reindex()

    def _reindex(self) -> None:
        data = self._build_index()
        self.commits, self.releases = _parse_index(data)
        try:
            _write_text(self.index_path, json.dumps(data, separators=(",", ":")))
            for old in self.root.glob("index-v*.json"):
                if old != self.index_path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a full disk: this run has its index; the next one builds it again
            log.warning("cannot keep the index of the %s history in %s (%s)", self.decl.name, self.root,
                        exc.strerror or exc)

    @classmethod
    def open(cls, decl: SourceDeclaration, origin: str | None = None) -> Catalog:
        """The synced catalog; syncs first when nothing is synced yet or another origin was asked for (by the
        argument or the source's environment variable). Without either, what was synced last is read offline."""
        try:
            synced = json.loads((source_dir(decl) / "origin.json").read_text(encoding="utf-8")).get("origin")
        except (OSError, ValueError, AttributeError):  # nothing synced, or not a JSON object
            synced = None
        if not (source_dir(decl) / "repo.git" / "HEAD").is_file() or not isinstance(synced, str):
            synced = None
        where, _ = decl.origin(origin)
        asked = bool(origin or (decl.origin_env and os.environ.get(decl.origin_env)))
        if synced is None:
            log.warning("no synced copy of the %s history yet: syncing from %s", decl.name, where)
            try:
                sync_source(decl, origin)
            except SourceError as exc:
                hint = f" or set ${decl.origin_env}" if decl.origin_env else ""
                raise SourceError(
                    f"{exc}; nothing of the {decl.name} history is synced yet: give --colab-repo (a git URL, a "
                    f"local repository or a bundle file){hint}"
                ) from exc
        elif asked and redact(normalize_origin(where)) != synced:
            log.warning("the %s cache was synced from %s: syncing from %s instead", decl.name, synced, where)
            sync_source(decl, origin)
        return cls(decl, source_dir(decl), _head(source_dir(decl) / "repo.git"))

    def releases_of(
        self, kind: str | None = None, since: date | None = None, until: date | None = None
    ) -> tuple[Release, ...]:
        """Releases of ``kind`` (every kind when None) dated within [since, until], calendar days as the commits
        record them, oldest first."""
        if kind is not None:
            self.decl.kind(kind)  # an unknown kind is an InputError naming the known ones
        return tuple(
            r
            for r in self.releases
            if (kind is None or r.kind == kind)
            and (since is None or r.date.date() >= since)
            and (until is None or r.date.date() <= until)
        )

    def latest(self, kind: str) -> Release:
        releases = self.releases_of(kind)
        if not releases:
            raise InputError(f"the {self.decl.name} history has no {kind} release")
        return releases[-1]

    def at(self, kind: str, when: date) -> Release | None:
        """The release of ``kind`` in force at a moment (the last one dated at or before it), or on a calendar
        day when ``when`` is a date (release dates as the commits record them)."""
        moment = isinstance(when, datetime)
        found = [r for r in self.releases_of(kind) if (r.date if moment else r.date.date()) <= when]
        return max(found, key=lambda r: (r.date, r.position)) if found else None

    def at_commit(self, kind: str, commit: CommitInfo) -> Release | None:
        """The release of ``kind`` in force at a commit of the history (that commit's or an earlier one)."""
        found = [r for r in self.releases_of(kind) if r.position <= commit.position]
        return found[-1] if found else None

    def find_commits(self, prefix: str) -> tuple[CommitInfo, ...]:
        """Commits whose id or upstream short id starts with ``prefix``."""
        key = prefix.lower()
        return tuple(
            c for c in self.commits if c.commit.startswith(key) or (c.upstream_commit or "").startswith(key)
        )

    def name_of(self, release: Release) -> RuntimeName:
        """How people name ``release``: by the runtime version in force at it, or the one it follows."""
        return self._names[(release.kind, release.commit)]

    @cached_property
    def _names(self) -> dict[tuple[str, str], RuntimeName]:
        # a named version is the release of each kind in force at its moment, as the ``colab:2025.07`` selector reads
        out: dict[tuple[str, str], RuntimeName] = {}
        for files in self.decl.kinds:
            releases = self.releases_of(files.kind)
            named: dict[int, list[str]] = {}
            for version in self.tables.runtime_versions:
                found = self.at(files.kind, version.date)
                if found is not None:
                    named.setdefault(found.position, []).append(version.name)
            days = Counter(r.date.date() for r in releases)
            follows: str | None = None
            for r in releases:
                day = r.date.date()
                names = named.get(r.position)
                if names:
                    follows = names[-1]
                    out[(r.kind, r.commit)] = RuntimeName(files.selector, day, "/".join(names))
                else:
                    time = r.date.strftime("%H:%M") if days[day] > 1 else None
                    out[(r.kind, r.commit)] = RuntimeName(files.selector, day, None, follows, time)
        return out

    def read_blob(self, blob: str) -> str:
        return git(["cat-file", "blob", blob], cwd=self.repo).decode("utf-8", "replace")

    @cached_property
    def tables(self) -> ColabTables:
        """The side tables synced with this history (google-colab's requirements, named runtime versions); damaged
        ones are derived again, as a sync does, and stay empty (with a warning) when they cannot be."""
        try:
            return load_tables(self.decl, self.root)
        except (InputError, OSError, ValueError) as exc:
            log.warning("the %s tables in %s are damaged (%s); deriving them again", self.decl.name,
                        self.root / "tables", _first_line(exc))
        for table in (self.decl.declared_requirements, self.decl.runtime_versions):
            if table is not None:
                (self.root / "tables" / table.offline).unlink(missing_ok=True)
        try:
            origin = json.loads((self.root / "origin.json").read_text(encoding="utf-8"))["origin"]
            sync_tables(self.decl, self.root, str(origin), self.repo)
        except (OSError, ValueError, KeyError, TypeError, SourceError) as exc:
            log.warning("could not derive the %s tables again (%s); they stay unknown", self.decl.name,
                        _first_line(exc))
        try:
            return load_tables(self.decl, self.root)
        except (InputError, OSError, ValueError):
            return ColabTables(self.decl.declared_requirements, (), ())

    def snapshot(self, release: Release) -> Snapshot:
        """The full snapshot of one release: its pins, and the declared requirements in force at its date."""
        result = parse_freeze(self.read_blob(release.freeze_blob), release.freeze_file)
        declared, table_notes = self.tables.declared_at(release.date)
        name = self.name_of(release)
        return Snapshot(
            id=release.id,
            name=name.label,
            version_name=name.version_name,
            python=release.python,
            pins=result.pins,
            kind=release.kind,
            date=release.date,
            python_evidence=release.python_evidence,
            platform=release.platform,
            source=self.decl.name,
            commit=release.commit,
            upstream_commit=release.upstream_commit,
            declared=declared,
            problems=result.problems,
            notes=release.notes + table_notes,
        )

    @property
    def index_path(self) -> Path:
        return self.root / f"index-v{INDEX_VERSION}-{self.head}.json"

    def _build_index(self) -> dict[str, Any]:
        # every commit oldest first (id, ISO date, subject), and the tracked files each one changed
        out = git(
            ["log", "--reverse", "--format=%x1e%H%x1f%cI%x1f%s", "--name-only", "--no-renames", self.head],
            cwd=self.repo,
        ).decode("utf-8", "replace")
        tracked = {path for files in self.decl.kinds for path in (files.freeze, files.os_info) if path}
        commits: list[tuple[str, str, str]] = []
        changed: dict[str, set[str]] = {}
        for chunk in out.split("\x1e")[1:]:
            head, _, names = chunk.partition("\n")
            commit, when, subject = head.split("\x1f", 2)
            commits.append((commit, when, subject))
            changed[commit] = {n for n in names.split("\n") if n in tracked}
        kinds = self.decl.kinds
        pattern = re.compile(self.decl.upstream_commit_pattern) if self.decl.upstream_commit_pattern else None
        wanted: list[str] = []
        for commit, _date, _subject in commits:
            for files in kinds:
                if changed[commit] & {files.freeze, files.os_info}:
                    wanted += [f"{commit}:{path}" for path in (files.freeze, files.os_info) if path]
        blobs = {name: (sha, content) for name, sha, content in read_blobs(self.repo, wanted)}
        os_infos: dict[str, OsInfo] = {}
        earliest: dict[str, tuple[str, OsInfo]] = {}  # per kind, the first os-info file: what older releases assume
        for commit, when, _ in commits:
            for files in kinds:
                name = f"{commit}:{files.os_info}"
                content = blobs.get(name, (None, None))[1]
                if files.os_info and content is not None:
                    info = parse_os_info(content.decode("utf-8", "replace"), files.os_info, self.decl.machine)
                    os_infos[name] = info
                    earliest.setdefault(files.kind, (when, info))
        releases: list[dict[str, Any]] = []
        previous: dict[str, Release] = {}
        commit_rows: list[tuple[str, str, str | None]] = []
        for position, (commit, when, subject) in enumerate(commits):
            match = pattern.search(subject) if pattern else None
            upstream = match.group(1) if match else None
            commit_rows.append((commit, when, upstream))
            for files in kinds:
                sha, content = blobs.get(f"{commit}:{files.freeze}", (None, None))
                if files.freeze not in changed[commit] or sha is None or content is None:
                    continue  # not changed, or deleted: no release
                release = Release(
                    source=self.decl.name,
                    kind=files.kind,
                    selector=files.selector,
                    commit=commit,
                    upstream_commit=upstream,
                    date=datetime.fromisoformat(when),
                    position=position,
                    freeze_file=files.freeze,
                    freeze_blob=sha,
                    **self._describe(
                        files,
                        commit,
                        content.decode("utf-8", "replace"),
                        os_infos.get(f"{commit}:{files.os_info}"),
                        earliest.get(files.kind),
                        previous.get(files.kind),
                    ),
                )
                previous[files.kind] = release
                releases.append(release.to_json_dict())
        return {"version": INDEX_VERSION, "head": self.head, "commits": commit_rows, "releases": releases}

    def _describe(
        self,
        files: RuntimeFiles,
        commit: str,
        freeze: str,
        info: OsInfo | None,
        earliest: tuple[str, OsInfo] | None,
        previous: Release | None,
    ) -> dict[str, Any]:
        """Python, platform and counts of one release, each with the evidence it rests on."""
        result = parse_freeze(freeze, files.freeze)
        notes: list[str] = []
        if info is not None:
            platform = info.platform
            notes.extend(str(p) for p in info.problems if p.line is not None)
        elif earliest is not None:
            since, first = earliest
            platform = first.platform
            notes.append(
                f"OS and glibc assumed: {files.os_info} starts on {since[:10]} and this release is older, so the "
                f"earliest one's platform ({first.platform.description or first.platform.distro}, "
                f"glibc {first.platform.glibc}) is used; older runtimes may have had an older glibc"
            )
        else:
            platform = Platform(machine=self.decl.machine)
            notes.append(f"OS and glibc unknown: no {files.os_info or 'os-info file'} in the history")
        python = info.python if info is not None else None
        evidence = f"{files.os_info} at {commit[:10]}"
        if python is None:
            missing = "has no Python line" if info is not None else "does not exist at this commit"
            inferred = infer_python(result.pins)
            if inferred is not None:
                python, evidence = inferred[0], f"{inferred[1]}; {files.os_info} {missing}"
            elif previous is not None:
                python = previous.python
                evidence = (
                    f"assumed from the previous {files.kind} release ({previous.date.date()}): {files.os_info} "
                    f"{missing} and no cpXY wheel URL says"
                )
            else:
                python = "3"
                evidence = f"unknown: {files.os_info} {missing} and no cpXY wheel URL says"
        return {
            "python": python,
            "python_evidence": evidence,
            "python_inferred": info is None or info.python is None,
            "platform": platform,
            "packages": len(result.pins),
            "problems": len(result.problems),
            "notes": tuple(notes),
        }


def alternative_releases(snapshot: Snapshot, colab_repo: str | None = None) -> tuple[tuple[str, str], ...]:
    """One release per Python version of the snapshot's source and kind, as (label, Python) pairs: the alternatives
    a report offers when the request does not install on the snapshot's interpreter. A named runtime version is
    preferred (a notebook can select it), else the latest release of that Python."""
    if snapshot.source in ("file", "current"):
        return ()
    try:
        catalog = Catalog.open(load_source(snapshot.source), colab_repo)
    except Exception:  # noqa: BLE001 - alternatives are a courtesy; the answer does not depend on them
        return ()
    chosen: dict[str, tuple[bool, Release]] = {}
    for release in reversed(catalog.releases_of(snapshot.kind if snapshot.kind in catalog.decl.kind_names else None)):
        named = catalog.name_of(release).version_name is not None
        if release.python not in chosen or (named and not chosen[release.python][0]):
            chosen[release.python] = (named, release)
    return tuple(
        (_with_python(catalog.name_of(release), release.python), python)
        for python, (_, release) in chosen.items()
    )


def _with_python(name: RuntimeName, python: str) -> str:
    """``colab 2025.07 (2025-08-11; Python 3.11.13)``: the label with the Python inside its parentheses."""
    label = name.label
    return f"{label[:-1]}; Python {python})" if label.endswith(")") else f"{label} (Python {python})"
