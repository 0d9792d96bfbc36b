"""Installable at all? Whether a requested version has any distribution for the target interpreter and platform.

Asked first: every later answer is meaningless when the request cannot install on the runtime at all. Only the
index's file lists are needed, never core metadata, so the answer is fast and works when metadata is unavailable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import DistFile, DistKind, MetadataSource, ProjectFiles, SdistFacts
from analyzer.metadata.select import VersionSupport, best_file, version_support
from analyzer.resolver.candidates import Origin
from analyzer.resolver.factory import is_pinned
from analyzer.versions import parse_version

if TYPE_CHECKING:
    from analyzer.diagnosis.pip_prediction import Change, PipPrediction
    from analyzer.session import Session

__all__ = [
    "Installability",
    "ProjectInstallability",
    "SourceBuild",
    "Status",
    "installability",
    "project_installability",
    "source_build",
    "source_builds",
    "specifier_versions",
    "summarize_tags",
    "supported_versions",
]


class Status(str, Enum):
    """The verdict for one requested project."""

    INSTALLABLE = "installable"
    """A matching version has a wheel for the target."""
    SDIST_ONLY = "sdist-only"
    """A matching version installs only by building its sdist (pip would build it; we never do)."""
    NOT_INSTALLABLE = "not-installable"
    """Versions match the specifier, but none has a distribution for this interpreter and platform."""
    NO_MATCHING_VERSION = "no-matching-version"
    """The project exists, but no version satisfies the specifier."""
    UNKNOWN_PROJECT = "unknown-project"
    """No configured index has a project of that name."""
    DIRECT_REFERENCE = "direct-reference"
    """``name @ URL``: not on an index, not checked here."""

    @property
    def installable(self) -> bool:
        return self in (Status.INSTALLABLE, Status.SDIST_ONLY, Status.DIRECT_REFERENCE)


@dataclass(frozen=True)
class SourceBuild:
    """A version pip would install by building its sdist, and what is known of that build without running it."""

    name: NormalizedName
    version: Version
    filename: str
    requested: bool
    """The request's own project (else a package the predicted resolution pulls in)."""
    python: str
    """The target's ``X.Y``."""
    interpreters: tuple[str, ...] = ()
    """Interpreter tags of this version's wheels (none of which fits here)."""
    platforms: tuple[str, ...] = ()
    stops_below: str | None = None
    """The last interpreter of a contiguous run of CPython wheels that ends below the target (``cp310`` on 3.11):
    the project built wheels up to there and no further, so its build is likely to refuse or fail here."""
    nearest_below: Version | None = None
    """The closest versions with a wheel for this interpreter and platform."""
    nearest_above: Version | None = None
    facts: SdistFacts | None = None
    """What the archive says (backend, build requirements, compiled sources); None when not asked."""

    @property
    def likely_fails(self) -> bool:
        return self.stops_below is not None

    @property
    def alternatives(self) -> tuple[Version, ...]:
        return tuple(v for v in (self.nearest_below, self.nearest_above) if v is not None)

    @property
    def wheel_tag(self) -> str:
        """The interpreter tag a wheel would need here (``cp311``)."""
        return "cp" + self.python.replace(".", "")

    def evidence(self) -> str:
        """``wheels cp37..cp310, no cp311 wheel; pip would build numba-0.56.4.tar.gz``."""
        if self.stops_below is not None:
            first = next(t for t in self.interpreters if t.startswith("cp"))
            wheels = f"wheels {first}..{self.stops_below}, no {self.wheel_tag} wheel"
        elif self.interpreters:
            wheels = f"wheels for {', '.join(self.interpreters)} on {' / '.join(self.platforms)}, none for here"
        else:
            wheels = "no wheels at all"
        return f"{wheels}; pip would build {self.filename}"

    def outcome(self) -> str:
        """What the build is expected to do, in words."""
        if self.likely_fails:
            return f"the build is likely to refuse or fail on Python {self.python}"
        facts = self.facts
        if facts is None or not facts.read:
            return "whether the build succeeds is not known without building it"
        if facts.compiles:
            return "the build compiles code: it needs a working toolchain and may fail"
        return "the build compiles nothing that tfconflict can see; it is still not run here"

    def details(self) -> tuple[str, ...]:
        """The evidence lines under a source build in the human renderings."""
        lines = [self.evidence(), self.outcome()]
        facts = self.facts
        if facts is not None and not facts.read:
            lines.append(f"{facts.filename}: {facts.note}")
        elif facts is not None:
            declared = "" if facts.backend_declared else " (none declared: setuptools' legacy backend)"
            lines.append(f"build backend: {facts.build_backend}{declared}")
            requires = ", ".join(facts.build_requires) or "none"
            lines.append(f"build requirements: {requires}{'' if facts.requires_declared else ' (pip default)'}")
            if facts.compiles:
                lines.append(f"compiles code: {_compiled(facts)}")
            else:
                lines.append(f"no C, C++, Cython, Fortran or Rust sources among its {facts.members} files")
            if facts.note:
                lines.append(facts.note)
        if self.alternatives:
            lines.append(
                f"nearest versions with a {self.wheel_tag} wheel: " + ", ".join(str(v) for v in self.alternatives)
            )
        return tuple(lines)


def _compiled(facts: SdistFacts) -> str:
    parts = [f"{language} sources: {count}" for language, count in facts.sources]
    parts.extend(facts.compiling_tools)
    return ", ".join(parts)


@dataclass(frozen=True)
class ProjectInstallability:
    """The answer for one requested requirement, with the evidence behind it."""

    name: NormalizedName
    requirement: str
    status: Status
    message: str
    """The verdict in one plain sentence (the renderer may rephrase from the fields)."""
    chosen: Version | None = None
    """The version pip would consider first: the newest matching one with a compatible distribution."""
    chosen_file: str | None = None
    interpreters: tuple[str, ...] = ()
    """Interpreter tags of the matching versions' wheels (``cp38``, ``cp39``...), in version order."""
    platforms: tuple[str, ...] = ()
    """Platform families of those wheels (``manylinux2014 x86_64``, ``macOS``, ``Windows``, ``any``)."""
    requires_python: tuple[str, ...] = ()
    evidence: str = ""
    """``wheels for cp38, cp39 on manylinux2014 x86_64 / macOS; Requires-Python >=3.8``."""
    nearest_below: Version | None = None
    """The closest version under the requested one that has a compatible distribution."""
    nearest_above: Version | None = None
    latest_installable: Version | None = None
    fitting_releases: tuple[str, ...] = ()
    """Given releases (ids) whose Python the matching files support, in the order given."""
    problems: tuple[str, ...] = ()
    build: SourceBuild | None = None
    """When the chosen file is an sdist: the build pip would run (NOT_INSTALLABLE when it is likely to fail)."""

    @property
    def installable(self) -> bool:
        return self.status.installable

    @property
    def alternatives(self) -> tuple[Version, ...]:
        return tuple(v for v in (self.nearest_below, self.nearest_above) if v is not None)


@dataclass(frozen=True)
class Installability:
    """The answer for the whole request: installable only when every requested project is."""

    items: tuple[ProjectInstallability, ...]
    target: str
    """The target in words (``CPython 3.13.5, linux x86_64, glibc 2.35``), to say what "here" means."""

    @property
    def ok(self) -> bool:
        return all(item.installable for item in self.items)

    @property
    def blocking(self) -> tuple[ProjectInstallability, ...]:
        return tuple(item for item in self.items if not item.installable)


def supported_versions(session: Session, name: NormalizedName) -> Mapping[Version, VersionSupport]:
    """``version_support`` of a project's files on the session's target, worked out once per session."""
    if name not in session.support:
        session.support[name] = version_support(session.source.project(name).files, session.env)
    return session.support[name]


_INTERPRETER = re.compile(r"^([a-z]+)(\d)(\d*)$")


def _interpreter_key(tag: str) -> tuple[str, int, int]:
    """``cp38`` before ``cp310``: the major digit, then the rest as a number."""
    match = _INTERPRETER.match(tag.removesuffix("-abi3"))
    if not match:
        return (tag, 0, 0)
    return (match.group(1), int(match.group(2)), int(match.group(3) or -1))


def _platform_family(platform: str) -> str:
    """A wheel platform tag in words, grouped the way a user thinks of it."""
    if platform == "any":
        return "any platform"
    for prefix, family in (("macosx", "macOS"), ("win", "Windows")):
        if platform.startswith(prefix):
            return family
    if platform.startswith(("manylinux_", "musllinux_")):
        parts = platform.split("_")  # manylinux_2_17_x86_64 -> "manylinux_2_17 x86_64"
        return f"{'_'.join(parts[:3])} {'_'.join(parts[3:])}"
    for legacy in ("manylinux2014", "manylinux2010", "manylinux1", "linux"):
        if platform.startswith(legacy + "_"):
            return f"{legacy} {platform[len(legacy) + 1 :]}"
    return platform


def summarize_tags(filenames: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Interpreter tags and platform families of some wheels, sorted (``cp38`` before ``cp310``)."""
    interpreters: set[str] = set()
    platforms: set[str] = set()
    for filename in filenames:
        try:
            tags = parse_wheel_filename(filename)[3]
        except ValueError:
            continue
        interpreters.update(f"{t.interpreter}-abi3" if t.abi == "abi3" else t.interpreter for t in tags)
        platforms.update(_platform_family(t.platform) for t in tags)
    return tuple(sorted(interpreters, key=_interpreter_key)), tuple(sorted(platforms))


def specifier_versions(requirement: Requirement) -> list[Version]:
    """The versions a requirement's specifiers name (``==2.12.*`` names 2.12), to measure nearness from."""
    found = (parse_version(spec.version.removesuffix(".*")) for spec in requirement.specifier)
    return [v for v in found if v is not None]


def _fitting_releases(
    files: Sequence[DistFile], env: TargetEnvironment, releases: Sequence[tuple[str, str]]
) -> tuple[str, ...]:
    """The releases (id, Python) on whose Python one of ``files`` has a wheel."""
    fitting = []
    for release_id, python in releases:
        version = parse_version(python)
        if version is None:
            continue
        release = (*version.release, 0, 0)[:3]
        other = replace(env, python=version, python_full=".".join(map(str, release)))
        if any(s.wheel is not None for s in version_support(files, other).values()):
            fitting.append(release_id)
    return tuple(fitting)


def _by_version(files: Iterable[DistFile]) -> dict[Version, list[DistFile]]:
    out: dict[Version, list[DistFile]] = {}
    for file in files:
        out.setdefault(file.version, []).append(file)
    return out


def _stops_below(files: Iterable[DistFile], env: TargetEnvironment) -> str | None:
    """The last tag of the version's CPython wheels when they are a contiguous run (cp37, cp38, cp39, cp310) that
    ends below the target's Python, and no wheel is interpreter-generic (abi3, py3; PyPy's do not count): a
    project that built wheels for each Python up to one and stopped, which is what a build refusing newer Pythons
    looks like."""
    minors: set[int] = set()
    for file in files:
        if file.kind is not DistKind.WHEEL:
            continue
        try:
            tags = parse_wheel_filename(file.filename)[3]
        except ValueError:
            continue
        for tag in tags:
            if tag.abi == "abi3" or tag.interpreter.startswith("py"):
                return None
            match = _INTERPRETER.match(tag.interpreter) if tag.interpreter.startswith("cp") else None  # not PyPy's
            if match and match.group(2) == str(env.python.major) and match.group(3):
                minors.add(int(match.group(3)))
    if not minors or max(minors) >= env.python.minor or len(minors) != max(minors) - min(minors) + 1:
        return None
    return f"cp{env.python.major}{max(minors)}"


def source_build(
    files: Sequence[DistFile],
    version: Version,
    filename: str,
    env: TargetEnvironment,
    *,
    requested: bool,
    support: Mapping[Version, VersionSupport] | None = None,
) -> SourceBuild:
    """The build pip would run for ``filename`` (an sdist of ``version``), from the project's file list: which
    interpreters the version's wheels cover, whether they stop below this one, the nearest versions with a wheel.
    The archive's own facts are added by the caller (``MetadataSource.sdist_facts``)."""
    support = support if support is not None else version_support(files, env)
    own = [f for f in files if f.version == version]
    interpreters, platforms = summarize_tags(f.filename for f in own if f.kind is DistKind.WHEEL)
    wanted = (v for v, s in support.items() if s.wheel is not None and (version.is_prerelease or not v.is_prerelease))
    wheels = sorted(wanted)
    return SourceBuild(
        name=canonicalize_name(own[0].project if own else filename.split("-", 1)[0]),
        version=version,
        filename=filename,
        requested=requested,
        python=env.python_version,
        interpreters=interpreters,
        platforms=platforms,
        stops_below=_stops_below(own, env),
        nearest_below=max((v for v in wheels if v < version), default=None),
        nearest_above=min((v for v in wheels if v > version), default=None),
    )


def project_installability(
    requirement: Requirement,
    files: ProjectFiles,
    env: TargetEnvironment,
    *,
    releases: Sequence[tuple[str, str]] = (),
) -> ProjectInstallability:
    """The verdict for one requirement from the project's file list (no core metadata needed)."""
    name = canonicalize_name(requirement.name)
    problems = tuple(files.problems)
    if requirement.url:
        message = f"{name} is a direct reference ({requirement.url}); not checked"
        return ProjectInstallability(
            name, str(requirement), Status.DIRECT_REFERENCE, message, problems=problems
        )
    if not files.files:
        where = ", ".join(files.indexes) if files.indexes else "the configured indexes"
        detail = f" ({'; '.join(problems)})" if problems else ""
        message = f"no project named {requirement.name} on {where}{detail}"
        return ProjectInstallability(
            name, str(requirement), Status.UNKNOWN_PROJECT, message, problems=problems
        )

    specifier = requirement.specifier
    matching = sorted(specifier.filter(files.versions()))
    support = version_support(files.files, env)
    by_version = _by_version(files.files)
    installable_versions = [v for v, s in support.items() if s.installable]
    installable_matching = list(specifier.filter(installable_versions))
    chosen: Version | None = None
    chosen_file: str | None = None
    build: SourceBuild | None = None
    if installable_matching:
        # pip takes the newest version with a file for the target, a wheel or else the sdist (no --prefer-binary)
        chosen = max(installable_matching)
        chosen_file = support[chosen].wheel or support[chosen].sdist
        status = Status.SDIST_ONLY if support[chosen].sdist_only else Status.INSTALLABLE
    elif len(specifier) == 1 and is_pinned(specifier) and any(support[v].yanked_only for v in matching):
        # PEP 592: a yanked file is chosen only for a requirement pinned with ``==`` (no wildcard) or ``===``
        chosen = max(v for v in matching if support[v].yanked_only)
        best = best_file(by_version[chosen], env)
        chosen_file = best.filename if best else None
        status = Status.SDIST_ONLY if chosen_file and not chosen_file.endswith(".whl") else Status.INSTALLABLE
    else:
        status = Status.NOT_INSTALLABLE if matching else Status.NO_MATCHING_VERSION
    if status is Status.SDIST_ONLY and chosen is not None and chosen_file is not None:
        build = source_build(files.files, chosen, chosen_file, env, requested=True, support=support)
        if build.likely_fails:
            status = Status.NOT_INSTALLABLE

    matching_files = [f for f in files.files if f.version in set(matching)]
    interpreters, platforms = summarize_tags(f.filename for f in matching_files if f.kind is DistKind.WHEEL)
    requires_python = tuple(sorted({str(f.requires_python) for f in matching_files if f.requires_python}))
    evidence = "no wheels" if matching_files else ""
    if interpreters:
        evidence = f"wheels for {', '.join(interpreters)} on {' / '.join(platforms)}"
    if requires_python:
        evidence += f"; Requires-Python {' | '.join(requires_python)}"
    if build is not None and build.likely_fails:
        evidence = build.evidence() + (f"; Requires-Python {' | '.join(requires_python)}" if requires_python else "")

    # Nearest alternatives: finals only, unless the request itself asks for a pre-release; a version whose only
    # file is an sdist that is likely to fail to build here does not count as installing.
    wants_pre = any(v.is_prerelease for v in matching) or specifier.prereleases is True
    refused = {v for v in installable_versions if support[v].sdist_only and _stops_below(by_version[v], env)}
    alternatives = sorted(v for v in installable_versions if (wants_pre or not v.is_prerelease) and v not in refused)
    below = above = None
    anchors = matching or specifier_versions(requirement)
    if build is not None and build.likely_fails:
        below, above = build.nearest_below, build.nearest_above
    elif anchors and status in (Status.NOT_INSTALLABLE, Status.NO_MATCHING_VERSION):
        below = max((v for v in alternatives if v < min(anchors)), default=None)
        above = min((v for v in alternatives if v > max(anchors)), default=None)
    fitting: tuple[str, ...] = ()
    if releases and matching_files and status in (Status.NOT_INSTALLABLE, Status.SDIST_ONLY):
        fitting = _fitting_releases(matching_files, env, releases)

    here = f"Python {env.python_version} ({env.sys_platform} {env.machine})"
    nearest = " or ".join(str(v) for v in (below, above) if v is not None)
    tail = f"; nearest versions that install: {nearest}" if nearest else "; no version of it installs here"
    messages = {
        Status.INSTALLABLE: f"{requirement} installs on {here}: {requirement.name} {chosen} ({chosen_file})",
        Status.SDIST_ONLY: f"{requirement}: only an sdist for {here} ({chosen_file}): pip would build it",
        Status.NOT_INSTALLABLE: f"{requirement} has no distribution for {here}: {evidence}{tail}",
        Status.NO_MATCHING_VERSION: f"no version of {requirement.name} matches {specifier}{tail}",
    }
    if build is not None and build.likely_fails:
        messages[Status.NOT_INSTALLABLE] = (
            f"{requirement} has no wheel for {here}: {build.evidence()}, and {build.outcome()}{tail}"
        )
    return ProjectInstallability(
        name=name,
        requirement=str(requirement),
        status=status,
        message=messages[status],
        chosen=chosen,
        chosen_file=chosen_file,
        interpreters=interpreters,
        platforms=platforms,
        requires_python=requires_python,
        evidence=evidence,
        nearest_below=below,
        nearest_above=above,
        latest_installable=max(alternatives, default=None),
        fitting_releases=fitting,
        problems=problems,
        build=build,
    )


def installability(
    request: Sequence[Requirement],
    env: TargetEnvironment,
    source: MetadataSource,
    *,
    releases: Sequence[tuple[str, str]] = (),
) -> Installability:
    """Whether every requested requirement has a distribution for ``env``; ``releases`` are (id, Python) pairs."""
    items = []
    for requirement in request:
        name = canonicalize_name(requirement.name)
        files = source.project(name) if not requirement.url else ProjectFiles(name, ())
        item = project_installability(requirement, files, env, releases=releases)
        if item.build is not None:
            sdist = next(f for f in files.files if f.filename == item.build.filename)
            item = replace(item, build=replace(item.build, facts=source.sdist_facts(sdist)))
        items.append(item)
    return Installability(tuple(items), env.describe())


def source_builds(
    request: Sequence[Requirement], session: Session, prediction: PipPrediction
) -> tuple[SourceBuild, ...]:
    """The sdists pip would build to carry out ``prediction``: every package it installs from an index whose
    chosen file for the predicted version (the resolver's, ``Factory.versions``) is an sdist."""
    requested = {canonicalize_name(r.name) for r in request}
    out = []
    for change, file in sdists_built(prediction, session):
        files = session.source.project(change.name).files
        support = supported_versions(session, change.name)
        build = source_build(
            files, file.version, file.filename, session.env, requested=change.name in requested, support=support
        )
        out.append(replace(build, facts=session.source.sdist_facts(file)))
    return tuple(out)


def sdists_built(prediction: PipPrediction, session: Session) -> list[tuple[Change, DistFile]]:
    """The changes of ``prediction`` that pip carries out by building an sdist, with that sdist: the resolver's
    chosen file (``Factory.versions``) for each version installed from an index. No archive is read."""
    out = []
    for change in prediction.changes:
        version = parse_version(change.new)
        if change.origin is not Origin.INDEX or version is None:
            continue
        file = next((f for f in session.factory.versions(change.name) if f.version == version), None)
        if file is not None and file.kind is DistKind.SDIST:
            out.append((change, file))
    return out
