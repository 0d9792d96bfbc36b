"""The direct layer of the conflict: the fewest preinstalled pins that must move for the request to install with
every other pin kept, in the view pip's and uv's resolvers take.

There, an installed version binds only when the resolution reaches its project: each pin outside the set is a
constraint ``name==installed`` (like pip's ``-c``), never a root that must stay consistent with the rest of the
image. FastDiag (``fastdiag``) finds a subset-minimal set over the pins a resolution with no such constraint
moves; re-resolving verifies it (freeing the set resolves, re-pinning any one member fails, every answer proven).
The knock-on layer is what moving that set leaves broken: ``pip check`` after the freed resolution, minus what
was broken before, grouped by the direct member each breakage depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.explain import explain_member, resolution_edges
from analyzer.diagnosis.fastdiag import fastdiag, only_minimal
from analyzer.diagnosis.graph import Edge, ImageGraph
from analyzer.diagnosis.pipcheck import InstalledDist, Violation, check, installed_dists
from analyzer.diagnosis.search import CachedOracle, Names, OutOfBudget, movers_of, proven
from analyzer.resolver import Origin, Resolution
from analyzer.session import Session

__all__ = ["DirectLayer", "KnockOnGroup", "Member", "direct_layer"]

_FULL_SECOND_ORDER = 40
"""Up to this many reached pins the second ordering searches all of them, not only the pins that move."""


@dataclass(frozen=True)
class Member:
    """One pin of a minimal conflicting set, what happens to it, and why (edges, phrased by the renderer)."""

    name: NormalizedName
    installed: str | None
    moves_to: str | None
    """The version it takes when the set is freed; None when it must be removed."""
    removed: bool = False
    """Uninstalled, and not brought back by the resolution that fits."""
    reasons: tuple[Edge, ...] = ()
    """The chain: the member's clashing requirement or the edge that forces it, then down to the request."""


@dataclass(frozen=True)
class KnockOnGroup:
    """The preinstalled packages that one direct member's move leaves broken (``cause`` is that member, or a
    requested project that moves; None when the breakage depends on neither, which a chain cannot explain)."""

    cause: NormalizedName | None
    installed: str | None
    moves_to: str | None
    broken: tuple[Violation, ...]


@dataclass(frozen=True)
class DirectLayer:
    """The direct conflicts (pip's view) and their knock-on breakage."""

    members: tuple[Member, ...] = ()
    verified: bool = False
    """Freeing the set resolves and re-pinning any one member fails, each shown by a resolution not cut short,
    and every member has a chain to the request."""
    doubt: str = ""
    """Why the set is not verified (empty when it is)."""
    alternatives: tuple[tuple[NormalizedName, ...], ...] = ()
    """Other minimal sets the second ordering found (each as enough as ``members``)."""
    knock_on: tuple[KnockOnGroup, ...] = ()
    """What the freed resolution newly breaks, grouped by the direct member it depends on, largest first."""
    resolver_calls: int = 0
    fits: bool = False
    """The request installs with every reached pin kept: nothing is in conflict."""
    unresolvable: bool = False
    """The request does not resolve even with every pin free: no set of pins is the cause."""

    @property
    def several(self) -> bool:
        return bool(self.alternatives)

    @property
    def names(self) -> tuple[NormalizedName, ...]:
        return tuple(m.name for m in self.members)

    @property
    def broken(self) -> int:
        """How many preinstalled packages the knock-on leaves broken."""
        return len({v.name for g in self.knock_on for v in g.broken})


def _pinned(version: str | None, limit: SpecifierSet | None) -> SpecifierSet | None:
    if not version:
        return None
    try:
        spec = SpecifierSet(f"=={version}")
    except InvalidSpecifier:
        return None
    return spec & limit if limit is not None else spec


def direct_layer(
    request: Sequence[Requirement],
    session: Session,
    graph: ImageGraph,
    solve: Callable[[Mapping[NormalizedName, SpecifierSet]], Resolution],
    *,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    deadline: float | None = None,
    unanswered: Callable[[], str] = lambda: "not answered",
) -> DirectLayer:
    """The direct layer for ``request`` on the session's image (``graph`` has the request on top).

    ``solve(constraints)`` resolves the request under those constraints (the caller's resolver, rounds and
    deadline); ``constraints`` are the user's own (pip's ``-c``), kept in every question; ``unanswered()`` says
    why a question was cut. What the image already broke before is never counted as knock-on."""
    user = dict(constraints or {})
    requested = {canonicalize_name(r.name) for r in request}
    installed = {p.name: p.version for p in session.snapshot.pins}
    pins = {
        n: spec
        for n, v in installed.items()
        if n not in requested and (spec := _pinned(v, user.get(n))) is not None
    }
    universe = frozenset(pins)

    def raw(keep: Names, free: Names, gone: Names = frozenset()) -> Resolution:
        return solve({**user, **{n: pins[n] for n in keep}})

    check_q = CachedOracle(raw, deadline)
    nothing: Names = frozenset()

    def ask(freed: Names) -> Resolution:
        return check_q(universe - freed, freed)

    def consistent(freed: Names) -> bool:
        return ask(freed).ok

    try:
        if ask(nothing).ok:
            return DirectLayer(verified=True, fits=True, resolver_calls=check_q.calls)
        loose = ask(universe)
        if not loose.ok:
            doubt = "" if proven(loose) else f"whether the request resolves at all was {unanswered()}"
            return DirectLayer(doubt=doubt, resolver_calls=check_q.calls, unresolvable=proven(loose))
        reached = [n for n in sorted(loose.mapping) if n in universe]
        movers = movers_of(loose, reached, installed)
        found = only_minimal(movers, consistent)
        if found is None:
            found = fastdiag(movers, consistent)
        if found is None:  # the loose question fitted, so only a question cut short gets here
            return DirectLayer(doubt=f"freeing every pin that moves was {unanswered()}",
                               resolver_calls=check_q.calls)  # fmt: skip
        second = list(reversed(reached if len(reached) <= _FULL_SECOND_ORDER else movers))
        other = fastdiag(second, consistent)
        alternatives = (
            (tuple(sorted(other)),) if other is not None and frozenset(other) != frozenset(found) else ()
        )
        freed = frozenset(found)
        fixed = ask(freed)
        doubt = _doubt(freed, fixed, ask, unanswered)
        members = _members(request, session, graph, sorted(freed), fixed)
        unexplained = [m.name for m in members if not m.reasons]
        if not doubt and unexplained:
            doubt = f"no chain to the request was found for {', '.join(unexplained)}"
    except OutOfBudget:
        return DirectLayer(doubt="the search's budget ran out before the direct conflicts were shown",
                           resolver_calls=check_q.calls)  # fmt: skip
    knock_on = _knock_on(session, fixed, members, requested) if fixed.ok else ()
    return DirectLayer(
        members,
        verified=not doubt,
        doubt=doubt,
        alternatives=alternatives,
        knock_on=knock_on,
        resolver_calls=check_q.calls,
    )


def _doubt(
    freed: Names, fixed: Resolution, ask: Callable[[Names], Resolution], unanswered: Callable[[], str]
) -> str:
    """Why the set is not shown minimal, or "": freeing it resolves, re-pinning any one member fails."""
    if not fixed.ok:
        return "freeing it did not resolve" if proven(fixed) else f"freeing it was {unanswered()}"
    repinned = {m: ask(freed - {m}) for m in sorted(freed)}
    fitting = [m for m, r in repinned.items() if r.ok]
    if fitting:
        return f"it still resolves with {', '.join(fitting)} kept: the set is larger than needed"
    unknown = [m for m, r in repinned.items() if not proven(r)]
    if unknown:
        return f"whether it resolves with {', '.join(unknown)} kept was {unanswered()}"
    return ""


def _members(
    request: Sequence[Requirement],
    session: Session,
    graph: ImageGraph,
    names: Sequence[NormalizedName],
    fixed: Resolution,
) -> tuple[Member, ...]:
    source, by_name = session.source, session.snapshot.by_name
    into = resolution_edges(fixed, request, session.env)
    out = []
    for name in names:
        installed = by_name[name].version if name in by_name else None
        dist = fixed.mapping.get(name)
        moves_to = None if dist is None else str(dist.version)
        reasons = explain_member(name, installed, graph, fixed, into, lambda n: source.project(n).versions())
        out.append(Member(name, installed, moves_to, False, reasons))
    return tuple(out)


def _knock_on(
    session: Session,
    fixed: Resolution,
    members: Sequence[Member],
    requested: Collection[NormalizedName],
) -> tuple[KnockOnGroup, ...]:
    """``pip check`` of the image after the freed resolution, minus what was broken before, grouped by the
    direct member each violation depends on (or is)."""
    before = installed_dists(session)
    after = dict(before)
    for name, dist in fixed.mapping.items():
        if dist.origin is not Origin.INSTALLED:
            after[name] = InstalledDist(str(dist.version), dist.requires_dist if dist.known else None)
    env = session.env
    old = {v.key for v in check(before, env).violations}
    newly = [v for v in check(after, env).violations if v.key not in old]
    by_member = {m.name: m for m in members}
    # a requested project that moves (tensorflow 2.18.0 -> 2.12.0) breaks its own dependents: it is a cause too
    for name in requested:
        moved, pin = fixed.mapping.get(name), session.snapshot.by_name.get(name)
        if moved is not None and pin is not None and moved.origin is not Origin.INSTALLED:
            by_member.setdefault(name, Member(name, pin.version, str(moved.version)))
    groups: dict[NormalizedName | None, list[Violation]] = {}
    for v in newly:
        cause = v.dependency if v.dependency in by_member else v.name if v.name in by_member else None
        groups.setdefault(cause, []).append(v)
    out = [
        KnockOnGroup(
            cause,
            by_member[cause].installed if cause is not None else None,
            by_member[cause].moves_to if cause is not None else None,
            tuple(found),
        )
        for cause, found in groups.items()
    ]
    return tuple(sorted(out, key=lambda g: (g.cause is None, -len(g.broken), g.cause or "")))
