"""Why a member of a conflicting set cannot stay: its clashing requirement, the requirement it clashes with, and
the chain of requirers from there up to the request, as ``Edge`` data the renderers phrase.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.graph import REQUEST, Edge, ImageGraph
from analyzer.environment import TargetEnvironment
from analyzer.resolver import Resolution
from analyzer.versions import parse_version

__all__ = ["explain_member", "resolution_edges"]


def resolution_edges(
    resolution: Resolution, request: Sequence[Requirement], env: TargetEnvironment
) -> dict[NormalizedName, list[Edge]]:
    """Edges into every resolved name, from the request and from the resolved versions' requirements."""
    into: dict[NormalizedName, list[Edge]] = {}
    extras: dict[NormalizedName, set[str]] = {}
    for req in request:
        child = canonicalize_name(req.name)
        extras.setdefault(child, set()).update(req.extras)
        if env.evaluate(req.marker):
            into.setdefault(child, []).append(Edge(REQUEST, None, child, str(req)))
    for dist in resolution.mapping.values():
        for req in dist.requirements:
            extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    for name, dist in resolution.mapping.items():
        for req in dist.requirements:
            child = canonicalize_name(req.name)
            if child != name and env.evaluate(req.marker, tuple(sorted(extras.get(name, ())))):
                into.setdefault(child, []).append(Edge(name, str(dist.version), child, str(req)))
    return into


def _chain_to_request(
    start: Iterable[Edge], into: Mapping[NormalizedName, list[Edge]], avoid: NormalizedName
) -> tuple[Edge, ...]:
    """The shortest chain through the resolution from the request down to the first parent of ``start`` that the
    request reaches (without passing through ``avoid``)."""
    for edge in start:
        if edge.parent == REQUEST:
            continue
        step_to: dict[str, Edge | None] = {edge.parent: None}
        queue: deque[str] = deque([edge.parent])
        while queue and REQUEST not in step_to:
            for up in into.get(NormalizedName(queue.popleft()), []):
                if up.parent != avoid and up.parent not in step_to:
                    step_to[up.parent] = up
                    if up.parent == REQUEST:
                        break
                    queue.append(up.parent)
        if REQUEST in step_to:
            path: list[Edge] = []
            step = step_to[REQUEST]
            while step is not None:
                path.append(step)
                step = step_to[step.child]
            return tuple(reversed(path))
    return ()


def explain_member(
    name: NormalizedName,
    installed: str | None,
    graph: ImageGraph,
    fixed: Resolution,
    into: Mapping[NormalizedName, list[Edge]],
    versions_of: Callable[[NormalizedName], Sequence[Version]],
    gone: Collection[NormalizedName] = frozenset(),
    seen: frozenset[NormalizedName] = frozenset(),
) -> tuple[Edge, ...]:
    """Why ``name`` cannot stay at ``installed``, as edges: its clashing requirement (or the edge that excludes
    its version), the requirement it clashes with, then the chain from that requirer up to the request; or its
    requirement on a pin of ``gone`` (removed, and not brought back), then why that one goes.
    ``into`` is ``resolution_edges`` of ``fixed``, the resolution where the set is freed."""
    current = parse_version(installed)
    reasons: list[Edge] = []
    blamed: list[Edge] = []
    # 1. Something in the resolution excludes the installed version.
    if current is not None:
        for edge in into.get(name, []):
            if edge.parent != name and not Requirement(edge.requirement).specifier.contains(current, True):
                blamed.append(edge)
    # 2. Its installed requirements clash with what the resolution needs of a dependency.
    for own in graph.requirements_of(name):
        dist = fixed.mapping.get(own.child)
        if dist is None:
            if own.child in gone and own.child not in seen:
                below = explain_member(
                    own.child,
                    graph.version_of(own.child),
                    graph,
                    fixed,
                    into,
                    versions_of,
                    gone,
                    seen | {name},
                )
                reasons.extend((own, *below))
            continue
        try:
            req = Requirement(own.requirement.split(", ")[0])
        except InvalidRequirement:
            continue
        if req.specifier.contains(dist.version, prereleases=True):
            continue
        reasons.append(own)
        allowed = list(req.specifier.filter(versions_of(own.child), prereleases=True))
        others = [
            (e, Requirement(e.requirement).specifier) for e in into.get(own.child, []) if e.parent != name
        ]
        clashing = [e for e, spec in others if not any(spec.contains(v, True) for v in allowed)]
        blamed.extend(clashing or [e for e, _ in others])
        moved_from = graph.version_of(own.child)
        if not others and moved_from is not None and own.child not in seen:
            # nothing in the resolution requires the dependency: it moved for reasons of its own
            reasons.extend(
                explain_member(own.child, moved_from, graph, fixed, into, versions_of, gone, seen | {name})
            )
    reasons.extend(blamed)
    reasons.extend(_chain_to_request(blamed, into, name))
    return tuple(dict.fromkeys(reasons))
