"""``pip check`` over a set of installed versions, on the target interpreter, without installing anything.

The rules are pip's (``operations/check.py``): a requirement counts when its marker holds with ``extra`` empty
(pip check ignores extras), a missing distribution is "not installed", and an installed version satisfies a
specifier with pre-releases allowed. Distributions whose requirements cannot be had (opaque pins) are skipped and
listed, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.environment import TargetEnvironment
from analyzer.session import Session
from analyzer.versions import parse_version

__all__ = ["CheckResult", "InstalledDist", "Violation", "check", "check_snapshot", "holds", "installed_dists"]


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
            installed = versions[dep].version if dep in versions else None
            have = parse_version(installed)
            # a version that is not PEP 440 is not comparable: say nothing rather than guess
            if installed is None or (have is not None and not req.specifier.contains(have, prereleases=True)):
                out.add(Violation(name, dist.version, dep, str(req), installed))
    return CheckResult(violations=tuple(sorted(out)), opaque=tuple(opaque))


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
