"""The search for minimal correction sets over pin names, against a consistency oracle (the resolver).

A question names the pins kept at their version and the pins freed (installed, any version); every other
candidate is left out. ``search_conflict_sets`` runs FastDiag over such questions; ``CachedOracle`` answers each
question once and counts what the search cost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.diagnosis.fastdiag import fastdiag, only_minimal
from analyzer.resolver import Conflict, Role
from analyzer.versions import parse_version

__all__ = [
    "CachedOracle",
    "CheckStats",
    "Found",
    "Oracle",
    "OutOfBudget",
    "Outcome",
    "Resolved",
    "Verdict",
    "movers_of",
    "proven_conflict",
    "search_conflict_sets",
]

Names = frozenset[NormalizedName]
_FULL_SECOND_ORDER = 40
"""Up to this many candidates the second ordering searches all of them, not only the pins that move."""


# -- the oracle --------------------------------------------------------------------------------------------------


class Resolved(Protocol):
    """What the search reads of one resolved distribution (``analyzer.resolver.ResolvedDist`` has it)."""

    @property
    def version(self) -> Version: ...
    @property
    def requirements(self) -> tuple[Requirement, ...]: ...


class Outcome(Protocol):
    """What the search reads of a resolution (``analyzer.resolver.Resolution`` has it; so do the tests' fakes)."""

    @property
    def ok(self) -> bool: ...
    @property
    def mapping(self) -> Mapping[NormalizedName, Resolved]: ...
    @property
    def conflict(self) -> Conflict | None: ...


class Oracle(Protocol):
    """Resolve the request with ``keep`` pinned, ``free`` movable but installed; other pins are left out."""

    def __call__(self, keep: Names, free: Names) -> Outcome: ...


@dataclass
class CheckStats:
    """How much the search cost: resolver calls (cache misses), cache hits and seconds spent resolving."""

    calls: int = 0
    hits: int = 0
    seconds: float = 0.0


class OutOfBudget(Exception):
    """The search's time budget ran out before a new resolution could start."""


class CachedOracle:
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
        self.cache: dict[tuple[Names, Names], Outcome] = {}
        self.conflicts: list[tuple[Names, Names, Outcome]] = []

    def __call__(self, keep: Names, free: Names) -> Outcome:
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
        if proven_conflict(result):
            self.conflicts.append((keep, free, result))
        return result


def proven_conflict(result: Outcome) -> bool:
    """A failure that is a conflict (not a question out of rounds, not an internal error)."""
    conflict = result.conflict
    return not result.ok and conflict is not None and not conflict.too_deep and not conflict.detail


class Verdict(str, Enum):
    FITS = "fits-as-is"
    """The request resolves with every relevant pin held at its version."""
    CONFLICT = "conflict"
    """Some pins must move (or go): ``sets`` has the minimal sets."""
    UNRESOLVABLE = "unresolvable"
    """The request does not resolve even with every relevant pin free or removed: the image is not the cause."""


# -- the search over names -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    freed: tuple[NormalizedName, ...]
    removed: tuple[NormalizedName, ...]


def search_conflict_sets(
    candidates: Sequence[NormalizedName],
    check: Oracle,
    *,
    orders: int = 2,
    fits_only: bool = False,
    installed: Mapping[NormalizedName, str | None] | None = None,
) -> tuple[Verdict, tuple[Found, ...], Callable[[Names, Names], Outcome]]:
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

        found = named_removals(order, check, everyone, fits_removing)
        if found is None:
            found = fastdiag(order, fits_removing)
        if found is None:
            return Verdict.UNRESOLVABLE, (), check
        removed = tuple(found)

    gone = frozenset(removed)
    pool = [n for n in order if n not in gone]
    results: list[Found] = []
    seen: set[frozenset[NormalizedName]] = set()
    # The pins a resolution with everything free actually moves are enough to free (the others keep their
    # installed versions in it): the first search runs over them only, a few movers among many relevant pins.
    # The second ordering runs over the whole pool when it is small, to find alternatives that move other pins.
    movers = movers_of(check(frozenset(), everyone - gone), pool, installed)
    consistent = fits_freeing(gone)
    # Most movers are usually needed: those whose re-pinning alone fails are in every fitting subset of the
    # movers. When freeing just them fits, they are the only minimal set among the movers, which is what FastDiag
    # returns from any order: n questions instead of about 4n, and the very questions the verification asks.
    unique = only_minimal(movers, consistent)
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
        results.append(Found(tuple(sorted(freed, key=rank.__getitem__)), removed))
    results.sort(key=lambda f: len(f.freed) + len(f.removed))
    return Verdict.CONFLICT, tuple(results), check


def named_removals(
    order: Sequence[NormalizedName],
    check: Oracle,
    everyone: Names,
    fits_removing: Callable[[frozenset[NormalizedName]], bool],
) -> tuple[NormalizedName, ...] | None:
    """Pins to remove, guided by the conflicts' causes: remove the freed pins each failure names until the
    request fits, then minimize that small set with FastDiag. A failing all-free resolution is slow on a real
    image, and FastDiag over all the pins needs many of them; this needs a few.
    None when the causes do not name freed pins (a resolver without causes): the caller falls back."""
    gone: set[NormalizedName] = set()
    for _ in range(len(order)):
        result = check(frozenset(), everyone - gone)
        if result.ok:
            break
        named = freed_in_causes(result) & (everyone - gone)
        if not named:
            return None
        gone |= named
    else:
        return None
    rank = {n: i for i, n in enumerate(order)}
    return fastdiag(sorted(gone, key=rank.__getitem__), fits_removing)


def freed_in_causes(result: Outcome) -> set[NormalizedName]:
    """Pins a failed resolution's conflict names: as freed roots, or as the parents of a clashing requirement."""
    out: set[NormalizedName] = set()
    for cause in result.conflict.causes if result.conflict is not None else ():
        if cause.role is Role.FREE:
            out.add(cause.name)
        if cause.parent:
            out.add(cause.parent)
    return out


def movers_of(
    resolution: Outcome,
    pool: Sequence[NormalizedName],
    installed: Mapping[NormalizedName, str | None] | None,
) -> list[NormalizedName]:
    """The pool's pins whose version the resolution changes (all of the pool when that cannot be told)."""
    if installed is None or not resolution.ok:
        return list(pool)
    out = []
    for name in pool:
        dist = resolution.mapping.get(name)
        have = parse_version(installed.get(name))
        got = dist.version if dist is not None else None
        if got is None or have is None or got != have:
            out.append(name)
    return out
