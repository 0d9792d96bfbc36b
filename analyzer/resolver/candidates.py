"""Candidates as the resolver sees them, after pip's ``candidates.py``: one version of a project (an index file,
the installed version, a direct reference, the same plus extras, or the interpreter), with its dependencies and
wording. Bad metadata never raises: what cannot be known becomes a ``ResolverWarning`` on the candidate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.metadata.models import DistFile
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    RequiresPythonRequirement,
    ResolverRequirement,
    make_key,
)

if TYPE_CHECKING:
    from analyzer.resolver.factory import Factory
    from analyzer.snapshot import DeclaredRequirements

__all__ = [
    "Candidate",
    "DirectCandidate",
    "DistInfo",
    "ExtrasCandidate",
    "IndexCandidate",
    "InstalledCandidate",
    "Origin",
    "PythonCandidate",
    "RequirementsRoute",
    "ResolverWarning",
    "WarningKind",
    "origin_counts",
    "route_counts",
]


class Origin(str, Enum):
    INSTALLED = "installed"
    INDEX = "index"
    DIRECT = "direct"
    PYTHON = "python"


class RequirementsRoute(str, Enum):
    """Where a candidate's requirements were read, most trusted first (issue 13): what pip installs says it
    (a wheel for the target, an sdist's static PKG-INFO), or the best evidence short of building the sdist."""

    WHEEL = "wheel"
    """The METADATA of the wheel pip installs on the target (or of a direct reference's file)."""
    DECLARED = "declared"
    """Declared outside the index (google-colab's requirements)."""
    DIST_INFO = "dist-info"
    """The installed distribution's own METADATA, recorded when the snapshot was captured in the runtime."""
    SDIST_PKG_INFO = "sdist-pkg-info"
    """An sdist's PKG-INFO that declares Requires-Dist static (PEP 643): what its build will say."""
    SDIST_PKG_INFO_NOT_GUARANTEED = "sdist-pkg-info-not-guaranteed"
    """An sdist's PKG-INFO before Metadata-Version 2.2 (or with Requires-Dist dynamic): what the uploader's
    build said."""
    SDIST_EGG_INFO = "sdist-egg-info"
    """setuptools' ``*.egg-info/requires.txt`` in the sdist, PKG-INFO naming none."""
    OTHER_WHEEL = "other-wheel"
    """The same version's wheel for another interpreter or platform (as uv does), markers evaluated for the
    target."""
    UNKNOWN = "unknown"
    """None of these: treated as having no requirements."""


class WarningKind(str, Enum):
    OPAQUE = "opaque"
    """An installed pin whose metadata cannot be had: kept at its version, its requirements unknown."""
    REQUIREMENTS_UNKNOWN = "requirements-unknown"
    """An sdist whose Requires-Dist no route gives (``RequirementsRoute``); we will not build it to find out."""
    REQUIREMENTS_ROUTE = "requirements-route"
    """Requirements read from somewhere other than a wheel for the target: the message names the route."""
    METADATA_UNAVAILABLE = "metadata-unavailable"
    """An index or direct candidate whose metadata could not be fetched: treated as having no requirements."""
    UNKNOWN_EXTRA = "unknown-extra"
    """pip's "X 1.0 does not provide the extra 'y'"."""
    INVALID_REQUIREMENT = "invalid-requirement"
    """A Requires-Dist line (or marker) that did not parse or evaluate: skipped."""
    LOCAL_VERSION_FALLBACK = "local-version-fallback"
    """Metadata of ``2.11.0+cpu`` taken from the public ``2.11.0``."""
    INDEX_FALLBACK = "index-fallback"
    """A pin installed from an unreachable direct reference: requirements taken from the index's same version."""
    MARKER_FALSE = "marker-false"
    """A requested requirement whose marker is false on the target: dropped, as pip does."""
    UNUSABLE_PIN = "unusable-pin"
    """A pin with no PEP 440 version: it cannot take part in a resolution."""
    LOOKUP_FAILED = "lookup-failed"
    """A project whose index page could not be read (or listed only files that had to be skipped)."""


@dataclass(frozen=True, order=True)
class ResolverWarning:
    """Something the resolution could not know or had to skip; named so the report can say it."""

    kind: WarningKind
    name: NormalizedName
    version: str | None
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class DistInfo:
    """What a base candidate's metadata says, once fetched: the raw requirements and what is known of them."""

    requires_dist: tuple[Requirement, ...] = ()
    provides_extra: frozenset[NormalizedName] = frozenset()
    requires_python: SpecifierSet | None = None
    known: bool = True
    """False for opaque pins, requirements-unknown sdists and unavailable metadata."""
    warnings: tuple[ResolverWarning, ...] = ()
    file: DistFile | None = None
    route: RequirementsRoute = RequirementsRoute.WHEEL
    """Where ``requires_dist`` was read."""
    read_from: str = "index"
    """An installed pin's: "snapshot" (declared, or its dist-info at capture), "table" (the source's
    requirements table) or "index"; what the report counts."""


def route_counts(candidates: Iterable[Candidate]) -> dict[RequirementsRoute, int]:
    """How many base candidates' requirements came by each route (reads each one's metadata); for the report."""
    counts = Counter(c.info.route for c in {id(c.base): c.base for c in candidates}.values())
    return {route: counts[route] for route in RequirementsRoute if counts[route]}


def origin_counts(candidates: Iterable[Candidate]) -> dict[str, int]:
    """How many base candidates' requirements were read from the snapshot, the requirements table, the index."""
    counts = Counter(c.info.read_from for c in {id(c.base): c.base for c in candidates}.values())
    return {where: counts[where] for where in ("snapshot", "table", "index") if counts[where]}


class Candidate:
    """Common behaviour; subclasses say where the version comes from and how to get its metadata."""

    origin: Origin
    extras: frozenset[NormalizedName] = frozenset()
    file: DistFile | None = None
    url: str | None = None

    def __init__(
        self, factory: Factory, name: NormalizedName, version: Version, info: DistInfo | None = None
    ) -> None:
        self._factory = factory
        self.name = name
        self.version = version
        self.base: Candidate = self
        """The candidate without extras."""
        self.key = make_key(name, self.extras)
        self._deps: tuple[ResolverRequirement, ...] | None = None
        self._info = info
        """Read on first use (direct references and the interpreter are built with theirs)."""

    def _load_info(self) -> DistInfo:
        raise NotImplementedError

    @property
    def info(self) -> DistInfo:
        if self._info is None:
            self._info = self._load_info()
        return self._info

    @property
    def warnings(self) -> tuple[ResolverWarning, ...]:
        return self.info.warnings + self._factory.evaluation_warnings(self.base)

    def dependencies(self) -> tuple[ResolverRequirement, ...]:
        if self._deps is None:
            self._deps = self._build_dependencies()
        return self._deps

    def _build_dependencies(self) -> tuple[ResolverRequirement, ...]:
        out: list[ResolverRequirement] = []
        python = self.info.requires_python
        # an installed version is there already: pip does not check its Requires-Python again
        if self.origin is not Origin.INSTALLED and not self._factory.env.python_allowed(python):
            assert python is not None
            out.append(RequiresPythonRequirement(python, parent=self))
        for req in self._factory.evaluated(self, frozenset()):
            out.extend(self._factory.make_requirements(req, parent=self))
        return tuple(out)

    def same_as(self, other: Candidate) -> bool:
        return (self.key, self.version, self.origin, self.url) == (
            other.key,
            other.version,
            other.origin,
            other.url,
        )

    def format_for_error(self) -> str:
        return f"{self.name} {self.version}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key} {self.version})"


class IndexCandidate(Candidate):
    """One version on an index, represented by its best file for the target."""

    origin = Origin.INDEX

    def __init__(self, factory: Factory, file: DistFile) -> None:
        self.file = file
        super().__init__(factory, file.project, file.version)

    def _load_info(self) -> DistInfo:
        assert self.file is not None
        return self._factory.info_of(
            self.name, str(self.version), self._factory.metadata(self.file), self.file
        )


class InstalledCandidate(Candidate):
    """The version the image has installed; its requirements come from that version's metadata."""

    origin = Origin.INSTALLED

    def __init__(
        self,
        factory: Factory,
        name: NormalizedName,
        version: Version,
        *,
        url: str | None = None,
        declared: DeclaredRequirements | None = None,
    ) -> None:
        self.url = url
        self.declared = declared
        """Requirements known outside the index (google-colab's, a capture's dist-info), read instead of its
        metadata."""
        super().__init__(factory, name, version)

    def _load_info(self) -> DistInfo:
        return self._factory.info_for_installed(self)

    @property
    def file(self) -> DistFile | None:  # type: ignore[override]
        return self.info.file

    def format_for_error(self) -> str:
        return f"{self.name} {self.version} (Installed)"


class DirectCandidate(Candidate):
    """A direct reference (``name @ URL``); its version is whatever its metadata says."""

    origin = Origin.DIRECT

    def __init__(
        self, factory: Factory, name: NormalizedName, url: str, version: Version, info: DistInfo
    ) -> None:
        self.url = url
        super().__init__(factory, name, version, info)

    def format_for_error(self) -> str:
        return f"{self.name} {self.version} (from {self.url})"


class ExtrasCandidate(Candidate):
    """``name[extra]``: the base candidate plus the extra's requirements, at the base's version (pip's design)."""

    def __init__(self, factory: Factory, base: Candidate, extras: frozenset[NormalizedName]) -> None:
        self.extras = extras
        self.origin = base.origin
        self.url = base.url
        super().__init__(factory, base.name, base.version)
        self.base = base

    @property
    def file(self) -> DistFile | None:  # type: ignore[override]
        return self.base.file

    def _load_info(self) -> DistInfo:
        return self.base.info

    @property
    def warnings(self) -> tuple[ResolverWarning, ...]:
        return self.base.warnings + self._factory.extras_warnings(self.base, self.extras)

    def _build_dependencies(self) -> tuple[ResolverRequirement, ...]:
        out: list[ResolverRequirement] = [ExplicitRequirement(self.base, parent=self)]
        base_reqs = set(map(str, self._factory.evaluated(self.base, frozenset())))
        for req in self._factory.evaluated(self.base, self.extras):
            if str(req) not in base_reqs:
                out.extend(self._factory.make_requirements(req, parent=self))
        return tuple(out)

    def same_as(self, other: Candidate) -> bool:
        return (
            isinstance(other, ExtrasCandidate)
            and self.extras == other.extras
            and self.base.same_as(other.base)
        )

    def format_for_error(self) -> str:
        return f"{self.base.format_for_error()} [{', '.join(sorted(self.extras))}]"


class PythonCandidate(Candidate):
    """The target interpreter, as pip's ``<Python from Requires-Python>`` pseudo-project."""

    origin = Origin.PYTHON

    def __init__(self, factory: Factory, version: Version) -> None:
        super().__init__(factory, NormalizedName(REQUIRES_PYTHON_KEY), version, DistInfo())
        self._deps = ()

    def format_for_error(self) -> str:
        return f"Python {self.version}"
