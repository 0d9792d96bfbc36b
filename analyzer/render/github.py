"""GitHub Actions workflow commands: a report is about a whole request, review needs it per line, so
:func:`findings` splits it into one finding per requested requirement in trouble (the hook prints them as
``FILE:LINE: message``) and :func:`render_github` phrases them as ``::error file=F,line=L,title=T::msg``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from analyzer.config import fails
from analyzer.diagnosis.conflict_set import Member
from analyzer.diagnosis.graph import REQUEST
from analyzer.report import Report, Verdict, blocking_reason, build_reason
from analyzer.request import RequestItem
from analyzer.resolver import Conflict, Role

__all__ = ["Finding", "escape_data", "escape_property", "findings", "render_github", "workflow_command"]

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
    """The requested requirements that take part in the trouble, each with its reason in one sentence.

    Which lines: the blocking projects (not installable), the requirements at the root of pip's conflict
    (unresolvable), or those the minimal conflicting set traces its members to, and those naming a preinstalled
    package pip would change (breaks, changes). When no line can be singled out, the first requirement carries
    the whole verdict, so a failure is never without a line.
    """
    verdict = report.verdict
    if verdict is Verdict.FITS:
        return ()
    severity = "error" if fails(verdict.value, fail_on) else "warning"
    if verdict is Verdict.NOT_INSTALLABLE:
        pairs = _not_installable(report)
    elif verdict is Verdict.UNRESOLVABLE:
        pairs = _unresolvable(report)
    elif verdict is Verdict.BUILDS_FROM_SOURCE:
        pairs = _builds(report)
    else:
        pairs = _changes(report)
    if not pairs and report.request:
        pairs = [(report.request[0], _whole(report))]
    return tuple(
        Finding(
            severity,
            f"{item.requirement} conflicts with the runtime: {reason}",
            file=None if item.line is None else item.origin,
            line=item.line,
        )
        for item, reason in pairs
    )


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


def _builds(report: Report) -> list[tuple[RequestItem, str]]:
    """A requested project built from source carries its own build; the builds of dependencies go to the first
    requested line, since which line pulls them in is not traced here."""
    builds = report.source_builds
    own = {b.name: b for b in builds if b.requested}
    out = [
        (item, f"pip would build {b.filename} from source: {b.outcome()}")
        for item in report.request
        if (b := own.get(item.name)) is not None
    ]
    others = [f"{b.name} {b.version} ({b.filename}): {b.outcome()}" for b in builds if not b.requested]
    if others and report.request:
        out.append((report.request[0], "pip would build from source " + _listed(others)))
    return out


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


def _changes(report: Report) -> list[tuple[RequestItem, str]]:
    """With a minimal conflicting set, each line gets the members traced to it; without one (the hook's fast
    path), the lines pip would install or change carry what pip changes in the image."""
    p = report.prediction
    assert p is not None
    moved = {c.name: c for c in (*p.downgrades, *p.upgrades, *p.reinstalls)}
    best = report.conflict_set.best if report.conflict_set is not None else None
    broken = _broken(report)
    out: list[tuple[RequestItem, str]] = []
    if best is not None:
        for item in report.request:
            own = [m for m in best.members if _traced_to(m, item)]
            if own:
                parts = ["preinstalled packages must change: " + _listed(_member_text(m) for m in own)]
            elif item.name in moved:
                parts = [f"pip would change preinstalled {moved[item.name]}"]
            else:
                continue
            out.append((item, "; ".join([*parts, broken] if broken else parts)))
        return out
    touched = {c.name for c in p.changes}
    parts = ["pip would change preinstalled " + _listed(str(c) for c in moved.values())] if moved else []
    if broken:
        parts.append(broken)
    if parts:
        out.extend((item, "; ".join(parts)) for item in report.request if item.name in touched)
    return out


def _broken(report: Report) -> str:
    p = report.prediction
    if p is None or not p.newly_broken:
        return ""
    names = sorted({f"{v.name} {v.version}" for v in p.newly_broken})
    needs = (f"{v.name} {v.version} requires {v.requirement}" for v in p.newly_broken)
    return f"pip would leave {len(names)} newly broken: " + _listed(needs)


def _whole(report: Report) -> str:
    """No single line to blame: the verdict for the request as a whole, with what changes."""
    p = report.prediction
    parts = [f"{report.verdict.value} (with the rest of the request)"]
    if p is not None and p.ok:
        changed = [str(c) for c in (*p.downgrades, *p.upgrades, *p.reinstalls)]
        if changed:
            parts.append("pip would change preinstalled " + _listed(changed))
        broken = _broken(report)
        if broken:
            parts.append(broken)
    return "; ".join(parts)


def _traced_to(member: Member, item: RequestItem) -> bool:
    """The member's reasons start at this requested requirement (an edge from the request to its project)."""
    return any(
        edge.parent == REQUEST and canonicalize_name(edge.child) == item.name for edge in member.reasons
    )


def _member_text(member: Member) -> str:
    if member.removed:
        return f"{member.name} {member.installed} (must be removed)"
    return f"{member.name} {member.installed} -> {member.moves_to}"


def _listed(texts: Iterable[str]) -> str:
    items = list(dict.fromkeys(texts))
    if len(items) <= MAX_LISTED:
        return ", ".join(items)
    return ", ".join(items[:MAX_LISTED]) + f" and {len(items) - MAX_LISTED} more"
