"""Plain data the metadata engine hands to the resolver, and the one seam (``MetadataSource``) between them:
the resolver and the diagnosis import only this module, so tests can drive them from an in-memory source."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version


class DistKind(str, Enum):
    WHEEL = "wheel"
    SDIST = "sdist"


@dataclass(frozen=True)
class DistFile:
    """One file of a release as an index lists it (PEP 691 / PEP 503), already parsed."""

    project: NormalizedName
    version: Version
    filename: str
    url: str
    kind: DistKind
    index_url: str
    requires_python: SpecifierSet | None = None
    yanked: str | None = None
    """The reason (possibly empty) when yanked (PEP 592)."""
    upload_time: datetime | None = None
    hashes: Mapping[str, str] = field(default_factory=dict)
    size: int | None = None
    metadata_url: str | None = None
    """The PEP 658/714 ``.metadata`` file, when the index offers one, and its hashes."""
    metadata_hashes: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_yanked(self) -> bool:
        return self.yanked is not None


@dataclass(frozen=True)
class ProjectFiles:
    """Every file of one project across the configured indexes, after ``--as-of`` filtering."""

    name: NormalizedName
    files: tuple[DistFile, ...]
    indexes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    """Per-index failures that did not stop the answer (e.g. one extra index was down)."""
    notes: tuple[str, ...] = ()

    def versions(self) -> tuple[Version, ...]:
        return tuple(sorted({f.version for f in self.files}))


class MetadataStatus(str, Enum):
    OK = "ok"
    REQUIREMENTS_UNKNOWN = "requirements-unknown"
    """An sdist whose Requires-Dist is dynamic or too old to trust: we do not build it to find out."""
    UNAVAILABLE = "unavailable"
    """Could not be fetched (network fault, missing METADATA, offline miss)."""


@dataclass(frozen=True)
class CoreMetadata:
    """What one distribution requires: the part of its core metadata a resolver needs."""

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...] = ()
    requires_python: SpecifierSet | None = None
    provides_extra: frozenset[NormalizedName] = frozenset()
    status: MetadataStatus = MetadataStatus.OK
    source: str = ""
    """Where it came from (``metadata-file``, ``range``, ``download``, ``sdist``...), for debugging."""
    note: str = ""
    skipped: tuple[str, ...] = ()
    """Requires-Dist lines that did not parse and were left out, to be named in the report."""


@dataclass(frozen=True)
class SdistFacts:
    """What an sdist says statically about its own build (``metadata/sdist.py``): read from the archive's member
    names and its ``pyproject.toml``, never extracted, never run."""

    filename: str
    read: bool
    """False when the archive was not read (too large, unreachable, not an archive): ``note`` says why."""
    note: str = ""
    build_backend: str | None = None
    """``[build-system] build-backend``; setuptools' legacy backend when the sdist declares none (PEP 517)."""
    backend_declared: bool = False
    build_requires: tuple[str, ...] = ()
    """``[build-system] requires``; pip's default (setuptools) when the sdist declares none (PEP 518)."""
    requires_declared: bool = False
    sources: tuple[tuple[str, int], ...] = ()
    """Compiled languages whose sources the archive holds, with their file counts (``("C", 12)``)."""
    compiling_tools: tuple[str, ...] = ()
    """A compiling backend or build requirement (meson-python, maturin, Cython...)."""
    members: int = 0

    @property
    def compiles(self) -> bool | None:
        """Whether building it compiles code; None when the archive was not read."""
        return bool(self.sources or self.compiling_tools) if self.read else None


class MetadataSource(Protocol):
    """The seam between the resolver and wherever metadata comes from."""

    def project(self, name: NormalizedName) -> ProjectFiles:
        """All files of ``name`` on the configured indexes; an unknown project has no files."""

    def metadata(self, file: DistFile) -> CoreMetadata:
        """Core metadata of one file; failures come back as a status, not an exception."""

    def metadata_for_url(self, name: NormalizedName, url: str) -> CoreMetadata:
        """Core metadata of a direct reference (``name @ URL``)."""

    def prefetch(self, files: Iterable[DistFile]) -> None:
        """Warm the cache for many files at once (in parallel); answers come later from ``metadata``."""

    def prefetch_projects(self, names: Iterable[NormalizedName]) -> None:
        """Fetch many projects' pages at once (in parallel); answers come later from ``project``."""

    def files_of(self, name: NormalizedName, version: Version) -> tuple[DistFile, ...]:
        """``project(name).files`` of one version, which a source may answer without reading the whole project."""

    def sdist_facts(self, file: DistFile) -> SdistFacts:
        """What an sdist's archive says about its build; a failure to read it is a value (``read=False``)."""
