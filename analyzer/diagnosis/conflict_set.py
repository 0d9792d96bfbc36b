"""The minimal conflicting set (keep-the-image view): which preinstalled pins must move for the request to fit.

A minimal correction set: freeing its pins (they stay installed, any version) makes the request resolve, and
re-pinning any single member makes it fail again. FastDiag (``fastdiag``) finds it over questions to the resolver
(``search``), among the pins the image graph says can matter, closest to the conflict first. The image's own
breakage (pip check before the install) is ignored by the resolver, so it is never blamed on the request.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.explain import explain_member, resolution_edges
from analyzer.diagnosis.graph import REQUEST, Edge, ImageGraph, image_graph
from analyzer.diagnosis.pipcheck import check_snapshot
from analyzer.diagnosis.search import (
    CachedOracle,
    Names,
    OutOfBudget,
    Verdict,
    movers_of,
    search_conflict_sets,
)
from analyzer.resolver import Resolution, resolve
from analyzer.session import Session

__all__ = [
    "ConflictSet",
    "ConflictSetResult",
    "Member",
    "Verdict",
    "minimal_conflicting_set",
]

_MAX_ROUNDS = 4
_SEARCH_MAX_ROUNDS = 500
"""Resolver rounds allowed to one question of the search (pip allows 200 000 to its one resolution)."""


@dataclass(frozen=True)
class Member:
    """One pin of a minimal conflicting set, what happens to it, and why (edges, phrased by the renderer)."""

    name: NormalizedName
    installed: str | None
    moves_to: str | None
    """The version it takes when the set is freed; None when it must be removed."""
    removed: bool = False
    reasons: tuple[Edge, ...] = ()
    """The chain: the member's clashing requirement or the edge that forces it, then down to the request."""


@dataclass(frozen=True)
class ConflictSet:
    members: tuple[Member, ...]
    verified: bool = False
    """Minimality checked by re-resolving: freeing the set fits, re-pinning any single member fails."""

    @property
    def names(self) -> tuple[NormalizedName, ...]:
        return tuple(m.name for m in self.members)

    @property
    def removed(self) -> tuple[NormalizedName, ...]:
        return tuple(m.name for m in self.members if m.removed)

    def __len__(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class ConflictSetResult:
    verdict: Verdict
    sets: tuple[ConflictSet, ...] = ()
    """Distinct minimal sets found, the preferred (smallest, then closest to the conflict) first."""
    ignored: tuple[tuple[NormalizedName, NormalizedName], ...] = ()
    """Pre-existing violations of the image (parent, dependency), ignored so they are not blamed on the request."""
    candidates: tuple[NormalizedName, ...] = ()
    """The pins searched, in the order of preference to free (closest to the conflict first)."""
    resolver_calls: int = 0
    seconds: float = 0.0
    """Wall time of the whole search, graph included."""
    warnings: tuple[str, ...] = ()
    searched: bool = True
    """False when only the verdict was asked for (``fits_only``) and no set was searched."""

    @property
    def best(self) -> ConflictSet | None:
        return self.sets[0] if self.sets else None

    @property
    def several(self) -> bool:
        return len(self.sets) > 1


def _order(graph: ImageGraph, relevant: Collection[NormalizedName]) -> list[NormalizedName]:
    """Relevant pins, closest to the request first: reached ones by depth, then their requirers by distance."""
    g = graph.graph
    dist = dict(nx.single_source_shortest_path_length(g, REQUEST)) if REQUEST in g else {}
    # Requirers of reached nodes: one more step per level upwards.
    up: deque[str] = deque(n for n in dist if n != REQUEST)
    while up:
        node = up.popleft()
        for parent in g.predecessors(node):
            if parent not in dist:
                dist[parent] = dist[node] + 1
                up.append(parent)
    return sorted(relevant, key=lambda n: (dist.get(n, 10**6), n))


def minimal_conflicting_set(
    request: Sequence[Requirement],
    session: Session,
    *,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    resolver: Callable[..., Resolution] | None = None,
    ignore_edges: Collection[tuple[NormalizedName, NormalizedName]] | None = None,
    graph: ImageGraph | None = None,
    orders: int = 2,
    verify: bool = True,
    fits_only: bool = False,
    budget: float | None = None,
) -> ConflictSetResult:
    """The minimal set(s) of preinstalled pins to free (or remove) for ``request`` to fit the image.

    ``budget`` bounds the search in seconds: when it runs out, the result holds the pins that a resolution
    with every relevant pin free moves (enough to free, not shown minimal: ``verified`` is False) and says so.
    ``constraints`` (pip's ``-c``) bind every question; ``resolver`` replaces ``analyzer.resolver.resolve`` (the
    tests' reference); ``ignore_edges`` defaults to the image's own ``pip check`` violations. ``verify`` checks
    each set's minimality by re-resolving; ``fits_only`` computes only the verdict, what suggestions need.
    """
    started = time.perf_counter()
    full = (graph if graph is not None else image_graph(session)).with_request(request, session)
    if ignore_edges is None:
        ignore_edges = check_snapshot(session).edges()
    ignored = tuple(sorted({(canonicalize_name(a), canonicalize_name(b)) for a, b in ignore_edges}))
    # pins that one question had to promote to roots are promoted from the start in the next ones
    promoted: set[NormalizedName] = set()

    def raw(keep: Names, free: Names) -> Resolution:
        if resolver is not None:
            return resolver(request, session, keep=keep, free=free, ignore_edges=ignored)
        # One question must not take minutes: a resolution that needs more rounds than this is answered "not
        # shown to fit" (conservative: a set can only come out larger, and is still verified).
        return resolve(
            request, session, keep=keep, free=free, ignore_edges=ignored, max_rounds=_SEARCH_MAX_ROUNDS,
            constraints=constraints or None, promote=promoted,
        )  # fmt: skip

    deadline = None if budget is None else started + budget
    search = _Search(request, session, full, ignored, CachedOracle(raw, deadline), started)
    try:
        return search.run(orders=orders, verify=verify, fits_only=fits_only)
    except OutOfBudget:
        return search.out_of_budget(budget)


@dataclass(frozen=True)
class _Search:
    """One search: the request on the session's image (``full`` graph), the edges ignored, the cached oracle."""

    request: Sequence[Requirement]
    session: Session
    full: ImageGraph
    ignored: tuple[tuple[NormalizedName, NormalizedName], ...]
    check: CachedOracle
    started: float

    def result(self, verdict: Verdict, sets: Sequence[ConflictSet], **fields: Any) -> ConflictSetResult:
        return ConflictSetResult(
            verdict,
            tuple(sets),
            self.ignored,
            resolver_calls=self.check.calls,
            seconds=time.perf_counter() - self.started,
            **fields,
        )

    def run(self, *, orders: int, verify: bool, fits_only: bool) -> ConflictSetResult:
        full, check = self.full, self.check
        requested = {canonicalize_name(r.name) for r in self.request}
        installed = {p.name: p.version for p in self.session.snapshot.pins}
        # Pins outside the relevant part are left out of every check. A failure without them is a failure with
        # them (fewer constraints), so only successes need checking: one whose resolution touches a name some
        # left-out pin requires widens the relevant part, and the search runs again (over the cached answers).
        reached = set(full.reachable_from_request())
        warnings: list[str] = []
        for _round in range(_MAX_ROUNDS):
            relevant = full.relevant_pins(reached) - requested
            order = _order(full, relevant)
            verdict, removed, found = search_conflict_sets(
                order, check, installed, orders=orders, fits_only=fits_only
            )
            everyone, gone = frozenset(order), frozenset(removed)
            successes = [check(everyone, frozenset())] if verdict is Verdict.FITS else []
            successes += [check(everyone - frozenset(freed) - gone, frozenset(freed)) for freed in found]
            touched = {n for res in successes for n in res.mapping}
            if not full.relevant_pins(touched) - requested - relevant:
                break
            reached |= touched
        else:
            warnings.append(f"the relevant part of the image kept growing after {_MAX_ROUNDS} rounds")
        sets: list[ConflictSet] = []
        for item in found:
            freed = frozenset(item)
            fixed = check(everyone - freed - gone, freed)
            verified = False
            if verify:
                repinned = {m: check(everyone - (freed - {m}) - gone, freed - {m}) for m in freed}
                verified = fixed.ok and all(not r.ok for r in repinned.values())
                if not verified:
                    warnings.append(
                        f"the set {sorted(freed | gone)} did not verify as minimal when re-resolved"
                    )
                # "keeping it fails" is proven by a conflict; a question that ran out of rounds only failed to fit
                unproven = sorted(
                    m for m, r in repinned.items() if r.conflict is not None and r.conflict.too_deep
                )
                if verified and unproven:
                    warnings.append(
                        f"keeping {', '.join(unproven)} was not shown to fit within {_SEARCH_MAX_ROUNDS} resolver "
                        "rounds, rather than shown to conflict: the set is minimal as far as that bound goes"
                    )
            sets.append(ConflictSet(self.members((*removed, *item), gone, fixed), verified))
        if verdict is Verdict.CONFLICT and not sets and not fits_only:
            warnings.append("no minimal conflicting set was found")
        return self.result(
            verdict,
            sets,
            candidates=tuple(order),
            warnings=tuple(warnings),
            searched=not (fits_only and verdict is Verdict.CONFLICT),
        )

    def members(
        self, names: Sequence[NormalizedName], gone: Collection[NormalizedName], fixed: Resolution
    ) -> tuple[Member, ...]:
        """The members of a set that fits in ``fixed``: where each moves (or that it goes) and the reasons why."""
        source, by_name = self.session.source, self.session.snapshot.by_name
        into = resolution_edges(fixed, self.request, self.session.env)
        members = []
        for name in names:
            installed = by_name[name].version if name in by_name else None
            dist = None if name in gone else fixed.mapping.get(name)
            moves_to = None if dist is None else str(dist.version)
            reasons = explain_member(
                name, installed, self.full, fixed, into, lambda n: source.project(n).versions()
            )
            members.append(Member(name, installed, moves_to, dist is None, reasons))
        return tuple(members)

    def out_of_budget(self, budget: float | None) -> ConflictSetResult:
        """What a search stopped by its budget can still say: a correction set it has seen fit, unverified."""
        installed = {p.name: p.version for p in self.session.snapshot.pins}
        cache = self.check.cache
        # A question leaves out (removes) the candidates it neither keeps nor frees; the widest question asked
        # tells the candidates of the last round, so a fitting answer costs its movers plus what it removed.
        universe = max((keep | free for keep, free in cache), key=len, default=frozenset())
        best: tuple[Names, Names, Resolution] | None = None
        for (keep, free), result in cache.items():
            if not result.ok or not (keep | free) <= universe:
                continue
            moved = frozenset(movers_of(result, sorted(free), installed))
            gone = universe - keep - free
            if best is None or len(moved) + len(gone) < len(best[0]) + len(best[1]):
                best = (moved, gone, result)
        message = (
            f"the search for a minimal conflicting set stopped at its budget of {budget:g} s after "
            f"{self.check.calls} resolver calls"
        )
        if best is None:
            message += " before any resolution fitted: no set to show (raise --budget)"
            return self.result(Verdict.CONFLICT, (), warnings=(message,), searched=False)
        moved, gone, fixed = best
        message += (
            ": the set shown is enough (a resolution moving only these fits) but not shown to be minimal"
        )
        members = self.members((*sorted(gone), *sorted(moved)), gone, fixed)
        return self.result(Verdict.CONFLICT, (ConflictSet(members),), warnings=(message,), searched=False)
