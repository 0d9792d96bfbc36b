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

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.resolver.candidates import Candidate, InstalledCandidate, Origin
from analyzer.resolver.explain import cause
from analyzer.resolver.factory import Edge, Factory, edge_ignored, memo
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)
from analyzer.resolver.results import Conflict, ConflictCause

__all__ = ["Ranges", "propagate"]

_MAX_PASSES = 4
_FIRST_LOOK = 2
"""Candidates of a domain read first: the installed one and the newest usually settle it."""
_BATCH = 8
_MAX_BATCH = 64
_MAX_CAUSES = 12

Edges = Sequence[tuple[Requirement, Candidate]]
"""Requirements on one project, each with the fixed candidate that makes it."""
Clash = tuple[Candidate, NormalizedName, Requirement]
"""A candidate, and its requirement on another project that no version left can meet."""


def propagate(
    factory: Factory,
    roots: Sequence[ResolverRequirement],
    kept: Mapping[NormalizedName, InstalledCandidate],
    installed: Mapping[NormalizedName, InstalledCandidate],
    free: frozenset[NormalizedName],
    ignored: frozenset[Edge],
) -> tuple[Conflict | None, Ranges | None]:
    """A ``Conflict`` when one is certain before any search, else what was proven (the module's contract): a
    project that must be installed and whose every candidate contradicts a fixed one has no version at all; a
    project left with one candidate becomes fixed in turn."""
    fixed: dict[NormalizedName, Candidate] = dict(kept)
    why: dict[NormalizedName, tuple[ConflictCause, ...]] = {}
    """A fixed project's causes, should a conflict name it; the first one's chain is how it got in."""
    for n, pin in kept.items():
        # the same for every question that keeps the pin (the search asks dozens, each keeping hundreds)
        if pin not in factory.kept_causes:
            factory.kept_causes[pin] = (cause(ExplicitRequirement(pin, role=Role.KEEP)),)
        why[n] = factory.kept_causes[pin]
    must: list[NormalizedName] = []
    # a direct reference offers a candidate the index does not list: leave those names to the search
    direct = {r.name for r in roots if isinstance(r, ExplicitRequirement)}
    for r in roots:
        if not isinstance(r, SpecifierRequirement) or r.extras or r.name in direct:
            continue
        must.append(r.name)
        if r.name in fixed:
            continue
        matches = factory.find_candidates(
            r.key, {r.key: [r]}, {}, installed=installed, prefers_installed=True, constrained=kept
        )
        found = list(matches() if callable(matches) else matches)
        if len(found) == 1:
            fixed[r.name] = found[0]
            why[r.name] = (cause(r),)
    requested = list(dict.fromkeys(must))
    must.extend(sorted(free))
    checked: set[NormalizedName] = set()
    for _ in range(_MAX_PASSES):
        ranges = Ranges(factory, fixed, installed, ignored, direct, roots)
        grew = False
        # the request's neighbourhood first, so the conflict named is the one pip would meet first
        near = (d for n in requested if n in fixed for d, _ in factory.named_requirements(fixed[n].base))
        order = list(dict.fromkeys([*requested, *near]))
        order += sorted((set(ranges.on) | set(must)) - set(order))

        def worth_a_look(name: NormalizedName, ranges: Ranges = ranges) -> bool:
            """Not fixed, must be installed, and not a pin left as it is: its domain is scanned."""
            reqs = ranges.on.get(name, [])
            inst = installed.get(name)
            if name in fixed or (name not in ranges.on and name not in must):
                return False
            if (
                name not in must
                and inst is not None
                and all(factory.contains(r, inst.version) for r, _ in reqs)
            ):
                # a pin the question leaves out stays as it is when its requirers accept it: its own requirements
                # are checked only if the answer takes it in (kept and freed pins' requirements always are)
                return False
            if name not in ranges.on:
                # nothing fixed requires it: scanned on a hint that it may clash with what is (it depends on a
                # fixed candidate, or it cannot stay itself: its requirement leaves no version of a fixed one's)
                depends = inst is not None and any(m in fixed for m, _ in factory.named_requirements(inst))
                if not depends and (inst is None or ranges.clash(inst) is None):
                    return False
            return not ((name in checked and not reqs) or name in direct)

        # cold, each scan would wait on its own fetch: the domains are read together, level by level, unless
        # an earlier question looked at the same project under the same requirements
        scans = ranges.scan([n for n in order if worth_a_look(n) and ranges.first_look(n)])
        for name in order:
            reqs = ranges.on.get(name, [])
            if name in fixed:
                bad = [(r, p) for r, p in reqs if not factory.contains(r, fixed[name].version)]
                if bad:
                    return _conflict(name, bad, [], why, free, ranges.on), None
                continue
            if not worth_a_look(name):
                continue
            checked.add(name)
            alive, clashes = scans[name] if name in scans else ranges.scan([name])[name]
            if not alive:
                return _conflict(name, reqs, clashes, why, free, ranges.on), None
            if len(alive) == 1 and alive[0].origin is not Origin.DIRECT:
                fixed[name] = alive[0]
                why[name] = _first_causes(_edge(r, p, why) for r, p in reqs)
                if name in free:
                    why[name] += (_freed(name),)
                grew = True
        if not grew:
            return None, ranges
    return None, Ranges(factory, fixed, installed, ignored, direct, roots)


class Ranges:
    """What propagation has proven about one question: the fixed candidates and what they require of others.

    A candidate whose own requirement no version they leave can meet (``tensorflow 2.12.0`` needs ``numpy<1.24``:
    every ``jax`` that needs ``numpy>=1.24``) is in no solution (``dead``). Sound: versions are taken with
    pre-releases and yanked files included, and extras' requirements are not used.
    """

    def __init__(
        self,
        factory: Factory,
        fixed: Mapping[NormalizedName, Candidate],
        installed: Mapping[NormalizedName, InstalledCandidate],
        ignored: frozenset[Edge],
        direct: Collection[NormalizedName],
        roots: Sequence[ResolverRequirement],
    ) -> None:
        self.factory = factory
        self.fixed = dict(fixed)
        self.installed = installed
        self.ignored = ignored
        self.direct = frozenset(direct)
        self.bounds: dict[NormalizedName, list[SpecifierSet]] = {}
        """The request's own specifiers (``pydantic<2``): they hold in every solution too."""
        for r in roots:
            if isinstance(r, SpecifierRequirement) and r.name not in direct and str(r.specifier):
                self.bounds.setdefault(r.name, []).append(r.specifier)
        self.on: dict[NormalizedName, list[tuple[Requirement, Candidate]]] = {}
        for cand in self.fixed.values():
            for dep, req in factory.named_requirements(cand.base):
                if not edge_ignored(ignored, installed, cand, dep):
                    self.on.setdefault(dep, []).append((req, cand))
        self._allowed: dict[NormalizedName, tuple[Version, ...]] = {}
        self._installed_allowed: dict[NormalizedName, bool] = {}
        self._dead: dict[Candidate, bool] = {}

    def _allows(self, name: NormalizedName, version: Version) -> bool:
        contains = self.factory.contains
        return all(contains(r, version) for r, _ in self.on.get(name, ())) and all(
            b.contains(version, prereleases=True) for b in self.bounds.get(name, ())
        )

    def allowed(self, name: NormalizedName) -> tuple[Version, ...]:
        """Every version of ``name`` (the installed one included) that the fixed candidates' requirements allow."""
        if name not in self._allowed:

            def make() -> tuple[Version, ...]:
                versions = [f.version for f in self.factory.versions(name)]
                if name in self.installed:
                    versions.append(self.installed[name].version)
                return tuple(v for v in dict.fromkeys(versions) if self._allows(name, v))

            # the same requirements meet the same project in question after question: the factory keeps the answer
            # (its requirements by identity, as they live as long as it; the request's by text) with the installed
            # candidate the answer adds: a question that removes the pin has none to offer
            key = (
                name,
                frozenset(id(r) for r, _ in self.on.get(name, ())),
                frozenset(map(str, self.bounds.get(name, ()))),
                self.installed.get(name),
            )
            self._allowed[name] = memo(self.factory.allowed_memo, key, make)
        return self._allowed[name]

    def clash(self, cand: Candidate) -> tuple[NormalizedName, Requirement] | None:
        """A requirement of ``cand`` that no version the fixed candidates leave can meet, if any."""
        contains = self.factory.contains
        for dep, req in self.factory.named_requirements(cand.base):
            if dep == cand.name or dep in self.direct:
                continue
            if edge_ignored(self.ignored, self.installed, cand, dep):
                continue
            pinned = self.fixed.get(dep)
            if pinned is not None:
                if not contains(req, pinned.version):
                    return dep, req
            elif (dep in self.on or dep in self.bounds) and not self._meets(dep, req):
                return dep, req
        return None

    def _meets(self, dep: NormalizedName, req: Requirement) -> bool:
        inst = self.installed.get(dep)
        # the installed version, when the fixed candidates leave it, answers without reading the project's page
        if (
            inst is not None
            and self.factory.contains(req, inst.version)
            and memo(self._installed_allowed, dep, lambda: self._allows(dep, inst.version))
        ):
            return True
        return any(self.factory.contains(req, v) for v in self.allowed(dep))

    def dead(self, cand: Candidate) -> bool:
        """True when ``cand`` is in no solution of the question (the resolver need not try it)."""
        if cand.key == REQUIRES_PYTHON_KEY or cand.origin is Origin.DIRECT:
            return False
        pinned = self.fixed.get(cand.name)
        if pinned is not None:
            # propagation left this project one version: the others are in no solution
            return cand.version != pinned.version
        return memo(self._dead, cand.base, lambda: self.clash(cand) is not None)

    def first_look(self, name: NormalizedName) -> bool:
        """Whether no earlier question looked at this project under the same requirements."""
        key = (name, frozenset(id(r) for r, _ in self.on.get(name, ())))
        first = key not in self.factory.looked
        self.factory.looked.add(key)
        return first

    def scan(
        self, names: Sequence[NormalizedName]
    ) -> dict[NormalizedName, tuple[list[Candidate], list[Clash]]]:
        """Each project's candidates that survive the fixed ones and those that clash, newest first, until two
        survive (then it is neither empty nor fixed), read level by level across projects in growing batches so
        that a cold scan fetches together what it reads."""
        self.factory.prefetch_projects(n for n in names if n not in self.installed)
        domains = {n: self._domain(n) for n in names}
        found: dict[NormalizedName, tuple[list[Candidate], list[Clash]]] = {n: ([], []) for n in names}
        start, size = 0, _FIRST_LOOK
        pending = list(names)
        while pending:
            batches = {n: domains[n][start : start + size] for n in pending}
            self.factory.prefetch(
                c.file for b in batches.values() for c in b if c._info is None and c.file is not None
            )
            for n, batch in batches.items():
                for c in batch:
                    clash = self.clash(c)
                    if clash is None:
                        found[n][0].append(c)
                    else:
                        found[n][1].append((c, *clash))
            start += size
            size = min(max(size * 2, _BATCH), _MAX_BATCH)
            pending = [n for n in pending if len(found[n][0]) < 2 and start < len(domains[n])]
        return found

    def _domain(self, name: NormalizedName) -> tuple[Candidate, ...]:
        """Every candidate pip could pick for ``name`` here: the installed one, then the index's (remembered by
        the factory: the questions of a search scan the same domains under the same requirements)."""
        reqs = self.on.get(name, [])
        inst = self.installed.get(name)

        def make() -> tuple[Candidate, ...]:
            first = (
                [inst]
                if inst is not None and all(self.factory.contains(r, inst.version) for r, _ in reqs)
                else []
            )
            index = self.factory.index_candidates(name, (SpecifierRequirement(r) for r, _ in reqs))
            return (*first, *(c for c in index if inst is None or c.version != inst.version))

        return memo(self.factory.domain_memo, (name, frozenset(id(r) for r, _ in reqs), inst), make)


def _freed(name: NormalizedName) -> ConflictCause:
    return ConflictCause(name=name, requirement=name, pip_requirement=name, role=Role.FREE)


def _edge(
    req: Requirement, parent: Candidate, why: Mapping[NormalizedName, Sequence[ConflictCause]]
) -> ConflictCause:
    return cause(SpecifierRequirement(req), parent, _path(why.get(parent.name)))


def _path(causes: Sequence[ConflictCause] | None) -> tuple[str, ...]:
    """How a project got into the question, from a root down: its first cause's chain, then that cause."""
    return (*causes[0].chain, causes[0].text) if causes else ()


def _first_causes(causes: Iterable[ConflictCause]) -> tuple[ConflictCause, ...]:
    """The first ``_MAX_CAUSES`` distinct causes: a conflict names no more (more would never be read)."""
    out: dict[str, ConflictCause] = {}
    for c in causes:
        if len(out) >= _MAX_CAUSES:
            break
        out.setdefault(c.text, c)
    return tuple(out.values())


def _conflict(
    name: NormalizedName,
    reqs: Edges,
    clashes: Sequence[Clash],
    why: Mapping[NormalizedName, tuple[ConflictCause, ...]],
    free: frozenset[NormalizedName],
    on: Mapping[NormalizedName, Edges],
) -> Conflict:
    """The causes, pip-style: the requirements that cannot hold together, each with its chain from a root."""

    def causes() -> Iterator[ConflictCause]:
        yield from why.get(name, ())
        if name in free and name not in why:
            yield _freed(name)
        if not clashes:
            yield from (_edge(r, p, why) for r, p in reqs)
        # how ``name`` got into the question: through its first fixed requirer, or as a freed pin
        first = [_edge(*reqs[0], why)] if reqs else [_freed(name)] if name in free else None
        chain = _path(first)
        for cand, dep, req in clashes:
            yield cause(SpecifierRequirement(req), cand, chain)
            yield from why.get(dep, ())
            if dep not in why:
                # a range clash: the fixed candidates' requirements on the dependency are the other side
                yield from (_edge(other, parent, why) for other, parent in on.get(dep, ()))

    return Conflict(causes=_first_causes(causes()))
