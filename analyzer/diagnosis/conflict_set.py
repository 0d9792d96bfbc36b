"""The minimal conflicting set (keep-the-image view): which preinstalled pins must move for the request to fit.

Every preinstalled pin except the requested names is wanted at its version. When they do not all fit with the
request, we look for a set C of pins such that freeing C (they stay installed, any version) makes the request
resolve, and re-pinning any single member makes it fail again: a minimal correction set, found with FastDiag
(Felfernig, Schubert, Zehentner 2012: divide and conquer over the candidate list, with the resolver as the
consistency check). The dependency graph restricts the candidates to the pins that can matter, and orders them
so the pins closest to the conflict are freed first. The image's own breakage (pip check before anything is
installed) is passed to the resolver as ignored edges, so it is never blamed on the request.

The search is written against a consistency oracle (``Oracle``), so it can be tested alone and wired to
``analyzer.resolver.resolve``; every check is cached and counted.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from analyzer.diagnosis.graph import REQUEST, Edge, ImageGraph, image_graph
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataSource
from analyzer.session import Session
from analyzer.snapshot import Snapshot

__all__ = [
    "CheckStats",
    "ConflictSet",
    "ConflictSetResult",
    "Member",
    "Oracle",
    "Verdict",
    "fastdiag",
    "is_minimal",
    "minimal_conflicting_set",
    "pip_check_edges",
    "search_conflict_sets",
]

T = TypeVar("T", bound=Hashable)
_MAX_ROUNDS = 4
SEARCH_MAX_ROUNDS = 500
"""Resolver rounds allowed to one question of the search (pip allows 200 000 to its one resolution)."""
_FULL_SECOND_ORDER = 40
"""Up to this many candidates the second ordering searches all of them, not only the pins that move."""
Names = frozenset[NormalizedName]


# -- FastDiag ----------------------------------------------------------------------------------------------------


def fastdiag(candidates: Sequence[T], consistent: Callable[[frozenset[T]], bool]) -> tuple[T, ...] | None:
    """A subset-minimal set D of ``candidates`` whose relaxation makes the problem consistent.

    ``consistent(R)`` says whether relaxing the set R (and keeping every other candidate) is consistent.
    Candidates at the front of the list are relaxed in preference (the front half is relaxed first and the
    back half searched only for what is still needed), so the order steers which minimal set comes out.
    Returns None when even relaxing every candidate is inconsistent, () when nothing needs to be.
    """
    if consistent(frozenset()):
        return ()
    everything = frozenset(candidates)
    if not consistent(everything):
        return None

    def fd(has_d: bool, pool: Sequence[T], relaxed: frozenset[T]) -> tuple[T, ...]:
        if has_d and consistent(relaxed):
            return ()
        if len(pool) == 1:
            return (pool[0],)
        half = len(pool) // 2
        first, second = pool[:half], pool[half:]
        d1 = fd(True, second, relaxed | frozenset(first))
        d2 = fd(bool(d1), first, relaxed | frozenset(d1))
        return d1 + d2

    return fd(False, list(candidates), frozenset())


def is_minimal(diagnosis: Collection[T], consistent: Callable[[frozenset[T]], bool]) -> bool:
    """Relaxing the whole set is consistent, and re-keeping any single member makes it inconsistent."""
    full = frozenset(diagnosis)
    return consistent(full) and all(not consistent(full - {member}) for member in full)


# -- the oracle --------------------------------------------------------------------------------------------------


class ResolvedLike(Protocol):
    version: Any
    requirements: Any


class ResolutionLike(Protocol):
    """What the search reads from a resolution (``analyzer.resolver.Resolution`` has it)."""

    ok: bool
    mapping: Mapping[NormalizedName, Any]


class Oracle(Protocol):
    """Resolve the request with ``keep`` pinned, ``free`` movable but installed; other pins are left out."""

    def __call__(self, keep: Names, free: Names) -> ResolutionLike: ...


@dataclass
class CheckStats:
    """How much the search cost: resolver calls (cache misses), cache hits and seconds spent resolving."""

    calls: int = 0
    hits: int = 0
    seconds: float = 0.0


class OutOfBudget(Exception):
    """The search's time budget ran out before a new resolution could start."""


class _CachedOracle:
    """Memoizes resolutions by (kept, removed) names; the free set is what remains of the candidates.

    A question is also answered "fails" from a proven conflict of one that asked less of every pin (each pin kept
    then is kept now, each freed then is kept or freed now): more constraints never make room for a solution.
    The search asks such questions when the relevant part of the image grows and it runs again over more pins.
    Only conflicts count, never a question that ran out of rounds (that proves nothing).

    With a ``deadline`` (a ``time.perf_counter()`` value) no new resolution starts after it: the search stops
    with ``OutOfBudget`` and the caller reports what it has, rather than keeping a user waiting for minutes.
    """

    def __init__(self, oracle: Oracle, stats: CheckStats, deadline: float | None = None) -> None:
        self.oracle = oracle
        self.stats = stats
        self.deadline = deadline
        self.cache: dict[tuple[Names, Names], ResolutionLike] = {}
        self.conflicts: list[tuple[Names, Names, ResolutionLike]] = []

    def __call__(self, keep: Names, free: Names) -> ResolutionLike:
        key = (keep, free)
        hit = self.cache.get(key)
        if hit is None and self.conflicts:
            held = keep | free
            hit = next((r for k, f, r in self.conflicts if k <= keep and f <= held), None)
            if hit is not None:
                self.cache[key] = hit
        if hit is not None:
            self.stats.hits += 1
            return hit
        # the first question (does the request fit the image as it is?) is always answered
        if self.deadline is not None and self.stats.calls > 0 and time.perf_counter() > self.deadline:
            raise OutOfBudget
        started = time.perf_counter()
        result = self.oracle(keep, free)
        self.stats.seconds += time.perf_counter() - started
        self.stats.calls += 1
        self.cache[key] = result
        if _proven_conflict(result):
            self.conflicts.append((keep, free, result))
        return result


def _proven_conflict(result: ResolutionLike) -> bool:
    """A failure that is a conflict (not a question out of rounds, not an internal error)."""
    conflict = getattr(result, "conflict", None)
    return (
        not result.ok
        and conflict is not None
        and not getattr(conflict, "too_deep", True)
        and not getattr(conflict, "detail", "")
    )


# -- results -----------------------------------------------------------------------------------------------------


class Verdict(str, Enum):
    FITS = "fits-as-is"
    """The request resolves with every relevant pin held at its version."""
    CONFLICT = "conflict"
    """Some pins must move (or go): ``sets`` has the minimal sets."""
    UNRESOLVABLE = "unresolvable"
    """The request does not resolve even with every relevant pin free or removed: the image is not the cause."""


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
    pins: int = 0
    resolver_calls: int = 0
    cache_hits: int = 0
    seconds: float = 0.0
    """Wall time of the whole search, graph included."""
    resolver_seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    searched: bool = True
    """False when only the verdict was asked for (``fits_only``) and no set was searched."""

    @property
    def best(self) -> ConflictSet | None:
        return self.sets[0] if self.sets else None

    @property
    def several(self) -> bool:
        return len(self.sets) > 1


# -- the search over names ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    freed: tuple[NormalizedName, ...]
    removed: tuple[NormalizedName, ...]


def search_conflict_sets(
    candidates: Sequence[NormalizedName],
    check: Oracle,
    *,
    orders: int = 2,
    fits_only: bool = False,
    installed: Mapping[NormalizedName, str | None] | None = None,
) -> tuple[Verdict, tuple[_Found, ...], Callable[[Names, Names], ResolutionLike]]:
    """FastDiag over ``candidates`` (most worth freeing first) from ``orders`` orderings; needs no graph.

    When freeing every candidate is not enough, a minimal set of pins to remove is found first (removed pins
    are left out of the problem), then the minimal set to free among the rest.
    """
    order = list(candidates)
    everyone = frozenset(order)

    def fits_freeing(removed: Names) -> Callable[[frozenset[NormalizedName]], bool]:
        def consistent(freed: frozenset[NormalizedName]) -> bool:
            return check(everyone - freed - removed, freed).ok

        return consistent

    if check(everyone, frozenset()).ok:
        return Verdict.FITS, (), check
    if fits_only:
        return Verdict.CONFLICT, (), check

    removed: tuple[NormalizedName, ...] = ()
    if not check(frozenset(), everyone).ok:

        def fits_removing(gone: frozenset[NormalizedName]) -> bool:
            return check(frozenset(), everyone - gone).ok

        found = _named_removals(order, check, everyone, fits_removing)
        if found is None:
            found = fastdiag(order, fits_removing)
        if found is None:
            return Verdict.UNRESOLVABLE, (), check
        removed = tuple(found)

    gone = frozenset(removed)
    pool = [n for n in order if n not in gone]
    results: list[_Found] = []
    seen: set[frozenset[NormalizedName]] = set()
    # The pins a resolution with everything free actually moves are enough to free (the others keep their
    # installed versions in it): the first search runs over them only, which divides the resolver calls on a
    # real image by the size ratio (tens of movers among hundreds of relevant pins). The second ordering runs
    # over the whole pool when it is small, to find the alternatives that move other pins.
    movers = _movers(check(frozenset(), everyone - gone), pool, installed)
    consistent = fits_freeing(gone)
    # Most movers are usually needed: those whose re-pinning alone fails are in every fitting subset of the
    # movers. When freeing just them fits, they are the only minimal set among the movers, which is what FastDiag
    # returns from any order: n questions instead of about 4n, and the very questions the verification asks.
    unique = _only_minimal(movers, consistent)
    sequences = [movers]
    if orders > 1:
        sequences.append(list(reversed(pool if len(pool) <= _FULL_SECOND_ORDER else movers)))
    for sequence in sequences:
        if unique is not None and set(sequence) == set(movers):
            freed: tuple[NormalizedName, ...] | None = unique
        else:
            freed = fastdiag(sequence, consistent)
        if freed is None:
            continue
        key = frozenset(freed)
        if key in seen:
            continue
        seen.add(key)
        rank = {n: i for i, n in enumerate(order)}
        results.append(_Found(tuple(sorted(freed, key=rank.__getitem__)), removed))
    results.sort(key=lambda f: len(f.freed) + len(f.removed))
    return Verdict.CONFLICT, tuple(results), check


def _only_minimal(movers: Sequence[T], consistent: Callable[[frozenset[T]], bool]) -> tuple[T, ...] | None:
    """The movers whose re-pinning alone fails, when freeing just them fits (then no other subset of the movers
    is minimal: every fitting one contains them); None otherwise, and FastDiag searches as usual."""
    everything = frozenset(movers)
    if not movers or not consistent(everything):
        return None
    needed = tuple(m for m in movers if not consistent(everything - {m}))
    if len(needed) == len(movers) or consistent(frozenset(needed)):
        return needed
    return None


def _named_removals(
    order: Sequence[NormalizedName],
    check: Oracle,
    everyone: Names,
    fits_removing: Callable[[frozenset[NormalizedName]], bool],
) -> tuple[NormalizedName, ...] | None:
    """Pins to remove, guided by the conflicts' causes: remove the freed pins each failure names until the
    request fits, then minimize that small set with FastDiag. A failing all-free resolution is slow on a real
    image (about a second) and FastDiag over hundreds of pins needs dozens of them; this needs a few.
    None when the causes do not name freed pins (a resolver without causes): the caller falls back."""
    gone: set[NormalizedName] = set()
    for _ in range(len(order)):
        result = check(frozenset(), everyone - gone)
        if result.ok:
            break
        named = _freed_in_causes(result) & (everyone - gone)
        if not named:
            return None
        gone |= named
    else:
        return None
    rank = {n: i for i, n in enumerate(order)}
    return fastdiag(sorted(gone, key=rank.__getitem__), fits_removing)


def _freed_in_causes(result: ResolutionLike) -> set[NormalizedName]:
    """Pins a failed resolution's conflict names: as freed roots, or as the parents of a clashing requirement."""
    conflict = getattr(result, "conflict", None)
    out: set[NormalizedName] = set()
    for cause in getattr(conflict, "causes", ()) or ():
        role = getattr(getattr(cause, "role", None), "value", None)
        if role == "free":
            out.add(canonicalize_name(str(cause.name)))
        parent = getattr(cause, "parent", None)
        if parent:
            out.add(canonicalize_name(str(parent)))
    return out


def _movers(
    resolution: ResolutionLike,
    pool: Sequence[NormalizedName],
    installed: Mapping[NormalizedName, str | None] | None,
) -> list[NormalizedName]:
    """The pool's pins whose version the resolution changes (all of the pool when that cannot be told)."""
    if installed is None or not resolution.ok:
        return list(pool)
    out = []
    for name in pool:
        dist = resolution.mapping.get(name)
        have = _version(installed.get(name))
        got = _version(getattr(dist, "version", None)) if dist is not None else None
        if got is None or have is None or got != have:
            out.append(name)
    return out


# -- reasons -----------------------------------------------------------------------------------------------------


def _version(value: object) -> Version | None:
    if value is None:
        return None
    if isinstance(value, Version):
        return value
    try:
        return Version(str(value))
    except InvalidVersion:
        return None


def _requirements(dist: Any) -> tuple[Requirement, ...]:
    out = []
    for req in getattr(dist, "requirements", ()) or ():
        if isinstance(req, Requirement):
            out.append(req)
        else:
            try:
                out.append(Requirement(str(req)))
            except InvalidRequirement:  # an unparsable line is simply not a reason
                continue
    return tuple(out)


def _resolution_edges(
    resolution: ResolutionLike, request: Sequence[Requirement], env: TargetEnvironment
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
        for req in _requirements(dist):
            extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    for name, dist in resolution.mapping.items():
        version = str(getattr(dist, "version", "") or "")
        for req in _requirements(dist):
            if not env.evaluate(req.marker, tuple(sorted(extras.get(name, ())))):
                continue
            child = canonicalize_name(req.name)
            if child == name:
                continue
            into.setdefault(child, []).append(Edge(name, version, child, str(req)))
    return into


def _chain_to_request(
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


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> Requirement:
    """A requirement edge's text parsed once (the reasons test each edge against every allowed version); shared:
    read, never changed."""
    return Requirement(text)


def explain_member(
    name: NormalizedName,
    installed: str | None,
    graph: ImageGraph,
    fixed: ResolutionLike,
    request: Sequence[Requirement],
    env: TargetEnvironment,
    versions_of: Callable[[NormalizedName], Sequence[Version]],
    into: Mapping[NormalizedName, list[Edge]] | None = None,
) -> tuple[Edge, ...]:
    """Why ``name`` cannot stay at ``installed``, as edges: its clashing requirement (or the edge that excludes
    its version), the requirement it clashes with, then the chain from that requirer up to the request."""
    into = into if into is not None else _resolution_edges(fixed, request, env)
    mapping = fixed.mapping
    current = _version(installed)
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
        got = _version(getattr(dist, "version", None))
        if got is None or req.specifier.contains(got, prereleases=True):
            continue
        reasons.append(own)
        allowed = list(req.specifier.filter(versions_of(dep), prereleases=True))
        others = [e for e in into.get(dep, []) if e.parent != name]
        clashing = [
            e
            for e in others
            if not any(_parsed(e.requirement).specifier.contains(v, True) for v in allowed)
        ]
        blamed.extend(clashing or others)
    reasons.extend(blamed)
    reasons.extend(_chain_to_request(blamed, into, name))
    return tuple(dict.fromkeys(reasons))


# -- the image ---------------------------------------------------------------------------------------------------


def pip_check_edges(session: Session) -> tuple[tuple[NormalizedName, NormalizedName], ...]:
    """The image's ``pip check`` violations before anything is installed, as (parent, dependency) edges."""
    from analyzer.diagnosis.pipcheck import check_snapshot

    return check_snapshot(session).edges()


def _order(graph: ImageGraph, relevant: Collection[NormalizedName]) -> list[NormalizedName]:
    """Relevant pins, closest to the request first: reached ones by depth, then their requirers by distance."""
    dist: dict[str, int] = {}
    if REQUEST in graph:
        queue: deque[str] = deque([REQUEST])
        dist[REQUEST] = 0
        while queue:
            node = queue.popleft()
            for child in graph.successors(node):
                if child not in dist:
                    dist[child] = dist[node] + 1
                    queue.append(child)
    # Requirers of reached nodes: one more step per level upwards.
    up: deque[str] = deque(n for n in dist if n != REQUEST)
    while up:
        node = up.popleft()
        for parent in graph.predecessors(node):
            if parent not in dist:
                dist[parent] = dist[node] + 1
                up.append(parent)
    far = 10**6
    return sorted(relevant, key=lambda n: (dist.get(n, far), n))


def _default_resolver() -> Callable[..., Any]:
    import analyzer.resolver

    resolve: Callable[..., Any] = analyzer.resolver.resolve  # type: ignore[attr-defined,unused-ignore]
    return resolve


def _learns(resolver: Callable[..., Any]) -> bool:
    """``analyzer.resolver.resolve`` (or a partial of it) takes the search's memory of promoted pins."""
    resolve = _default_resolver()
    return resolver is resolve or (isinstance(resolver, functools.partial) and resolver.func is resolve)


def minimal_conflicting_set(
    request: Sequence[Requirement],
    session: Session,
    *,
    resolver: Callable[..., Any] | None = None,
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

    ``resolver`` defaults to ``analyzer.resolver.resolve``; ``ignore_edges`` to the image's pre-existing
    violations as ``pip check`` reports them (``analyzer.diagnosis.pipcheck``). With ``verify`` each set's minimality is checked by re-resolving (the checks are cached).
    With ``fits_only`` only the verdict is computed (``searched`` is False on a conflict): what suggestions need.
    """
    started = time.perf_counter()
    snapshot, env, source = session.snapshot, session.env, session.source
    resolve = resolver if resolver is not None else _default_resolver()
    base = graph if graph is not None else image_graph(session)
    requested = {canonicalize_name(r.name) for r in request}
    full = base.with_request(request, session)
    if ignore_edges is None:
        ignore_edges = pip_check_edges(session)
    ignored = tuple(sorted({(canonicalize_name(a), canonicalize_name(b)) for a, b in ignore_edges}))
    stats = CheckStats()

    # One question of the search must not take minutes: a resolution that needs more rounds than this is
    # answered "not shown to fit" (conservative: a set can only come out larger, and is still verified).
    bounded: dict[str, Any] = {"max_rounds": SEARCH_MAX_ROUNDS} if resolver is None else {}
    if _learns(resolve):
        # pins that one question had to promote to roots are promoted from the start in the next ones
        bounded["promote"] = set()

    def raw(keep: Names, free: Names) -> ResolutionLike:
        result: ResolutionLike = resolve(request, session, keep=keep, free=free, ignore_edges=ignored, **bounded)
        return result

    check = _CachedOracle(raw, stats, None if budget is None else started + budget)
    try:
        return _search(request, snapshot, env, source, full, requested, ignored, check, stats, started,
                       orders=orders, verify=verify, fits_only=fits_only)
    except OutOfBudget:
        return _out_of_budget(request, snapshot, env, source, full, ignored, check, stats, started, budget)


def _search(
    request: Sequence[Requirement],
    snapshot: Snapshot,
    env: TargetEnvironment,
    source: MetadataSource,
    full: ImageGraph,
    requested: set[NormalizedName],
    ignored: tuple[tuple[NormalizedName, NormalizedName], ...],
    check: _CachedOracle,
    stats: CheckStats,
    started: float,
    *,
    orders: int,
    verify: bool,
    fits_only: bool,
) -> ConflictSetResult:
    # Pins outside the relevant part are left out of every check. A failure without them is a failure with
    # them (fewer constraints), so only successes need checking: a success whose resolution touches a name
    # some left-out pin requires widens the relevant part, and the search runs again (the cache keeps the
    # answers already had).
    reached = set(full.reachable_from_request())
    warnings: list[str] = []
    for _round in range(_MAX_ROUNDS):
        relevant = frozenset(n for n in full.relevant_pins(reached) if n not in requested)
        order = _order(full, relevant)
        verdict, found, _ = search_conflict_sets(
            order,
            check,
            orders=orders,
            fits_only=fits_only,
            installed={p.name: p.version for p in snapshot.pins},
        )
        everyone = frozenset(order)
        successes: list[ResolutionLike] = []
        if verdict is Verdict.FITS:
            successes.append(check(everyone, frozenset()))
        for item in found:
            successes.append(
                check(everyone - frozenset(item.freed) - frozenset(item.removed), frozenset(item.freed))
            )
        touched = {n for res in successes for n in res.mapping}
        escaped = {n for n in full.relevant_pins(touched) if n not in requested} - relevant
        if not escaped:
            break
        reached |= touched
    else:
        warnings.append(f"the relevant part of the image kept growing after {_MAX_ROUNDS} rounds")
    sets: list[ConflictSet] = []
    everyone = frozenset(order)
    for item in found:
        gone = frozenset(item.removed)
        freed = frozenset(item.freed)
        fixed = check(everyone - freed - gone, freed)
        verified = False
        if verify:
            repinned = {m: check(everyone - (freed - {m}) - gone, freed - {m}) for m in freed}
            verified = fixed.ok and all(not r.ok for r in repinned.values())
            if not verified:
                warnings.append(f"the set {sorted(freed | gone)} did not verify as minimal when re-resolved")
            # "keeping it fails" is proven by a conflict; a question that ran out of rounds only failed to fit
            unproven = sorted(
                m for m, r in repinned.items() if getattr(getattr(r, "conflict", None), "too_deep", False)
            )
            if verified and unproven:
                warnings.append(
                    f"keeping {', '.join(unproven)} was not shown to fit within {SEARCH_MAX_ROUNDS} resolver "
                    "rounds, rather than shown to conflict: the set is minimal as far as that bound goes"
                )
        members = _members((*item.removed, *item.freed), gone, fixed, snapshot, full, request, env, source)
        sets.append(ConflictSet(members, verified))
    if verdict is Verdict.CONFLICT and not sets and not fits_only:
        warnings.append("no minimal conflicting set was found")
    return ConflictSetResult(
        verdict=verdict,
        sets=tuple(sets),
        ignored=ignored,
        candidates=tuple(order),
        pins=len(snapshot.pins),
        resolver_calls=stats.calls,
        cache_hits=stats.hits,
        seconds=time.perf_counter() - started,
        resolver_seconds=stats.seconds,
        warnings=tuple(warnings),
        searched=not (fits_only and verdict is Verdict.CONFLICT),
    )


def _members(
    names: Sequence[NormalizedName],
    gone: Collection[NormalizedName],
    fixed: ResolutionLike,
    snapshot: Snapshot,
    full: ImageGraph,
    request: Sequence[Requirement],
    env: TargetEnvironment,
    source: MetadataSource,
) -> tuple[Member, ...]:
    """The members of a set that fits in ``fixed``: where each moves (or that it goes) and the reasons why."""
    into = _resolution_edges(fixed, request, env)

    def versions_of(name: NormalizedName) -> Sequence[Version]:
        return source.project(name).versions()

    members = []
    for name in names:
        pin = snapshot.by_name.get(name)
        installed = pin.version if pin else None
        dist = None if name in gone else fixed.mapping.get(name)
        moves_to = None if dist is None else str(getattr(dist, "version", ""))
        reasons = explain_member(name, installed, full, fixed, request, env, versions_of, into)
        members.append(Member(name, installed, moves_to, dist is None, reasons))
    return tuple(members)


def _out_of_budget(
    request: Sequence[Requirement],
    snapshot: Snapshot,
    env: TargetEnvironment,
    source: MetadataSource,
    full: ImageGraph,
    ignored: tuple[tuple[NormalizedName, NormalizedName], ...],
    check: _CachedOracle,
    stats: CheckStats,
    started: float,
    budget: float | None,
) -> ConflictSetResult:
    """What a search stopped by its budget can still say: a correction set it has seen fit, unverified."""
    installed = {p.name: p.version for p in snapshot.pins}
    # A question leaves out (removes) the candidates it neither keeps nor frees; the widest question asked
    # tells the candidates of the last round, so a fitting answer costs its movers plus what it removed.
    universe = max((keep | free for keep, free in check.cache), key=len, default=frozenset())
    best: tuple[Names, Names, ResolutionLike] | None = None
    for (keep, free), result in check.cache.items():
        if not result.ok or not (keep | free) <= universe:
            continue
        moved = frozenset(_movers(result, sorted(free), installed))
        gone = universe - keep - free
        if best is None or len(moved) + len(gone) < len(best[0]) + len(best[1]):
            best = (moved, gone, result)
    message = (
        f"the search for a minimal conflicting set stopped at its budget of {budget:g} s after "
        f"{stats.calls} resolver calls"
    )
    sets: tuple[ConflictSet, ...] = ()
    if best is not None:
        moved, gone, fixed = best
        members = _members((*sorted(gone), *sorted(moved)), gone, fixed, snapshot, full, request, env, source)
        sets = (ConflictSet(members, verified=False),)
        message += ": the set shown is enough (a resolution moving only these fits) but not shown to be minimal"
    else:
        message += " before any resolution fitted: no set to show (raise --budget)"
    return ConflictSetResult(
        verdict=Verdict.CONFLICT,
        sets=sets,
        ignored=ignored,
        pins=len(snapshot.pins),
        resolver_calls=stats.calls,
        cache_hits=stats.hits,
        seconds=time.perf_counter() - started,
        resolver_seconds=stats.seconds,
        warnings=(message,),
        searched=False,
    )
