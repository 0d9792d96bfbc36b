"""Installable at all? Whether a requested version has any distribution for the target interpreter and platform.

This is the first question because every later answer (pip's change set, the minimal conflicting set) is
meaningless when the request cannot install on the runtime at all: tensorflow 2.12.0 has wheels for cp38-cp311
only, so on a Python 3.13 runtime the answer is "no", with the evidence (which tags exist, Requires-Python) and
what fits instead (the nearest versions that do install, the releases whose Python fits). Only the index's file
lists are needed, never core metadata, so the answer is fast and works when metadata is unavailable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import DistKind, MetadataSource, ProjectFiles
from analyzer.metadata.select import VersionSupport, best_file, version_support
from analyzer.versions import parse_version

if TYPE_CHECKING:
    from analyzer.session import Session

__all__ = [
    "Installability",
    "ProjectInstallability",
    "Status",
    "VersionSupport",
    "installability",
    "project_installability",
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
    matching: tuple[Version, ...] = ()
    """Versions the specifier admits (installable or not), oldest first."""
    installable_matching: tuple[Version, ...] = ()
    interpreters: tuple[str, ...] = ()
    """Interpreter tags of the matching versions' wheels (``cp38``, ``cp39``...), in version order."""
    platforms: tuple[str, ...] = ()
    """Platform families of those wheels (``manylinux2014 x86_64``, ``macOS``, ``Windows``, ``any``)."""
    requires_python: tuple[str, ...] = ()
    """Distinct Requires-Python values of the matching files."""
    evidence: str = ""
    """``cp38, cp39, cp310, cp311 on manylinux2014 x86_64 / macOS / Windows; Requires-Python >=3.8``."""
    nearest_below: Version | None = None
    """The closest version under the requested one that has a compatible distribution."""
    nearest_above: Version | None = None
    latest_installable: Version | None = None
    fitting_releases: tuple[str, ...] = ()
    """Given releases (ids) whose Python the matching files support, in the order given."""
    indexes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

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

    def for_name(self, name: str) -> ProjectInstallability | None:
        key = canonicalize_name(name)
        return next((item for item in self.items if item.name == key), None)


# -- per version -------------------------------------------------------------------------------------------------


def supported_versions(session: Session, name: NormalizedName) -> Mapping[Version, VersionSupport]:
    """``version_support`` of a project's files on the session's target, worked out once per session."""
    found = session.support.get(name)
    if found is None:
        found = session.support[name] = version_support(session.source.project(name).files, session.env)
    return found


def _yanked_usable(requirement: Requirement) -> bool:
    """PEP 592: a yanked file is chosen only for a requirement pinned with ``==`` (no wildcard) or ``===``."""
    specs = list(requirement.specifier)
    return len(specs) == 1 and (
        specs[0].operator == "===" or (specs[0].operator == "==" and not specs[0].version.endswith(".*"))
    )


# -- evidence ----------------------------------------------------------------------------------------------------

_INTERPRETER = re.compile(r"^([a-z]+)(\d)(\d*)$")


def _interpreter_key(tag: str) -> tuple[str, int, int]:
    match = _INTERPRETER.match(tag.removesuffix("-abi3"))
    if not match:
        return (tag, 0, 0)
    return (match.group(1), int(match.group(2)), int(match.group(3) or -1))


def _platform_family(platform: str) -> str:
    """A wheel platform tag in words, grouped the way a user thinks of it."""
    if platform == "any":
        return "any platform"
    if platform.startswith("macosx"):
        return "macOS"
    if platform.startswith("win"):
        return "Windows"
    for prefix in ("manylinux_", "musllinux_"):
        if platform.startswith(prefix):
            parts = platform.split("_")
            # manylinux_2_17_x86_64 -> "manylinux_2_17 x86_64"
            return f"{'_'.join(parts[:3])} {'_'.join(parts[3:])}"
    for legacy in ("manylinux2014", "manylinux2010", "manylinux1"):
        if platform.startswith(legacy + "_"):
            return f"{legacy} {platform[len(legacy) + 1 :]}"
    if platform.startswith("linux_"):
        return f"linux {platform[len('linux_') :]}"
    return platform


def summarize_tags(filenames: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Interpreter tags and platform families of some wheels, sorted (``cp38`` before ``cp310``)."""
    interpreters: set[str] = set()
    platforms: set[str] = set()
    for filename in filenames:
        try:
            _, _, _, wheel_tags = parse_wheel_filename(filename)
        except ValueError:
            continue
        for tag in wheel_tags:
            interpreters.add(_describe_interpreter(tag))
            platforms.add(_platform_family(tag.platform))
    return tuple(sorted(interpreters, key=_interpreter_key)), tuple(sorted(platforms))


def _describe_interpreter(tag: Tag) -> str:
    if tag.abi == "abi3":
        return f"{tag.interpreter}-abi3"
    return tag.interpreter


def _evidence(interpreters: Sequence[str], platforms: Sequence[str], requires_python: Sequence[str]) -> str:
    parts = []
    if interpreters:
        parts.append(f"wheels for {', '.join(interpreters)} on {' / '.join(platforms)}")
    else:
        parts.append("no wheels")
    if requires_python:
        parts.append(f"Requires-Python {' | '.join(requires_python)}")
    return "; ".join(parts)


# -- nearest alternatives ----------------------------------------------------------------------------------------


def _anchors(requirement: Requirement, matching: Sequence[Version]) -> tuple[Version, Version] | None:
    """The lowest and highest requested version, from the matches or else from the specifier's own versions."""
    versions = matching or specifier_versions(requirement)
    return (min(versions), max(versions)) if versions else None


def specifier_versions(requirement: Requirement) -> list[Version]:
    """The versions a requirement's specifiers name (``==2.12.*`` names 2.12), to measure nearness from."""
    found = (parse_version(spec.version.removesuffix(".*")) for spec in requirement.specifier)
    return [v for v in found if v is not None]


def _nearest(
    candidates: Sequence[Version], low: Version, high: Version
) -> tuple[Version | None, Version | None]:
    below = [v for v in candidates if v < low]
    above = [v for v in candidates if v > high]
    return (max(below) if below else None, min(above) if above else None)


def _env_for_python(env: TargetEnvironment, python: str) -> TargetEnvironment | None:
    version = parse_version(python)
    if version is None:
        return None
    release = version.release + (0,) * (3 - len(version.release))
    return replace(env, python=version, python_full=".".join(str(p) for p in release[:3]))


# -- the answer --------------------------------------------------------------------------------------------------


def project_installability(
    requirement: Requirement,
    files: ProjectFiles,
    env: TargetEnvironment,
    *,
    releases: Sequence[tuple[str, str]] = (),
) -> ProjectInstallability:
    """The verdict for one requirement from the project's file list (no core metadata needed)."""
    name = canonicalize_name(requirement.name)
    text = str(requirement)
    indexes = tuple(files.indexes)
    problems = tuple(files.problems)
    if requirement.url:
        return ProjectInstallability(
            name,
            text,
            Status.DIRECT_REFERENCE,
            f"{name} is a direct reference ({requirement.url}); not checked",
            indexes=indexes,
            problems=problems,
        )
    if not files.files:
        where = ", ".join(indexes) if indexes else "the configured indexes"
        detail = f" ({'; '.join(problems)})" if problems else ""
        return ProjectInstallability(
            name,
            text,
            Status.UNKNOWN_PROJECT,
            f"no project named {requirement.name} on {where}{detail}",
            indexes=indexes,
            problems=problems,
        )

    specifier: SpecifierSet = requirement.specifier
    all_versions = files.versions()
    matching = tuple(sorted(specifier.filter(all_versions)))
    support = version_support(files.files, env)
    installable_versions = [v for v, s in support.items() if s.installable]
    installable_matching = tuple(sorted(specifier.filter(installable_versions)))

    chosen: Version | None = None
    chosen_file: str | None = None
    status: Status
    if installable_matching:
        chosen = max(installable_matching)
        wheels = [v for v in installable_matching if not support[v].sdist_only]
        if wheels:
            chosen = max(wheels)
            status = Status.INSTALLABLE
            chosen_file = support[chosen].wheel
        else:
            status = Status.SDIST_ONLY
            chosen_file = support[chosen].sdist
    elif _yanked_usable(requirement) and any(support[v].yanked_only for v in matching):
        chosen = max(v for v in matching if support[v].yanked_only)
        best = best_file((f for f in files.files if f.version == chosen), env)
        chosen_file = best.filename if best else None
        status = Status.SDIST_ONLY if chosen_file and not chosen_file.endswith(".whl") else Status.INSTALLABLE
        installable_matching = (chosen,)
    elif matching:
        status = Status.NOT_INSTALLABLE
    else:
        status = Status.NO_MATCHING_VERSION

    matching_files = [f for f in files.files if f.version in set(matching)]
    interpreters, platforms = summarize_tags(f.filename for f in matching_files if f.kind is DistKind.WHEEL)
    requires_python = tuple(sorted({str(f.requires_python) for f in matching_files if f.requires_python}))
    evidence = _evidence(interpreters, platforms, requires_python) if matching_files else ""

    # Nearest alternatives: finals only, unless the request itself asks for a pre-release.
    wants_pre = any(v.is_prerelease for v in matching) or specifier.prereleases is True
    alternatives = sorted(v for v in installable_versions if wants_pre or not v.is_prerelease)
    below = above = None
    anchors = _anchors(requirement, matching)
    if anchors is not None and status in (Status.NOT_INSTALLABLE, Status.NO_MATCHING_VERSION):
        below, above = _nearest(alternatives, *anchors)
    latest = max(alternatives) if alternatives else None

    fitting: list[str] = []
    if releases and matching_files and status in (Status.NOT_INSTALLABLE, Status.SDIST_ONLY):
        for release_id, python in releases:
            other = _env_for_python(env, python)
            if other is None:
                continue
            other_support = version_support(matching_files, other)
            if any(s.wheel is not None for s in other_support.values()):
                fitting.append(release_id)

    message = _message(requirement, status, chosen, chosen_file, env, evidence, below, above)
    return ProjectInstallability(
        name=name,
        requirement=text,
        status=status,
        message=message,
        chosen=chosen,
        chosen_file=chosen_file,
        matching=matching,
        installable_matching=installable_matching,
        interpreters=interpreters,
        platforms=platforms,
        requires_python=requires_python,
        evidence=evidence,
        nearest_below=below,
        nearest_above=above,
        latest_installable=latest,
        fitting_releases=tuple(fitting),
        indexes=indexes,
        problems=problems,
    )


def _message(
    requirement: Requirement,
    status: Status,
    chosen: Version | None,
    chosen_file: str | None,
    env: TargetEnvironment,
    evidence: str,
    below: Version | None,
    above: Version | None,
) -> str:
    here = f"Python {env.python_version} ({env.sys_platform} {env.machine})"
    if status is Status.INSTALLABLE:
        return f"{requirement} installs on {here}: {requirement.name} {chosen} ({chosen_file})"
    if status is Status.SDIST_ONLY:
        return f"{requirement}: only an sdist for {here} ({chosen_file}): pip would build it"
    nearest = " or ".join(str(v) for v in (below, above) if v is not None)
    tail = f"; nearest versions that install: {nearest}" if nearest else "; no version of it installs here"
    if status is Status.NOT_INSTALLABLE:
        return f"{requirement} has no distribution for {here}: {evidence}{tail}"
    return f"no version of {requirement.name} matches {requirement.specifier}{tail}"


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
        items.append(project_installability(requirement, files, env, releases=releases))
    return Installability(tuple(items), env.describe())
