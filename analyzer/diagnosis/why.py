"""``tfconflict why NAME``: who in the runtime requires NAME, with which specifier, and whether what is installed
satisfies it, as a reverse tree read off the image graph (the edges the conflict search uses).

A requirer is expanded once, where it first appears breadth-first; later appearances point back to it, so the
tree of a package a hundred others need stays readable and finite.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.graph import ImageGraph
from analyzer.snapshot import Snapshot
from analyzer.versions import parse_version

__all__ = ["SCHEMA", "Requirer", "WhyAnswer", "satisfies", "split_requirements", "why"]

SCHEMA = "tfconflict.why/1"

DEFAULT_DEPTH = 2


@dataclass(frozen=True)
class Requirer:
    """One edge of the reverse tree: ``name`` (at ``version``) requires its parent node with ``requirement``."""

    name: str
    version: str | None
    requirement: str
    """As the metadata writes it, marker included; two lines for one name are joined with ", "."""
    required_version: str | None
    """The installed version of what is required (None: not installed)."""
    satisfied: bool | None
    """Does ``required_version`` satisfy ``requirement``? None when it cannot be told (not a PEP 440 version)."""
    requirers: tuple[Requirer, ...] = ()
    expanded: bool = True
    """False when this requirer's own requirers are not all listed here: past the depth (``hidden`` says how many
    are left out) or expanded at another place in the tree (``hidden`` is 0)."""
    hidden: int = 0
    """How many requirers of this one the depth limit left out."""

    @property
    def shown_elsewhere(self) -> bool:
        return not self.expanded and self.hidden == 0

    def walk(self) -> Iterator[Requirer]:
        yield self
        for child in self.requirers:
            yield from child.walk()

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "requirement": self.requirement,
            "required_version": self.required_version,
            "satisfied": self.satisfied,
            "expanded": self.expanded,
            "hidden_requirers": self.hidden,
            "requirers": [r.to_json_dict() for r in self.requirers],
        }


@dataclass(frozen=True)
class WhyAnswer:
    """Who requires ``name`` in ``snapshot_id``, as a tree of requirers ``depth`` levels deep."""

    name: NormalizedName
    snapshot_id: str
    python: str
    installed: str | None
    """The installed version, or None when the runtime does not have ``name`` (who requires it is still said)."""
    requirers: tuple[Requirer, ...]
    depth: int
    unknown: tuple[NormalizedName, ...] = ()
    """Installed packages whose requirements could not be read: they may require ``name`` unseen."""
    close_names: tuple[str, ...] = ()
    """Installed names that look like ``name`` (for a name the runtime does not have)."""
    date: str | None = None
    """The runtime's release date (YYYY-MM-DD), when it has one."""
    broken_only: bool = False
    """The tree is cut to the branches that hold an unsatisfied requirement (``only_broken``)."""
    direct: int | None = None
    """How many installed packages require ``name`` directly, whatever the cut (None: ``len(requirers)``)."""
    label: str = ""
    """The runtime as Colab names it (``colab 2025.07 (2025-08-11)``), when it has such a name."""

    @property
    def requirer_count(self) -> int:
        return self.direct if self.direct is not None else len(self.requirers)

    @property
    def runtime(self) -> str:
        """The runtime as people name it: its id, release date and Python."""
        if self.label and self.label != self.snapshot_id:
            return f"{self.label}, Python {self.python}"
        when = f"{self.date}, " if self.date else ""
        return f"{self.snapshot_id} ({when}Python {self.python})"

    @property
    def violations(self) -> tuple[Requirer, ...]:
        """Direct requirers the installed version does not satisfy: breakage the runtime already has."""
        return tuple(r for r in self.requirers if r.satisfied is False)

    @property
    def deeper_violations(self) -> tuple[Requirer, ...]:
        """Unsatisfied edges further up the tree (a requirer's own requirement not met)."""
        return tuple(r for top in self.requirers for r in top.walk() if r is not top and r.satisfied is False)

    def only_broken(self) -> WhyAnswer:
        """The answer cut to the branches that hold an unsatisfied requirement: the conflict's own subgraph."""

        def keep(r: Requirer) -> Requirer | None:
            kept = tuple(k for k in (keep(c) for c in r.requirers) if k is not None)
            if r.satisfied is False or kept:
                return replace(r, requirers=kept if r.satisfied is not False else r.requirers)
            return None

        kept = tuple(k for k in (keep(r) for r in self.requirers) if k is not None)
        return replace(self, requirers=kept, broken_only=True, direct=self.requirer_count)

    def nodes(self) -> tuple[str, ...]:
        """Every package the tree names, ``name`` first."""
        seen: dict[str, None] = {str(self.name): None}
        for top in self.requirers:
            for r in top.walk():
                seen.setdefault(r.name)
        return tuple(seen)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "snapshot": self.snapshot_id,
            "date": self.date,
            "python": self.python,
            "installed": self.installed,
            "depth": self.depth,
            "required_by": self.requirer_count,
            "broken_only": self.broken_only,
            "requirers": [r.to_json_dict() for r in self.requirers],
            "violations": [
                {"name": r.name, "version": r.version, "requirement": r.requirement} for r in self.violations
            ],
            "unknown_requirements": list(self.unknown),
            "close_names": list(self.close_names),
        }


def split_requirements(text: str) -> tuple[Requirement, ...]:
    """An edge's requirement text back into requirements: the graph joins two lines for one name with ", ".

    A comma inside a specifier has no space after it (``packaging`` writes ``<2.1,>=1.22``), so the pieces are
    joined again only while they do not parse on their own (a marker's string that holds ", ").
    """
    out: list[Requirement] = []
    pending = ""
    for piece in text.split(", "):
        pending = f"{pending}, {piece}" if pending else piece
        try:
            out.append(Requirement(pending))
        except InvalidRequirement:
            continue
        pending = ""
    if pending:
        raise InvalidRequirement(f"not a requirement: {pending!r}")
    return tuple(out)


def satisfies(requirement: str, version: str | None) -> bool | None:
    """pip's reading: an installed version satisfies a specifier with pre-releases allowed; missing does not."""
    if version is None:
        return False
    parsed = parse_version(version)
    try:
        reqs = split_requirements(requirement)
    except InvalidRequirement:
        return None
    return None if parsed is None else all(r.specifier.contains(parsed, prereleases=True) for r in reqs)


def why(graph: ImageGraph, snapshot: Snapshot, name: str, *, depth: int = DEFAULT_DEPTH) -> WhyAnswer:
    """The reverse tree of ``name`` in ``graph`` (``depth`` levels; 0 or less: as deep as it goes)."""
    key = canonicalize_name(name)
    pin = snapshot.by_name.get(key)
    installed = pin.version if pin is not None else None
    limit = depth if depth > 0 else len(graph) + 1

    # Breadth-first up the requirers in name order: each requirer is expanded where it is first met, so the
    # shallowest path to it is the one shown.
    expanded_at: dict[str, tuple[str, ...]] = {key: ()}
    if key in graph:
        up = nx.bfs_edges(graph.graph, key, reverse=True, depth_limit=limit, sort_neighbors=sorted)
        for node, requirer in up:
            expanded_at[requirer] = (*expanded_at[node], requirer)

    def build(node: str, path: tuple[str, ...]) -> tuple[Requirer, ...]:
        required = installed if node == key else graph.version_of(node)
        out: list[Requirer] = []
        for edge in graph.requirers_of(node):
            if edge.parent in path or edge.parent == node:
                continue
            here = (*path, edge.parent)
            mine = expanded_at.get(edge.parent) == here
            listed = len(here) < limit  # within the depth: its own requirers are listed
            below = build(edge.parent, here) if mine and listed else ()
            hidden = 0
            if mine and not listed:
                hidden = sum(1 for e in graph.requirers_of(edge.parent) if e.parent not in here)
            out.append(
                Requirer(
                    name=edge.parent,
                    version=edge.parent_version,
                    requirement=edge.requirement,
                    required_version=required,
                    satisfied=satisfies(edge.requirement, required),
                    requirers=below,
                    expanded=mine and (listed or hidden == 0),
                    hidden=hidden,
                )
            )
        return tuple(out)

    close = difflib.get_close_matches(key, sorted(snapshot.by_name), n=3, cutoff=0.75) if pin is None else []
    return WhyAnswer(
        name=key,
        snapshot_id=snapshot.id,
        label=snapshot.label,
        python=snapshot.python,
        installed=installed,
        requirers=build(key, ()),
        depth=depth,
        unknown=tuple(sorted(canonicalize_name(n) for n in graph.opaque)),
        close_names=tuple(close),
        date=snapshot.date.date().isoformat() if snapshot.date else None,
    )
