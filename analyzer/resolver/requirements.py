"""Requirements as the resolver sees them, after pip's ``requirements.py``: each knows its identifier (``key``),
which candidates satisfy it and its wording in errors, and remembers who declared it (``parent``) or, for a root,
why it is there (``role``): the conflict explanation walks those to build each cause's chain."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

if TYPE_CHECKING:
    from analyzer.resolver.candidates import Candidate

__all__ = [
    "REQUIRES_PYTHON_KEY",
    "ExplicitRequirement",
    "RequiresPythonRequirement",
    "ResolverRequirement",
    "Role",
    "SpecifierRequirement",
    "and_join",
    "make_key",
]

REQUIRES_PYTHON_KEY = "<Python from Requires-Python>"
"""pip's identifier for the interpreter pseudo-project."""


class Role(str, Enum):
    """Why a root requirement is in the problem."""

    REQUEST = "request"
    """The user asked for it."""
    KEEP = "keep"
    """An image pin that must stay at its installed version (keep-the-image view)."""
    FREE = "free"
    """An image pin that must stay installed, at any version."""
    DEPENDENCY = "dependency"
    """Declared by a candidate (``parent``)."""


def and_join(parts: list[str]) -> str:
    """pip's list in prose: ``A, B and C``."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def make_key(name: NormalizedName, extras: frozenset[NormalizedName] = frozenset()) -> str:
    """pip's identifier: the canonical name, with sorted extras in brackets."""
    if not extras:
        return name
    return f"{name}[{','.join(sorted(extras))}]"


class SpecifierRequirement:
    """A named requirement with a version specifier (``numpy<1.24,>=1.22``), from the request or metadata."""

    def __init__(
        self,
        req: Requirement,
        *,
        parent: Candidate | None = None,
        role: Role = Role.DEPENDENCY,
        with_extras: bool = True,
    ) -> None:
        self.req = req
        self.name: NormalizedName = canonicalize_name(req.name)
        self.extras: frozenset[NormalizedName] = (
            frozenset(canonicalize_name(e) for e in req.extras) if with_extras else frozenset()
        )
        self.key = make_key(self.name, self.extras)
        self.specifier: SpecifierSet = req.specifier
        self.spec_key = str(req.specifier)
        """The specifier's text: the factory's memo key for candidate lists."""
        self.parent = parent
        self.role = role
        self._satisfied: dict[Candidate, bool] = {}
        self.text = str(req) if with_extras or not req.extras else _without_extras(req)

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        # pip: an installed or pinned pre-release satisfies a specifier that would not *select* it. Remembered
        # per candidate (the factory hands out one object per version): resolvelib asks for every pin every round.
        found = self._satisfied.get(candidate)
        if found is None:
            found = self.specifier.contains(candidate.version, prereleases=True)
            self._satisfied[candidate] = found
        return found

    def format_for_error(self) -> str:
        """pip's wording: comma-separated specifiers become "A, B and C" (``numpy<1.24 and >=1.22``)."""
        return and_join([s.strip() for s in self.text.split(",")])

    def __repr__(self) -> str:
        return f"SpecifierRequirement({self.text!r}, parent={self.parent!r})"


class ExplicitRequirement:
    """A requirement that only one given candidate satisfies: a direct reference or a kept image pin."""

    def __init__(
        self, candidate: Candidate, *, parent: Candidate | None = None, role: Role = Role.DEPENDENCY
    ):
        self.candidate = candidate
        self.extras = candidate.extras
        self.key = candidate.key
        self.name = candidate.name
        self.parent = parent
        self.role = role

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        return candidate is self.candidate or candidate.same_as(self.candidate)

    def format_for_error(self) -> str:
        return self.candidate.format_for_error()

    def __repr__(self) -> str:
        return f"ExplicitRequirement({self.candidate!r})"


class RequiresPythonRequirement:
    """A candidate's Requires-Python, checked against the target interpreter (pip's pseudo-project)."""

    extras: frozenset[NormalizedName] = frozenset()

    def __init__(self, specifier: SpecifierSet, *, parent: Candidate | None) -> None:
        self.specifier = specifier
        self.key = REQUIRES_PYTHON_KEY
        self.name = NormalizedName(REQUIRES_PYTHON_KEY)
        self.parent = parent
        self.role = Role.DEPENDENCY

    def is_satisfied_by(self, candidate: Candidate) -> bool:
        return self.specifier.contains(candidate.version, prereleases=True)

    def format_for_error(self) -> str:
        return f"Python {self.specifier}"

    def __repr__(self) -> str:
        return f"RequiresPythonRequirement({self.specifier!s})"


def _without_extras(req: Requirement) -> str:
    """``Requests>=2`` for ``Requests[socks]>=2``: the base project's requirement, as pip words it."""
    stripped = Requirement(str(req))
    stripped.extras = set()
    return str(stripped)


ResolverRequirement = SpecifierRequirement | ExplicitRequirement | RequiresPythonRequirement
