"""The requirement graph of an image, evaluated for the target (markers, extras), and of a request on top of it.

It restricts the minimal-conflicting-set search to the pins that can matter (what the request reaches, and who
requires that) and backs ``tfconflict why``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.installable import supported_versions
from analyzer.diagnosis.pipcheck import installed_dists
from analyzer.metadata.select import best_file
from analyzer.session import Session

__all__ = ["REQUEST", "Edge", "ImageGraph", "image_graph"]

REQUEST = "<request>"
"""The node standing for the user's request (a name no distribution can have, left as is by canonicalize_name)."""

_MAX_NEW = 300
"""How many names a request's closure may expand."""


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


@dataclass(frozen=True, eq=False)
class ImageGraph:
    """The requirement graph of one image, optionally with a request on top; read-only after it is built.

    ``graph`` is a networkx DiGraph: nodes carry ``version``, ``installed`` (and ``candidate``, the version a
    request takes), each edge its ``Edge`` under ``edge``. networkx keeps insertion order, which reports print.
    """

    graph: nx.DiGraph
    opaque: frozenset[NormalizedName] = frozenset()
    """Pins whose own requirements are unknown (metadata unavailable / requirements unknown)."""

    def __contains__(self, name: object) -> bool:
        return name in self.graph

    def __len__(self) -> int:
        return len(self.graph)

    @property
    def pins(self) -> frozenset[NormalizedName]:
        return frozenset(n for n, installed in self.graph.nodes(data="installed") if installed)

    def requirers_of(self, name: str) -> tuple[Edge, ...]:
        """Who requires ``name`` and how: the first level of ``tfconflict why``."""
        key = canonicalize_name(name)
        edges = self.graph.in_edges(key, data="edge") if key in self.graph else ()
        return tuple(sorted((e for *_, e in edges), key=lambda e: e.parent))

    def requirements_of(self, name: str) -> tuple[Edge, ...]:
        key = canonicalize_name(name)
        edges = self.graph.out_edges(key, data="edge") if key in self.graph else ()
        return tuple(sorted((e for *_, e in edges), key=lambda e: e.child))

    def version_of(self, name: str) -> str | None:
        key = canonicalize_name(name)
        return self.graph.nodes[key].get("version") if key in self.graph else None

    def reachable_from_request(self) -> frozenset[str]:
        """What the request can reach (with the request root left out); empty without a request."""
        return frozenset(nx.descendants(self.graph, REQUEST)) if REQUEST in self.graph else frozenset()

    def relevant_pins(self, reached: Iterable[str] | None = None) -> frozenset[NormalizedName]:
        """Pins that can matter to the request: reached by it, or requiring (transitively) something it reaches.

        A pin outside this set neither constrains nor is constrained by anything the request can change.
        """
        found = self.reachable_from_request() if reached is None else map(canonicalize_name, reached)
        targets = {n for n in found if n in self.graph}
        if not targets:
            return frozenset()
        seen = set().union(*nx.bfs_layers(self.graph.reverse(copy=False), targets))
        return frozenset(seen & self.pins)

    def with_request(self, request: Sequence[Requirement], session: Session) -> ImageGraph:
        """A copy with the request root and the request's possible closure added.

        A requested name is expanded with the requirements of the newest version whose files install on the
        target and match every request for it; installed names are not re-expanded (their edges are in the
        image); a new name takes its newest installable version matching the requirements seen for it.
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
            if child in expanded or (child in pins and child not in requested) or len(expanded) >= _MAX_NEW:
                continue
            expanded.add(child)
            wanted = specs.get(child, [req])
            versions = [v for v, s in supported_versions(session, child).items() if s.installable]
            for r in wanted:
                versions = list(r.specifier.filter(versions))
            if not versions:
                continue
            version = max(versions)
            graph.nodes[child]["candidate"] = str(version)
            file = best_file(source.files_of(child, version), env)
            if file is None:
                continue
            # the resolver's reading of the file: an sdist's requirements by their route, as the prediction sees them
            info = session.factory.index_candidate(file).info
            if not info.known:
                opaque.add(child)
                continue
            extras = tuple(sorted({e for r in wanted for e in r.extras}))
            for sub in info.requires_dist:
                if env.evaluate(sub.marker, extras):
                    specs.setdefault(canonicalize_name(sub.name), []).append(sub)
                    pending.append((child, str(version), sub))
        return ImageGraph(graph, frozenset(opaque))


def image_graph(session: Session) -> ImageGraph:
    """The requirement graph of the installed pins, evaluated for the session's target.

    Declared requirements (google-colab's setup.py) replace what the index would say for that pin. Extras a
    pin is required with by another pin count for its own markers (``extra == "..."``), iterated to a fixpoint.
    """
    snapshot, env = session.snapshot, session.env
    # the resolver's own reading of each pin (its declared requirements, a direct reference, the index's file)
    dists = installed_dists(session)
    opaque = frozenset(name for name, dist in dists.items() if dist.requirements is None)
    extras: dict[NormalizedName, set[str]] = {p.name: set() for p in snapshot.pins}
    # a pin's active requirements per set of extras it is required with: the fixpoint passes and the edges
    # below read them again, and its extras rarely change
    seen: dict[tuple[NormalizedName, frozenset[str]], list[tuple[Requirement, NormalizedName]]] = {}

    def active(name: NormalizedName) -> list[tuple[Requirement, NormalizedName]]:
        key = (name, frozenset(extras[name]))
        if key not in seen:
            wanted = tuple(sorted(extras[name]))
            active = [r for r in dists[name].requirements or () if env.evaluate(r.marker, wanted)]
            seen[key] = [(r, canonicalize_name(r.name)) for r in active]
        return seen[key]

    changed = True
    while changed:
        changed = False
        for pin in snapshot.pins:
            for req, child in active(pin.name):
                if child in extras and not set(req.extras) <= extras[child]:
                    extras[child] |= set(req.extras)
                    changed = True

    graph = nx.DiGraph()
    for pin in snapshot.pins:
        graph.add_node(pin.name, version=pin.version, installed=True)
    for pin in snapshot.pins:
        for req, child in active(pin.name):
            if child == pin.name:
                continue
            if child not in graph:
                graph.add_node(child, version=None, installed=False)
            line = str(req)
            if graph.has_edge(pin.name, child):
                # Two lines for one child (different markers): keep both texts on the one edge.
                old = graph.edges[pin.name, child]["edge"].requirement
                line = f"{old}, {line}" if line not in old else old
            graph.add_edge(pin.name, child, edge=Edge(pin.name, pin.version, child, line))
    return ImageGraph(graph, opaque)
