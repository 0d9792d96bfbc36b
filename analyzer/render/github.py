"""GitHub Actions workflow commands: a report is about a whole request, review needs it per line, so
:func:`findings` splits it into one finding per requested requirement in trouble (the hook prints them as
``FILE:LINE: message``) and :func:`render_github` phrases them as ``::error file=F,line=L,title=T::msg``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from analyzer.config import fails
from analyzer.diagnosis.conflict_set import Member
from analyzer.diagnosis.graph import REQUEST
from analyzer.diagnosis.installable import SourceBuild, Status
from analyzer.diagnosis.pip_prediction import Change, ChangeKind
from analyzer.diagnosis.pipcheck import Violation
from analyzer.report import Report, Verdict, blocking_reason, build_reason
from analyzer.request import RequestItem
from analyzer.resolver import Conflict, Role, WarningKind

__all__ = [
    "Finding",
    "LineCauses",
    "causes_by_line",
    "escape_data",
    "escape_property",
    "findings",
    "render_github",
    "workflow_command",
]

MAX_LISTED = 6
"""Packages named in one finding before "and N more": an annotation is read in a pull request's margin."""


@dataclass(frozen=True)
class Finding:
    """One thing to show on one line of one file (``file`` is None for command-line requirements)."""

    severity: str
    """``error`` (fails under the chosen ``fail-on``), ``warning`` or ``notice``."""
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        """The linter form the hook prints: ``FILE:LINE: message``."""
        if self.file is None:
            return self.message
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


def escape_data(text: str) -> str:
    """As GitHub's toolkit escapes (``@actions/core`` ``command.ts``): ``%``, CR and LF; in properties
    ``:`` and ``,`` as well."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(severity: str, message: str, *, file: str | None = None, line: int | None = None) -> str:
    properties = []
    if file is not None:
        properties.append(f"file={escape_property(file)}")
        if line is not None:
            properties.append(f"line={line}")
    properties.append("title=tfconflict")
    return f"::{severity} {','.join(properties)}::{escape_data(message)}"


def render_github(report: Report, *, fail_on: str = "breakage") -> str:
    """Annotations for the conflicting requirements and the report's warnings; a notice when all fits."""
    lines = [
        workflow_command(f.severity, f.message, file=f.file, line=f.line)
        for f in findings(report, fail_on=fail_on)
    ]
    lines.extend(workflow_command("warning", warning) for warning in report.warnings)
    if report.verdict is Verdict.FITS:
        lines.append(workflow_command("notice", report.headline()))
    return "\n".join(lines) + "\n"


# -- one finding per requested line ----------------------------------------------------------------------------


def findings(report: Report, *, fail_on: str = "breakage") -> tuple[Finding, ...]:
    """The requested lines in trouble, each with what its own requirement causes, in one sentence.

    A line left out of the analysis (it cannot be installed: an unknown project, a version that does not exist)
    carries its own reason; the other lines carry what the rest of the request does. Which lines: the blocking
    projects (not installable), the requirements at the root of pip's conflict (unresolvable), else each line
    with what it causes (``causes_by_line``); a line that causes nothing gets nothing. When no line can be
    singled out, the first requirement carries the whole verdict, so a failure is never without a line.
    """
    if report.verdict is Verdict.FITS:
        return ()
    pairs: list[tuple[RequestItem, str, str]] = [
        (item, _left_out_reason(report, item), Verdict.NOT_INSTALLABLE.value) for item in report.left_out
    ]
    verdict = _rest_verdict(report)
    if verdict is Verdict.NOT_INSTALLABLE:
        own = _not_installable(report)
    elif verdict is Verdict.UNRESOLVABLE:
        own = _unresolvable(report)
    elif verdict is Verdict.FITS:
        own = []
    else:
        own = [(line.item, text) for line in causes_by_line(report) if (text := line.text())]
    rest = [item for item in report.request if item not in report.left_out]
    if not own and rest and verdict is not Verdict.FITS:
        own = [(rest[0], _whole(report, verdict))]
    pairs.extend((item, reason, verdict.value) for item, reason in own)
    pairs.sort(key=lambda pair: report.request.index(pair[0]) if pair[0] in report.request else len(pairs))
    return tuple(
        Finding(
            "error" if fails(value, fail_on) else "warning",
            f"{item.requirement} {'cannot be installed' if item in report.left_out else 'conflicts with the runtime'}: "
            f"{reason}",
            file=None if item.line is None else item.origin,
            line=item.line,
        )
        for item, reason, value in pairs
    )


def _rest_verdict(report: Report) -> Verdict:
    """The verdict of the lines that were analysed (all of them, unless some were left out)."""
    if not report.left_out:
        return report.verdict
    kept = tuple(p for p in report.installability.items if p.installable)  # every blocked line was left out
    return replace(report, installability=replace(report.installability, items=kept)).verdict


def _left_out_reason(report: Report, item: RequestItem) -> str:
    blocked = next(
        (b for b in report.installability.blocking if b.requirement == str(item.requirement)), None
    )
    if blocked is None:
        return "left out of the analysis"
    if blocked.status is Status.UNKNOWN_PROJECT:
        return blocked.message  # names the index asked, and a close name when there is one
    return f"{blocking_reason(blocked)} (on {report.installability.target})"


def _not_installable(report: Report) -> list[tuple[RequestItem, str]]:
    out: list[tuple[RequestItem, str]] = []
    orphans: list[str] = []
    for blocked in report.installability.blocking:
        reason = f"{blocking_reason(blocked)} (on {report.installability.target})"
        named = [item for item in report.request if item.name == canonicalize_name(blocked.name)]
        if not named:
            orphans.append(reason)
        out.extend((item, reason) for item in named)
    orphans.extend(build_reason(b) for b in report.failing_builds)
    if orphans and report.request and not out:
        out.append((report.request[0], "; ".join(orphans)))
    return out


# -- what each line causes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineCauses:
    """What one requested line causes in the predicted install; ``also`` names the other lines that cause the
    same thing (by the change's or the broken package's name)."""

    item: RequestItem
    changes: tuple[Change, ...] = ()
    """Preinstalled packages this line's requirements move (a requirement on the path excludes the installed
    version), or that move to stay consistent with what it moves."""
    broken: tuple[Violation, ...] = ()
    """Newly broken packages: they need a version of a package this line moves that its requirements exclude."""
    members: tuple[Member, ...] = ()
    """Members of the minimal conflicting set whose reason chain starts at this line."""
    builds: tuple[SourceBuild, ...] = ()
    """sdists pip would build: this line's project, or a project only it brings in."""
    also: Mapping[str, tuple[RequestItem, ...]] = field(default_factory=dict)

    def text(self) -> str:
        """One sentence, lists cut at ``MAX_LISTED`` with "and N more"; empty when the line causes nothing."""
        parts: list[str] = []
        parts.extend(
            f"pip would build {b.filename} from source: {b.outcome()}" for b in self.builds if b.requested
        )
        others = [b for b in self.builds if not b.requested]
        if others:
            parts.append("pip would build from source " + _builds(others))
        if self.members:
            parts.append(
                "preinstalled packages must change: " + _listed(_member_text(m) for m in self.members)
            )
        if self.changes:
            parts.append(
                "pip would change preinstalled " + _listed(self._also(c.name, str(c)) for c in self.changes)
            )
        if self.broken:
            count = len({v.name for v in self.broken})
            texts = (
                self._also(f"broken {v.name}", f"{v.name} {v.version} requires {v.requirement}")
                for v in self.broken
            )
            parts.append(f"pip would leave {count} newly broken: " + _listed(texts, MAX_BROKEN))
        return "; ".join(parts)

    def _also(self, key: str, text: str) -> str:
        others = self.also.get(key, ())
        if not others:
            return text
        return f"{text} (also {', '.join(_where(self.item, other) for other in others)})"


MAX_BROKEN = 3
"""Newly broken packages named in one finding: each carries its requirement, so fewer fit."""


def causes_by_line(report: Report) -> tuple[LineCauses, ...]:
    """Each analysed line with what its own requirement causes, in request order (lines causing nothing too).

    A change belongs to a line when a requirement on a path of the predicted resolution from that line excludes
    the installed version (the line's requirement itself, or one of a distribution the line itself moves or one
    it reaches unchanged); a change no single requirement forces (a package moved so that it fits another move)
    belongs to every line that reaches it. A newly broken package belongs to the lines moving the package it
    needs whose own requirements exclude every version it accepts (to all of them when none does alone), and to
    the line that moved the broken package itself.
    """
    p = report.prediction
    if p is None or not p.ok:
        return ()
    edges = report.resolution
    moved: dict[str, Change] = {c.name: c for c in p.changes}
    ignored = {w.name for w in p.warnings if w.kind is WarningKind.MARKER_FALSE}
    lines = [item for item in report.request if item not in report.left_out]
    forced: list[dict[str, list[SpecifierSet]]] = [
        {} if item.name in ignored else _forced([item.requirement], edges, moved) for item in lines
    ]
    # moves that no single requirement forces: to every line reaching them, then what they force in turn
    claimed = {name for f in forced for name in f}
    for name in sorted(set(moved) - claimed):
        for n, item in enumerate(lines):
            if (
                name not in forced[n]
                and item.name not in ignored
                and name in _reached(item.requirement, edges)
            ):
                forced[n].setdefault(name, [])
                for dep, specs in _forced(edges.get(name, ()), edges, moved).items():
                    forced[n].setdefault(dep, []).extend(specs)
    broken = [_breakers(v, forced) for v in p.newly_broken]
    builds = {b.name: b for b in report.source_builds}
    members = report.conflict_set.best.members if report.conflict_set and report.conflict_set.best else ()
    out = []
    for n, item in enumerate(lines):
        changes = tuple(
            moved[name] for name in sorted(forced[n]) if moved[name].kind is not ChangeKind.INSTALL
        )
        own_broken = tuple(v for v, who in zip(p.newly_broken, broken, strict=True) if n in who)
        also: dict[str, tuple[RequestItem, ...]] = {}
        for c in changes:
            also[c.name] = tuple(lines[m] for m, f in enumerate(forced) if m != n and c.name in f)
        for v, who in zip(p.newly_broken, broken, strict=True):
            if n in who:
                also[f"broken {v.name}"] = tuple(lines[m] for m in sorted(who) if m != n)
        own_builds = tuple(
            b
            for name, b in builds.items()
            if (b.requested and name == item.name) or (not b.requested and name in forced[n])
        )
        out.append(
            LineCauses(
                item,
                changes=changes,
                broken=own_broken,
                members=tuple(m for m in members if _traced_to(m, item)),
                builds=own_builds,
                also=also,
            )
        )
    return tuple(out)


def _forced(
    starts: Iterable[Requirement], edges: Mapping[str, tuple[Requirement, ...]], moved: Mapping[str, Change]
) -> dict[str, list[SpecifierSet]]:
    """The moved projects reached from ``starts`` through requirements that exclude their installed versions,
    with those requirements' specifiers; unchanged projects are walked through, projects moved for another
    reason are not."""
    out: dict[str, list[SpecifierSet]] = {}
    seen: set[str] = set()
    queue = list(starts)
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        if name not in edges:
            continue  # not in the resolution (a requirement whose marker is false here)
        change = moved.get(name)
        if change is not None:
            if not _excludes(req, change):
                continue
            out.setdefault(name, []).append(req.specifier)
        if name not in seen:
            seen.add(name)
            queue.extend(edges[name])
    return out


def _reached(start: Requirement, edges: Mapping[str, tuple[Requirement, ...]]) -> set[str]:
    seen: set[str] = set()
    queue = [start]
    while queue:
        name = canonicalize_name(queue.pop().name)
        if name in edges and name not in seen:
            seen.add(name)
            queue.extend(edges[name])
    return seen


def _excludes(req: Requirement, change: Change) -> bool:
    """The requirement does not accept what is installed (a new package: anything requiring it brings it)."""
    if change.old is None or req.url or change.kind is ChangeKind.REINSTALL:
        return True
    try:
        return not req.specifier.contains(Version(change.old), prereleases=True)
    except InvalidVersion:
        return True


def _breakers(v: Violation, forced: Sequence[Mapping[str, Sequence[SpecifierSet]]]) -> set[int]:
    """The lines a newly broken requirement is blamed on (indexes into ``forced``)."""
    movers = [n for n, f in enumerate(forced) if v.dependency in f]
    try:
        wanted: SpecifierSet | None = Requirement(v.requirement).specifier
    except InvalidRequirement:
        wanted = None
    alone = [n for n in movers if wanted is None or not _may_meet(wanted, *forced[n][v.dependency])]
    return {*(alone or movers), *(n for n, f in enumerate(forced) if v.name in f)}


def _may_meet(*specs: SpecifierSet) -> bool:
    """Some version satisfies every specifier: tried on the versions they name, just above each, and 0. When no
    such version is among them the answer is "no", which blames the line rather than clear it."""
    tried: set[Version] = {Version("0")}
    for spec in specs:
        for one in spec:
            text = one.version.removesuffix(".*")
            try:
                tried.add(Version(text))
                tried.add(Version(f"{text}.0.0.1"))
            except InvalidVersion:
                continue
    return any(all(spec.contains(version, prereleases=True) for spec in specs) for version in tried)


def _builds(builds: Iterable[SourceBuild]) -> str:
    return _listed(f"{b.name} {b.version} ({b.filename}): {b.outcome()}" for b in builds)


def _where(item: RequestItem, other: RequestItem) -> str:
    """Another line as this line's reader finds it: ``line 4`` in the same file, else the requirement."""
    if other.line is not None and other.origin == item.origin:
        return f"line {other.line}"
    if other.line is not None:
        return f"{other.origin}:{other.line}"
    return str(other.requirement)


def _whole(report: Report, verdict: Verdict) -> str:
    """No single line to blame: the verdict for the analysed lines as a whole, with what changes."""
    p = report.prediction
    parts = [f"{verdict.value} (with the rest of the request)"]
    if report.source_builds:
        parts.append("pip would build from source " + _builds(report.source_builds))
    if p is not None and p.ok:
        changed = [str(c) for c in (*p.downgrades, *p.upgrades, *p.reinstalls)]
        if changed:
            parts.append("pip would change preinstalled " + _listed(changed))
        if p.newly_broken:
            needs = (f"{v.name} {v.version} requires {v.requirement}" for v in p.newly_broken)
            parts.append(
                f"pip would leave {len({v.name for v in p.newly_broken})} newly broken: "
                + _listed(needs, MAX_BROKEN)
            )
    return "; ".join(parts)


def _unresolvable(report: Report) -> list[tuple[RequestItem, str]]:
    conflict = report.prediction.conflict if report.prediction is not None else None
    if conflict is None:
        return []
    reason = _conflict_reason(conflict)
    roots: list[str] = []
    for cause in conflict.causes:
        if cause.role is Role.REQUEST:
            roots.append(cause.name)
        elif cause.chain:
            first = cause.chain[0]
            if first.startswith("The user requested "):
                try:
                    roots.append(Requirement(first.removeprefix("The user requested ")).name)
                except InvalidRequirement:
                    pass
    involved = [item for item in report.request if item.name in {canonicalize_name(r) for r in roots if r}]
    return [(item, reason) for item in involved]


def _conflict_reason(conflict: Conflict) -> str:
    if conflict.unavailable:
        return conflict.reason()
    if conflict.too_deep:
        return "pip would give up: the resolution is too deep (ResolutionTooDeep)"
    if conflict.requires_python:
        return conflict.pip_message().splitlines()[0]
    if len(conflict.causes) == 1 and conflict.causes[0].role is not Role.KEEP:
        cause = conflict.causes[0]
        who = f" (required by {cause.parent} {cause.parent_version})" if cause.parent else ""
        return f"no version of {cause.name} matches {cause.requirement} on this runtime{who}"
    texts = (
        cause.text.replace("The ", "the ", 1) if cause.text.startswith("The ") else cause.text
        for cause in conflict.causes
    )
    return "pip cannot resolve it: " + "; ".join(texts)


def _traced_to(member: Member, item: RequestItem) -> bool:
    """The member's reasons start at this requested requirement (an edge from the request to its project)."""
    return any(
        edge.parent == REQUEST and canonicalize_name(edge.child) == item.name for edge in member.reasons
    )


def _member_text(member: Member) -> str:
    if member.removed:
        return f"{member.name} {member.installed} (must be removed)"
    return f"{member.name} {member.installed} -> {member.moves_to}"


def _listed(texts: Iterable[str], most: int = MAX_LISTED) -> str:
    items = list(dict.fromkeys(texts))
    if len(items) <= most:
        return ", ".join(items)
    return ", ".join(items[:most]) + f" and {len(items) - most} more"
