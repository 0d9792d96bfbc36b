"""``pip check`` over a set of installed versions, on the target interpreter, without installing anything.

The rules are pip's (``operations/check.py``): a requirement counts when its marker holds with ``extra`` empty
(pip check ignores extras), a missing distribution is "not installed", and an installed version satisfies a
specifier with pre-releases allowed. Distributions whose requirements cannot be had (opaque pins) are skipped and
listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataStatus
from analyzer.resolver.candidates import InstalledCandidate, WarningKind
from analyzer.session import Session
from analyzer.versions import parse_version

__all__ = [
    "CheckResult",
    "ExtraViolation",
    "InstalledDist",
    "Unread",
    "Violation",
    "check",
    "check_extras",
    "check_snapshot",
    "holds",
    "installed_dists",
    "unread_pins",
]


@dataclass(frozen=True)
class InstalledDist:
    """One installed distribution as ``pip check`` sees it: a version and its Requires-Dist lines."""

    version: str
    requirements: tuple[Requirement, ...] | None
    """None when unknown (an opaque pin): the distribution is skipped, not assumed fine."""


@dataclass(frozen=True, order=True)
class Violation:
    """One line of ``pip check``: a requirement of ``name`` that is missing or not satisfied."""

    name: NormalizedName
    version: str
    dependency: NormalizedName
    requirement: str
    """The requirement as written in the metadata (pip prints it whole, marker included)."""
    installed: str | None
    """The dependency's installed version, or None when it is not installed."""

    @property
    def key(self) -> tuple[NormalizedName, NormalizedName, str]:
        """Identity across a before/after comparison: who requires what, whatever is installed."""
        return (self.name, self.dependency, self.requirement)

    def text(self) -> str:
        """pip's post-install wording (``pip install`` warning; the form users paste into issues)."""
        if self.installed is None:
            return f"{self.name} {self.version} requires {self.requirement}, which is not installed."
        return (
            f"{self.name} {self.version} requires {self.requirement}, but you have "
            f"{self.dependency} {self.installed} which is incompatible."
        )

    def check_text(self) -> str:
        """``pip check``'s own wording (it differs from the install warning)."""
        if self.installed is None:
            return f"{self.name} {self.version} requires {self.dependency}, which is not installed."
        return (
            f"{self.name} {self.version} has requirement {self.requirement}, "
            f"but you have {self.dependency} {self.installed}."
        )

    def future_text(self) -> str:
        """The prediction's wording, before anything is installed: "..., but you will have pandas 2.3.0"."""
        if self.installed is None:
            return f"{self.name} {self.version} requires {self.requirement}, which will not be installed"
        return (
            f"{self.name} {self.version} requires {self.requirement}, "
            f"but you will have {self.dependency} {self.installed}"
        )


@dataclass(frozen=True, order=True)
class ExtraViolation:
    """A requirement that an installed package's extra adds, unmet, while other installed packages ask for that
    extra (``google-cloud-bigquery`` requires ``google-api-core[grpc]``, whose extra wants ``grpcio-status``).
    pip check reads no extras, so pip never prints it; the packages asking still import what the extra brings."""

    provider: NormalizedName
    """The package whose extra it is (``google-api-core``)."""
    provider_version: str
    extra: NormalizedName
    dependency: NormalizedName
    requirement: str
    """The extra's requirement, its marker left out: ``grpcio-status<2.0.dev0,>=1.49.1``."""
    installed: str | None
    """The dependency's installed version, or None when it is not installed."""
    askers: tuple[str, ...] = ()
    """Who asks for the extra: ``google-cloud-bigquery 3.25.0`` (or ``google-api-core[all]``'s chain)."""

    @property
    def key(self) -> tuple[NormalizedName, NormalizedName, NormalizedName]:
        """Identity across a before/after comparison: whose extra needs what, whatever the versions."""
        return (self.provider, self.extra, self.dependency)

    def future_text(self) -> str:
        """``google-api-core 2.24.2 [grpc] requires grpcio-status>=1.49.1 (asked by ...), but you will have ...``."""
        asked = f" (asked for by {', '.join(self.askers)})" if self.askers else ""
        head = f"{self.provider} {self.provider_version} [{self.extra}] requires {self.requirement}{asked}"
        if self.installed is None:
            return f"{head}, which will not be installed"
        return f"{head}, but you will have {self.dependency} {self.installed}"


@dataclass(frozen=True, order=True)
class Unread:
    """An opaque installed distribution whose requirements a failed read hid (its index page, its metadata, its
    direct reference), unlike one the index does not have: what it requires is unknown here, not known absent."""

    name: NormalizedName
    version: str
    why: str
    """The failure, as the metadata layer worded it."""


@dataclass(frozen=True)
class CheckResult:
    violations: tuple[Violation, ...]
    opaque: tuple[NormalizedName, ...] = ()
    """Installed distributions whose requirements are unknown: not checked."""

    @property
    def ok(self) -> bool:
        return not self.violations

    def edges(self) -> tuple[tuple[NormalizedName, NormalizedName], ...]:
        """The violations as (parent, dependency) edges: what the searches ignore as the image's own breakage."""
        return tuple(sorted({(v.name, v.dependency) for v in self.violations}))


def holds(req: Requirement, env: TargetEnvironment) -> bool:
    """The marker with ``extra`` empty, as pip check reads it; through ``env`` so the answer is remembered."""
    try:
        return env.evaluate(req.marker)
    except (ValueError, TypeError):  # an unevaluable marker: pip would skip the line too
        return False


def check(
    versions: Mapping[NormalizedName, InstalledDist],
    env: TargetEnvironment,
    *,
    only: frozenset[NormalizedName] | None = None,
) -> CheckResult:
    """``pip check`` over ``versions`` on ``env``; ``only`` limits the parents checked (pip's whitelist)."""
    out: set[Violation] = set()
    opaque: list[NormalizedName] = []
    for name in sorted(versions if only is None else only & versions.keys()):
        dist = versions[name]
        if dist.requirements is None:
            opaque.append(name)
            continue
        for req in dist.requirements:
            if not holds(req, env):
                continue
            dep = canonicalize_name(req.name)
            if _unmet(req, versions):
                out.add(Violation(name, dist.version, dep, str(req), _version(versions, dep)))
    return CheckResult(violations=tuple(sorted(out)), opaque=tuple(opaque))


def check_extras(
    versions: Mapping[NormalizedName, InstalledDist], env: TargetEnvironment
) -> tuple[ExtraViolation, ...]:
    """What ``check`` leaves out: the requirements of extras that installed packages ask of each other (``Y[e]`` in
    an installed package's requirements, its marker holding with ``extra`` empty), followed into extras that
    extras ask for. Only extras the image itself asks for are read: what a user once installed with
    ``pip install Y[e]`` is recorded nowhere."""
    asked: dict[tuple[NormalizedName, NormalizedName], set[str]] = {}
    todo: list[tuple[NormalizedName, NormalizedName, str]] = []
    for name in sorted(versions):
        for req in versions[name].requirements or ():
            if req.extras and holds(req, env):
                who = f"{name} {versions[name].version}"
                todo.extend(
                    (canonicalize_name(req.name), canonicalize_name(e), who) for e in sorted(req.extras)
                )
    out: dict[tuple[NormalizedName, NormalizedName, NormalizedName], ExtraViolation] = {}
    while todo:
        provider, extra, who = todo.pop()
        if (provider, extra) in asked:
            asked[(provider, extra)].add(who)
            continue
        asked[(provider, extra)] = {who}
        dist = versions.get(provider)
        if dist is None or dist.requirements is None:
            continue  # a missing provider is check's line; an opaque one is unknown
        for req in dist.requirements:
            if holds(req, env) or not _holds_with(req, env, extra):
                continue
            dep = canonicalize_name(req.name)
            if req.extras:
                todo.extend((dep, canonicalize_name(e), f"{provider}[{extra}]") for e in sorted(req.extras))
            if _unmet(req, versions):
                bare = Requirement(str(req))
                bare.marker = None
                found = ExtraViolation(provider, dist.version, extra, dep, str(bare), _version(versions, dep))
                out.setdefault(found.key, found)
    return tuple(sorted(replace(v, askers=tuple(sorted(asked[(v.provider, v.extra)]))) for v in out.values()))


def _unmet(req: Requirement, versions: Mapping[NormalizedName, InstalledDist]) -> bool:
    """pip check's test: not installed, or installed outside the specifier (pre-releases allowed); a version that
    is not PEP 440 is not comparable, so nothing is said rather than guessed."""
    installed = _version(versions, canonicalize_name(req.name))
    have = parse_version(installed)
    return installed is None or (have is not None and not req.specifier.contains(have, prereleases=True))


def _version(versions: Mapping[NormalizedName, InstalledDist], name: NormalizedName) -> str | None:
    return versions[name].version if name in versions else None


def _holds_with(req: Requirement, env: TargetEnvironment, extra: NormalizedName) -> bool:
    try:
        return env.evaluate(req.marker, (extra,))
    except (ValueError, TypeError):  # unevaluable: skipped, as ``holds`` does
        return False


def installed_dists(session: Session) -> dict[NormalizedName, InstalledDist]:
    """The image's pins with their requirements (declared ones for e.g. google-colab), as the resolver reads them."""
    candidates = session.installed
    session.factory.prefetch_installed(candidates.values())
    out: dict[NormalizedName, InstalledDist] = {}
    for pin in session.snapshot.pins:
        cand = candidates.get(pin.name)
        if cand is None:
            out[pin.name] = InstalledDist(pin.version or "", None)
        else:
            out[pin.name] = InstalledDist(
                str(cand.version), cand.info.requires_dist if cand.info.known else None
            )
    return out


def check_snapshot(session: Session) -> CheckResult:
    """``pip check`` in the image as it is."""
    return check(installed_dists(session), session.env)


def unread_pins(session: Session, names: Iterable[NormalizedName]) -> tuple[Unread, ...]:
    """The opaque pins among ``names`` that are opaque because a read failed, each with the failure: a check that
    skips them must say so, or a network failure would pass for "nothing breaks". Only pins whose requirements
    were sought on the index count (the snapshot or the requirements table answered the others), and only what
    the session already asked for is read again (every answer is memoized): nothing is fetched."""
    out: list[Unread] = []
    for name in sorted(set(names)):
        pin = session.installed.get(name)
        if pin is None or pin.declared is not None or pin.info.known:
            continue
        if pin.info.read_from == "snapshot" or (pin.info.read_from == "table" and pin.url is None):
            continue  # the table holds only permanent answers: only a direct reference's own URL can have failed
        why = _failed_read(session, pin)
        if why is not None:
            out.append(Unread(name, str(pin.version), why))
    return tuple(out)


def _failed_read(session: Session, pin: InstalledCandidate) -> str | None:
    """Why ``pin``'s requirements could not be read, when a read failed; None when they are unknown for a reason
    the index gives (no file of this version, an sdist that does not say)."""
    if pin.url is not None:
        # a direct reference is opaque only when its own URL was not read (the index's file, if any, did not make
        # up for it): that read failed, whatever the index says of the version
        return next((w.message for w in pin.info.warnings if w.kind is WarningKind.OPAQUE), None)
    factory = session.factory
    versions = [pin.version] if pin.version.local is None else [pin.version, Version(pin.version.public)]
    for version in versions:
        file = factory.best_file_of_version(pin.name, version)
        if file is not None:
            meta = factory.metadata(file)
            if meta.status is MetadataStatus.UNAVAILABLE and meta.source:
                # a read that failed in this run (network, offline, a local file); "" is an answer about the file
                return meta.note or f"{file.filename}: metadata unavailable"
            return None
    problems = session.source.project(pin.name).problems
    return problems[0] if problems else None
