"""What a resolution answers, as plain data: the chosen distributions, or a conflict worded as pip words it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.resolver.candidates import Origin, ResolverWarning
from analyzer.resolver.requirements import REQUIRES_PYTHON_KEY, Role, and_join

__all__ = ["Conflict", "ConflictCause", "Resolution", "ResolvedDist", "Unavailable"]


@dataclass(frozen=True)
class ResolvedDist:
    """One distribution of a successful resolution."""

    name: NormalizedName
    version: Version
    origin: Origin
    requirements: tuple[Requirement, ...]
    """Its Requires-Dist lines that hold on the target, the requested extras' included."""
    requires_dist: tuple[Requirement, ...] = ()
    """Every Requires-Dist line, unevaluated (what ``pip check`` reads)."""
    url: str | None = None
    extras: frozenset[NormalizedName] = frozenset()
    known: bool = True
    """False when its requirements are unknown (opaque pin, requirements-unknown sdist, unavailable metadata)."""


@dataclass(frozen=True)
class ConflictCause:
    """One requirement of resolvelib's ``ResolutionImpossible``, with who asked for it and why they are there."""

    name: NormalizedName
    """The required project (``<Python from Requires-Python>`` for an interpreter requirement)."""
    requirement: str
    """Plain PEP 508 text: ``numpy<1.24,>=1.22``."""
    pip_requirement: str
    """pip's wording of it: ``numpy<1.24 and >=1.22``."""
    role: Role
    parent: NormalizedName | None = None
    parent_version: str | None = None
    chain: tuple[str, ...] = ()
    """How the parent got into the problem, from the root down (``The user requested tensorflow==2.12.0``,
    ``tensorflow 2.12.0 depends on keras<2.13,>=2.12.0``...); empty for root causes."""

    @property
    def text(self) -> str:
        """``tensorflow 2.12.0 depends on numpy<1.24,>=1.22`` / ``The user requested tensorflow==2.12.0``."""
        return self._line(self.requirement)

    @property
    def pip_text(self) -> str:
        """The line as pip prints it under "The conflict is caused by:"."""
        return self._line(self.pip_requirement)

    def _line(self, requirement: str) -> str:
        if self.role is Role.DEPENDENCY:
            return f"{self.parent} {self.parent_version} depends on {requirement}"
        return _ROOT_WORDING[self.role].format(requirement)


_ROOT_WORDING = {
    Role.REQUEST: "The user requested {}",
    Role.KEEP: "The image keeps {}",
    Role.FREE: "The image keeps {} installed (any version)",
}


@dataclass(frozen=True)
class Unavailable:
    """A project the failed resolution needed that has no version here within what was asked of it (wheels for
    other interpreters or platforms only, a Requires-Python that excludes this Python, or no such version at all):
    the deepest cause, named instead of "the requirements conflict"."""

    name: NormalizedName
    requirement: str
    """What was asked of it, every naming cause's specifier together: ``jaxlib<=0.4.30,>=0.4.27``."""
    causes: tuple[ConflictCause, ...]
    """The conflict's causes that ask it of the project."""
    missing: str
    """What is missing, as a clause: ``has no distribution for Python 3.13 (linux x86_64)``."""
    evidence: str = ""
    """The file list's evidence: ``wheels for cp39, cp310, cp311, cp312 on manylinux2014 x86_64``."""
    nearest: tuple[str, ...] = ()
    """The nearest versions of the project that install here, below and above what was asked."""

    @property
    def chains(self) -> tuple[tuple[str, ...], ...]:
        """For each cause, the path from a root requirement down to the requirement that cannot be met."""
        return tuple((*c.chain, c.text) for c in self.causes)

    def reason(self) -> str:
        """``jax 0.4.30 depends on jaxlib<=0.4.30,>=0.4.27, which has no distribution for Python 3.13 (...): wheels
        for cp39, cp310, cp311, cp312 on ...; nearest versions that install: 0.4.34``."""
        asked = and_join([c.text for c in self.causes])
        if any(c.requirement != self.requirement for c in self.causes):
            asked += f": together {self.requirement}"
        evidence = f": {self.evidence}" if self.evidence else ""
        nearest = ", ".join(self.nearest)
        tail = (
            f"; nearest versions that install: {nearest}" if nearest else "; no version of it installs here"
        )
        return f"{asked}, which {self.missing}{evidence}{tail}"


@dataclass(frozen=True)
class Conflict:
    """Why no resolution exists, as data; ``pip_message()`` phrases it the way pip does."""

    causes: tuple[ConflictCause, ...]
    too_deep: bool = False
    rounds: int | None = None
    detail: str = ""
    python: str = ""
    """The target interpreter's version, for pip's "requires a different Python" wording."""
    versions: tuple[str, ...] = ()
    """For a single unsatisfiable requirement: the versions that install on the target (pip's "from versions")."""
    yanked: tuple[str, ...] = ()
    """For a single unsatisfiable requirement: the yanked versions pip says it ignored."""
    unavailable: tuple[Unavailable, ...] = ()
    """Causes no version of whose project installs here (filled in by the diagnosis, which reads file lists)."""

    @property
    def requires_python(self) -> bool:
        """True when the target interpreter itself is a cause (pip reports that first and alone)."""
        return any(c.name == REQUIRES_PYTHON_KEY for c in self.causes)

    def reason(self, shown: int = 2) -> str:
        """The failure in one clause for a headline: the deepest causes when some project has no version here
        (the first ``shown`` of them), else what pip's message says in short."""
        if self.unavailable:
            more = len(self.unavailable) - shown
            tail = f" (and {more} more without a version here)" if more > 0 else ""
            return "; ".join(u.reason() for u in self.unavailable[:shown]) + tail
        if self.too_deep or self.requires_python:
            return self.pip_message().splitlines()[0]
        return "the requirements conflict"

    def pip_message(self) -> str:
        """pip's error text for this conflict (``get_installation_error``), without its advice lines."""
        if self.too_deep:
            return f"ResolutionTooDeep: gave up after {self.rounds} rounds"
        python = [c for c in self.causes if c.name == REQUIRES_PYTHON_KEY]
        if len(python) == 1:
            spec = python[0].requirement.removeprefix("Python")
            return f"Package {python[0].parent!r} requires a different Python: {self.python} not in {spec!r}"
        if python:
            lines = [f"Packages require a different Python. {self.python} not in:"]
            lines.extend(
                f"{c.requirement.removeprefix('Python')!r} (required by {c.parent} {c.parent_version})"
                for c in python
            )
            return "\n".join(lines)
        if len(self.causes) == 1 and self.causes[0].role is not Role.KEEP:
            cause = self.causes[0]
            shown = f"{cause.requirement} (from {cause.parent})" if cause.parent else cause.requirement
            lines = (
                [f"Ignored the following yanked versions: {', '.join(self.yanked)}"] if self.yanked else []
            )
            lines.append(
                f"Could not find a version that satisfies the requirement {shown} "
                f"(from versions: {', '.join(self.versions) or 'none'})"
            )
            lines.append(f"No matching distribution found for {cause.requirement}")
            return "\n".join(lines)
        # what pip names: the root requirements, and the parents of the others
        info = and_join(
            sorted(
                {
                    c.pip_requirement if c.parent is None else f"{c.parent}=={c.parent_version}"
                    for c in self.causes
                }
            )
        )
        lines = [
            (
                f"Cannot install {info or 'the requested packages'} because these package versions have "
                "conflicting dependencies."
            ),
            "",
            "The conflict is caused by:",
        ]
        lines.extend(f"    {c.pip_text}" for c in self.causes)
        return "\n".join(lines)


@dataclass(frozen=True)
class Resolution:
    """The answer of one resolution: a mapping when ``ok``, a ``conflict`` when not; warnings either way."""

    ok: bool
    mapping: Mapping[NormalizedName, ResolvedDist] = field(default_factory=dict)
    conflict: Conflict | None = None
    warnings: tuple[ResolverWarning, ...] = ()
