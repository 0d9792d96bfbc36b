"""The report phrased as sections of lines, once, for every human-facing format (text and markdown).

Order is the reader's: the verdict, then the minimal conflicting set (what must give), then what pip would do and
leave broken, then suggestions, then warnings. Python-version and wheel-tag causes come first when they apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.diagnosis.conflict_set import ConflictSet
from analyzer.diagnosis.conflict_set import Verdict as SetVerdict
from analyzer.diagnosis.pip_prediction import PipPrediction
from analyzer.report import Report, Verdict, blocking_reason


@dataclass(frozen=True)
class Item:
    """A line with optional indented detail lines under it (a reason chain, evidence)."""

    text: str
    detail: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[Item, ...] = field(default_factory=tuple)
    note: str = ""


def runtime_line(report: Report) -> str:
    rt = report.runtime
    date = f", {rt.date.date().isoformat()}" if rt.date else ""
    return f"{rt.id} ({rt.kind}{date}): {rt.platform}; Python from {rt.python_evidence}; {rt.packages} packages"


def sections(report: Report, *, verbose: bool = False) -> list[Section]:
    out: list[Section] = []
    if report.verdict is Verdict.NOT_INSTALLABLE:
        out.append(_installability(report))
    if report.conflict_set is not None:
        out.append(_conflict_set(report))
    if report.prediction is not None:
        out.extend(_prediction(report.prediction, report))
    if report.suggestions is not None and report.suggestions.items:
        out.append(
            Section("Suggestions", tuple(Item(str(s)) for s in report.suggestions.items))
        )
    if report.warnings:
        out.append(Section("Warnings", tuple(Item(w) for w in report.warnings)))
    if verbose and report.timings:
        cs = report.conflict_set
        calls = f"; {cs.resolver_calls} resolver calls for the conflicting set" if cs else ""
        out.append(
            Section(
                "Timings",
                tuple(Item(f"{stage}: {seconds:.2f} s") for stage, seconds in report.timings.items()),
                note=f"total {sum(report.timings.values()):.2f} s{calls}",
            )
        )
    return out


def _installability(report: Report) -> Section:
    items = []
    for item in report.installability.blocking:
        detail = []
        if item.evidence:
            detail.append(f"distributions of the matching versions: {item.evidence}")
        if item.alternatives:
            detail.append(
                "nearest versions that install here: " + ", ".join(str(v) for v in item.alternatives)
            )
        if item.latest_installable and item.latest_installable not in item.alternatives:
            detail.append(f"latest version that installs here: {item.latest_installable}")
        if item.fitting_releases:
            detail.append("runtimes whose Python fits: " + ", ".join(item.fitting_releases[:6]))
        items.append(Item(f"{item.requirement}: {blocking_reason(item)}", tuple(detail)))
    return Section(f"Not installable on {report.installability.target}", tuple(items))


def _set_items(found: ConflictSet) -> tuple[Item, ...]:
    items = []
    for m in found.members:
        if m.removed and found.verified:
            head = f"{m.name} {m.installed} must be removed (no version of it fits)"
        elif m.removed:
            # a search cut by its budget: the resolution that fitted left it out, which proves nothing about it
            head = f"{m.name} {m.installed} left out of the resolution that fitted (not shown that it must go)"
        else:
            head = f"{m.name} {m.installed} -> {m.moves_to}"
        items.append(Item(head, tuple(str(edge) for edge in m.reasons)))
    return tuple(items)


def _conflict_set(report: Report) -> Section:
    cs = report.conflict_set
    assert cs is not None
    title = "Minimal conflicting set"
    if cs.verdict is SetVerdict.FITS:
        return Section(title, note="none: the request fits with every preinstalled package at its version")
    if cs.verdict is SetVerdict.UNRESOLVABLE:
        return Section(
            title,
            note="none: the request does not resolve even with the image's packages free, so the image is not "
            "the cause (see what pip would do)",
        )
    best = cs.best
    if best is None:
        return Section(title, note="not searched")
    if best.verified:
        note = (
            f"{len(best)} of {report.runtime.packages} preinstalled packages must change for the request to fit "
            "(verified: freeing them fits, keeping any one of them fails)"
        )
    else:
        note = (
            f"changing these {len(best)} of {report.runtime.packages} preinstalled packages is enough for the "
            "request to fit, but the search stopped at its budget before showing which of them must change "
            "(raise --budget)"
        )
    items = list(_set_items(best))
    if cs.several:
        for other in cs.sets[1:]:
            items.append(
                Item("another minimal set: " + ", ".join(str(m.name) for m in other.members))
            )
    return Section(title, tuple(items), note=note)


def _prediction(p: PipPrediction, report: Report) -> list[Section]:
    request = " ".join(str(i.requirement) for i in report.request)
    out: list[Section] = []
    title = f"What pip would do (pip install {request})"
    if not p.ok:
        lines = p.conflict.pip_message().splitlines() if p.conflict is not None else []
        out.append(
            Section(title, tuple(Item(line) for line in lines if line.strip()), note="pip would fail: ResolutionImpossible")
        )
        return out
    items = []
    for label, changes in (
        ("downgrade", p.downgrades),
        ("upgrade", p.upgrades),
        ("reinstall", p.reinstalls),
        ("install", p.installs),
    ):
        for change in changes:
            items.append(Item(f"{label} {change}"))
    note = "" if items else "nothing to change: every requirement is already satisfied"
    out.append(Section(title, tuple(items), note=note))
    if p.newly_broken:
        out.append(
            Section(
                "Newly broken by the install",
                tuple(Item(v.future_text()) for v in p.newly_broken),
                note=f"{len({v.name for v in p.newly_broken})} preinstalled package(s) pip would leave broken",
            )
        )
    if p.severe:
        out.append(
            Section(
                "Severe: the notebook kernel may not survive this",
                tuple(Item(str(s)) for s in p.severe),
            )
        )
    if report.preexisting:
        still = len(p.already_broken)
        out.append(
            Section(
                "Already broken before the install (not caused by this request)",
                tuple(Item(v.text()) for v in report.preexisting[:5]),
                note=f"pip check of the image lists {len(report.preexisting)} violation(s); {still} remain after "
                f"the install, {len(p.fixed)} are fixed by it",
            )
        )
    if p.opaque:
        out.append(
            Section(
                "Opaque packages (their requirements are unknown, so they were not checked)",
                (Item(", ".join(p.opaque)),),
            )
        )
    return out
