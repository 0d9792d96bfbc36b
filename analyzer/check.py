"""``check`` as one function: snapshot + request + metadata source in, ``Report`` out.

The numbered stages run in order; every stage after the first receives one ``Session`` (snapshot, target,
metadata source, resolver factory, installed candidates, memos) and returns a plain result. The image graph
and its pre-existing violations are computed once and handed to the stages that need them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.conflict_set import minimal_conflicting_set
from analyzer.diagnosis.graph import image_graph
from analyzer.diagnosis.installable import installability, source_builds
from analyzer.diagnosis.options import options, runtime_fits
from analyzer.diagnosis.pip_prediction import PipPrediction, predict
from analyzer.diagnosis.pipcheck import check_snapshot
from analyzer.diagnosis.suggestions import suggestions
from analyzer.environment import TargetEnvironment
from analyzer.errors import MetadataUnavailable
from analyzer.metadata.models import MetadataSource
from analyzer.report import Report, RuntimeSummary
from analyzer.request import RequestItem
from analyzer.resolver import WarningKind, origin_counts, route_counts
from analyzer.session import Session
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.pintable import RequirementsTable

T = TypeVar("T")


def run_check(
    items: Sequence[RequestItem],
    snapshot: Snapshot,
    source: MetadataSource,
    *,
    releases: Sequence[tuple[str, str]] = (),
    conflict_set: bool = True,
    with_suggestions: bool = True,
    budget: float | None = 30.0,
    constraints: Sequence[Requirement] = (),
    env: TargetEnvironment | None = None,
    on_stage: Callable[[str], None] | None = None,
    table: RequirementsTable | None = None,
) -> Report:
    """Answer ``pip install ITEMS`` for ``snapshot`` without installing anything.

    ``releases``: (release id, Python) pairs offered when the request does not install on this interpreter;
    ``budget``: seconds for the minimal-conflicting-set search (None: no bound); ``constraints``: pip's ``-c``
    lines, binding every stage; ``env``: the target shared across checks (``matrix``); ``on_stage``: told each
    stage's name as it starts (the CLI's sign of life on a long run); ``table``: the snapshot source's
    requirements table (installed pins' requirements without the index). Raises
    MetadataUnavailable only when the request's own projects, or the versions of them pip would install,
    cannot be read.
    """
    timings: dict[str, float] = {}

    def timed(stage: str, fn: Callable[[], T]) -> T:
        if on_stage is not None:
            on_stage(stage)
        started = time.perf_counter()
        try:
            return fn()
        finally:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started

    env = env if env is not None else TargetEnvironment.from_snapshot(snapshot)
    request: list[Requirement] = [item.requirement for item in items]
    requested_names = [item.name for item in items]
    warnings: list[str] = [f"{snapshot.label}: {note}" for note in snapshot.notes]

    # 1. installable at all? (file lists only) -> Installability; nothing else is asked when it is not
    _require_projects(items, source)
    answer = timed("installable", lambda: installability(request, env, source, releases=releases))
    summary = RuntimeSummary.of(snapshot, answer.target)
    # files of the requested projects that the index listed but had to be skipped (legacy versions, bad fields)
    warnings.extend(problem for project in answer.items for problem in project.problems)
    if not answer.ok:
        return Report(tuple(items), summary, answer, warnings=tuple(warnings), timings=timings)

    # 2. the session every later stage shares; pages of the request and of the pins whose requirements neither
    # the snapshot nor the table holds, fetched at once (other projects' pages only when an answer moves them)
    session = Session.open(snapshot, source, env, table)
    from_index = [name for name, pin in session.installed.items() if session.factory.needs_index(pin)]
    timed("index pages", lambda: source.prefetch_projects([*requested_names, *from_index]))
    # 3. the image -> ImageGraph, and what pip check already reports in it (not the request's fault)
    graph = timed("image metadata", lambda: image_graph(session))
    routes = {route.value: n for route, n in route_counts(session.installed.values()).items()}
    origins = origin_counts(session.installed.values())
    before = timed("pip check before", lambda: check_snapshot(session))
    ignored = before.edges()
    # 4. what pip does -> PipPrediction
    limits = constraint_map(constraints, env)
    prediction = timed("pip prediction", lambda: predict(request, session, constraints=limits))
    _require_request_metadata(requested_names, prediction)
    warnings.extend(str(w) for w in prediction.warnings)
    # the sdists pip would build for that resolution (a verdict of their own; never built here)
    builds = timed("source builds", lambda: source_builds(request, session, prediction)) if prediction.ok else ()

    # 5. which pins must move -> ConflictSetResult
    found = None
    if conflict_set:
        found = timed("minimal conflicting set", lambda: minimal_conflicting_set(
            request, session, graph=graph, ignore_edges=ignored, budget=budget, constraints=limits))
        warnings.extend(found.warnings)
    # 6. what fits instead -> Suggestions
    advice = None
    if with_suggestions and (not prediction.ok or prediction.changes or prediction.newly_broken):
        advice = timed("suggestions", lambda: suggestions(
            request, session, graph=graph, ignore_edges=ignored, budget=budget, constraints=limits))
        # 7. what to do -> Options: versions with their cost here, named runtime versions where the request fits
        advice = replace(advice, options=timed("options", lambda: options(
            items, session, prediction, constraints=limits, graph=graph, budget=budget,
            runtimes=lambda left: runtime_fits(
                items, snapshot, source, budget=left, constraints=constraints, table=table))))
        warnings.extend(advice.warnings)  # reads the suggestions and options rested on that failed
    return Report(
        request=tuple(items),
        runtime=summary,
        installability=answer,
        prediction=prediction,
        conflict_set=found,
        suggestions=advice,
        preexisting=before.violations,
        warnings=tuple(dict.fromkeys(warnings)),
        timings=timings,
        resolution_builds=builds,
        requirement_routes=routes,
        requirements_from=origins,
        resolution=prediction.requirements,
    )


def constraint_map(
    constraints: Sequence[Requirement], env: TargetEnvironment
) -> dict[NormalizedName, SpecifierSet]:
    """pip's reading of ``-c`` lines: those whose marker holds on the target, specifiers of a name intersected."""
    out: dict[NormalizedName, SpecifierSet] = {}
    for c in constraints:
        if not env.evaluate(c.marker):
            continue
        name = canonicalize_name(c.name)
        out[name] = out.get(name, SpecifierSet()) & c.specifier
    return out


def _require_request_metadata(names: Sequence[NormalizedName], prediction: PipPrediction) -> None:
    """Exit code 3 as well: the version pip would install of a requested project has metadata that cannot be read
    (HTTP errors, no METADATA, a corrupt zip), so nothing can be said of what it brings; pip would stop there too.
    A dependency's unreadable metadata is only a warning: the analysis goes on with it opaque."""
    chosen = {c.name: c.new for c in (*prediction.changes, *prediction.unchanged)}
    unreadable = [
        w
        for w in prediction.warnings
        if w.kind is WarningKind.METADATA_UNAVAILABLE and w.name in names and chosen.get(w.name) == w.version
    ]
    if prediction.ok and unreadable:
        raise MetadataUnavailable(
            "cannot analyse the request: " + "; ".join(w.message for w in unreadable), package=unreadable[0].name
        )


def _require_projects(items: Sequence[RequestItem], source: MetadataSource) -> None:
    """Exit code 3 territory: a requested project that could not be looked up at all (not merely unknown)."""
    for item in items:
        if item.requirement.url:
            continue
        files = source.project(item.name)
        if not files.files and files.problems:
            raise MetadataUnavailable(
                f"cannot look up {item.requirement.name}: " + "; ".join(files.problems), package=item.name
            )
