"""The report phrased as sections of lines, once, for every human-facing format (text, markdown, the HTML page).

Order is the reader's: the verdict, then the minimal conflicting set (what must give), then what pip would do and
leave broken, then suggestions, then warnings. Python-version and wheel-tag causes come first when they apply.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    items: tuple[Item, ...] = ()
    note: str = ""


def render_text(report: Report, *, verbose: bool = False) -> str:
    """Plain text for people at a terminal: the verdict first, then the sections."""
    lines = [f"{report.verdict.value.upper()}: {report.headline()}", f"runtime: {_runtime_line(report)}"]
    for section in sections(report, verbose=verbose):
        lines.append("")
        lines.append(f"{section.title}:" if section.items or not section.note else f"{section.title}: {section.note}")
        if section.items and section.note:
            lines.append(f"  {section.note}")
        for item in section.items:
            lines.append(f"  {item.text}")
            lines.extend(f"      {detail}" for detail in item.detail)
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, *, verbose: bool = False) -> str:
    """Markdown for pasting into an issue or a pull request."""
    lines = [
        f"### tfconflict: {report.verdict.value}",
        "",
        f"**{report.headline()}**",
        "",
        f"Runtime: `{_runtime_line(report)}`",
    ]
    for section in sections(report, verbose=verbose):
        lines += ["", f"#### {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        for item in section.items:
            lines.append(f"- `{item.text}`" if not item.detail else f"- **{item.text}**")
            lines.extend(f"  - {detail}" for detail in item.detail)
    return "\n".join(lines) + "\n"


def _runtime_line(report: Report) -> str:
    rt = report.runtime
    if rt.label != rt.id:  # a named release: its name says kind and date; the exact selector follows
        where = f"{rt.label}, release {rt.id}"
    else:
        where = f"{rt.id} ({rt.kind}{f', {rt.date.date().isoformat()}' if rt.date else ''})"
    return f"{where}: {rt.platform}; Python from {rt.python_evidence}; {rt.packages} packages"


def sections(report: Report, *, verbose: bool = False) -> list[Section]:
    out: list[Section] = []
    if report.verdict is Verdict.NOT_INSTALLABLE and report.installability.blocking:
        out.append(_installability(report))
    if report.source_builds:
        out.append(_source_builds(report))
    if report.conflict_set is not None:
        out.append(_conflict_set(report))
    if report.prediction is not None:
        out.extend(_prediction(report.prediction, report, verbose=verbose))
    from analyzer.render.options import options_of, options_section  # it builds on this module's Section

    if options_of(report) is not None:  # the options table says what the suggestions said, with each cost
        out.append(options_section(report))
    elif report.suggestions is not None and report.suggestions.items:
        suggestions = tuple(Item(str(s)) for s in report.suggestions.items)
        out.append(Section("Suggestions", suggestions))
    if report.warnings:
        out.append(Section("Warnings", tuple(Item(w) for w in report.warnings)))
    if verbose and report.timings:
        cs = report.conflict_set
        calls = f"; {cs.resolver_calls} resolver calls for the conflicting set" if cs else ""
        timings = tuple(Item(f"{stage}: {seconds:.2f} s") for stage, seconds in report.timings.items())
        out.append(Section("Timings", timings, note=f"total {sum(report.timings.values()):.2f} s{calls}"))
    return out


def _installability(report: Report) -> Section:
    items = []
    for item in report.installability.blocking:
        detail = []
        if item.evidence:
            detail.append(f"distributions of the matching versions: {item.evidence}")
        if item.alternatives:
            detail.append("nearest versions that install here: " + ", ".join(str(v) for v in item.alternatives))
        if item.latest_installable and item.latest_installable not in item.alternatives:
            detail.append(f"latest version that installs here: {item.latest_installable}")
        if item.fitting_releases:
            detail.append("runtimes whose Python fits: " + ", ".join(item.fitting_releases[:6]))
        items.append(Item(f"{item.requirement}: {blocking_reason(item)}", tuple(detail)))
    return Section(f"Not installable on {report.installability.target}", tuple(items))


def _source_builds(report: Report) -> Section:
    items = []
    for build in report.source_builds:
        who = "requested" if build.requested else "pulled in by the request"
        items.append(Item(f"{build.name} {build.version} ({who}) from {build.filename}", build.details()))
    note = "pip builds these from their sdists; tfconflict reads the archives but never runs a build"
    return Section("Built from source", tuple(items), note=note)


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
        stopped = cs.verdict is SetVerdict.CONFLICT and any("budget" in w for w in cs.warnings)
        return Section(title, note="no set to show: the search stopped at its budget (raise --budget)" if stopped
                       else "not searched")
    if best.verified:
        note = (
            f"{len(best)} of {report.runtime.packages} preinstalled packages must change for the request to fit "
            "(verified: freeing them fits, keeping any one of them fails)"
        )
    else:
        note = (
            f"changing these {len(best)} of {report.runtime.packages} preinstalled packages is enough for the "
            f"request to fit, but not shown minimal: {best.doubt or 'the search stopped at its budget'}"
        )
    items = []
    for m in best.members:
        if m.removed and best.verified:
            head = f"{m.name} {m.installed} must be removed (no version of it fits)"
        elif m.removed:
            # a search cut by its budget: the resolution that fitted left it out, which proves nothing about it
            head = f"{m.name} {m.installed} left out of the resolution that fitted (not shown that it must go)"
        else:
            head = f"{m.name} {m.installed} -> {m.moves_to}"
        items.append(Item(head, tuple(str(edge) for edge in m.reasons)))
    if cs.several:
        items += [Item("another minimal set: " + ", ".join(str(m.name) for m in s.members)) for s in cs.sets[1:]]
    return Section(title, tuple(items), note=note)


def _prediction(p: PipPrediction, report: Report, *, verbose: bool = False) -> list[Section]:
    request = " ".join(str(i.requirement) for i in report.request)
    title = f"What pip would do (pip install {request})"
    if not p.ok:
        lines = p.conflict.pip_message().splitlines() if p.conflict is not None else []
        items = tuple(Item(line) for line in lines if line.strip())
        out = [Section(title, items, note="pip would fail: ResolutionImpossible")]
        if p.conflict is not None and p.conflict.unavailable:
            deepest = tuple(Item(u.reason(), u.chains[0]) for u in p.conflict.unavailable)
            out.append(Section("Why: a dependency has no version for this runtime", deepest))
        return out
    changes = {"downgrade": p.downgrades, "upgrade": p.upgrades, "reinstall": p.reinstalls, "install": p.installs}
    items = tuple(Item(f"{label} {change}") for label, group in changes.items() for change in group)
    note = "" if items else "nothing to change: every requirement is already satisfied"
    out = [Section(title, items, note=note)]
    if p.newly_broken:
        note = f"{len({v.name for v in p.newly_broken})} preinstalled package(s) pip would leave broken"
        out.append(Section("Newly broken by the install", tuple(Item(v.future_text()) for v in p.newly_broken), note))
    if p.extras_broken:
        note = "pip check does not read extras, so pip prints none of these; the packages asking still need them"
        items = tuple(Item(v.future_text()) for v in p.extras_broken)
        out.append(Section("Extras the image uses, newly unmet", items, note))
    if p.severe:
        title = "Severe: the notebook kernel may not survive this"
        out.append(Section(title, tuple(Item(str(s)) for s in p.severe)))
    if report.preexisting:
        out.append(
            Section(
                "Already broken before the install (not caused by this request)",
                _first(tuple(Item(v.text()) for v in report.preexisting), 5, verbose),
                note=f"pip check of the image lists {len(report.preexisting)} violation(s); "
                f"{len(p.already_broken)} remain after the install, {len(p.fixed)} are fixed by it",
            )
        )
    if p.opaque:
        title = "Opaque packages (their requirements are unknown, so they were not checked)"
        out.append(Section(title, (Item(", ".join(p.opaque)),)))
    routes = report.requirement_routes
    if set(routes) - {"wheel", "declared"}:
        said = ", ".join(f"{n} {_ROUTE_WORDS.get(route, route)}" for route, n in routes.items())
        out.append(Section("Where the image's requirements came from", (Item(said),)))
    return out


_ROUTE_WORDS = {
    "wheel": "from the wheel pip installs",
    "declared": "declared outside the index",
    "sdist-pkg-info": "from an sdist's static PKG-INFO",
    "sdist-pkg-info-not-guaranteed": "from an sdist's PKG-INFO (not guaranteed)",
    "sdist-egg-info": "from an sdist's egg-info (not guaranteed)",
    "other-wheel": "from the version's wheel for another target (not guaranteed)",
    "unknown": "unknown",
}


def _first(items: tuple[Item, ...], limit: int, verbose: bool) -> tuple[Item, ...]:
    """A long list cut to its first lines, saying how many were left out (``-v`` and JSON list them all)."""
    if verbose or len(items) <= limit:
        return items
    return (*items[:limit], Item(f"... and {len(items) - limit} more (-v lists them all)"))
