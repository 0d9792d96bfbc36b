"""Pre-search propagation: a cheap proof, before resolvelib runs, of what the kept and freed pins of a question leave.

Contract:
- Input: one question of ``resolve()`` (its roots, the kept pins, the freed pins, the ignored edges).
- It proves only facts true of every solution of that question: the fixed candidates (kept pins, requests with
  one candidate, projects left with one candidate) all hold, and so does every requirement they make.
- It returns either a ``Conflict`` when that alone shows the question has no solution (a project that must be
  installed has no version left, or a fixed candidate's requirement excludes another fixed one), or ``Ranges``:
  ``Ranges.dead(candidate)`` is True only for candidates in no solution, which the provider skips.
- Anything it cannot prove is left to resolvelib, so the verdict (ok or not) is always the full problem's, and a
  successful answer is the one resolvelib gives without propagation (``tests/test_propagation.py`` checks both
  on every scenario and on recorded real data). Only the wording of a conflict may differ.

Why: proving that no solution exists is where a backtracking resolver spends its time (it tries every version of
every movable package), and the keep-the-image search asks that question often.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.resolver.candidates import Candidate, InstalledCandidate, Origin
from analyzer.resolver.factory import Factory
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)
from analyzer.resolver.results import Conflict, ConflictCause, phrase

__all__ = ["Ranges", "propagate"]


_MAX_PROPAGATION_PASSES = 4
_PROPAGATION_BATCH = 8
_MAX_PROPAGATION_BATCH = 64
_FIRST_LOOK = 2
"""Candidates of a domain read first: the installed one and the newest usually settle it."""
_MAX_CAUSES = 12


def propagate(
    factory: Factory,
    roots: Sequence[ResolverRequirement],
    kept: Mapping[NormalizedName, InstalledCandidate],
    installed: Mapping[NormalizedName, InstalledCandidate],
    free: frozenset[NormalizedName],
    ignored: frozenset[tuple[NormalizedName, NormalizedName]],
) -> tuple[Conflict | None, Ranges | None]:
    """A sound, incomplete infeasibility check before any search: a Conflict when one is certain, else what was
    proven (``Ranges``, which the resolver uses to skip candidates that are in no solution).

    Proving that no solution exists is where a backtracking resolver spends its time (it tries every version of
    every movable package), and the keep-the-image search asks that question often. Some proofs are cheap:
    the fixed candidates (kept pins, requests with one candidate) must all hold, so a project that must be
    installed (a freed pin, or a requirement of a fixed candidate) but whose every candidate contradicts a fixed
    candidate has no version at all. A project left with one candidate becomes fixed in turn. Anything this
    misses is left to resolvelib, so the verdict is always the full problem's.
    """
    fixed: dict[NormalizedName, Candidate] = dict(kept)
    why: dict[NormalizedName, tuple[ConflictCause, ...]] = {}
    via: dict[NormalizedName, tuple[str, ...]] = {}
    for n, pin in kept.items():
        why[n], via[n] = _kept_cause(factory, n, pin)
    must: list[NormalizedName] = []
    # a direct reference offers a candidate the index does not list: leave those names to the search
    direct = {r.name for r in roots if isinstance(r, ExplicitRequirement)}
    for r in roots:
        if not isinstance(r, SpecifierRequirement) or r.extras or r.name in direct:
            continue
        must.append(r.name)
        if r.name in fixed:
            continue
        found = factory.find_candidates(
            r.key, {r.key: [r]}, {}, installed=installed, prefers_installed=True, constrained=kept
        )
        assert isinstance(found, list)  # not lazy: a list
        if len(found) == 1:
            fixed[r.name] = found[0]
            why[r.name] = (
                ConflictCause(
                    name=r.name, requirement=r.text, pip_requirement=r.format_for_error(), role=r.role
                ),
            )
            via[r.name] = (why[r.name][0].text,)
    requested = list(dict.fromkeys(must))
    must.extend(sorted(free))
    checked: set[NormalizedName] = set()
    for _ in range(_MAX_PROPAGATION_PASSES):
        ranges = Ranges(factory, fixed, installed, ignored, direct, roots)
        on = ranges.on
        grew = False
        # the request's neighbourhood first, so the conflict named is the one pip would meet first
        order = list(
            dict.fromkeys([*requested, *(d for n in requested for d, _ in _deps(factory, fixed.get(n)))])
        )
        order += sorted((set(on) | set(must)) - set(order))

        def worth_a_look(
            name: NormalizedName, on: Mapping[NormalizedName, Any] = on, ranges: Ranges = ranges
        ) -> bool:
            """Not fixed, must be installed, and not a pin left as it is: its domain is scanned."""
            reqs = on.get(name, [])
            if name in fixed or (name not in on and name not in must):
                return False
            inst = installed.get(name)
            if (
                name not in must
                and inst is not None
                and all(factory.contains(r, inst.version) for r, _ in reqs)
            ):
                # a pin the question leaves out stays as it is when its requirers accept it: its own requirements
                # are checked only if the answer takes it in (kept and freed pins' requirements always are)
                return False
            if name not in on and not _worth_scanning(factory, inst, fixed, ranges):
                return False
            return not ((name in checked and not reqs) or name in direct)

        # cold, each scan would wait on its own fetch: the first look at every domain is fetched at once
        _first_look(factory, [n for n in order if worth_a_look(n)], on, installed, ranges)
        for name in order:
            reqs = on.get(name, [])
            if name in fixed:
                bad = [(r, p) for r, p in reqs if not factory.contains(r, fixed[name].version)]
                if bad:
                    return _propagated_conflict(name, bad, [], why, via, free, on), None
                continue
            if not worth_a_look(name):
                continue
            checked.add(name)
            domain = _domain(factory, name, reqs, installed)
            alive: list[Candidate] = []
            clashes: list[tuple[Candidate, NormalizedName, Requirement]] = []
            # newest first, a few at a time: two survivors already prove it neither empty nor fixed, and only
            # a project that truly has no version left needs every version's metadata
            start, size = 0, _FIRST_LOOK
            while start < len(domain):
                batch = domain[start : start + size]
                start += size
                # deeper, larger batches: a project whose recent versions all clash is read in a few round trips
                size = min(max(size * 2, _PROPAGATION_BATCH), _MAX_PROPAGATION_BATCH)
                factory.prefetch(c.file for c in batch if c.file is not None and c._info is None)
                for c in batch:
                    clash = ranges.clash(c)
                    if clash is None:
                        alive.append(c)
                    else:
                        clashes.append((c, *clash))
                if len(alive) >= 2:
                    break
            if not alive:
                return _propagated_conflict(name, reqs, clashes, why, via, free, on), None
            if len(alive) == 1 and alive[0].origin is not Origin.DIRECT:
                fixed[name] = alive[0]
                # a conflict names at most _MAX_CAUSES causes: more edges would never be read
                edges = _first_edges(reqs, via)
                if name in free:
                    edges += (
                        ConflictCause(name=name, requirement=name, pip_requirement=name, role=Role.FREE),
                    )
                why[name] = edges
                via[name] = _via(name, reqs, via, free)
                grew = True
        if not grew:
            return None, ranges
    return None, Ranges(factory, fixed, installed, ignored, direct, roots)


def _kept_cause(
    factory: Factory, name: NormalizedName, pin: InstalledCandidate
) -> tuple[tuple[ConflictCause, ...], tuple[str, ...]]:
    """Why a kept pin is in a question, and its chain: the same for every question that keeps it (the search asks
    dozens, each keeping hundreds of pins), so built once per pin and factory."""
    found = factory.kept_causes.get(pin)
    if found is None:
        cause = ConflictCause(
            name=name,
            requirement=f"{name}=={pin.version}",
            pip_requirement=pin.format_for_error(),
            role=Role.KEEP,
        )
        found = factory.kept_causes[pin] = ((cause,), (cause.text,))
    return found[0], found[1]


class Ranges:
    """What propagation has proven about one question: the fixed candidates and what they require of others.

    Every solution holds the fixed candidates and their requirements, so a candidate whose own requirement no
    version left by them can meet (``tensorflow 2.12.0`` needs ``numpy<1.24``: every ``jax`` that needs
    ``numpy>=1.24``) is in no solution. Telling the resolver so (``dead``) spares it the backtracking through every
    such version, which is where a question of the search spent its rounds. Sound by construction: versions are
    taken with pre-releases and yanked files included, and extras' requirements are not used.
    """

    def __init__(
        self,
        factory: Factory,
        fixed: Mapping[NormalizedName, Candidate],
        installed: Mapping[NormalizedName, InstalledCandidate],
        ignored: frozenset[tuple[NormalizedName, NormalizedName]],
        direct: Collection[NormalizedName],
        roots: Sequence[ResolverRequirement] = (),
    ) -> None:
        self.factory = factory
        self.fixed = dict(fixed)
        self.bounds: dict[NormalizedName, list[SpecifierSet]] = {}
        """The request's own specifiers (``pydantic<2``): they hold in every solution too."""
        for r in roots:
            if isinstance(r, SpecifierRequirement) and r.name not in direct and str(r.specifier):
                self.bounds.setdefault(r.name, []).append(r.specifier)
        self.installed = installed
        self.ignored = ignored
        self.direct = frozenset(direct)
        self.on: dict[NormalizedName, list[tuple[Requirement, Candidate]]] = {}
        for parent_name, cand in self.fixed.items():
            for dep, req in factory.named_requirements(cand.base):
                if (parent_name, dep) not in ignored:
                    self.on.setdefault(dep, []).append((req, cand))
        self._allowed: dict[NormalizedName, tuple[Version, ...]] = {}
        self._installed_allowed: dict[NormalizedName, bool] = {}
        self._dead: dict[Candidate, bool] = {}

    def allowed(self, name: NormalizedName) -> tuple[Version, ...]:
        """Every version of ``name`` (the installed one included) that the fixed candidates' requirements allow."""
        found = self._allowed.get(name)
        if found is None:
            reqs = [r for r, _ in self.on.get(name, ())]
            bounds = self.bounds.get(name, [])
            # the same requirements meet the same project in question after question: the factory keeps the answer
            # (its requirements by identity, as they live as long as it; the request's by text)
            memo = self.factory.allowed_memo
            key = (name, frozenset(map(id, reqs)), frozenset(map(str, bounds)))
            found = memo.get(key)
            if found is None:
                contains = self.factory.contains
                versions = [e.version for e in self.factory.versions(name)]
                inst = self.installed.get(name)
                if inst is not None:
                    versions.append(inst.version)
                found = tuple(
                    v
                    for v in dict.fromkeys(versions)
                    if all(contains(r, v) for r in reqs)
                    and all(b.contains(v, prereleases=True) for b in bounds)
                )
                memo[key] = found
            self._allowed[name] = found
        return found

    def clash(self, cand: Candidate) -> tuple[NormalizedName, Requirement] | None:
        """A requirement of ``cand`` that no version the fixed candidates leave can meet, if any."""
        contains = self.factory.contains
        for dep, req in self.factory.named_requirements(cand.base):
            if dep == cand.name or dep in self.direct or (cand.name, dep) in self.ignored:
                continue
            pinned = self.fixed.get(dep)
            if pinned is not None:
                if not contains(req, pinned.version):
                    return dep, req
            elif (dep in self.on or dep in self.bounds) and not self._meets(dep, req):
                return dep, req
        return None

    def _meets(self, dep: NormalizedName, req: Requirement) -> bool:
        contains = self.factory.contains
        inst = self.installed.get(dep)
        # the installed version, when the fixed candidates leave it, answers without reading the project's page
        if inst is not None and contains(req, inst.version):
            ok = self._installed_allowed.get(dep)
            if ok is None:
                ok = all(contains(r, inst.version) for r, _ in self.on.get(dep, ())) and all(
                    b.contains(inst.version, prereleases=True) for b in self.bounds.get(dep, ())
                )
                self._installed_allowed[dep] = ok
            if ok:
                return True
        return any(contains(req, v) for v in self.allowed(dep))

    def dead(self, cand: Candidate) -> bool:
        """True when ``cand`` is in no solution of the question (the resolver need not try it)."""
        if cand.key == REQUIRES_PYTHON_KEY or cand.origin is Origin.DIRECT:
            return False
        pinned = self.fixed.get(cand.name)
        if pinned is not None:
            # propagation left this project one version: the others are in no solution
            return cand.version != pinned.version
        key = cand.base
        found = self._dead.get(key)
        if found is None:
            found = self.clash(cand) is not None
            self._dead[key] = found
        return found


def _first_look(
    factory: Factory,
    names: Sequence[NormalizedName],
    on: Mapping[NormalizedName, Sequence[tuple[Requirement, Candidate]]],
    installed: Mapping[NormalizedName, InstalledCandidate],
    ranges: Ranges,
) -> None:
    """Fetch together, level by level, what the scans of ``names`` will read: their pages, then the first
    candidates of every domain at once, then the next batch of those that still lack two survivors, and so on.

    Only the fetching is batched across projects (a cold scan would otherwise wait on one round trip per batch
    per project); what the scans decide is unchanged.
    """
    # a project met again under the same requirements was looked at already (the search asks many questions)
    fresh = []
    for n in names:
        key = (n, frozenset(id(r) for r, _ in on.get(n, ())))
        if key not in factory.looked:
            factory.looked.add(key)
            fresh.append(n)
    names = fresh
    if not names:
        return
    factory.prefetch_projects(n for n in names if n not in installed)
    domains = {n: _domain(factory, n, on.get(n, []), installed) for n in names}
    alive = dict.fromkeys(names, 0)
    start, size = 0, _FIRST_LOOK
    pending = list(names)
    while pending:
        factory.prefetch(
            c.file
            for n in pending
            for c in domains[n][start : start + size]
            if c._info is None and c.file is not None
        )
        for n in pending:
            alive[n] += sum(1 for c in domains[n][start : start + size] if ranges.clash(c) is None)
        start += size
        size = min(max(size * 2, _PROPAGATION_BATCH), _MAX_PROPAGATION_BATCH)
        pending = [n for n in pending if alive[n] < 2 and start < len(domains[n])]


def _deps(factory: Factory, cand: Candidate | None) -> tuple[tuple[NormalizedName, Requirement], ...]:
    return factory.named_requirements(cand.base) if cand is not None else ()


def _via(
    name: NormalizedName,
    reqs: Sequence[tuple[Requirement, Candidate]],
    via: Mapping[NormalizedName, tuple[str, ...]],
    free: frozenset[NormalizedName],
) -> tuple[str, ...]:
    """How ``name`` got into the problem: the path to its first fixed requirer, or the freed pin itself."""
    for req, parent in reqs:
        return (*via.get(parent.name, ()), _edge(req, parent, via).text)
    if name in free:
        return (phrase(Role.FREE, None, None, name),)
    return ()


def _worth_scanning(
    factory: Factory,
    installed: InstalledCandidate | None,
    fixed: Mapping[NormalizedName, Candidate],
    ranges: Ranges,
) -> bool:
    """A hint, from the installed version, that a project's versions may clash with what is fixed: it depends on
    a fixed candidate, or it cannot stay itself (its requirement leaves no version of a fixed one's dependency)."""
    if installed is None:
        return False
    return (
        any(m in fixed for m, _ in factory.named_requirements(installed))
        or ranges.clash(installed) is not None
    )


def _domain(
    factory: Factory,
    name: NormalizedName,
    reqs: Sequence[tuple[Requirement, Candidate]],
    installed: Mapping[NormalizedName, InstalledCandidate],
) -> tuple[Candidate, ...]:
    """Every candidate pip could pick for ``name`` under these requirements: the installed one, then the index's.

    Remembered by the factory per (name, requirement objects, installed candidate): the questions of a search
    scan the same domains under the same requirements again and again."""
    inst = installed.get(name)
    key = (name, frozenset(id(r) for r, _ in reqs), inst)
    hit = factory.domain_memo.get(key)
    if hit is not None:
        return hit
    specs = [SpecifierRequirement(r) for r, _ in reqs]
    out: list[Candidate] = []
    if inst is not None and all(factory.contains(r, inst.version) for r, _ in reqs):
        out.append(inst)
    seen = {inst.version} if inst is not None else set()
    out.extend(c for c in factory._index_for(name, specs) if c.version not in seen)
    found = tuple(out)
    factory.domain_memo[key] = found
    return found


def _propagated_conflict(
    name: NormalizedName,
    reqs: Sequence[tuple[Requirement, Candidate]],
    clashes: Sequence[tuple[Candidate, NormalizedName, Requirement]],
    why: Mapping[NormalizedName, tuple[ConflictCause, ...]],
    via: Mapping[NormalizedName, tuple[str, ...]],
    free: frozenset[NormalizedName],
    on: Mapping[NormalizedName, Sequence[tuple[Requirement, Candidate]]],
) -> Conflict:
    """The causes, pip-style: the requirements that cannot hold together, each with its chain from a root."""
    causes: list[ConflictCause] = []
    seen: set[str] = set()

    def add(cause: ConflictCause) -> None:
        if cause.text not in seen and len(causes) < _MAX_CAUSES:
            seen.add(cause.text)
            causes.append(cause)

    for cause in why.get(name, ()):
        add(cause)
    if name in free and name not in why:
        add(ConflictCause(name=name, requirement=name, pip_requirement=name, role=Role.FREE))
    if not clashes:
        for req, parent in reqs:
            if len(causes) >= _MAX_CAUSES:
                break
            add(_edge(req, parent, via))
    chain = _via(name, reqs, via, free)
    for cand, dep, req in clashes:
        if len(causes) >= _MAX_CAUSES:
            break
        add(replace(_edge(req, cand, via), chain=chain))
        for cause in why.get(dep, ()):
            add(cause)
        if dep not in why:
            # a range clash: the fixed candidates' requirements on the dependency are the other side
            for other, parent in on.get(dep, ()):
                if len(causes) >= _MAX_CAUSES:
                    break
                add(_edge(other, parent, via))
    return Conflict(causes=tuple(causes))


def _first_edges(
    reqs: Sequence[tuple[Requirement, Candidate]], via: Mapping[NormalizedName, tuple[str, ...]]
) -> tuple[ConflictCause, ...]:
    """The first ``_MAX_CAUSES`` distinct edges of ``reqs`` (what a conflict can name of them)."""
    out: dict[str, ConflictCause] = {}
    for r, p in reqs:
        if len(out) >= _MAX_CAUSES:
            break
        edge = _edge(r, p, via)
        out.setdefault(edge.text, edge)
    return tuple(out.values())


def _edge(
    req: Requirement, parent: Candidate, via: Mapping[NormalizedName, tuple[str, ...]]
) -> ConflictCause:
    spec = SpecifierRequirement(req)
    return ConflictCause(
        name=spec.name,
        requirement=spec.text,
        pip_requirement=spec.format_for_error(),
        role=Role.DEPENDENCY,
        parent=parent.name,
        parent_version=str(parent.version),
        parent_origin=parent.origin,
        chain=via.get(parent.name, ()),
    )
