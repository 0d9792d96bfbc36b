"""The dependency graph of an image (and of a request on top of it).

Edges run from a requirer to what it requires, evaluated for the *target* (markers, extras), using the core
metadata of the installed versions and the snapshot's declared requirements (google-colab's pins). The graph
answers "what can this request touch?" (descendants of the request root) and "who cares?" (ancestors), which
restricts the minimal-conflicting-set search to the part of an image that can matter; it also backs
``tfconflict why`` (requirers, reverse tree) and dot/graphml export.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.installable import supported_versions
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataStatus
from analyzer.metadata.select import best_file
from analyzer.session import Session
from analyzer.snapshot import Snapshot

__all__ = [
    "REQUEST",
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


class ImageGraph:
    """The requirement graph of one image, optionally with a request on top; read-only after it is built.

    ``graph`` is a networkx DiGraph: nodes carry ``version``, ``installed`` (and ``opaque``, ``candidate``), each
    edge its ``Edge`` under ``edge``. networkx keeps insertion order, which the reports print.
    """

    def __init__(self, graph: nx.DiGraph, snapshot: Snapshot, opaque: Collection[NormalizedName]) -> None:
        self.graph = graph
        self.snapshot = snapshot
        self.opaque: frozenset[NormalizedName] = frozenset(opaque)
        """Pins whose own requirements are unknown (metadata unavailable / requirements unknown)."""

    # -- queries ---------------------------------------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self.graph

    def __len__(self) -> int:
        return len(self.graph)

    @property
    def pins(self) -> frozenset[NormalizedName]:
        return frozenset(
            NormalizedName(n) for n, installed in self.graph.nodes(data="installed") if installed
        )

    def successors(self, name: str) -> Iterator[str]:
        """What ``name`` requires (in the order the edges were added)."""
        key = _key(name)
        return self.graph.successors(key) if key in self.graph else iter(())

    def predecessors(self, name: str) -> Iterator[str]:
        """Who requires ``name`` (in the order the edges were added)."""
        key = _key(name)
        return self.graph.predecessors(key) if key in self.graph else iter(())

    def edges_into(self, name: str) -> tuple[Edge, ...]:
        key = _key(name)
        if key not in self.graph:
            return ()
        return tuple(sorted((e for _, _, e in self.graph.in_edges(key, data="edge")), key=_edge_key))

    def edges_from(self, name: str) -> tuple[Edge, ...]:
        key = _key(name)
        if key not in self.graph:
            return ()
        return tuple(sorted((e for _, _, e in self.graph.out_edges(key, data="edge")), key=_edge_key))

    def requirers_of(self, name: str) -> tuple[Edge, ...]:
        """Who requires ``name`` and how: the first level of ``tfconflict why``."""
        return self.edges_into(name)

    def requirements_of(self, name: str) -> tuple[Edge, ...]:
        return self.edges_from(name)

    def dependents(self, name: str) -> frozenset[str]:
        """Everything that requires ``name`` directly or transitively."""
        key = _key(name)
        return frozenset(nx.ancestors(self.graph, key)) if key in self.graph else frozenset()

    def dependencies(self, name: str) -> frozenset[str]:
        key = _key(name)
        return frozenset(nx.descendants(self.graph, key)) if key in self.graph else frozenset()

    def version_of(self, name: str) -> str | None:
        key = _key(name)
        return self.graph.nodes[key].get("version") if key in self.graph else None

    def reachable_from_request(self) -> frozenset[str]:
        """What the request can reach (with the request root left out); empty without a request."""
        return self.dependencies(REQUEST)

    def relevant_pins(self, reached: Iterable[str] | None = None) -> frozenset[NormalizedName]:
        """Pins that can matter to the request: reached by it, or requiring (transitively) something it reaches.

        A pin outside this set neither constrains nor is constrained by anything the request can change.
        """
        found = self.reachable_from_request() if reached is None else map(_key, reached)
        targets = {n for n in found if n in self.graph}
        if not targets:
            return frozenset()
        # one breadth-first walk up from all targets at once, rather than one ``ancestors`` per target
        seen = set().union(*nx.bfs_layers(self.graph.reverse(copy=False), targets))
        pins = self.pins
        return frozenset(NormalizedName(n) for n in seen if n in pins)

    def path_from_request(self, name: str) -> tuple[Edge, ...]:
        """The shortest requirement chain from the request down to ``name`` (empty when none)."""
        key = _key(name)
        if REQUEST not in self.graph or key not in self.graph:
            return ()
        try:
            nodes = nx.shortest_path(self.graph, REQUEST, key)
        except nx.NetworkXNoPath:
            return ()
        return tuple(self.graph.edges[a, b]["edge"] for a, b in itertools.pairwise(nodes))

    def reverse_tree(self, name: str, depth: int = 3) -> dict[str, object]:
        """``{requirer: {its requirers...}}`` down to ``depth`` levels, sorted: ``tfconflict why`` as data."""

        def walk(node: str, level: int, seen: frozenset[str]) -> dict[str, object]:
            if level >= depth:
                return {}
            out: dict[str, object] = {}
            for parent in sorted(self.graph.predecessors(node)):
                if parent in seen:
                    continue
                out[parent] = walk(parent, level + 1, seen | {parent})
            return out

        key = _key(name)
        return walk(key, 0, frozenset({key})) if key in self.graph else {}

    # -- export ----------------------------------------------------------------------------------------------

    def to_dot(self) -> str:
        """Graphviz text, sorted so diffs are stable (networkx's dot writer needs pydot or pygraphviz)."""
        lines = ["digraph image {"]
        for node, data in sorted(self.graph.nodes(data=True), key=lambda t: t[0]):
            label = f"{node} {data.get('version') or ''}".strip()
            style = "" if data.get("installed") else ", style=dashed"
            lines.append(f'  "{node}" [label="{label}"{style}];')
        for a, b, edge in sorted(self.graph.edges(data="edge"), key=lambda t: (t[0], t[1])):
            lines.append(f'  "{a}" -> "{b}" [label="{edge.requirement.replace(chr(34), chr(39))}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def write_graphml(self, path: Path) -> None:
        """GraphML holds only plain values: the version as text (empty when none), each edge's requirement text."""
        plain = nx.DiGraph()
        plain.add_nodes_from(
            (n, {"version": d.get("version") or "", "installed": bool(d.get("installed"))})
            for n, d in self.graph.nodes(data=True)
        )
        plain.add_edges_from(
            (a, b, {"requirement": e.requirement}) for a, b, e in self.graph.edges(data="edge")
        )
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
        graph = self.graph.copy()
        graph.add_node(REQUEST, version=None, installed=False)
        requested = {canonicalize_name(r.name) for r in request}
        # A requested pin takes the requested version: its installed version's edges no longer hold.
        graph.remove_edges_from(
            [(n, child) for n in requested if n in graph for child in graph.successors(n)]
        )
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
            if not graph.has_edge(parent, child):
                graph.add_edge(parent, child, edge=Edge(parent, parent_version, child, str(req)))
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


def _newest_fitting(
    name: NormalizedName, requirements: Sequence[Requirement], session: Session
) -> Version | None:
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
    installed = session.installed
    session.factory.prefetch_installed(installed.values())
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
    graph = nx.DiGraph()
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
                old = graph.edges[pin.name, child]["edge"].requirement
                line = f"{old}, {line}" if line not in old else old
            graph.add_edge(pin.name, child, edge=Edge(pin.name, pin.version, child, line))
    return ImageGraph(graph, snapshot, opaque)
