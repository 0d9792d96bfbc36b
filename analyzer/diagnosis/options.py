"""What to do: the requested project's nearest versions that install, each with its cost on this runtime, and the
named runtime versions where the exact request installs as it is.

A version's cost is one ``predict`` of the request with that version pinned (the session is warm, so it is cheap),
never a conflict-set search: what pip would change, what it would leave newly broken, which sdists it would build,
which notebook-kernel packages it touches, and whether the running session must be restarted afterwards.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import networkx as nx
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.graph import ImageGraph, image_graph
from analyzer.diagnosis.installable import sdists_built
from analyzer.diagnosis.pip_prediction import (
    KERNEL_PACKAGES,
    Change,
    ChangeKind,
    PipPrediction,
    predict,
    read_failures,
)
from analyzer.diagnosis.suggestions import candidate_versions, pinned
from analyzer.request import RequestItem
from analyzer.session import Session
from analyzer.versions import parse_version

if TYPE_CHECKING:
    from analyzer.catalog import Catalog, Release
    from analyzer.metadata.models import MetadataSource
    from analyzer.pintable import RequirementsTable
    from analyzer.report import Report
    from analyzer.snapshot import Snapshot

__all__ = [
    "KERNEL_IMPORTS",
    "Option",
    "Options",
    "RuntimeFit",
    "kernel_loaded",
    "notebook_command",
    "options",
    "runtime_fits",
]

KERNEL_IMPORTS = KERNEL_PACKAGES | {
    canonicalize_name(n)
    for n in ("numpy", "traitlets", "jupyter-client", "jupyter-core", "ipykernel", "ipython")
}
"""What the notebook kernel imports as it starts; with their closure in the image, what a running session has
loaded: pip changing one of them on disk takes effect only after a restart."""

RESTART = "restart the session after installing"


@dataclass(frozen=True)
class Option:
    """One version of a requested project and what installing it costs this runtime."""

    name: NormalizedName
    version: Version
    request: tuple[str, ...]
    """The whole request with this version in place of the requested one, as pip would be given it."""
    installs: bool
    """pip's resolution succeeds (else ``reason`` says why not)."""
    installed: bool = False
    requested: bool = False
    """The version the request itself makes pip install."""
    changes: tuple[Change, ...] = ()
    """Upgrades, downgrades and reinstalls of preinstalled packages."""
    added: int = 0
    """New packages pip would add."""
    broken: tuple[NormalizedName, ...] = ()
    """Preinstalled packages newly broken."""
    builds: tuple[str, ...] = ()
    """``name version`` of each sdist pip would build (never built here)."""
    kernel: tuple[NormalizedName, ...] = ()
    """Packages the notebook kernel needs that this changes or breaks (the prediction's severe list)."""
    restart: tuple[NormalizedName, ...] = ()
    """Changed packages the running kernel has loaded: the session must be restarted after installing."""
    reason: str = ""

    @property
    def free(self) -> bool:
        """Installs without touching, breaking or building anything (new packages may be added)."""
        return self.installs and not (self.changes or self.broken or self.builds)

    @property
    def command(self) -> str:
        return notebook_command(self.request)

    def cost(self) -> str:
        """``11 changes, 21 broken, 1 source build, kernel: ipython``, or what keeps it from installing."""
        if not self.installs:
            return f"does not install: {self.reason}" if self.reason else "does not install"
        if self.free:
            return "nothing to change" + (f" (adds {self.added} new package(s))" if self.added else "")
        parts = [f"{len(self.changes)} change(s)"]
        if self.added:
            parts.append(f"{self.added} new")
        parts.append(f"{len(self.broken)} broken")
        if self.builds:
            parts.append(f"{len(self.builds)} source build(s): {', '.join(self.builds)}")
        if self.kernel:
            parts.append(f"kernel: {', '.join(self.kernel)}")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": str(self.version),
            "installed": self.installed,
            "requested": self.requested,
            "installs": self.installs,
            "reason": self.reason or None,
            "changes": [str(c) for c in self.changes],
            "added": self.added,
            "newly_broken": list(self.broken),
            "source_builds": list(self.builds),
            "kernel_packages": list(self.kernel),
            "restart": bool(self.restart),
            "restart_for": list(self.restart),
            "command": self.command,
        }


@dataclass(frozen=True)
class RuntimeFit:
    """The request's verdict on one named runtime version (a notebook can select it)."""

    label: str
    """``colab 2025.05 (2025-05-20)``."""
    release: str
    """The exact selector (``colab@2136c638be``)."""
    python: str
    verdict: str
    """The report's verdict word there (``fits``, ``changes``, ``breaks``, ...), or ``unknown``."""
    detail: str = ""

    @property
    def fits(self) -> bool:
        return self.verdict == "fits"

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.label, "release": self.release, "python": self.python, "verdict": self.verdict,
                "fits_as_is": self.fits, "detail": self.detail or None}  # fmt: skip


@dataclass(frozen=True)
class Options:
    versions: tuple[Option, ...]
    """The installed version first, then the others, newest first; the requested version among them."""
    runtimes: tuple[RuntimeFit, ...] = ()
    """Named runtime versions, newest first, each with the exact request's verdict there."""
    runtimes_checked: int = 0
    predictions: int = 0
    exhausted: bool = False
    """The time budget ran out before every candidate version or runtime was tried."""
    unread: tuple[str, ...] = ()
    """Warnings of reads the options' predictions rested on that failed (``pip_prediction.read_failures``)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": [o.to_json() for o in self.versions],
            "runtimes": [r.to_json() for r in self.runtimes],
            "fits_as_is_on": [r.label for r in self.runtimes if r.fits],
            "restart_note": RESTART,
            "predictions": self.predictions,
            "exhausted": self.exhausted,
        }


def notebook_command(request: Sequence[str]) -> str:
    """``%pip install 'tensorflow==2.15.1'``: each requirement single-quoted, as the shell %pip runs in reads it."""
    return "%pip install " + " ".join("'" + r.replace("'", "'\\''") + "'" for r in request)


def kernel_loaded(graph: ImageGraph) -> frozenset[NormalizedName]:
    """The installed packages a running notebook kernel has loaded: what it imports at start and their closure
    through the image's requirements."""
    seeds = [n for n in KERNEL_IMPORTS if n in graph]
    reached: set[str] = set(seeds).union(*(nx.descendants(graph.graph, n) for n in seeds)) if seeds else set()
    return frozenset(n for n in graph.pins if n in reached)


def option_of(
    request: Sequence[Requirement],
    position: int,
    version: Version,
    prediction: PipPrediction,
    session: Session,
    loaded: frozenset[NormalizedName],
    installed: Version | None,
    requested: bool = False,
) -> Option:
    """The cost of ``prediction`` (pip installing ``request``, its ``position``-th item at ``version``)."""
    name = canonicalize_name(request[position].name)
    text = tuple(str(r) for r in request)
    if not prediction.ok:
        reason = (
            prediction.conflict.reason() if prediction.conflict is not None else "the requirements conflict"
        )
        return Option(name, version, text, False, version == installed, requested, reason=reason)
    moved = tuple(c for c in prediction.changes if c.kind is not ChangeKind.INSTALL)
    builds = _built_from_source(prediction, session)
    return Option(
        name=name,
        version=version,
        request=text,
        installs=True,
        installed=version == installed,
        requested=requested,
        changes=moved,
        added=len(prediction.installs),
        broken=tuple(sorted({v.name for v in prediction.newly_broken})),
        builds=builds,
        kernel=tuple(sorted({s.name for s in prediction.severe})),
        restart=tuple(sorted(c.name for c in moved if c.name in loaded)),
    )


def options(
    items: Sequence[RequestItem],
    session: Session,
    prediction: PipPrediction | None = None,
    *,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    graph: ImageGraph | None = None,
    wanted: int = 5,
    max_predictions: int = 10,
    budget: float | None = None,
    runtimes: Callable[[float | None], tuple[tuple[RuntimeFit, ...], int, bool]] | None = None,
) -> Options:
    """Up to ``wanted`` versions of each requested project (beside the requested one) that install, each with its
    cost from one prediction, within ``max_predictions`` predictions in all; ``prediction`` is the request's own
    (its row costs nothing more). The versions weighed are ``_pool``'s, tried in ``_order``'s order; ``runtimes``
    (given the seconds left) adds the runtime versions' verdicts."""
    started = time.perf_counter()
    deadline = None if budget is None else started + budget
    request = [item.requirement for item in items]
    loaded = kernel_loaded(graph if graph is not None else image_graph(session))
    calls = 0
    exhausted = False
    rows: list[Option] = []
    unread: dict[str, None] = {}
    for position, original in enumerate(request):
        if original.url or not session.env.evaluate(original.marker):
            continue  # a direct reference has no versions to weigh; a line whose marker fails here installs nothing
        name = canonicalize_name(original.name)
        pin = session.snapshot.by_name.get(name)
        installed = pin.parsed_version if pin is not None else None
        own = None
        if prediction is not None:
            if prediction.ok and any(c.name == name for c in prediction.unchanged):
                continue  # pip keeps the installed version: this project is not what the request changes
            own = _chosen(prediction, name) if prediction.ok else _exact(original)
            if own is not None:
                rows.append(option_of(request, position, own, prediction, session, loaded, installed, True))
        found = 0
        for version in _order(_pool(original, own, session, installed), installed):
            if found >= wanted:
                break
            if version == own:
                continue
            if calls >= max_predictions or (deadline is not None and time.perf_counter() > deadline):
                exhausted = True
                break
            asked = [pinned(r, version) if i == position else r for i, r in enumerate(request)]
            calls += 1
            weighed = predict(asked, session, constraints=constraints)
            unread.update(dict.fromkeys(read_failures(weighed)))
            option = option_of(asked, position, version, weighed, session, loaded, installed)
            if option.installs:
                rows.append(option)
                found += not option.installed
    checked: tuple[RuntimeFit, ...] = ()
    seen = 0
    if runtimes is not None:
        left = None if deadline is None else max(0.0, deadline - time.perf_counter())
        checked, seen, cut = runtimes(left)
        exhausted = exhausted or cut
    # per requested project in the request's order: the installed version first, then newest first
    order = {canonicalize_name(r.name): i for i, r in reversed(list(enumerate(request)))}
    rows.sort(key=lambda o: o.version, reverse=True)
    rows.sort(key=lambda o: (order[o.name], not o.installed))
    return Options(tuple(rows), checked, seen, calls, exhausted, unread=tuple(unread))


def _built_from_source(prediction: PipPrediction, session: Session) -> tuple[str, ...]:
    """``name version`` of each sdist pip would build for ``prediction``: the packages ``source_builds`` names, by
    the resolver's choice of file, without reading the archives (an option's cost needs no build facts)."""
    return tuple(f"{change.name} {change.new}" for change, _ in sdists_built(prediction, session))


def _chosen(prediction: PipPrediction, name: NormalizedName) -> Version | None:
    """The version of ``name`` pip ends up with in ``prediction``."""
    found = next((c.new for c in (*prediction.changes, *prediction.unchanged) if c.name == name), None)
    return parse_version(found) if found is not None else None


def _pool(
    requirement: Requirement, chosen: Version | None, session: Session, installed: Version | None
) -> list[Version]:
    """The versions to weigh, nearest first: beside an exact pin, every other series; within a range that
    resolves, the other series the range admits (the user excluded the rest), nearest pip's choice."""
    if _exact(requirement) is not None or chosen is None:
        return candidate_versions(requirement, session, installed)
    around = candidate_versions(pinned(requirement, chosen), session, installed)
    return [v for v in around if requirement.specifier.contains(v, prereleases=True)]


def _exact(requirement: Requirement) -> Version | None:
    """The one version an ``==`` pin names (no wildcard), else None."""
    exact = [s.version for s in requirement.specifier if s.operator in ("==", "===") and "*" not in s.version]
    return parse_version(exact[0]) if len(exact) == 1 else None


def _order(candidates: Sequence[Version], installed: Version | None) -> list[Version]:
    """The installed version, the nearest series newer than it (the upgrade a user would weigh), then the others
    from both ends in turn: nearest the request (``candidate_versions``' order) and nearest the installed version
    from below, so a short list spans the trade-off between what was asked and what costs least."""
    if installed is None:
        return list(candidates)
    newer = [v for v in candidates if v > installed]
    step = min((v for v in newer if v.release[:2] > installed.release[:2]), default=min(newer, default=None))
    rest = [v for v in candidates if v not in (installed, step)]
    near_installed = sorted((v for v in rest if v < installed), reverse=True)
    turns = (v for pair in itertools.zip_longest(rest, near_installed) for v in pair if v is not None)
    first = [v for v in (installed, step) if v is not None and v in candidates]
    return list(dict.fromkeys([*first, *turns]))


def runtime_fits(
    items: Sequence[RequestItem],
    snapshot: Snapshot,
    source: MetadataSource,
    *,
    catalog: Catalog | None = None,
    limit: int = 4,
    scan: int = 12,
    budget: float | None = None,
    constraints: Sequence[Requirement] = (),
    table: RequirementsTable | None = None,
) -> tuple[tuple[RuntimeFit, ...], int, bool]:
    """The exact request's verdict on the named runtime versions of the snapshot's kind (its own release left
    out), newest first, each a ``run_check`` without the conflict-set search or suggestions. At most ``limit`` of
    them are resolved; one whose Python the request has no distribution for is answered from file lists alone and
    does not count, within ``scan`` named versions in all. Returns the verdicts, how many runtime versions were
    examined, and whether the budget cut the list short. A snapshot from no catalog (a file, the current
    interpreter) has none. ``table``: the source's requirements table, as for the snapshot's own check."""
    from analyzer.catalog import Catalog
    from analyzer.check import run_check
    from analyzer.errors import MetadataUnavailable, SourceError
    from analyzer.sources import load_source

    if catalog is None:
        if snapshot.source in ("file", "current"):
            return (), 0, False
        try:
            catalog = Catalog.open(load_source(snapshot.source))
        except Exception:  # noqa: BLE001 - other runtimes are a courtesy; the answer does not depend on them
            return (), 0, False
    deadline = None if budget is None else time.perf_counter() + budget
    out: list[RuntimeFit] = []
    resolved = 0
    for release in _named_releases(catalog, snapshot)[:scan]:
        if resolved >= limit:
            break
        if deadline is not None and time.perf_counter() > deadline:
            return tuple(out), len(out), True
        label = catalog.name_of(release).label
        try:
            report = run_check(
                items, catalog.snapshot(release), source, conflict_set=False, with_suggestions=False,
                constraints=constraints, table=table,
            )  # fmt: skip
        except (MetadataUnavailable, SourceError) as exc:  # that runtime's answer is unknown, not this one's
            out.append(RuntimeFit(label, release.id, release.python, "unknown", str(exc)))
            resolved += 1
            continue
        resolved += report.prediction is not None
        out.append(RuntimeFit(label, release.id, release.python, report.verdict.value, _short(report)))
    return tuple(out), len(out), False


def _named_releases(catalog: Catalog, snapshot: Snapshot) -> list[Release]:
    """Releases of the snapshot's kind that carry a runtime version name, newest first, the snapshot's own out."""
    kind = snapshot.kind if snapshot.kind in catalog.decl.kind_names else None
    return [
        r
        for r in reversed(catalog.releases_of(kind))
        if catalog.name_of(r).version_name is not None and r.commit != snapshot.commit
    ]


def _short(report: Report) -> str:
    """The cost there in a few words (``11 change(s), 21 broken``; why it does not install)."""
    from analyzer.report import Verdict, blocking_reason, build_reason

    p = report.prediction
    if report.verdict is Verdict.NOT_INSTALLABLE:
        reasons = [blocking_reason(i) for i in report.installability.blocking]
        return "; ".join([*reasons, *(build_reason(b) for b in report.failing_builds)])
    if p is None or not p.ok:
        return (
            p.conflict.reason() if p is not None and p.conflict is not None else "the requirements conflict"
        )
    if report.verdict is Verdict.FITS:
        return f"adds {len(p.installs)} new package(s)" if p.installs else ""
    moved = len(p.upgrades) + len(p.downgrades) + len(p.reinstalls)
    return f"{moved} change(s), {len({v.name for v in p.newly_broken})} broken"
