"""The report of ``tfconflict check``: plain data that every renderer reads, and its versioned JSON form.

The verdict is computed once, here, from the three answers (installable? what pip does; the minimal conflicting
set), so the text, markdown and JSON renderers and the exit code can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from packaging.requirements import Requirement

from analyzer.diagnosis.conflict_set import ConflictSetResult, DirectLayer, KnockOnGroup, Member
from analyzer.diagnosis.conflict_set import Verdict as SetVerdict
from analyzer.diagnosis.installable import Installability, ProjectInstallability, SourceBuild, Status
from analyzer.diagnosis.pip_prediction import PipPrediction
from analyzer.diagnosis.pipcheck import Violation
from analyzer.diagnosis.suggestions import Suggestions
from analyzer.errors import ExitCode
from analyzer.request import RequestItem
from analyzer.snapshot import Snapshot

SCHEMA = "tfconflict.report/2"
"""Version of the JSON form (README, "JSON report"); bumped whenever a field changes meaning."""


class Verdict(str, Enum):
    """One word for the whole answer, most severe first."""

    NOT_INSTALLABLE = "not-installable"
    """A requested project has no distribution for this interpreter and platform."""
    UNRESOLVABLE = "unresolvable"
    """pip would fail: the request's own requirements conflict (or conflict with the interpreter)."""
    BUILDS_FROM_SOURCE = "builds-from-source"
    """pip would build an sdist (no wheel of the chosen version fits): the outcome depends on a build tfconflict
    never runs, so nothing after it is certain."""
    BREAKS = "breaks"
    """pip would install it and leave preinstalled packages newly broken."""
    CHANGES = "changes"
    """pip would change preinstalled packages, without newly breaking any."""
    FITS = "fits"
    """pip would change no preinstalled package (new packages may be added)."""

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self is Verdict.FITS else ExitCode.CONFLICT


@dataclass(frozen=True)
class RuntimeSummary:
    """What the report says about the runtime it answered for."""

    id: str
    kind: str
    date: datetime | None
    python: str
    python_evidence: str
    platform: str
    packages: int
    notes: tuple[str, ...] = ()
    name: str = ""
    """How people name the runtime (``colab 2025.07 (2025-08-11)``); ``id`` stays the exact selector."""
    version_name: str | None = None
    commit: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.id

    @classmethod
    def of(cls, snapshot: Snapshot, target: str) -> RuntimeSummary:
        s = snapshot
        return cls(
            s.id, s.kind, s.date, s.python, s.python_evidence, target, len(s.pins), s.notes, s.label, s.version_name,
            s.commit,
        )


@dataclass(frozen=True)
class Report:
    """Everything ``check`` found, for one request against one runtime."""

    request: tuple[RequestItem, ...]
    runtime: RuntimeSummary
    installability: Installability
    prediction: PipPrediction | None = None
    conflict_set: ConflictSetResult | None = None
    suggestions: Suggestions | None = None
    preexisting: tuple[Violation, ...] = ()
    """``pip check`` of the image before anything is installed: not the request's fault."""
    warnings: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    resolution_builds: tuple[SourceBuild, ...] = ()
    """The sdists pip would build for the predicted resolution (``installable.source_builds``)."""
    requirement_routes: Mapping[str, int] = field(default_factory=dict)
    """How many pins' requirements came by each route (``RequirementsRoute`` value -> count)."""
    requirements_from: Mapping[str, int] = field(default_factory=dict)
    """How many pins' requirements were read from the snapshot, the requirements table, the index."""
    resolution: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)
    """The predicted resolution: each resolved project's requirements that hold on the target, requested extras
    included; what ties a change to the requested lines that reach it (``render.github``)."""
    left_out: tuple[RequestItem, ...] = ()
    """Requested lines that cannot be installed (``installability`` says why): the rest of the request was
    analysed without them, so one bad line hides nothing else."""

    @property
    def source_builds(self) -> tuple[SourceBuild, ...]:
        """Every sdist pip would build: the request's own (from installability), then the resolution's, one per
        project (the resolution's version wins: it is what pip ends up with)."""
        builds = {item.name: item.build for item in self.installability.items if item.build is not None}
        builds.update((b.name, b) for b in self.resolution_builds)
        return tuple(builds.values())

    @property
    def failing_builds(self) -> tuple[SourceBuild, ...]:
        """Source builds of the resolution likely to refuse this Python (the request's own block installability)."""
        return tuple(b for b in self.resolution_builds if b.likely_fails)

    @property
    def verdict(self) -> Verdict:
        if not self.installability.ok or self.failing_builds:
            return Verdict.NOT_INSTALLABLE
        prediction = self.prediction
        if prediction is None or not prediction.ok:
            return Verdict.UNRESOLVABLE
        if self.source_builds:
            return Verdict.BUILDS_FROM_SOURCE
        if prediction.newly_broken:
            return Verdict.BREAKS
        if prediction.upgrades or prediction.downgrades or prediction.reinstalls:
            return Verdict.CHANGES
        if self.conflict_set is not None and self.conflict_set.verdict is SetVerdict.CONFLICT:
            return Verdict.CHANGES
        return Verdict.FITS

    @property
    def exit_code(self) -> ExitCode:
        return self.verdict.exit_code

    def headline(self) -> str:
        """The verdict in one sentence, the first line of every rendering."""
        request = ", ".join(str(item) for item in self.request)
        verdict = self.verdict
        where = self.runtime.label
        if verdict is Verdict.NOT_INSTALLABLE:
            reasons = [blocking_reason(item) for item in self.installability.blocking]
            reasons += [build_reason(b) for b in self.failing_builds]
            return f"{request} cannot be installed on {where}, {self.runtime.platform}: {'; '.join(reasons)}"
        if verdict is Verdict.UNRESOLVABLE:
            conflict = self.prediction.conflict if self.prediction is not None else None
            why = conflict.reason() if conflict is not None else "the requirements conflict"
            return f"pip would fail to install {request} on {where}: {why}"
        p = self.prediction
        assert p is not None
        moved = len(p.upgrades) + len(p.downgrades) + len(p.reinstalls)
        if verdict is Verdict.BUILDS_FROM_SOURCE:
            builds = self.source_builds
            named = ", ".join(f"{b.name} {b.version}" for b in builds)
            then = f"pip would change {moved} preinstalled package(s)" if moved else "nothing preinstalled changes"
            if p.newly_broken:
                then += f" and leave {len({v.name for v in p.newly_broken})} newly broken"
            return (
                f"{request} on {where}: pip would build {len(builds)} package(s) from source ({named}), which "
                f"tfconflict does not run, so whether it installs is not known; if the build succeeds, {then}"
            )
        # extras are not pip check's business, so they never make the verdict; the sentence still names them
        extras = ", ".join(dict.fromkeys(f"{v.provider}[{v.extra}]" for v in p.extras_broken))
        unmet = f"; extras the image uses are left unmet, which pip does not check ({extras})" if extras else ""
        # a package a failed read left opaque may be broken too: the count is of what could be checked
        unread = f"; {len(p.unread)} whose requirements could not be read were not checked" if p.unread else ""
        if verdict is Verdict.BREAKS:
            return (
                f"{request} installs on {where}, but pip would change {moved} preinstalled package(s) and leave "
                f"{len({v.name for v in p.newly_broken})} newly broken{unread}{unmet}"
            )
        if verdict is Verdict.CHANGES:
            none = "breaking none of those that could be checked" if unread else "breaking none"
            return (
                f"{request} installs on {where}; pip would change {moved} preinstalled package(s), "
                f"{none}{unread}{unmet}"
            )
        added = len(p.installs)
        tail = f" (adds {added} new package(s))" if added else ""
        return f"{request} fits {where} as it is{tail}"

    # -- JSON form ---------------------------------------------------------------------------------------------

    def to_json_dict(self) -> dict[str, Any]:
        p, cs, runtime = self.prediction, self.conflict_set, self.runtime
        return {
            "schema": SCHEMA,
            "verdict": self.verdict.value,
            "exit_code": int(self.exit_code),
            "headline": self.headline(),
            "request": [
                {"requirement": str(i.requirement), "origin": i.origin, "line": i.line} for i in self.request
            ],
            "left_out": [
                {"requirement": str(i.requirement), "origin": i.origin, "line": i.line} for i in self.left_out
            ],
            "runtime": {**asdict(runtime), "date": runtime.date.isoformat() if runtime.date else None},
            "installable": {
                "ok": self.installability.ok,
                "target": self.installability.target,
                "projects": [_installability(item) for item in self.installability.items],
            },
            "pip": None if p is None else {
                "ok": p.ok,
                "changes": [
                    {"name": c.name, "action": c.kind.value, "from": c.old, "to": c.new, "origin": c.origin.value}
                    for c in p.changes
                ],
                "conflict": None if p.conflict is None else {
                    "message": p.conflict.pip_message(),
                    "causes": [
                        {"requirement": c.requirement, "parent": c.parent, "parent_version": c.parent_version,
                         "text": c.text, "chain": list(c.chain)}
                        for c in p.conflict.causes
                    ],
                    "reason": p.conflict.reason(),
                    "unavailable": [
                        {"name": u.name, "requirement": u.requirement, "missing": u.missing, "evidence": u.evidence,
                         "nearest": list(u.nearest), "chains": [list(c) for c in u.chains], "reason": u.reason()}
                        for u in p.conflict.unavailable
                    ],
                },
                "newly_broken": [_violation(v) for v in p.newly_broken],
                "already_broken": [_violation(v) for v in p.already_broken],
                "fixed": [_violation(v) for v in p.fixed],
                "pip_warning": [v.text() for v in p.pip_warning],
                "severe": [{"name": s.name, "reason": s.reason} for s in p.severe],
                "opaque": list(p.opaque),
                "unread": [{"name": u.name, "version": u.version, "why": u.why} for u in p.unread],
                "extras_broken": [
                    {"provider": v.provider, "provider_version": v.provider_version, "extra": v.extra,
                     "dependency": v.dependency, "requirement": v.requirement, "installed": v.installed,
                     "asked_by": list(v.askers), "text": v.future_text()}
                    for v in p.extras_broken
                ],
            },
            "conflict_set": None if cs is None else {
                "verdict": cs.verdict.value,
                "sets": [
                    {"verified": s.verified, "doubt": s.doubt, "members": [_member(m) for m in s.members]}
                    for s in cs.sets
                ],
                "several": cs.several,
                "direct": _direct(cs.direct),
                "knock_on": None if cs.direct is None else {
                    "groups": [_knock_on(g) for g in cs.direct.knock_on],
                    "broken": cs.direct.broken,
                    "whole_image": [
                        {"verified": s.verified, "doubt": s.doubt, "members": [_member(m) for m in s.members]}
                        for s in cs.sets
                    ],
                },
                "candidates": len(cs.candidates),
                "ignored_preexisting": [list(edge) for edge in cs.ignored],
                "resolver_calls": cs.resolver_calls,
                "seconds": round(cs.seconds, 3),
            },
            "suggestions": None if self.suggestions is None else [
                {"requirement": s.requirement, "fits_as_is": s.fits_as_is, "changes": s.changes,
                 "installed": s.installed}
                for s in self.suggestions.items
            ],
            "options": None if self.suggestions is None or self.suggestions.options is None
            else self.suggestions.options.to_json(),
            "source_builds": [_source_build(b) for b in self.source_builds],
            "requirement_routes": dict(self.requirement_routes),
            "requirements_from": dict(self.requirements_from),
            "preexisting_violations": [_violation(v) for v in self.preexisting],
            "warnings": list(self.warnings),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def blocking_reason(item: ProjectInstallability) -> str:
    """The short reason for the headline; the section under it carries the evidence."""
    if item.build is not None and item.build.likely_fails:
        return build_reason(item.build)
    if item.status is Status.NOT_INSTALLABLE:
        return f"{item.name} has no distribution for this Python and platform"
    if item.status is Status.NO_MATCHING_VERSION:
        return f"no version of {item.name} matches {item.requirement}"
    if item.status is Status.UNKNOWN_PROJECT:
        return f"no project named {item.name} on the index"
    return item.message


def build_reason(build: SourceBuild) -> str:
    """``numba 0.56.4: wheels cp37..cp310, no cp311 wheel; pip would build numba-0.56.4.tar.gz, and the build ...``"""
    who = "" if build.requested else " (pulled in by the request)"
    return f"{build.name} {build.version}{who}: {build.evidence()}, and {build.outcome()}"


def _source_build(b: SourceBuild) -> dict[str, Any]:
    facts = b.facts
    return {
        "name": b.name,
        "version": str(b.version),
        "file": b.filename,
        "requested": b.requested,
        "likely_fails": b.likely_fails,
        "reason": b.outcome(),
        "evidence": b.evidence(),
        "wheel_interpreters": list(b.interpreters),
        "wheel_platforms": list(b.platforms),
        "wheels_stop_at": b.stops_below,
        "nearest_with_wheel_below": str(b.nearest_below) if b.nearest_below else None,
        "nearest_with_wheel_above": str(b.nearest_above) if b.nearest_above else None,
        "archive": None if facts is None else {
            "read": facts.read,
            "note": facts.note,
            "build_backend": facts.build_backend,
            "build_backend_declared": facts.backend_declared,
            "build_requires": list(facts.build_requires),
            "build_requires_declared": facts.requires_declared,
            "compiles": facts.compiles,
            "compiled_sources": {language: count for language, count in facts.sources},
            "compiling_tools": list(facts.compiling_tools),
            "members": facts.members,
        },
    }


def _violation(v: Violation) -> dict[str, Any]:
    return {
        "name": v.name,
        "version": v.version,
        "requirement": v.requirement,
        "dependency": v.dependency,
        "installed": v.installed,
        "text": v.future_text(),
    }


def _member(m: Member) -> dict[str, Any]:
    return {
        "name": m.name,
        "installed": m.installed,
        "moves_to": m.moves_to,
        "removed": m.removed,
        "reasons": [
            {"parent": e.parent, "parent_version": e.parent_version, "child": e.child,
             "requirement": e.requirement, "text": str(e)}
            for e in m.reasons
        ],
    }


def _direct(d: DirectLayer | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {
        "members": [_member(m) for m in d.members],
        "verified": d.verified,
        "doubt": d.doubt,
        "several": d.several,
        "alternatives": [list(a) for a in d.alternatives],
        "fits": d.fits,
        "unresolvable": d.unresolvable,
        "resolver_calls": d.resolver_calls,
    }


def _knock_on(g: KnockOnGroup) -> dict[str, Any]:
    return {
        "cause": g.cause,
        "installed": g.installed,
        "moves_to": g.moves_to,
        "broken": [_violation(v) for v in g.broken],
    }


def _installability(item: ProjectInstallability) -> dict[str, Any]:
    return {
        "name": item.name,
        "requirement": item.requirement,
        "status": item.status.value,
        "message": item.message,
        "chosen": str(item.chosen) if item.chosen else None,
        "chosen_file": item.chosen_file,
        "evidence": item.evidence,
        "interpreters": list(item.interpreters),
        "platforms": list(item.platforms),
        "requires_python": list(item.requires_python),
        "nearest_below": str(item.nearest_below) if item.nearest_below else None,
        "nearest_above": str(item.nearest_above) if item.nearest_above else None,
        "latest_installable": str(item.latest_installable) if item.latest_installable else None,
        "fitting_releases": list(item.fitting_releases),
    }
