"""The resolver: what pip's resolvelib-based resolver would pick for a request in a given runtime.

``resolve()`` is the one entry point. It behaves like ``pip install`` without ``--upgrade`` (installed versions
first when they satisfy), and adds two switches the diagnosis needs: ``keep`` (image pins that must stay at their
version, the keep-the-image view) and ``free`` (pins that must stay installed at any version). The answer is plain
data: the chosen versions, or a ``Conflict`` phrased as pip phrases it, plus warnings for everything that could
not be known. A package's bad metadata never raises.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import (
    BaseReporter,
    InconsistentCandidate,
    ResolutionError,
    ResolutionImpossible,
    ResolutionTooDeep,
    Resolver,
)

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import DistFile
from analyzer.resolver.candidates import (
    Candidate,
    InstalledCandidate,
    Origin,
    ResolverWarning,
    WarningKind,
)
from analyzer.resolver.factory import Factory
from analyzer.resolver.installed import installed_candidates, read_installed
from analyzer.resolver.provider import Provider
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    RequiresPythonRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)

if TYPE_CHECKING:
    from analyzer.session import Session

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "Conflict",
    "ConflictCause",
    "Origin",
    "Resolution",
    "ResolvedDist",
    "ResolverWarning",
    "Role",
    "WarningKind",
    "installed_candidates",
    "read_installed",
    "resolve",
]

DEFAULT_MAX_ROUNDS = 200_000
"""pip's own limit (``try_to_avoid_resolution_too_deep``)."""


@dataclass(frozen=True)
class ResolvedDist:
    """One distribution of a successful resolution."""

    name: NormalizedName
    version: Version
    origin: Origin
    requirements: tuple[Requirement, ...]
    """Its Requires-Dist lines that hold on the target, the requested extras' included."""
    requires_dist: tuple[Requirement, ...] = ()
    """Every Requires-Dist line, unevaluated (what ``pip check`` reads)."""
    file: DistFile | None = None
    url: str | None = None
    extras: frozenset[NormalizedName] = frozenset()
    known: bool = True
    """False when its requirements are unknown (opaque pin, requirements-unknown sdist, unavailable metadata)."""

    @property
    def installed(self) -> bool:
        return self.origin is Origin.INSTALLED


@dataclass(frozen=True)
class ConflictCause:
    """One requirement of resolvelib's ``ResolutionImpossible``, with who asked for it and why they are there."""

    name: NormalizedName
    """The required project (``<Python from Requires-Python>`` for an interpreter requirement)."""
    requirement: str
    """Plain PEP 508 text: ``numpy<1.24,>=1.22``."""
    pip_requirement: str
    """pip's wording of it: ``numpy<1.24 and >=1.22``."""
    role: Role
    parent: NormalizedName | None = None
    parent_version: str | None = None
    parent_origin: Origin | None = None
    chain: tuple[str, ...] = ()
    """How the parent got into the problem, from the root down (``The user requested tensorflow==2.12.0``,
    ``tensorflow 2.12.0 depends on keras<2.13,>=2.12.0``...); empty for root causes."""

    @property
    def text(self) -> str:
        """``tensorflow 2.12.0 depends on numpy<1.24,>=1.22`` / ``The user requested tensorflow==2.12.0``."""
        return _phrase(self.role, self.parent, self.parent_version, self.requirement)

    @property
    def pip_text(self) -> str:
        """The line as pip prints it under "The conflict is caused by:"."""
        return _phrase(self.role, self.parent, self.parent_version, self.pip_requirement)


def _phrase(role: Role, parent: str | None, version: str | None, requirement: str) -> str:
    if role is Role.REQUEST:
        return f"The user requested {requirement}"
    if role is Role.KEEP:
        return f"The image keeps {requirement}"
    if role is Role.FREE:
        return f"The image keeps {requirement} installed (any version)"
    return f"{parent} {version} depends on {requirement}"


@dataclass(frozen=True)
class Conflict:
    """Why no resolution exists, as data; ``pip_message()`` phrases it the way pip does."""

    causes: tuple[ConflictCause, ...]
    too_deep: bool = False
    rounds: int | None = None
    detail: str = ""
    python: str = ""
    """The target interpreter's version, for pip's "requires a different Python" wording."""
    versions: tuple[str, ...] = ()
    """For a single unsatisfiable requirement: the versions that install on the target (pip's "from versions")."""
    yanked: tuple[str, ...] = ()
    """For a single unsatisfiable requirement: the yanked versions pip says it ignored."""

    @property
    def requires_python(self) -> bool:
        """True when the target interpreter itself is a cause (pip reports that first and alone)."""
        return any(c.name == REQUIRES_PYTHON_KEY for c in self.causes)

    def triggers(self) -> tuple[str, ...]:
        out = set()
        for c in self.causes:
            if c.parent is None:
                out.add(c.pip_requirement)
            else:
                out.add(f"{c.parent}=={c.parent_version}")
        return tuple(sorted(out))

    def pip_message(self) -> str:
        """pip's error text for this conflict (``get_installation_error``), without its advice lines.

        Interpreter causes first and alone; a single unsatisfiable requirement as "Could not find a version";
        otherwise "Cannot install ... The conflict is caused by: ...".
        """
        if self.too_deep:
            return f"ResolutionTooDeep: gave up after {self.rounds} rounds"
        python = [c for c in self.causes if c.name == REQUIRES_PYTHON_KEY]
        if python:
            if len(python) == 1:
                spec = python[0].requirement.removeprefix("Python")
                return (
                    f"Package {python[0].parent!r} requires a different Python: {self.python} not in {spec!r}"
                )
            lines = [f"Packages require a different Python. {self.python} not in:"]
            lines.extend(
                f"{c.requirement.removeprefix('Python')!r} (required by {c.parent} {c.parent_version})"
                for c in python
            )
            return "\n".join(lines)
        if len(self.causes) == 1 and self.causes[0].role is not Role.KEEP:
            cause = self.causes[0]
            shown = f"{cause.requirement} (from {cause.parent})" if cause.parent else cause.requirement
            lines = []
            if self.yanked:
                lines.append(f"Ignored the following yanked versions: {', '.join(self.yanked)}")
            lines.append(
                f"Could not find a version that satisfies the requirement {shown} "
                f"(from versions: {', '.join(self.versions) or 'none'})"
            )
            lines.append(f"No matching distribution found for {cause.requirement}")
            return "\n".join(lines)
        parts = self.triggers()
        info = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        lines = [
            (
                f"Cannot install {info or 'the requested packages'} because these package versions have "
                "conflicting dependencies."
            ),
            "",
            "The conflict is caused by:",
        ]
        lines.extend(f"    {c.pip_text}" for c in self.causes)
        return "\n".join(lines)


@dataclass(frozen=True)
class Resolution:
    """The answer of one resolution: a mapping when ``ok``, a ``conflict`` when not; warnings either way."""

    ok: bool
    mapping: Mapping[NormalizedName, ResolvedDist] = field(default_factory=dict)
    conflict: Conflict | None = None
    warnings: tuple[ResolverWarning, ...] = ()
    requested: tuple[NormalizedName, ...] = ()


def resolve(
    request: Sequence[Requirement],
    session: Session,
    *,
    keep: Collection[NormalizedName] = (),
    free: Collection[NormalizedName] = (),
    ignore_edges: Collection[tuple[NormalizedName, NormalizedName]] = (),
    prefer_installed: bool = True,
    max_rounds: int = DEFAULT_MAX_ROUNDS,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    promote: set[NormalizedName] | None = None,
) -> Resolution:
    """Resolve ``request`` in the session's runtime as pip would, optionally keeping or freeing image pins.

    - ``keep``: pins that must stay at their installed version, their own requirements holding.
    - ``free``: pins that must stay installed, at any version (the installed one preferred).
    - ``ignore_edges``: (parent, dependency) requirement edges to skip, e.g. ones already broken in the image.
    - ``prefer_installed=False`` models ``--upgrade`` (only-if-needed): requested names go newest first.
    - ``constraints``: pip's ``-c``: a project's versions are limited when it is installed, never required.
    - ``promote``: kept or freed pins that earlier questions had to make roots (the search's memory): they are
      roots from the first solve, which spares the re-solves; the call adds the ones it promoted. Same problem,
      same verdict: only the work changes.
    """
    factory = session.factory
    env = session.env
    installed = session.installed
    warnings: list[ResolverWarning] = list(session.pin_warnings)
    roots: list[ResolverRequirement] = []
    user_requested: dict[str, int] = {}
    requested: list[NormalizedName] = []

    for order, req in enumerate(request):
        name = canonicalize_name(req.name)
        if req.marker is not None and not _marker_holds(env, req):
            warnings.append(
                ResolverWarning(
                    WarningKind.MARKER_FALSE,
                    name,
                    None,
                    f"Ignoring {req}: markers '{req.marker}' don't match the target environment",
                )
            )
            continue
        requested.append(name)
        for r in factory.make_requirements(req, parent=None):
            r.role = Role.REQUEST
            roots.append(r)
            user_requested.setdefault(r.key, order)
        if req.url:
            direct = factory.direct_candidate(name, req.url)
            if isinstance(direct, ResolverWarning):
                warnings.append(direct)
                return Resolution(
                    ok=False,
                    conflict=Conflict(
                        causes=(
                            ConflictCause(
                                name=name, requirement=str(req), pip_requirement=str(req), role=Role.REQUEST
                            ),
                        ),
                        detail=direct.message,
                    ),
                    warnings=tuple(sorted(set(warnings))),
                    requested=tuple(requested),
                )

    kept = {n: installed[n] for n in keep if n in installed}
    if kept:
        factory.prefetch_projects(kept)
        factory.prefetch(
            f
            for f in (
                factory.best_file_of_version(c.name, c.version) for c in kept.values() if c._info is None
            )
            if f is not None
        )
    # Freed pins, like kept ones, join the roots only when the answer would break them (see below).
    freed = {n: installed[n] for n in free if n in installed and n not in kept}

    # Kept pins are constraints (only the installed candidate is offered) and freed pins are left to the
    # installed-first order; neither is a root: resolvelib's work per round grows with the number of roots, and
    # an image has hundreds. A pin outside the answer stays at its installed version; it becomes a root only when
    # the answer would violate one of its requirements, and then the problem is solved again. Both the answer
    # and the verdict are those of the problem with every kept and freed pin as a root: a success violates no
    # such pin's requirement, and a failure is a failure of a subset of that problem's requirements.
    ignored = frozenset(ignore_edges)
    ranges: _Ranges | None = None
    if kept or free:
        early, ranges = _propagate(factory, roots, kept, installed, frozenset(free), ignored)
        if early is not None:
            return Resolution(
                ok=False, conflict=early, warnings=tuple(sorted(set(warnings))), requested=tuple(requested)
            )
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
        extra_roots: list[ResolverRequirement] = [
            ExplicitRequirement(c, role=Role.KEEP)
            if c.name in kept
            else SpecifierRequirement(Requirement(c.name), role=Role.FREE)
            for c in promoted.values()
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
        provider.record_roots([*roots, *extra_roots])
        if budget <= 0:
            outcome: Mapping[str, Candidate] | Conflict = Conflict(
                causes=(), too_deep=True, rounds=max_rounds
            )
        else:
            outcome, used = _run(provider, [*roots, *extra_roots], budget)
            budget -= used
        touched.update(provider.touched)
        if guessed and isinstance(outcome, Conflict) and outcome.too_deep:
            guessed = False
            promoted = {}
            budget = max_rounds
            continue
        if isinstance(outcome, Conflict):
            return Resolution(
                ok=False,
                conflict=_with_kept_causes(outcome, kept, promoted),
                warnings=_collect_warnings([*warnings, *factory.lookup_warnings.values()], touched.values()),
                requested=tuple(requested),
            )
        violated = (
            _violated_kept(factory, outcome, {**freed, **kept}, installed, ignored) if kept or freed else []
        )
        fresh = [c for c in violated if c.name not in promoted]
        if not fresh:
            break
        promoted.update((c.name, c) for c in fresh)
        if promote is not None:
            promote.update(c.name for c in fresh)

    mapping: dict[NormalizedName, ResolvedDist] = {}
    chosen: list[Candidate] = []
    extras: dict[NormalizedName, set[NormalizedName]] = {}
    bases: dict[NormalizedName, Candidate] = {}
    for key, picked in outcome.items():
        if key == REQUIRES_PYTHON_KEY:
            continue
        chosen.append(picked)
        bases[picked.name] = picked.base
        extras.setdefault(picked.name, set()).update(picked.extras)
    for name, cand in [*kept.items(), *freed.items()]:
        # kept and freed pins outside the answer stay as they are: part of the answer, as if they had been roots
        bases.setdefault(name, cand)
        extras.setdefault(name, set())
    for name in sorted(bases):
        base = bases[name]
        ex = frozenset(extras[name])
        mapping[name] = ResolvedDist(
            name=name,
            version=base.version,
            origin=base.origin,
            requirements=factory.evaluated(base, ex) if not ex else _union(factory, base, ex),
            requires_dist=base.info.requires_dist,
            file=base.file,
            url=base.url,
            extras=ex,
            known=base.info.known,
        )
    return Resolution(
        ok=True,
        mapping=mapping,
        warnings=_collect_warnings(
            [*warnings, *factory.lookup_warnings.values()], [*chosen, *bases.values()]
        ),
        requested=tuple(requested),
    )


_MAX_PROPAGATION_PASSES = 4
_PROPAGATION_BATCH = 8
_MAX_PROPAGATION_BATCH = 64
_FIRST_LOOK = 2
"""Candidates of a domain read first: the installed one and the newest usually settle it."""
_MAX_CAUSES = 12


def _propagate(
    factory: Factory,
    roots: Sequence[ResolverRequirement],
    kept: Mapping[NormalizedName, InstalledCandidate],
    installed: Mapping[NormalizedName, InstalledCandidate],
    free: frozenset[NormalizedName],
    ignored: frozenset[tuple[NormalizedName, NormalizedName]],
) -> tuple[Conflict | None, _Ranges | None]:
    """A sound, incomplete infeasibility check before any search: a Conflict when one is certain, else what was
    proven (``_Ranges``, which the resolver uses to skip candidates that are in no solution).

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
        ranges = _Ranges(factory, fixed, installed, ignored, direct, roots)
        on = ranges.on
        grew = False
        # the request's neighbourhood first, so the conflict named is the one pip would meet first
        order = list(
            dict.fromkeys([*requested, *(d for n in requested for d, _ in _deps(factory, fixed.get(n)))])
        )
        order += sorted((set(on) | set(must)) - set(order))

        def worth_a_look(
            name: NormalizedName, on: Mapping[NormalizedName, Any] = on, ranges: _Ranges = ranges
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

        # cold, each scan would wait on its own fetch: the first look at every domain is fetched at once (warm,
        # there is nothing to fetch, and telling which names are worth a look costs a pass over all of them)
        if not factory.all_cached():
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
    return None, _Ranges(factory, fixed, installed, ignored, direct, roots)


def _kept_cause(
    factory: Factory, name: NormalizedName, pin: InstalledCandidate
) -> tuple[tuple[ConflictCause, ...], tuple[str, ...]]:
    """Why a kept pin is in a question, and its chain: the same for every question that keeps it (the search asks
    dozens, each keeping hundreds of pins), so built once per pin and factory."""
    found = factory.kept_causes.get(id(pin))
    if found is None or found[0] is not pin:
        cause = ConflictCause(
            name=name, requirement=f"{name}=={pin.version}", pip_requirement=pin.format_for_error(), role=Role.KEEP
        )
        found = factory.kept_causes[id(pin)] = (pin, (cause,), (cause.text,))
    return found[1], found[2]


class _Ranges:
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
        self._dead: dict[int, bool] = {}

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
        key = id(cand.base)
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
    ranges: _Ranges,
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
        return (_phrase(Role.FREE, None, None, name),)
    return ()


def _worth_scanning(
    factory: Factory,
    installed: InstalledCandidate | None,
    fixed: Mapping[NormalizedName, Candidate],
    ranges: _Ranges,
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
    key = (name, frozenset(id(r) for r, _ in reqs), id(inst))
    hit = factory.domain_memo.get(key)
    if hit is not None and hit[0] is inst:
        return hit[1]
    specs = [SpecifierRequirement(r) for r, _ in reqs]
    out: list[Candidate] = []
    if inst is not None and all(factory.contains(r, inst.version) for r, _ in reqs):
        out.append(inst)
    seen = {inst.version} if inst is not None else set()
    out.extend(c for c in factory._index_for(name, specs) if c.version not in seen)
    found = tuple(out)
    factory.domain_memo[key] = (inst, found)
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


class _RoundCounter(BaseReporter):  # type: ignore[type-arg,unused-ignore]
    """Counts resolvelib's rounds, so that one budget covers every re-solve of a call."""

    def __init__(self) -> None:
        self.rounds = 0

    def starting_round(self, index: int) -> None:
        self.rounds = index + 1


def _run(
    provider: Provider, roots: Sequence[ResolverRequirement], max_rounds: int
) -> tuple[Mapping[str, Candidate] | Conflict, int]:
    counter = _RoundCounter()
    resolver: Resolver[ResolverRequirement, Candidate, str] = Resolver(provider, counter)
    try:
        result = resolver.resolve(roots, max_rounds=max_rounds)
    except ResolutionImpossible as exc:
        return _conflict(exc.causes, provider), counter.rounds
    except ResolutionTooDeep as exc:
        return Conflict(causes=(), too_deep=True, rounds=exc.round_count), counter.rounds
    except (InconsistentCandidate, ResolutionError) as exc:  # a bug of ours, still a value
        return Conflict(causes=(), detail=f"{type(exc).__name__}: {exc}"), counter.rounds
    return result.mapping, counter.rounds


def _violated_kept(
    factory: Factory,
    chosen: Mapping[str, Candidate],
    kept: Mapping[NormalizedName, InstalledCandidate],
    installed: Mapping[NormalizedName, InstalledCandidate],
    ignored: frozenset[tuple[NormalizedName, NormalizedName]],
) -> list[InstalledCandidate]:
    """Kept pins outside the answer whose requirements the answer (plus the rest of the image) violates."""
    versions: dict[str, Version] = {c.name: c.version for k, c in chosen.items() if k != REQUIRES_PYTHON_KEY}
    out = []
    for name, cand in kept.items():
        if name in versions:
            continue
        for dep, req in factory.named_requirements(cand):
            if ignored and (name, dep) in ignored:
                continue
            version = versions.get(dep)
            if version is None:
                other = installed.get(dep)
                version = other.version if other is not None else None
            if version is None or not factory.contains(req, version):
                out.append(cand)
                break
    return out


def _with_kept_causes(
    conflict: Conflict,
    kept: Mapping[NormalizedName, InstalledCandidate],
    promoted: Mapping[NormalizedName, InstalledCandidate],
) -> Conflict:
    """Name the kept pins that constrained a conflicting project (pip's "The user requested (constraint)")."""
    extra = []
    present = {(c.role, c.name) for c in conflict.causes}
    for name in sorted({c.name for c in conflict.causes}):
        cand = kept.get(name)
        if cand is None or (Role.KEEP, name) in present:
            continue
        text = f"{name}=={cand.version}"
        extra.append(
            ConflictCause(
                name=name, requirement=text, pip_requirement=cand.format_for_error(), role=Role.KEEP
            )
        )
    if not extra:
        return conflict
    return replace(conflict, causes=conflict.causes + tuple(extra), versions=(), yanked=())


def _marker_holds(env: TargetEnvironment, req: Requirement) -> bool:
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
    warnings: list[ResolverWarning], candidates: Collection[Candidate] | Any
) -> tuple[ResolverWarning, ...]:
    found = set(warnings)
    for cand in candidates:
        if cand.key == REQUIRES_PYTHON_KEY:
            continue
        found.update(cand.warnings)
    return tuple(sorted(found, key=lambda w: (w.name, w.kind.value, w.version or "", w.message)))


def _conflict(causes: Collection[Any], provider: Provider) -> Conflict:
    out: list[ConflictCause] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for info in causes:
        req: ResolverRequirement = info.requirement
        parent: Candidate | None = info.parent
        if parent is None and req.parent is not None:
            parent = req.parent
        text = _plain(req)
        key = (text, parent.key if parent else None, str(parent.version) if parent else None)
        if key in seen:
            continue
        seen.add(key)
        role = req.role if parent is None else Role.DEPENDENCY
        out.append(
            ConflictCause(
                name=NormalizedName(req.name),
                requirement=text,
                pip_requirement=req.format_for_error(),
                role=role,
                parent=parent.name if parent else None,
                parent_version=str(parent.version) if parent else None,
                parent_origin=parent.origin if parent else None,
                chain=_chain(parent, provider) if parent is not None else (),
            )
        )
    # the interpreter first (pip reports it alone), then root causes, then the rest in resolvelib's order
    out.sort(key=lambda c: (c.name != REQUIRES_PYTHON_KEY, c.parent is not None))
    versions: tuple[str, ...] = ()
    yanked: tuple[str, ...] = ()
    if len(out) == 1 and out[0].name != REQUIRES_PYTHON_KEY:
        entries = provider.factory.versions(out[0].name)
        versions = tuple(str(e.version) for e in reversed(entries) if not e.yanked)
        yanked = tuple(str(e.version) for e in reversed(entries) if e.yanked)
    return Conflict(
        causes=tuple(out), python=str(provider.factory.python.version), versions=versions, yanked=yanked
    )


def _plain(req: ResolverRequirement) -> str:
    if isinstance(req, SpecifierRequirement):
        return req.text
    if isinstance(req, RequiresPythonRequirement):
        return f"Python{req.specifier}"
    cand = req.candidate
    if cand.url is not None and cand.origin is not Origin.INSTALLED:
        return f"{cand.name} @ {cand.url}"
    return f"{cand.name}=={cand.version}"


def _chain(start: Candidate, provider: Provider) -> tuple[str, ...]:
    """The shortest recorded path from a root requirement down to ``start``, phrased line by line."""
    frontier: deque[tuple[Candidate, tuple[ResolverRequirement, ...]]] = deque([(start, ())])
    visited = {id(start)}
    while frontier:
        cand, path = frontier.popleft()
        keys = [cand.key] if cand.key == cand.name else [cand.key, cand.name]
        for key in keys:
            for r in provider.seen.get(key, {}).values():
                if not r.is_satisfied_by(cand):
                    continue
                step = (*path, r)
                if r.parent is None:
                    return tuple(_phrase(x.role, _pname(x), _pversion(x), _plain(x)) for x in reversed(step))
                if id(r.parent) not in visited:
                    visited.add(id(r.parent))
                    frontier.append((r.parent, step))
    return ()


def _pname(r: ResolverRequirement) -> str | None:
    return r.parent.name if r.parent is not None else None


def _pversion(r: ResolverRequirement) -> str | None:
    return str(r.parent.version) if r.parent is not None else None
