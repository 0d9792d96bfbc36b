"""FastDiag (Felfernig, Schubert, Zehentner 2012): a subset-minimal diagnosis by divide and conquer.

It knows nothing of packages: ``diagnosis.search`` wires it to the resolver, the tests to hitting sets.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

__all__ = ["fastdiag", "only_minimal"]

T = TypeVar("T", bound=Hashable)


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


def only_minimal(movers: Sequence[T], consistent: Callable[[frozenset[T]], bool]) -> tuple[T, ...] | None:
    """The movers whose re-pinning alone fails, when freeing just them fits (then no other subset of the movers
    is minimal: every fitting one contains them); None otherwise, and FastDiag searches as usual."""
    everything = frozenset(movers)
    if not movers or not consistent(everything):
        return None
    needed = tuple(m for m in movers if not consistent(everything - {m}))
    if len(needed) == len(movers) or consistent(frozenset(needed)):
        return needed
    return None
