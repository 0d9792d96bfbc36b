"""The dependency graph of an image (and of a request on top of it).

Edges run from a requirer to what it requires, evaluated for the *target* (markers, extras), using the core
metadata of the installed versions and the snapshot's declared requirements (google-colab's pins). The graph
answers "what can this request touch?" (descendants of the request root) and "who cares?" (ancestors), which
restricts the minimal-conflicting-set search to the part of an image that can matter; it also backs
``tfconflict why`` (requirers, reverse tree) and dot/graphml export.

The graph is kept in plain dicts (``Adjacency``): a check only walks it, so it does not import networkx.
``ImageGraph.graph`` gives a networkx DiGraph, built on demand, for what needs one (graphml, shortest paths).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.installable import supported_versions
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataStatus
from analyzer.metadata.select import best_file
from analyzer.resolver.installed import read_installed
from analyzer.session import Session
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "REQUEST",
    "Adjacency",
    "Edge",
    "ImageGraph",
    "image_graph",
]

REQUEST = "<request>"
"""The node standing for the user's request (a name no distribution can have)."""


@dataclass(frozen=True)
class Edge:
    """One requirement edge: ``parent`` (a pin, or the request) requires ``child`` with ``requirement``."""

    parent: str
    parent_version: str | None
    child: NormalizedName
    requirement: str

    def __str__(self) -> str:
        who = (
            "the request" if self.parent == REQUEST else f"{self.parent} {self.parent_version or ''}".strip()
        )
        return f"{who} requires {self.requirement}"


def _active(
    requirements: Iterable[Requirement], env: TargetEnvironment, extras: Collection[str]
) -> Iterator[Requirement]:
    for req in requirements:
        if env.evaluate(req.marker, tuple(sorted(extras))):
            yield req


class Adjacency:
    """A directed graph in plain dicts, in networkx's order: nodes and neighbours as they were first added.

    ``nodes`` maps a node to its attributes; ``succ[u][v]`` and ``pred[v][u]`` hold the one ``Edge`` from u to v.
    """

    __slots__ = ("nodes", "pred", "succ")

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}
        self.succ: dict[str, dict[str, Edge]] = {}
        self.pred: dict[str, dict[str, Edge]] = {}

    def __contains__(self, node: object) -> bool:
        return node in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def add_node(self, node: str, **attrs: Any) -> None:
        data = self.nodes.get(node)
        if data is None:
            self.nodes[node] = data = {}
            self.succ[node] = {}
            self.pred[node] = {}
        data.update(attrs)

    def add_edge(self, parent: str, child: str, edge: Edge) -> None:
        """Add (or replace) the edge, adding either end that is missing (without attributes), as networkx does."""
        for node in (parent, child):
            if node not in self.nodes:
                self.add_node(node)
        self.succ[parent][child] = edge
        self.pred[child][parent] = edge

    def has_edge(self, parent: str, child: str) -> bool:
        return child in self.succ.get(parent, {})

    def remove_out_edges(self, node: str) -> None:
        for child in self.succ.get(node, {}):
            del self.pred[child][node]
        if node in self.succ:
            self.succ[node] = {}

    def copy(self) -> Adjacency:
        """Attributes and neighbour dicts are the copy's own; edges are immutable and shared."""
        out = Adjacency()
        out.nodes = {n: dict(d) for n, d in self.nodes.items()}
        out.succ = {n: dict(d) for n, d in self.succ.items()}
        out.pred = {n: dict(d) for n, d in self.pred.items()}
        return out

    def reach(self, start: str, *, upwards: bool = False) -> set[str]:
        """Every node reachable from ``start`` (its requirers' way with ``upwards``), ``start`` left out."""
        step = self.pred if upwards else self.succ
        seen = {start}
        queue: deque[str] = deque([start])
        while queue:
            for other in step[queue.popleft()]:
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
        seen.discard(start)
        return seen

    def edges(self) -> Iterator[tuple[str, str, Edge]]:
        for parent, children in self.succ.items():
            for child, edge in children.items():
                yield parent, child, edge

    def to_networkx(self) -> nx.DiGraph:
        import networkx as nx

        out = nx.DiGraph()
        out.add_nodes_from((n, dict(d)) for n, d in self.nodes.items())
        out.add_edges_from((a, b, {"edge": e}) for a, b, e in self.edges())
        return out


class ImageGraph:
    """The requirement graph of one image, optionally with a request on top; read-only after it is built."""

    def __init__(self, adjacency: Adjacency, snapshot: Snapshot, opaque: Collection[NormalizedName]) -> None:
        self.adjacency = adjacency
        self.snapshot = snapshot
        self.opaque: frozenset[NormalizedName] = frozenset(opaque)
        """Pins whose own requirements are unknown (metadata unavailable / requirements unknown)."""

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The graph as a networkx DiGraph (nodes with ``version``, ``installed``...; edges with ``edge``), built on
        first use: the same nodes and edges in the same order."""
        return self.adjacency.to_networkx()

    # -- queries ---------------------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self.adjacency

    def __len__(self) -> int:
        return len(self.adjacency)

    @property
    def pins(self) -> frozenset[NormalizedName]:
        return frozenset(NormalizedName(n) for n, data in self.adjacency.nodes.items() if data.get("installed"))

    def successors(self, name: str) -> Iterator[str]:
        """What ``name`` requires (in the order the edges were added)."""
        return iter(self.adjacency.succ.get(_key(name), ()))

    def predecessors(self, name: str) -> Iterator[str]:
        """Who requires ``name`` (in the order the edges were added)."""
        return iter(self.adjacency.pred.get(_key(name), ()))

    def edges_into(self, name: str) -> tuple[Edge, ...]:
        return tuple(sorted(self.adjacency.pred.get(_key(name), {}).values(), key=_edge_key))

    def edges_from(self, name: str) -> tuple[Edge, ...]:
        return tuple(sorted(self.adjacency.succ.get(_key(name), {}).values(), key=_edge_key))

    def requirers_of(self, name: str) -> tuple[Edge, ...]:
        """Who requires ``name`` and how: the first level of ``tfconflict why``."""
        return self.edges_into(name)

    def requirements_of(self, name: str) -> tuple[Edge, ...]:
        return self.edges_from(name)

    def dependents(self, name: str) -> frozenset[str]:
        """Everything that requires ``name`` directly or transitively."""
        key = _key(name)
        return frozenset(self.adjacency.reach(key, upwards=True)) if key in self.adjacency else frozenset()

    def dependencies(self, name: str) -> frozenset[str]:
        key = _key(name)
        return frozenset(self.adjacency.reach(key)) if key in self.adjacency else frozenset()

    def version_of(self, name: str) -> str | None:
        data = self.adjacency.nodes.get(_key(name))
        return data.get("version") if data is not None else None

    def reachable_from_request(self) -> frozenset[str]:
        """What the request can reach (with the request root left out); empty without a request."""
        if REQUEST not in self.adjacency:
            return frozenset()
        return frozenset(self.adjacency.reach(REQUEST))

    def relevant_pins(self, reached: Iterable[str] | None = None) -> frozenset[NormalizedName]:
        """Pins that can matter to the request: reached by it, or requiring (transitively) something it reaches.

        A pin outside this set neither constrains nor is constrained by anything the request can change.
        """
        targets = set(self.reachable_from_request() if reached is None else (_key(n) for n in reached))
        targets &= self.adjacency.nodes.keys()
        if not targets:
            return frozenset()
        # One reverse traversal from all targets at once (cheaper than one per target).
        seen = set(targets)
        stack = list(targets)
        pred = self.adjacency.pred
        while stack:
            node = stack.pop()
            for parent in pred[node]:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        pins = self.pins
        return frozenset(NormalizedName(n) for n in seen if n in pins)

    def path_from_request(self, name: str) -> tuple[Edge, ...]:
        """The shortest requirement chain from the request down to ``name`` (empty when none)."""
        import networkx as nx

        key = _key(name)
        if REQUEST not in self.adjacency or key not in self.adjacency:
            return ()
        try:
            nodes = nx.shortest_path(self.graph, REQUEST, key)
        except nx.NetworkXNoPath:
            return ()
        return tuple(self.adjacency.succ[a][b] for a, b in itertools.pairwise(nodes))

    def reverse_tree(self, name: str, depth: int = 3) -> dict[str, object]:
        """``{requirer: {its requirers...}}`` down to ``depth`` levels, sorted: ``tfconflict why`` as data."""

        def walk(node: str, level: int, seen: frozenset[str]) -> dict[str, object]:
            if level >= depth:
                return {}
            out: dict[str, object] = {}
            for parent in sorted(self.adjacency.pred[node]):
                if parent in seen:
                    continue
                out[parent] = walk(parent, level + 1, seen | {parent})
            return out

        key = _key(name)
        return walk(key, 0, frozenset({key})) if key in self.adjacency else {}

    # -- export ----------------------------------------------------------------------------------------------

    def to_dot(self) -> str:
        """Graphviz text, sorted so diffs are stable (no pydot dependency)."""
        lines = ["digraph image {"]
        for node in sorted(self.adjacency.nodes):
            data = self.adjacency.nodes[node]
            label = f"{node} {data.get('version') or ''}".strip()
            style = "" if data.get("installed") else ", style=dashed"
            lines.append(f'  "{node}" [label="{label}"{style}];')
        for a, b, edge in sorted(self.adjacency.edges(), key=lambda t: (t[0], t[1])):
            lines.append(f'  "{a}" -> "{b}" [label="{edge.requirement.replace(chr(34), chr(39))}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def write_graphml(self, path: Path) -> None:
        import networkx as nx

        plain = nx.DiGraph()
        for node, data in self.adjacency.nodes.items():
            plain.add_node(node, version=data.get("version") or "", installed=bool(data.get("installed")))
        for a, b, edge in self.adjacency.edges():
            plain.add_edge(a, b, requirement=edge.requirement)
        nx.write_graphml(plain, str(path))

    # -- building --------------------------------------------------------------------------------------------

    def with_request(
        self,
        request: Sequence[Requirement],
        session: Session,
        *,
        versions: Mapping[NormalizedName, Version] | None = None,
        max_new: int = 300,
    ) -> ImageGraph:
        """A copy with the request root and the request's possible closure added.

        A requested name is expanded with the requirements of the version it would take (``versions``, else the
        newest version whose files install on the target and match every request for it); installed names
        are not re-expanded (their edges are in the image); a new name takes its newest compatible version
        matching the requirements seen for it. ``max_new`` bounds the expansion.
        """
        env, source = session.env, session.source
        graph = self.adjacency.copy()
        graph.add_node(REQUEST, version=None, installed=False)
        requested = {canonicalize_name(r.name) for r in request}
        # A requested pin takes the requested version: its installed version's edges no longer hold.
        for n in requested:
            graph.remove_out_edges(n)
        pending: list[tuple[str, str | None, Requirement]] = [
            (REQUEST, None, r) for r in request if env.evaluate(r.marker)
        ]
        specs: dict[NormalizedName, list[Requirement]] = {}
        for r in request:
            specs.setdefault(canonicalize_name(r.name), []).append(r)
        expanded: set[NormalizedName] = set()
        opaque = set(self.opaque)
        pins = self.pins
        while pending:
            parent, parent_version, req = pending.pop()
            child = canonicalize_name(req.name)
            if child not in graph:
                graph.add_node(child, version=None, installed=False)
            edge = Edge(parent, parent_version, child, str(req))
            if not graph.has_edge(parent, child):
                graph.add_edge(parent, child, edge)
            if child in expanded or (child in pins and child not in requested):
                continue
            if len(expanded) >= max_new:
                continue
            expanded.add(child)
            wanted = specs.get(child, [req])
            version = (versions or {}).get(child) or _newest_fitting(child, wanted, session)
            if version is None:
                continue
            graph.nodes[child]["candidate"] = str(version)
            file = best_file(source.files_of(child, version), env)
            if file is None:
                continue
            meta = source.metadata(file)
            if meta.status is not MetadataStatus.OK:
                opaque.add(child)
                continue
            extras = {e for r in wanted for e in r.extras}
            for sub in _active(meta.requires_dist, env, extras):
                specs.setdefault(canonicalize_name(sub.name), []).append(sub)
                pending.append((child, str(version), sub))
        return ImageGraph(graph, self.snapshot, opaque)


def _newest_fitting(name: NormalizedName, requirements: Sequence[Requirement], session: Session) -> Version | None:
    versions = [v for v, s in supported_versions(session, name).items() if s.installable]
    for req in requirements:
        versions = list(req.specifier.filter(versions))
    return max(versions) if versions else None


def _key(name: str) -> str:
    return name if name == REQUEST else canonicalize_name(name)


def _edge_key(edge: Edge) -> tuple[str, str, str]:
    return (edge.parent, edge.child, edge.requirement)


def image_graph(session: Session) -> ImageGraph:
    """The requirement graph of the installed pins, evaluated for ``env``.

    Declared requirements (google-colab's setup.py) replace what the index would say for that pin. Extras a
    pin is required with by another pin count for its own markers (``extra == "..."``), iterated to a fixpoint.
    """
    snapshot, env = session.snapshot, session.env
    declared = {d.name: d.parsed() for d in snapshot.declared}
    # the resolver's own reading of each pin (its declared requirements, a direct reference, the index's file)
    installed = read_installed(session)
    requirements: dict[NormalizedName, tuple[Requirement, ...]] = {}
    opaque: set[NormalizedName] = set()
    for pin in snapshot.pins:
        if pin.name in declared:
            requirements[pin.name] = declared[pin.name]
            continue
        candidate = installed.get(pin.name)
        info = candidate.info if candidate is not None else None
        if info is None or not info.known:
            opaque.add(pin.name)
        requirements[pin.name] = info.requires_dist if info is not None else ()

    extras: dict[NormalizedName, set[str]] = {p.name: set() for p in snapshot.pins}
    # a pin's active requirements (with their canonical names) per set of extras it is required with: the
    # fixpoint passes and the edges below read them again, and its extras rarely change
    seen: dict[tuple[NormalizedName, frozenset[str]], list[tuple[Requirement, NormalizedName]]] = {}

    def active(name: NormalizedName) -> list[tuple[Requirement, NormalizedName]]:
        key = (name, frozenset(extras[name]))
        found = seen.get(key)
        if found is None:
            found = seen[key] = [
                (req, canonicalize_name(req.name)) for req in _active(requirements[name], env, extras[name])
            ]
        return found

    while True:
        changed = False
        for pin in snapshot.pins:
            for req, child in active(pin.name):
                if child in extras and not set(req.extras) <= extras[child]:
                    extras[child] |= set(req.extras)
                    changed = True
        if not changed:
            break

    texts: dict[int, str] = {}  # requirement objects are shared by the pins that declare the same line
    graph = Adjacency()
    for pin in snapshot.pins:
        graph.add_node(pin.name, version=pin.version, installed=True, opaque=pin.name in opaque)
    for pin in snapshot.pins:
        for req, child in active(pin.name):
            if child == pin.name:
                continue
            if child not in graph:
                graph.add_node(child, version=None, installed=False)
            line = texts.get(id(req))
            if line is None:
                line = texts[id(req)] = str(req)
            if graph.has_edge(pin.name, child):
                # Two lines for one child (different markers): keep both texts on the one edge.
                old = graph.succ[pin.name][child]
                text = f"{old.requirement}, {line}" if line not in old.requirement else old.requirement
                graph.add_edge(pin.name, child, Edge(pin.name, pin.version, child, text))
            else:
                graph.add_edge(pin.name, child, Edge(pin.name, pin.version, child, line))
    return ImageGraph(graph, snapshot, opaque)

