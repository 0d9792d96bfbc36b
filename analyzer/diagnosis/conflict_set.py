"""The minimal conflicting set (keep-the-image view): which preinstalled pins must move for the request to fit.

A minimal correction set: freeing its pins (they stay installed, any version) and uninstalling the ones it
removes makes the request resolve with the rest of the image kept, and weakening any single member (keeping
a freed pin, freeing a removed one) makes it fail again. A set is marked verified only when re-resolving shows
all of that, with no question cut short and a reason for every member. FastDiag (``fastdiag``) finds it over
questions to the resolver (``search``), among the pins the image graph says can matter, closest to the
conflict first. The image's own breakage (pip check before the install) is ignored by the resolver, so it is
never blamed on the request.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.direct import DirectLayer, KnockOnGroup, Member, direct_layer
from analyzer.diagnosis.explain import explain_member, resolution_edges
from analyzer.diagnosis.graph import REQUEST, ImageGraph, image_graph
from analyzer.diagnosis.pip_prediction import READ_FAILURES
from analyzer.diagnosis.pipcheck import check_snapshot
from analyzer.diagnosis.search import (
    CachedOracle,
    Names,
    OutOfBudget,
    Verdict,
    movers_of,
    proven,
    search_conflict_sets,
)
from analyzer.resolver import Resolution, resolve
from analyzer.resolver.resolve import DEFAULT_MAX_ROUNDS
from analyzer.session import Session

__all__ = [
    "ConflictSet",
    "ConflictSetResult",
    "DirectLayer",
    "KnockOnGroup",
    "Member",
    "Verdict",
    "minimal_conflicting_set",
]

_MAX_ROUNDS = 4
_FIRST_ROUNDS = 1000
"""Resolver rounds a question of the search gets first; most are answered well within them."""
_MORE_ROUNDS = 8
"""A question cut by its round limit is asked again with this many times the rounds, up to ``max_rounds``."""


@dataclass(frozen=True)
class ConflictSet:
    members: tuple[Member, ...]
    verified: bool = False
    """Minimality checked by re-resolving: freeing the set fits, weakening any single member (re-pinning a
    freed one, keeping a removed one installed) fails, each shown by a resolution not cut short, and every
    member has a reason."""
    doubt: str = ""
    """Why the set is not verified (empty when it is)."""

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
    unread: tuple[str, ...] = ()
    """The warnings among ``warnings`` that say a read the questions rested on failed (a page, a metadata file)."""
    searched: bool = True
    """False when only the verdict was asked for (``fits_only``) and no set was searched."""
    direct: DirectLayer | None = None
    """The direct conflicts in pip's view (installed versions bind only where the resolution reaches) and what
    moving them leaves broken; ``sets`` is the larger, whole-image layer. None when not computed."""

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
    max_rounds: int = DEFAULT_MAX_ROUNDS,
) -> ConflictSetResult:
    """The minimal set(s) of preinstalled pins to free (or remove) for ``request`` to fit the image.

    ``budget`` bounds the search in seconds: when it runs out, the result holds the pins that a resolution
    with every relevant pin free moves (enough to free, not shown minimal: ``verified`` is False) and says so.
    ``constraints`` (pip's ``-c``) bind every question; ``resolver`` replaces ``analyzer.resolver.resolve`` (the
    tests' reference); ``ignore_edges`` defaults to the image's own ``pip check`` violations. ``verify`` checks
    each set's minimality by re-resolving; ``fits_only`` computes only the verdict, what suggestions need.
    ``max_rounds`` bounds one question (pip's own limit by default): a question still cut short by it, or by
    the budget, is not answered, and a set that rests on it is not verified.
    """
    started = time.perf_counter()
    full = (graph if graph is not None else image_graph(session)).with_request(request, session)
    if ignore_edges is None:
        ignore_edges = check_snapshot(session).edges()
    ignored = tuple(sorted({(canonicalize_name(a), canonicalize_name(b)) for a, b in ignore_edges}))
    # pins that one question had to promote to roots are promoted from the start in the next ones
    promoted: set[NormalizedName] = set()

    deadline = None if budget is None else started + budget
    unread: dict[str, None] = {}

    def asked(**question: Any) -> Resolution:
        # most questions need few rounds: one cut short is asked again with more, while the budget lasts
        rounds = min(_FIRST_ROUNDS, max_rounds)
        while True:
            result = resolve(
                request, session, ignore_edges=ignored, max_rounds=rounds, deadline=deadline, **question
            )
            unread.update((str(w), None) for w in result.warnings if w.kind in READ_FAILURES)
            late = deadline is not None and time.perf_counter() > deadline
            if proven(result) or rounds >= max_rounds or late:
                return result
            rounds = min(rounds * _MORE_ROUNDS, max_rounds)

    def raw(keep: Names, free: Names, gone: Names = frozenset()) -> Resolution:
        if resolver is not None:
            return resolver(request, session, keep=keep, free=free, removed=gone, ignore_edges=ignored)
        return asked(keep=keep, free=free, removed=gone, constraints=constraints or None, promote=promoted)

    search = _Search(request, session, full, ignored, CachedOracle(raw, deadline), started, max_rounds)
    direct = None
    if not fits_only:
        # pip's view: the user's constraints and the installed versions outside the set, binding where reached
        def solve(limits: Mapping[NormalizedName, SpecifierSet]) -> Resolution:
            return asked(constraints=limits or None)

        direct = direct_layer(
            request, session, full, solve, constraints=constraints, deadline=deadline,
            unanswered=lambda: search.unanswered,
        )  # fmt: skip
    try:
        found = search.run(orders=orders, verify=verify, fits_only=fits_only)
    except OutOfBudget:
        found = search.out_of_budget(budget)
    # a candidate a question read as having no requirements because its read failed shapes the sets: say so
    return replace(found, direct=direct, warnings=(*found.warnings, *unread), unread=tuple(unread))


@dataclass(frozen=True)
class _Search:
    """One search: the request on the session's image (``full`` graph), the edges ignored, the cached oracle."""

    request: Sequence[Requirement]
    session: Session
    full: ImageGraph
    ignored: tuple[tuple[NormalizedName, NormalizedName], ...]
    check: CachedOracle
    started: float
    max_rounds: int

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
            successes += [
                check(everyone - frozenset(freed) - gone, frozenset(freed), gone) for freed in found
            ]
            touched = {n for res in successes for n in res.mapping}
            if not full.relevant_pins(touched) - requested - relevant:
                break
            reached |= touched
        else:
            warnings.append(f"the relevant part of the image kept growing after {_MAX_ROUNDS} rounds")
        warnings += self.unanswered_verdict(verdict, everyone)
        sets: list[ConflictSet] = []
        for item in found:
            freed = frozenset(item)
            fixed = check(everyone - freed - gone, freed, gone)
            members = self.members((*removed, *item), gone, fixed)
            doubt = self.doubt(everyone, freed, gone, fixed, members) if verify else "minimality not checked"
            if doubt and verify:
                warnings.append(f"the set {sorted(freed | gone)} is not shown minimal: {doubt}")
            sets.append(ConflictSet(members, verified=not doubt, doubt=doubt))
        if verdict is Verdict.CONFLICT and not sets and not fits_only:
            warnings.append("no minimal conflicting set was found")
        return self.result(
            verdict,
            sets,
            candidates=tuple(order),
            warnings=tuple(warnings),
            searched=not (fits_only and verdict is Verdict.CONFLICT),
        )

    def unanswered_verdict(self, verdict: Verdict, everyone: Names) -> list[str]:
        """A warning when the verdict rests on a question that was cut short (then it is not shown)."""
        nothing: Names = frozenset()
        if verdict is Verdict.CONFLICT and not proven(self.check(everyone, nothing)):
            return [f"whether the request fits the image as it is was {self.unanswered}"]
        if verdict is Verdict.UNRESOLVABLE and not proven(self.check(nothing, nothing, everyone)):
            return [f"whether the request resolves at all without the image's pins was {self.unanswered}"]
        return []

    @property
    def unanswered(self) -> str:
        deadline = self.check.deadline
        if deadline is not None and time.perf_counter() > deadline:
            return "not answered before the search's budget ran out"
        return f"not answered within {self.max_rounds} resolver rounds"

    def doubt(
        self, everyone: Names, freed: Names, gone: Names, fixed: Resolution, members: Sequence[Member]
    ) -> str:
        """Why the set is not shown minimal, or "" when re-resolving shows it is: freeing it fits, and each
        single weakening (keeping a freed member, keeping a removed one installed) fails, each answer proven."""
        check = self.check
        if not fixed.ok:
            return (
                "freeing it did not fit when re-resolved"
                if proven(fixed)
                else f"freeing it was {self.unanswered}"
            )
        weaker = {m: check(everyone - (freed - {m}) - gone, freed - {m}, gone) for m in sorted(freed)}
        weaker |= {r: check(everyone - freed - gone, freed | {r}, gone - {r}) for r in sorted(gone)}

        def kept(names: Sequence[NormalizedName]) -> str:
            at = [n for n in names if n in freed]
            installed = [n for n in names if n in gone]
            return " and ".join(
                [*([f"{', '.join(at)} kept at {'its' if len(at) == 1 else 'their'} version"] if at else []),
                 *([f"{', '.join(installed)} kept installed"] if installed else [])]
            )  # fmt: skip

        fitting = [m for m, r in weaker.items() if r.ok]
        if fitting:
            return f"it still fits with {kept(fitting)}: the set is larger than needed"
        unknown = [m for m, r in weaker.items() if not proven(r)]
        if unknown:
            return f"whether it fits with {kept(unknown)} was {self.unanswered}"
        # a member nothing explains is a failed check, not a member to show as a plain one
        unexplained = [m.name for m in members if not m.reasons]
        if unexplained:
            return f"no reason was found why {', '.join(unexplained)} cannot stay"
        return ""

    def members(
        self, names: Sequence[NormalizedName], gone: Collection[NormalizedName], fixed: Resolution
    ) -> tuple[Member, ...]:
        """The members of a set that fits in ``fixed``: where each moves (or that it goes) and the reasons why.
        A removed pin the resolution brings back (from the index) moves to that version."""
        source, by_name = self.session.source, self.session.snapshot.by_name
        into = resolution_edges(fixed, self.request, self.session.env)
        absent = frozenset(n for n in gone if n not in fixed.mapping)
        members = []
        for name in names:
            installed = by_name[name].version if name in by_name else None
            dist = fixed.mapping.get(name)
            moves_to = None if dist is None else str(dist.version)
            reasons = explain_member(
                name, installed, self.full, fixed, into, lambda n: source.project(n).versions(), absent
            )
            members.append(Member(name, installed, moves_to, dist is None, reasons))
        return tuple(members)

    def out_of_budget(self, budget: float | None) -> ConflictSetResult:
        """What a search stopped by its budget can still say: a correction set it has seen fit, unverified."""
        installed = {p.name: p.version for p in self.session.snapshot.pins}
        cache = self.check.cache
        # Only the widest questions hold every candidate of the last round as kept, freed or removed: a
        # narrower one left some as they were, and a pin it left could be one that its answer breaks.
        universe = max((keep | free | gone for keep, free, gone in cache), key=len, default=frozenset())
        requested = {canonicalize_name(r.name) for r in self.request}
        best: tuple[Names, Names, Resolution] | None = None
        for (keep, free, gone), result in cache.items():
            if not result.ok or keep | free | gone != universe:
                continue
            if self.full.relevant_pins(result.mapping) - requested - universe:
                continue  # it moves what a pin outside the question requires: not shown to fit the image
            moved = frozenset(movers_of(result, sorted(free), installed))
            if best is None or len(moved) + len(gone) < len(best[0]) + len(best[1]):
                best = (moved, gone, result)
        message = (
            f"the search for a minimal conflicting set stopped at its budget of {budget:g} s after "
            f"{self.check.calls} resolver calls"
        )
        if best is None:
            message += (
                " before a resolution was shown to fit the whole image: no set to show (raise --budget)"
            )
            return self.result(Verdict.CONFLICT, (), warnings=(message,), searched=False)
        moved, gone, fixed = best
        message += (
            ": the set shown is enough (a resolution moving only these fits) but not shown to be minimal"
        )
        members = self.members((*sorted(gone), *sorted(moved)), gone, fixed)
        doubt = f"the search stopped at its budget of {budget:g} s before showing which of them must change"
        found = ConflictSet(members, doubt=doubt)
        return self.result(Verdict.CONFLICT, (found,), warnings=(message,), searched=False)
