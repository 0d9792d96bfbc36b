"""An in-memory ``MetadataSource`` built from small scenario data, so resolver tests run in milliseconds.

A scenario (``tests/scenarios/*.toml``, uv-style) lists packages, their versions, files (tags), requirements and
the expected outcome. The same data can be given inline as a dict. Shape of one package version::

    [[package]]
    name = "numpy"
    version = "1.26.4"
    requires = ["foo>=1; python_version >= '3.9'"]
    requires_python = ">=3.9"           # on the files and in the metadata
    metadata_requires_python = ">=3.12" # in the metadata only (the index did not say)
    files = ["cp311-cp311-manylinux_2_17_x86_64", "sdist"]   # tags or "sdist"; default: py3-none-any
    yanked = "broken build"             # every file of the version is yanked
    extras = ["test"]                   # Provides-Extra; default: the extras the markers name
    status = "requirements-unknown"     # or "unavailable"; default "ok"
    skipped = ["bad line ((("]          # Requires-Dist lines that did not parse
    sdist = {pyproject = "...", members = ["src/fast.c"]}   # the sdist's archive (built by wheelfactory)

``[image]`` holds ``python``, ``glibc``, ``pins`` (``name==version`` or ``name @ url``) and ``declared``
(``{name = [requirements]}``); ``[[direct]]`` entries give the metadata of direct URLs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import (
    CoreMetadata,
    DistFile,
    DistKind,
    MetadataStatus,
    ProjectFiles,
    SdistFacts,
)
from analyzer.metadata.sdist import facts_from_bytes, not_read
from analyzer.snapshot import DeclaredRequirements, Pin, Platform, Snapshot
from tests.wheelfactory import make_sdist

SCENARIOS = Path(__file__).parent / "scenarios"
INDEX = "memory://index/simple/"


@dataclass
class MemorySource:
    """A ``MetadataSource`` over plain dicts; counts calls so tests can check memoization."""

    files: dict[NormalizedName, list[DistFile]] = field(default_factory=dict)
    meta: dict[tuple[NormalizedName, str], CoreMetadata] = field(default_factory=dict)
    direct: dict[str, CoreMetadata] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    prefetched: list[DistFile] = field(default_factory=list)
    archives: dict[str, bytes] = field(default_factory=dict)
    """sdist file name -> the archive's bytes, for ``sdist_facts``."""

    def project(self, name: NormalizedName) -> ProjectFiles:
        self.calls["project"] += 1
        return ProjectFiles(
            name=name, files=tuple(self.files.get(canonicalize_name(name), ())), indexes=(INDEX,)
        )

    def metadata(self, file: DistFile) -> CoreMetadata:
        self.calls["metadata"] += 1
        found = self.meta.get((file.project, str(file.version)))
        if found is None:
            return CoreMetadata(
                name=file.project,
                version=file.version,
                status=MetadataStatus.UNAVAILABLE,
                note="not in scenario",
            )
        return found

    def metadata_for_url(self, name: NormalizedName, url: str) -> CoreMetadata:
        self.calls["metadata_for_url"] += 1
        found = self.direct.get(url)
        if found is None:
            return CoreMetadata(
                name=name, version=Version("0"), status=MetadataStatus.UNAVAILABLE, note="unknown URL"
            )
        return found

    def prefetch(self, files: Iterable[DistFile]) -> None:
        self.prefetched.extend(files)

    def prefetch_projects(self, names: Iterable[NormalizedName]) -> None:
        pass

    def files_of(self, name: NormalizedName, version: Version) -> tuple[DistFile, ...]:
        return tuple(f for f in self.project(name).files if f.version == version)

    def sdist_facts(self, file: DistFile) -> SdistFacts:
        self.calls["sdist_facts"] += 1
        data = self.archives.get(file.filename)
        return not_read(file.filename, "not in scenario") if data is None else facts_from_bytes(data, file.filename)


def _extras_of(requires: list[Requirement]) -> frozenset[NormalizedName]:
    out = set()
    for req in requires:
        marker = str(req.marker) if req.marker else ""
        for part in marker.split("extra == ")[1:]:
            out.add(canonicalize_name(part.split()[0].strip("'\"")))
    return frozenset(out)


def _metadata(name: NormalizedName, version: Version, entry: Mapping[str, Any], source: str) -> CoreMetadata:
    requires = [Requirement(r) for r in entry.get("requires", [])]
    rp = entry.get("metadata_requires_python") or entry.get("requires_python")
    extras = entry.get("extras")
    return CoreMetadata(
        name=name,
        version=version,
        requires_dist=tuple(requires),
        requires_python=SpecifierSet(rp) if rp else None,
        provides_extra=frozenset(canonicalize_name(e) for e in extras)
        if extras is not None
        else _extras_of(requires),
        status=MetadataStatus(entry.get("status", "ok")),
        source=source,
        skipped=tuple(entry.get("skipped", [])),
    )


def build_source(
    packages: Iterable[Mapping[str, Any]], direct: Iterable[Mapping[str, Any]] = ()
) -> MemorySource:
    src = MemorySource()
    for entry in packages:
        name = canonicalize_name(entry["name"])
        version = Version(entry["version"])
        rp = entry.get("requires_python")
        stem = entry["name"].replace("-", "_")
        for tag in entry.get("files", ["py3-none-any"]):
            if tag == "sdist":
                filename, kind = f"{stem}-{entry['version']}.tar.gz", DistKind.SDIST
                if "sdist" in entry:
                    members = {path: b"" for path in entry["sdist"].get("members", [])}
                    built = make_sdist(entry["name"], entry["version"], pyproject=entry["sdist"].get("pyproject"),
                                       extra=members)
                    src.archives[filename] = built.data
            else:
                filename, kind = f"{stem}-{entry['version']}-{tag}.whl", DistKind.WHEEL
            src.files.setdefault(name, []).append(
                DistFile(
                    project=name,
                    version=version,
                    filename=filename,
                    url=f"{INDEX}{name}/{filename}",
                    kind=kind,
                    index_url=INDEX,
                    requires_python=SpecifierSet(rp) if rp else None,
                    yanked=entry.get("yanked"),
                )
            )
        src.meta[(name, str(version))] = _metadata(name, version, entry, "memory")
    for entry in direct:
        name = canonicalize_name(entry["name"])
        src.direct[entry["url"]] = _metadata(name, Version(entry["version"]), entry, "direct")
    return src


def build_snapshot(image: Mapping[str, Any]) -> Snapshot:
    pins = []
    for text in image.get("pins", []):
        if " @ " in text:
            name, url = text.split(" @ ", 1)
            version = image.get("versions", {}).get(name)
            pins.append(Pin(name=NormalizedName(name), version=version, url=url))
        else:
            name, _, version = text.partition("==")
            pins.append(Pin(name=NormalizedName(name), version=version or None))
    declared = tuple(
        DeclaredRequirements(name=NormalizedName(n), requirements=tuple(reqs), evidence="scenario")
        for n, reqs in image.get("declared", {}).items()
    )
    return Snapshot(
        id=image.get("id", "scenario"),
        python=image.get("python", "3.11.13"),
        pins=tuple(pins),
        platform=Platform(glibc=image.get("glibc", "2.35")),
        declared=declared,
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    source: MemorySource
    snapshot: Snapshot
    env: TargetEnvironment
    request: tuple[Requirement, ...]
    data: Mapping[str, Any]

    @property
    def expected(self) -> Mapping[str, Any]:
        expected: Mapping[str, Any] = self.data.get("expected", {})
        return expected


def scenario_from_dict(name: str, data: Mapping[str, Any]) -> Scenario:
    snapshot = build_snapshot(data.get("image", {}))
    return Scenario(
        name=name,
        source=build_source(data.get("package", []), data.get("direct", [])),
        snapshot=snapshot,
        env=TargetEnvironment.from_snapshot(snapshot),
        request=tuple(Requirement(r) for r in data.get("request", [])),
        data=data,
    )


def load_scenario(name: str) -> Scenario:
    path = SCENARIOS / f"{name}.toml"
    return scenario_from_dict(name, tomllib.loads(path.read_text(encoding="utf-8")))


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIOS.glob("*.toml"))
