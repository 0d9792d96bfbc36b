"""The resolvelib provider: a thin adapter, as pip's ``provider.py`` is.

Candidate search lives in the factory, dependency lists on the candidates, satisfaction tests on the requirements.
What stays here is pip's choice of what to pin next (``get_preference`` and ``narrow_requirement_selection`` of
pip 25) and the record of every requirement handed to resolvelib, which the conflict explanation walks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from analyzer.resolver.candidates import Candidate, InstalledCandidate
from analyzer.resolver.factory import Factory
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
)

__all__ = ["Provider"]

Info = RequirementInformation[ResolverRequirement, Candidate]


class Provider(AbstractProvider[ResolverRequirement, Candidate, str]):
    """pip's provider over our factory; ``installed`` are the image's pins as candidates."""

    def __init__(
        self,
        factory: Factory,
        *,
        installed: Mapping[NormalizedName, InstalledCandidate],
        user_requested: Mapping[str, int],
        prefer_installed: bool = True,
        ignore_edges: Collection[tuple[NormalizedName, NormalizedName]] = (),
        constrained: Mapping[NormalizedName, InstalledCandidate] | None = None,
        constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
        prune: Callable[[Candidate], bool] | None = None,
    ) -> None:
        self.factory = factory
        self.prune = prune
        """Candidates proven to be in no solution (``resolver._Ranges.dead``): skipped, their metadata read lazily."""
        self.constrained = constrained or {}
        self.constraints = constraints or {}
        """pip's ``-c`` constraints: filter a project's candidates, never add a project."""
        self.installed = installed
        self.user_requested = dict(user_requested)
        self.user_requested_names = {k.partition("[")[0] for k in user_requested}
        self.prefer_installed = prefer_installed
        self.ignore_edges = frozenset(ignore_edges)
        self.seen: dict[str, dict[int, ResolverRequirement]] = {}
        """Every requirement resolvelib has been given, by identifier (for the explanation chain)."""
        self.touched: dict[int, Candidate] = {}
        """Every candidate whose dependencies were asked for (for warnings)."""
        self.explicit_keys: set[str] = set()
        """Identifiers some explicit requirement was handed to resolvelib for: only their criteria can hold one."""

    def record_roots(self, roots: Iterable[ResolverRequirement]) -> None:
        for r in roots:
            self.seen.setdefault(r.key, {})[id(r)] = r
            if type(r) is ExplicitRequirement:
                self.explicit_keys.add(r.key)

    def identify(self, requirement_or_candidate: ResolverRequirement | Candidate) -> str:
        return requirement_or_candidate.key

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Info]],
        backtrack_causes: Sequence[Info],
    ) -> Iterable[str]:
        """pip 25: Requires-Python alone first, then the current backtrack causes; else everything.

        One addition that changes no choice: explicit requirements sort first in pip's key anyway, so when some
        exist only they are passed on (a kept image has hundreds, and sorting all identifiers each round is
        quadratic).
        """
        causes: set[str] = set()
        for info in backtrack_causes:
            causes.add(info.requirement.key)
            if info.parent is not None:
                causes.add(info.parent.key)
        current: list[str] = []
        explicit: list[str] = []
        ids = list(identifiers)
        for identifier in ids:
            if identifier == REQUIRES_PYTHON_KEY:
                return [identifier]
            if identifier in causes:
                current.append(identifier)
        if current:
            return current
        # every requirement resolvelib holds came through record_roots or get_dependencies, so an identifier
        # outside explicit_keys has no explicit one and its information need not be read
        maybe = self.explicit_keys
        for identifier in ids:
            if identifier in maybe and any(
                isinstance(i.requirement, ExplicitRequirement) for i in information[identifier]
            ):
                explicit.append(identifier)
        return explicit or ids

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[Info]],
        backtrack_causes: Sequence[Info],
    ) -> Any:
        """pip 25's key: direct, pinned, upper-bounded, requested order, non-free, then the name."""
        direct = False
        operators: list[tuple[str, str]] = []
        for info in information[identifier]:
            req = info.requirement
            if isinstance(req, ExplicitRequirement):
                direct = True
                continue
            for spec in req.specifier:
                operators.append((spec.operator, spec.version))
        pinned = any(op[:2] == "==" and "*" not in ver for op, ver in operators)
        upper_bounded = any(op in ("<", "<=", "~=") or (op == "==" and "*" in ver) for op, ver in operators)
        unfree = bool(operators)
        requested_order = self.user_requested.get(identifier, math.inf)
        return (not direct, not pinned, not upper_bounded, requested_order, not unfree, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[ResolverRequirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate] | Callable[[], Iterator[Candidate]]:
        name = identifier.partition("[")[0]
        # Without --upgrade pip's strategy is "to-satisfy-only": the installed version first for every name.
        # prefer_installed=False models --upgrade (only-if-needed): the requested names go newest first.
        prefers = self.prefer_installed or name not in self.user_requested_names
        found = self.factory.find_candidates(
            identifier,
            requirements,
            incompatibilities,
            installed=self.installed,
            prefers_installed=prefers,
            constrained=self.constrained,
        )
        limit = self.constraints.get(canonicalize_name(name)) if self.constraints else None
        prune = self.prune
        if limit is None and prune is None:
            return found
        if isinstance(found, list) and not found:
            return found

        # lazily: resolvelib reads candidates in order and usually stops at the first, and telling a candidate
        # dead needs its metadata
        def alive() -> Iterator[Candidate]:
            for c in found() if callable(found) else found:
                if limit is not None and not limit.contains(c.version, prereleases=True):
                    continue
                if prune is not None and prune(c):
                    continue
                yield c

        return alive

    def is_satisfied_by(self, requirement: ResolverRequirement, candidate: Candidate) -> bool:
        return requirement.is_satisfied_by(candidate)

    def get_dependencies(self, candidate: Candidate) -> list[ResolverRequirement]:
        self.touched[id(candidate)] = candidate
        deps = candidate.dependencies()
        if self.ignore_edges:
            deps = tuple(d for d in deps if (candidate.name, d.name) not in self.ignore_edges)
        seen = self.seen
        for d in deps:
            bucket = seen.get(d.key)
            if bucket is None:
                seen[d.key] = {id(d): d}
            else:
                bucket[id(d)] = d
            if type(d) is ExplicitRequirement:
                self.explicit_keys.add(d.key)
        return list(deps)
