"""FastDiag over pin names against the resolver: a question names the pins kept at their version, the pins
freed (installed, any version) and the pins removed (uninstalled first); every other pin is left as it is.
``CachedOracle`` answers each question once. A question cut short (round limit, deadline, internal error) is
not answered (``proven`` is False): the search steers as if it did not fit, and a set is verified only by
answered questions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from packaging.utils import NormalizedName

from analyzer.diagnosis.fastdiag import fastdiag, only_minimal
from analyzer.resolver import Resolution, Role
from analyzer.versions import parse_version

__all__ = ["CachedOracle", "Oracle", "OutOfBudget", "Verdict", "movers_of", "proven", "search_conflict_sets"]

Names = frozenset[NormalizedName]
_FULL_SECOND_ORDER = 40
"""Up to this many candidates the second ordering searches all of them, not only the pins that move."""


class Oracle(Protocol):
    """Resolve the request with ``keep`` pinned, ``free`` movable but installed, ``gone`` uninstalled."""

    def __call__(self, keep: Names, free: Names, gone: Names = frozenset()) -> Resolution: ...


def proven(result: Resolution) -> bool:
    """The question was answered: it fits, or a conflict shows that it cannot (not cut short)."""
    conflict = result.conflict
    return result.ok or (conflict is not None and not conflict.too_deep and not conflict.detail)


class OutOfBudget(Exception):
    """The search's time budget ran out before a new resolution could start."""


@dataclass
class CachedOracle:
    """Memoizes resolutions by (kept, freed, removed) names, and counts the resolver calls.

    A question is also answered "fails" from a proven conflict of one that asked less of every pin (each pin kept
    then is kept now, each freed then is kept or freed now, each removed then is removed now): more
    constraints never make room for a solution. Removing is not weaker than freeing (a removed pin's installed
    version is not offered), so a pin removed then matches only a removed one; a pin left as it was matches
    anything.
    Only conflicts count, never a question that ran out of rounds or an internal error (they prove nothing).
    After the ``deadline`` (a ``time.perf_counter()`` value) no new resolution starts: ``OutOfBudget`` lets the
    caller report what it has rather than keep a user waiting for minutes.
    """

    oracle: Oracle
    deadline: float | None = None
    calls: int = 0
    cache: dict[tuple[Names, Names, Names], Resolution] = field(default_factory=dict)
    conflicts: list[tuple[Names, Names, Names, Resolution]] = field(default_factory=list)

    def __call__(self, keep: Names, free: Names, gone: Names = frozenset()) -> Resolution:
        key = (keep, free, gone)
        if key not in self.cache:
            held = keep | free
            hit = next((r for k, f, g, r in self.conflicts if k <= keep and f <= held and g <= gone), None)
            if hit is not None:
                self.cache[key] = hit
        if key in self.cache:
            return self.cache[key]
        # the first question (does the request fit the image as it is?) is always answered
        if self.deadline is not None and self.calls > 0 and time.perf_counter() > self.deadline:
            raise OutOfBudget
        result = self.cache[key] = self.oracle(keep, free, gone)
        self.calls += 1
        if not result.ok and proven(result):
            self.conflicts.append((keep, free, gone, result))
        return result


class Verdict(str, Enum):
    FITS = "fits-as-is"
    """The request resolves with every relevant pin held at its version."""
    CONFLICT = "conflict"
    """Some pins must move (or go): ``sets`` has the minimal sets."""
    UNRESOLVABLE = "unresolvable"
    """The request does not resolve even with every relevant pin free or removed: the image is not the cause."""


def search_conflict_sets(
    candidates: Sequence[NormalizedName],
    check: Oracle,
    installed: Mapping[NormalizedName, str | None],
    *,
    orders: int = 2,
    fits_only: bool = False,
) -> tuple[Verdict, tuple[NormalizedName, ...], tuple[tuple[NormalizedName, ...], ...]]:
    """FastDiag over ``candidates`` (most worth freeing first) from ``orders`` orderings: the verdict, the pins
    to remove (when freeing every candidate is not enough; they are uninstalled in every later question) and
    the distinct minimal sets to free among the rest, smallest first."""
    order = list(candidates)
    rank = {n: i for i, n in enumerate(order)}
    everyone = frozenset(order)
    if check(everyone, frozenset()).ok:
        return Verdict.FITS, (), ()
    if fits_only:
        return Verdict.CONFLICT, (), ()

    removed: tuple[NormalizedName, ...] = ()
    # removing is the way out only when freeing every candidate does not fit; when that question was cut
    # short, the removals found are checked like every member (each one freed instead must fail)
    if not check(frozenset(), everyone).ok:

        def fits_removing(gone: Names) -> bool:
            return check(frozenset(), everyone - gone, gone).ok

        found = _named_removals(order, check, fits_removing)
        if found is None:
            found = fastdiag(order, fits_removing)
        if found is None:
            return Verdict.UNRESOLVABLE, (), ()
        removed = tuple(found)

    gone = frozenset(removed)
    pool = [n for n in order if n not in gone]

    def consistent(freed: Names) -> bool:
        return check(everyone - freed - gone, freed, gone).ok

    # The pins a resolution with everything free moves are enough to free: the first search runs over them
    # only, the second over the whole pool when it is small (alternatives that move other pins).
    movers = movers_of(check(frozenset(), everyone - gone, gone), pool, installed)
    # When freeing just the movers whose re-pinning alone fails fits, they are the only minimal set among the
    # movers: n questions instead of about 4n, and the very questions the verification asks.
    unique = only_minimal(movers, consistent)
    sequences = [movers]
    if orders > 1:
        sequences.append(list(reversed(pool if len(pool) <= _FULL_SECOND_ORDER else movers)))
    found_sets: dict[Names, tuple[NormalizedName, ...]] = {}
    for sequence in sequences:
        if unique is not None and set(sequence) == set(movers):
            freed: tuple[NormalizedName, ...] | None = unique
        else:
            freed = fastdiag(sequence, consistent)
        if freed is not None:
            found_sets.setdefault(frozenset(freed), tuple(sorted(freed, key=rank.__getitem__)))
    return Verdict.CONFLICT, removed, tuple(sorted(found_sets.values(), key=len))


def _named_removals(
    order: Sequence[NormalizedName], check: Oracle, fits_removing: Callable[[Names], bool]
) -> tuple[NormalizedName, ...] | None:
    """Pins to remove, guided by the conflicts' causes: remove the freed pins each failure names (as freed roots,
    or as the parents of a clashing requirement) until the request fits, then minimize that small set with
    FastDiag. A failing all-free resolution is slow on a real image, and FastDiag over all the pins needs many
    of them; this needs a few. None when the causes do not name freed pins (a resolver without causes)."""
    everyone = frozenset(order)
    gone: set[NormalizedName] = set()
    for _ in order:
        result = check(frozenset(), everyone - gone, frozenset(gone))
        if result.ok:
            rank = {n: i for i, n in enumerate(order)}
            return fastdiag(sorted(gone, key=rank.__getitem__), fits_removing)
        causes = result.conflict.causes if result.conflict is not None else ()
        named = {c.name for c in causes if c.role is Role.FREE} | {c.parent for c in causes if c.parent}
        named &= everyone - gone
        if not named:
            return None
        gone |= named
    return None


def movers_of(
    resolution: Resolution, pool: Sequence[NormalizedName], installed: Mapping[NormalizedName, str | None]
) -> list[NormalizedName]:
    """The pool's pins whose version the resolution changes (all of the pool when it failed)."""
    if not resolution.ok:
        return list(pool)
    out = []
    for name in pool:
        dist = resolution.mapping.get(name)
        have = parse_version(installed.get(name))
        if dist is None or have is None or dist.version != have:
            out.append(name)
    return out
