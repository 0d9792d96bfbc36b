"""``resolve()``: what pip's resolver would pick for a request in a given runtime, as plain data (``results.py``);
like ``pip install`` without ``--upgrade``, plus the diagnosis's ``keep`` and ``free`` views of the image's pins."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from resolvelib import (
    BaseReporter,
    InconsistentCandidate,
    ResolutionError,
    ResolutionImpossible,
    ResolutionTooDeep,
    Resolver,
)

from analyzer.environment import TargetEnvironment
from analyzer.resolver.candidates import Candidate, InstalledCandidate, ResolverWarning, WarningKind
from analyzer.resolver.explain import conflict_from_causes, with_kept_causes
from analyzer.resolver.factory import Edge, Factory, edge_ignored
from analyzer.resolver.propagation import Ranges
from analyzer.resolver.propagation import propagate as propagate_ranges
from analyzer.resolver.provider import Provider
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)
from analyzer.resolver.results import Conflict, ConflictCause, Resolution, ResolvedDist

if TYPE_CHECKING:
    from analyzer.session import Session

__all__ = ["DEFAULT_MAX_ROUNDS", "resolve"]

DEFAULT_MAX_ROUNDS = 200_000
"""pip's own limit (``try_to_avoid_resolution_too_deep``)."""


def resolve(
    request: Sequence[Requirement],
    session: Session,
    *,
    keep: Collection[NormalizedName] = (),
    free: Collection[NormalizedName] = (),
    removed: Collection[NormalizedName] = (),
    ignore_edges: Collection[Edge] = (),
    prefer_installed: bool = True,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    promote: set[NormalizedName] | None = None,
    propagate: bool = True,
    deadline: float | None = None,
) -> Resolution:
    """Resolve ``request`` in the session's runtime as pip would, optionally keeping or freeing image pins.

    - ``keep``: pins that must stay at their installed version, their own requirements holding.
    - ``free``: pins that must stay installed, at any version (the installed one preferred).
    - ``removed``: pins uninstalled before the install: gone from the image, so nothing is checked against
      them, and a version comes back (from the index) only when something in the answer requires it.
    - ``ignore_edges``: (parent, dependency) requirement edges already broken in the image, skipped for the
      parent's installed version only: a version the answer moves the parent to has every requirement enforced.
    - ``prefer_installed=False`` models ``--upgrade`` (only-if-needed): requested names go newest first.
    - ``constraints``: pip's ``-c``: a project's versions are limited when it is installed, never required.
    - ``promote``: kept or freed pins that earlier questions had to make roots (the search's memory): they are
      roots from the first solve, which spares the re-solves; the call adds the ones it promoted. Same problem,
      same verdict: only the work changes.
    - ``propagate=False`` skips the pre-search propagation (``propagation.py``): the same answers, from
      resolvelib alone (the test of propagation compares both).
    - ``deadline`` (a ``time.perf_counter()`` value): past it the resolution stops like one out of rounds
      (``too_deep``): not answered, rather than answered late.
    """
    factory = session.factory
    gone = frozenset(removed)
    installed: Mapping[NormalizedName, InstalledCandidate] = (
        {n: c for n, c in session.installed.items() if n not in gone} if gone else session.installed
    )
    warnings: list[ResolverWarning] = list(session.pin_warnings)
    roots: list[ResolverRequirement] = []
    user_requested: dict[str, int] = {}

    for order, req in enumerate(request):
        name = canonicalize_name(req.name)
        if not _marker_holds(session.env, req):
            message = f"Ignoring {req}: markers '{req.marker}' don't match the target environment"
            warnings.append(ResolverWarning(WarningKind.MARKER_FALSE, name, None, message))
            continue
        for r in factory.make_requirements(req, parent=None):
            r.role = Role.REQUEST
            roots.append(r)
            user_requested.setdefault(r.key, order)
        direct = factory.direct_candidate(name, req.url) if req.url else None
        if isinstance(direct, ResolverWarning):
            warnings.append(direct)
            cause = ConflictCause(name, requirement=str(req), pip_requirement=str(req), role=Role.REQUEST)
            conflict = Conflict(causes=(cause,), detail=direct.message)
            return Resolution(False, conflict=conflict, warnings=tuple(sorted(set(warnings))))

    kept = {n: installed[n] for n in keep if n in installed}
    if kept:
        # a kept pin offers only its installed version: its page matters only for reading its requirements
        factory.prefetch_projects(n for n, c in kept.items() if c._info is None and factory.needs_index(c))
        factory.prefetch_installed(kept.values())
    # Freed pins, like kept ones, join the roots only when the answer would break them (see below).
    freed = {n: installed[n] for n in free if n in installed and n not in kept}

    # Kept pins are constraints (only the installed candidate is offered) and freed pins are left to the
    # installed-first order; neither is a root: resolvelib's work per round grows with the number of roots, and
    # an image has hundreds. A pin outside the answer stays at its installed version; it becomes a root only when
    # the answer would violate one of its requirements, and then the problem is solved again. Both the answer
    # and the verdict are those of the problem with every kept and freed pin as a root: a success violates no
    # such pin's requirement, and a failure is a failure of a subset of that problem's requirements.
    ignored = frozenset(ignore_edges)
    ranges: Ranges | None = None
    if propagate and (kept or free):
        early, ranges = propagate_ranges(factory, roots, kept, installed, frozenset(free), ignored)
        if early is not None:
            return Resolution(False, conflict=early, warnings=tuple(sorted(set(warnings))))
    promoted: dict[NormalizedName, InstalledCandidate] = {}
    if ranges is not None:
        # a freed pin whose installed version propagation already excludes would be promoted after a first solve:
        # promoting it now spares that solve and its rounds (the problem is the same one)
        promoted.update((n, c) for n, c in freed.items() if ranges.dead(c))
    if promote:
        promoted.update((n, c) for n, c in [*freed.items(), *kept.items()] if n in promote)
    touched: dict[int, Candidate] = {}
    budget = max_rounds  # shared by the re-solves after promotions: max_rounds bounds the whole call
    # Roots from the start make the search larger from its first round: when that runs out of rounds, the
    # question is asked again the plain way (roots only when violated), with a budget of its own.
    guessed = bool(promoted)
    while True:
        # promoted pins as roots: a kept one stays at its version, a freed one stays installed at any version
        problem = [
            *roots,
            *(
                ExplicitRequirement(c, role=Role.KEEP)
                if c.name in kept
                else SpecifierRequirement(Requirement(c.name), role=Role.FREE)
                for c in promoted.values()
            ),
        ]
        provider = Provider(
            factory,
            installed=installed,
            user_requested=user_requested,
            prefer_installed=prefer_installed,
            ignore_edges=ignored,
            constrained=kept,
            constraints=constraints,
            prune=ranges.dead if ranges is not None else None,
        )
        provider.record_roots(problem)
        outcome: Mapping[str, Candidate] | Conflict = Conflict(causes=(), too_deep=True, rounds=max_rounds)
        if budget > 0:
            outcome, used = _run(provider, problem, budget, deadline)
            budget -= used
        touched.update(provider.touched)
        if guessed and isinstance(outcome, Conflict) and outcome.too_deep:
            guessed = False
            promoted = {}
            budget = max_rounds
            continue
        if isinstance(outcome, Conflict):
            warnings += factory.lookup_warnings.values()
            return Resolution(
                False,
                conflict=with_kept_causes(outcome, kept),
                warnings=_collect_warnings(warnings, touched.values()),
            )
        violated = _violated_kept(factory, outcome, {**freed, **kept}, installed, ignored)
        fresh = [c for c in violated if c.name not in promoted]
        if not fresh:
            break
        promoted.update((c.name, c) for c in fresh)
        if promote is not None:
            promote.update(c.name for c in fresh)

    chosen = [c for key, c in outcome.items() if key != REQUIRES_PYTHON_KEY]
    bases: dict[NormalizedName, Candidate] = {}
    extras: dict[NormalizedName, frozenset[NormalizedName]] = {}
    for picked in chosen:
        bases[picked.name] = picked.base
        extras[picked.name] = extras.get(picked.name, frozenset()) | picked.extras
    for name, cand in [*kept.items(), *freed.items()]:
        # kept and freed pins outside the answer stay as they are: part of the answer, as if they had been roots
        bases.setdefault(name, cand)
    mapping: dict[NormalizedName, ResolvedDist] = {}
    for name in sorted(bases):
        base, ex = bases[name], extras.get(name, frozenset())
        mapping[name] = ResolvedDist(
            name=name,
            version=base.version,
            origin=base.origin,
            requirements=factory.evaluated(base, ex) if not ex else _union(factory, base, ex),
            requires_dist=base.info.requires_dist,
            url=base.url,
            extras=ex,
            known=base.info.known,
        )
    warnings += factory.lookup_warnings.values()
    return Resolution(True, mapping, warnings=_collect_warnings(warnings, [*chosen, *bases.values()]))


class _OutOfTime(Exception):
    """The call's deadline passed during a resolution."""


class _RoundCounter(BaseReporter):  # type: ignore[type-arg,unused-ignore]
    """Counts resolvelib's rounds, so that one budget covers every re-solve of a call; stops at a deadline."""

    def __init__(self, deadline: float | None = None) -> None:
        self.rounds = 0
        self.deadline = deadline

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime


def _run(
    provider: Provider, roots: Sequence[ResolverRequirement], max_rounds: int, deadline: float | None = None
) -> tuple[Mapping[str, Candidate] | Conflict, int]:
    counter = _RoundCounter(deadline)
    resolver: Resolver[ResolverRequirement, Candidate, str] = Resolver(provider, counter)
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        return conflict_from_causes(exc.causes, provider), counter.rounds
    except ResolutionTooDeep as exc:
        return Conflict(causes=(), too_deep=True, rounds=exc.round_count), counter.rounds
    except _OutOfTime:
        return Conflict(causes=(), too_deep=True, rounds=counter.rounds), counter.rounds
    except RecursionError:
        # resolvelib's result walk recurses along a dependency cycle without end (pip crashes the same way)
        detail = "RecursionError: resolvelib followed a dependency cycle without end"
        return Conflict(causes=(), detail=detail), counter.rounds
    except (InconsistentCandidate, ResolutionError) as exc:  # a bug of ours, still a value
        return Conflict(causes=(), detail=f"{type(exc).__name__}: {exc}"), counter.rounds
    return result.mapping, counter.rounds


def _violated_kept(
    factory: Factory,
    chosen: Mapping[str, Candidate],
    kept: Mapping[NormalizedName, InstalledCandidate],
    installed: Mapping[NormalizedName, InstalledCandidate],
    ignored: frozenset[Edge],
) -> list[InstalledCandidate]:
    """Kept pins outside the answer whose requirements the answer (plus the rest of the image) violates."""
    answer = {c.name: c.version for k, c in chosen.items() if k != REQUIRES_PYTHON_KEY}
    versions = {**{n: c.version for n, c in installed.items()}, **answer}
    return [
        cand
        for name, cand in kept.items()
        if name not in answer
        and any(
            not edge_ignored(ignored, installed, cand, dep)
            and (dep not in versions or not factory.contains(req, versions[dep]))
            for dep, req in factory.named_requirements(cand)
        )
    ]


def _marker_holds(env: TargetEnvironment, req: Requirement) -> bool:
    if req.marker is None:
        return True
    try:
        return env.evaluate(req.marker)
    except (ValueError, TypeError):  # packaging's marker errors are ValueErrors
        return False


def _union(factory: Factory, base: Candidate, extras: frozenset[NormalizedName]) -> tuple[Requirement, ...]:
    seen: dict[str, Requirement] = {str(r): r for r in factory.evaluated(base, frozenset())}
    for r in factory.evaluated(base, extras):
        seen.setdefault(str(r), r)
    return tuple(seen.values())


def _collect_warnings(
    warnings: list[ResolverWarning], candidates: Iterable[Candidate]
) -> tuple[ResolverWarning, ...]:
    found = set(warnings)
    for cand in candidates:
        if cand.key != REQUIRES_PYTHON_KEY:
            found.update(cand.warnings)
    return tuple(sorted(found, key=lambda w: (w.name, w.kind.value, w.version or "", w.message)))
