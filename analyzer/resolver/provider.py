"""The resolvelib provider, thin as pip's: what to pin next (pip 25's ``get_preference`` and
``narrow_requirement_selection``) and the record of every requirement handed to resolvelib, which the conflict
explanation walks. Candidates come from the factory; dependencies and satisfaction live on the objects."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from analyzer.resolver.candidates import Candidate, InstalledCandidate
from analyzer.resolver.factory import Edge, Factory, edge_ignored
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
)

__all__ = ["Provider"]

Info = RequirementInformation[ResolverRequirement, Candidate]


@dataclass(eq=False)
class Provider(AbstractProvider[ResolverRequirement, Candidate, str]):
    """pip's provider over our factory; ``installed`` are the image's pins as candidates."""

    factory: Factory
    _: KW_ONLY
    installed: Mapping[NormalizedName, InstalledCandidate]
    user_requested: Mapping[str, int]
    """Requested identifiers, in the request's order."""
    prefer_installed: bool = True
    ignore_edges: frozenset[Edge] = frozenset()
    """The image's own breakage, skipped for the installed version of the parent only (``edge_ignored``)."""
    constrained: Mapping[NormalizedName, InstalledCandidate] = field(default_factory=dict)
    """Kept pins: the only candidate their project is offered."""
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None
    """pip's ``-c`` constraints: filter a project's candidates, never add a project."""
    prune: Callable[[Candidate], bool] | None = None
    """Candidates proven to be in no solution (``propagation.Ranges.dead``): skipped, their metadata read lazily."""
    seen: dict[str, dict[int, ResolverRequirement]] = field(default_factory=dict)
    """Every requirement resolvelib has been given, by identifier (for the explanation chain)."""
    touched: dict[int, Candidate] = field(default_factory=dict)
    """Every candidate whose dependencies were asked for (for warnings)."""
    explicit_keys: set[str] = field(default_factory=set)
    """Identifiers some explicit requirement was handed to resolvelib for: only their criteria can hold one."""

    def record_roots(self, requirements: Iterable[ResolverRequirement]) -> None:
        """Remember requirements handed to resolvelib (roots, and every candidate's dependencies)."""
        for r in requirements:
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
        """pip 25: Requires-Python alone first, then the current backtrack causes; else everything, except that
        explicit requirements, which pip's key sorts first anyway, are passed on alone (the same choice, cheaper)."""
        ids = list(identifiers)
        if REQUIRES_PYTHON_KEY in ids:
            return [REQUIRES_PYTHON_KEY]
        causes = {i.requirement.key for i in backtrack_causes}
        causes.update(i.parent.key for i in backtrack_causes if i.parent is not None)
        current = [i for i in ids if i in causes]
        if current:
            return current
        # every requirement resolvelib holds came through record_roots, so an identifier outside explicit_keys
        # has no explicit one and its information need not be read
        explicit = [
            i
            for i in ids
            if i in self.explicit_keys
            and any(isinstance(info.requirement, ExplicitRequirement) for info in information[i])
        ]
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
        reqs = [info.requirement for info in information[identifier]]
        direct = any(isinstance(r, ExplicitRequirement) for r in reqs)
        operators = [
            (s.operator, s.version)
            for r in reqs
            if not isinstance(r, ExplicitRequirement)
            for s in r.specifier
        ]
        pinned = any(op[:2] == "==" and "*" not in ver for op, ver in operators)
        upper_bounded = any(op in ("<", "<=", "~=") or (op == "==" and "*" in ver) for op, ver in operators)
        requested_order = self.user_requested.get(identifier, math.inf)
        return (not direct, not pinned, not upper_bounded, requested_order, not operators, identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[ResolverRequirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate] | Callable[[], Iterator[Candidate]]:
        name = identifier.partition("[")[0]
        # Without --upgrade pip's strategy is "to-satisfy-only": the installed version first for every name.
        # prefer_installed=False models --upgrade (only-if-needed): the requested names go newest first.
        prefers = self.prefer_installed or all(k.partition("[")[0] != name for k in self.user_requested)
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
        if (limit is None and prune is None) or (isinstance(found, list) and not found):
            return found

        # lazily: resolvelib reads candidates in order and usually stops at the first, and telling a candidate
        # dead needs its metadata
        def alive() -> Iterator[Candidate]:
            for c in found() if callable(found) else found:
                if (limit is None or limit.contains(c.version, prereleases=True)) and (
                    prune is None or not prune(c)
                ):
                    yield c

        return alive

    def is_satisfied_by(self, requirement: ResolverRequirement, candidate: Candidate) -> bool:
        return requirement.is_satisfied_by(candidate)

    def get_dependencies(self, candidate: Candidate) -> list[ResolverRequirement]:
        self.touched[id(candidate)] = candidate
        ignored, installed = self.ignore_edges, self.installed
        deps = [
            d for d in candidate.dependencies() if not edge_ignored(ignored, installed, candidate, d.name)
        ]
        self.record_roots(deps)
        return deps
