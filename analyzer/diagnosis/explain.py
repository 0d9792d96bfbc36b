"""Why a member of a conflicting set cannot stay: its clashing requirement, the requirement it clashes with, and
the chain of requirers from there up to the request, as ``Edge`` data the renderers phrase.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.graph import REQUEST, Edge, ImageGraph
from analyzer.diagnosis.search import Outcome
from analyzer.environment import TargetEnvironment
from analyzer.versions import parse_version

__all__ = ["chain_to_request", "explain_member", "resolution_edges"]


def resolution_edges(
    resolution: Outcome, request: Sequence[Requirement], env: TargetEnvironment
) -> dict[NormalizedName, list[Edge]]:
    """Edges into every resolved name, from the request and from the resolved versions' requirements."""
    into: dict[NormalizedName, list[Edge]] = {}
    for req in request:
        if env.evaluate(req.marker):
            child = canonicalize_name(req.name)
            into.setdefault(child, []).append(Edge(REQUEST, None, child, str(req)))
    extras: dict[NormalizedName, set[str]] = {}
    for req in request:
        extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    for name, dist in resolution.mapping.items():
        for req in dist.requirements:
            extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    for name, dist in resolution.mapping.items():
        version = str(dist.version)
        for req in dist.requirements:
            if not env.evaluate(req.marker, tuple(sorted(extras.get(name, ())))):
                continue
            child = canonicalize_name(req.name)
            if child == name:
                continue
            into.setdefault(child, []).append(Edge(name, version, child, str(req)))
    return into


def chain_to_request(
    start: Iterable[Edge], into: Mapping[NormalizedName, list[Edge]], avoid: NormalizedName
) -> tuple[Edge, ...]:
    """From the parents of ``start`` up to the request, by the shortest path through the resolution."""
    out: list[Edge] = []
    for edge in start:
        if edge.parent == REQUEST:
            continue
        # BFS upwards from edge.parent to the request root.
        parent_of: dict[str, Edge | None] = {edge.parent: None}
        queue: deque[str] = deque([edge.parent])
        found: str | None = None
        while queue:
            node = queue.popleft()
            for up in into.get(NormalizedName(node), []):
                if up.parent == avoid or up.parent in parent_of:
                    continue
                parent_of[up.parent] = up
                if up.parent == REQUEST:
                    found = REQUEST
                    break
                queue.append(up.parent)
            if found:
                break
        if found:
            path: list[Edge] = []
            node = REQUEST
            while parent_of.get(node) is not None:
                step = parent_of[node]
                assert step is not None
                path.append(step)
                node = step.child
            out.extend(reversed(path))
            return tuple(out)
    return tuple(out)


def explain_member(
    name: NormalizedName,
    installed: str | None,
    graph: ImageGraph,
    fixed: Outcome,
    request: Sequence[Requirement],
    env: TargetEnvironment,
    versions_of: Callable[[NormalizedName], Sequence[Version]],
    into: Mapping[NormalizedName, list[Edge]] | None = None,
) -> tuple[Edge, ...]:
    """Why ``name`` cannot stay at ``installed``, as edges: its clashing requirement (or the edge that excludes
    its version), the requirement it clashes with, then the chain from that requirer up to the request."""
    into = into if into is not None else resolution_edges(fixed, request, env)
    mapping = fixed.mapping
    current = parse_version(installed)
    parsed: dict[str, Requirement] = {}

    def _parsed(text: str) -> Requirement:
        # each edge is tested against every allowed version of its child: parse its text once
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = Requirement(text)
        return found

    reasons: list[Edge] = []
    blamed: list[Edge] = []
    # 1. Something in the resolution excludes the installed version.
    if current is not None:
        for edge in into.get(name, []):
            if edge.parent == name:
                continue
            req = _parsed(edge.requirement)
            if not req.specifier.contains(current, prereleases=True):
                blamed.append(edge)
    # 2. Its installed requirements clash with what the resolution needs of a dependency.
    for own in graph.edges_from(name):
        dep = own.child
        dist = mapping.get(dep)
        if dist is None:
            continue
        try:
            req = _parsed(own.requirement.split(", ")[0])
        except InvalidRequirement:
            continue
        if req.specifier.contains(dist.version, prereleases=True):
            continue
        reasons.append(own)
        allowed = list(req.specifier.filter(versions_of(dep), prereleases=True))
        others = [e for e in into.get(dep, []) if e.parent != name]
        clashing = [
            e for e in others if not any(_parsed(e.requirement).specifier.contains(v, True) for v in allowed)
        ]
        blamed.extend(clashing or others)
    reasons.extend(blamed)
    reasons.extend(chain_to_request(blamed, into, name))
    return tuple(dict.fromkeys(reasons))
