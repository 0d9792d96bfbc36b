"""The report phrased as sections of lines, once, for every human-facing format (text, markdown, the HTML page).

Order is the reader's: the verdict, then the direct conflicts (what must give, in pip's view), what pip would
change and leave broken (grouped by the change that breaks it), what to do, the knock-on layer, then the rest.
Python-version and wheel-tag causes come first when they apply. The default text fits a screen: long lists are cut
with "and N more"; ``full`` lists everything (the JSON always does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from analyzer.diagnosis.conflict_set import DirectLayer, KnockOnGroup, Member
from analyzer.diagnosis.conflict_set import Verdict as SetVerdict
from analyzer.diagnosis.graph import REQUEST, Edge
from analyzer.diagnosis.pip_prediction import PipPrediction
from analyzer.diagnosis.pipcheck import Violation
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


def render_text(report: Report, *, verbose: bool = False, full: bool = False) -> str:
    """Plain text for people at a terminal: the verdict first, then the sections."""
    lines = [f"{report.verdict.value.upper()}: {report.headline()}", f"runtime: {_runtime_line(report)}"]
    for section in sections(report, verbose=verbose, full=full):
        lines.append("")
        lines.append(
            f"{section.title}:" if section.items or not section.note else f"{section.title}: {section.note}"
        )
        if section.items and section.note:
            lines.append(f"  {section.note}")
        for item in section.items:
            lines.append(f"  {item.text}")
            lines.extend(f"      {detail}" for detail in item.detail)
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, *, verbose: bool = False, full: bool = False) -> str:
    """Markdown for pasting into an issue or a pull request."""
    lines = [
        f"### tfconflict: {report.verdict.value}",
        "",
        f"**{report.headline()}**",
        "",
        f"Runtime: `{_runtime_line(report)}`",
    ]
    for section in sections(report, verbose=verbose, full=full):
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


def sections(report: Report, *, verbose: bool = False, full: bool = False) -> list[Section]:
    """The report's sections; ``full`` lists every item of every list (``verbose`` adds the timings too)."""
    every = verbose or full
    out: list[Section] = []
    if report.verdict is Verdict.NOT_INSTALLABLE and report.installability.blocking:
        out.append(_installability(report))
    if report.source_builds:
        out.append(_source_builds(report))
    cs = report.conflict_set
    # the direct layer leads when it was found; otherwise the whole-image set is what there is to show
    layered = cs is not None and cs.direct is not None and bool(cs.direct.members)
    if cs is not None and cs.direct is not None and cs.verdict is SetVerdict.CONFLICT:
        out.append(_direct(report, cs.direct, every))
    if cs is not None and not layered:
        out.append(_conflict_set(report))
    if report.prediction is not None:
        out.extend(_prediction(report.prediction, report, verbose=every))
    from analyzer.render.options import options_of, options_section  # it builds on this module's Section

    if options_of(report) is not None:  # the options table says what the suggestions said, with each cost
        out.append(options_section(report, full=every))
    elif report.suggestions is not None and report.suggestions.items:
        suggestions = tuple(Item(str(s)) for s in report.suggestions.items)
        out.append(Section("Suggestions", suggestions))
    knock_on = (
        _knock_on(report, cs.direct, every) if layered and cs is not None and cs.direct is not None else []
    )
    background = _background(report, every)
    if every:
        out += [*knock_on, *background]
    elif knock_on or background:  # one line each: what --full lists
        lines = tuple(Item(f"{s.title}: {s.note}") for s in [*knock_on, *background])
        out.append(Section("Also (--full lists each)", lines))
    if report.warnings:
        out.append(Section("Warnings", _first(tuple(Item(w) for w in report.warnings), 3, every)))
    if verbose and report.timings:
        calls = f"; {cs.resolver_calls} resolver calls for the conflicting set" if cs else ""
        timings = tuple(Item(f"{stage}: {seconds:.2f} s") for stage, seconds in report.timings.items())
        out.append(Section("Timings", timings, note=f"total {sum(report.timings.values()):.2f} s{calls}"))
    return out


def _direct(report: Report, direct: DirectLayer, every: bool) -> Section:
    """The direct conflicts: each member's move and the chain from the request to what excludes it."""
    title = "Direct conflicts"
    if direct.fits:
        return Section(
            title, note="none: the request installs with every preinstalled package it reaches kept"
        )
    if direct.unresolvable:
        return Section(
            title, note="none: the request does not resolve even with every preinstalled package free"
        )
    if not direct.members:
        return Section(title, note=f"not found: {direct.doubt or 'no set was shown'}")
    request = _analysed(report)
    count = (
        f"{len(direct.members)} preinstalled package(s) must move for {request} to install with every other"
    )
    if direct.verified:
        note = f"{count} kept (verified: freeing them resolves, keeping any one of them fails)"
    else:
        note = f"{count} kept, but this is not verified: {direct.doubt}"
    if direct.several:
        others = "; ".join(", ".join(a) for a in direct.alternatives)
        note += f"; other minimal sets exist ({others})"
    items = tuple(_member_item(m) for m in direct.members)
    return Section(title, items, note=note)


_ONE_LINE = 100
"""A member whose move and chain fit in this many characters takes one line, else two."""


def _member_item(m: Member) -> Item:
    chain = _chain_line(m)
    one = f"{_move(m)}: {chain}"
    return Item(one) if len(one) <= _ONE_LINE else Item(_move(m), (chain,))


def _move(m: Member) -> str:
    return f"{m.name} {m.installed} -> {m.moves_to}" if m.moves_to else f"{m.name} {m.installed} must go"


def _chain_line(m: Member) -> str:
    """The chain from the request down to the requirement that excludes the installed version, then the member's
    own clashing requirement when that is the cause (``; installed jax 0.5.2 requires numpy>=1.25``)."""
    edges = list(m.reasons)
    path = _path_from_request(edges)
    own = [e for e in edges if e.parent == m.name and e not in path]
    if not path:
        return "; ".join(str(e) for e in edges[:2])
    names = " -> ".join(f"{e.child} {_version_after(e, path)}".strip() for e in path[:-1])
    last = path[-1]
    head = f"the request -> {names}" if names else "the request"
    head += f" requires {last.requirement}"
    if last.child == m.name or not own:
        return head
    return f"{head}; installed {m.name} {m.installed} requires {own[0].requirement}"


def _path_from_request(edges: Sequence[Edge]) -> list[Edge]:
    """The edges from the request downwards, each one's parent the previous one's child, as far as they go."""
    path: list[Edge] = []
    at = REQUEST
    while True:
        step = next((e for e in edges if e.parent == at and e not in path), None)
        if step is None:
            return path
        path.append(step)
        at = step.child


def _version_after(edge: Edge, path: Sequence[Edge]) -> str:
    """The version the path's next edge names for ``edge``'s child (its parent version there)."""
    return next((e.parent_version or "" for e in path if e.parent == edge.child), "")


def _knock_on(report: Report, direct: DirectLayer, every: bool) -> list[Section]:
    """The knock-on layer: a count in the default text; each group and the whole-image set with ``full``."""
    cs = report.conflict_set
    assert cs is not None
    best = cs.best
    whole = (
        f"restoring a consistent image changes {len(best)} package(s)"
        + ("" if best.verified else " (not shown minimal)")
        if best is not None
        else "no whole-image set was shown"
    )
    note = f"moving the direct conflicts leaves {direct.broken} preinstalled package(s) broken; {whole}"
    if not every:
        return [Section("Knock-on", note=note)]
    groups = tuple(Item(_group_head(g), tuple(_needs(v) for v in g.broken)) for g in direct.knock_on)
    whole_image = _conflict_set(report, title="Whole-image set (what restores a consistent image)")
    return [Section("Knock-on", groups, note=note), whole_image]


def _group_head(g: KnockOnGroup) -> str:
    if g.cause is None:
        return f"{len(g.broken)} broken by no direct conflict"
    return f"{g.cause} {g.installed} -> {g.moves_to} breaks {len(g.broken)}"


def _needs(v: Violation, versioned: bool = True) -> str:
    """``albucore 0.0.24 needs >=1.24.4``: the breaking requirement's version part."""
    try:
        spec = str(Requirement(v.requirement).specifier) or "it installed"
    except InvalidRequirement:
        spec = v.requirement
    return f"{v.name}{f' {v.version}' if versioned else ''} needs {spec}"


def _broken_by_cause(p: PipPrediction, every: bool) -> Section:
    """pip's newly broken packages grouped by the change they depend on: ``numpy 2.0.2 -> 1.23.5 breaks 14: ...``."""
    moves: dict[str, str] = {c.name: f"{c.old} -> {c.new}" for c in p.changes}
    groups: dict[str, list[Violation]] = {}
    for v in p.newly_broken:
        groups.setdefault(str(v.dependency), []).append(v)
    items = []
    for dependency, found in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        move = moves.get(dependency) or ("not installed" if found[0].installed is None else "")
        head = " ".join(part for part in (dependency, move, f"breaks {len(found)}") if part)
        needs = [_needs(v, versioned=False) for v in found]
        if every:
            items.append(Item(head, tuple(_needs(v) for v in found)))
        else:
            shown = ", ".join(needs[:3]) + (f", and {len(needs) - 3} more" if len(needs) > 3 else "")
            items.append(Item(f"{head}: {shown}"))
    title = f"Newly broken by the install ({len({v.name for v in p.newly_broken})} package(s))"
    return Section(title, tuple(items))


def _background(report: Report, every: bool) -> list[Section]:
    """What is not the request's doing, or is about the evidence: one line each unless ``every``."""
    p, out = report.prediction, []
    if report.preexisting:
        kept = (
            f"; {len(p.already_broken)} remain after the install, {len(p.fixed)} are fixed by it" if p else ""
        )
        note = f"pip check of the image lists {len(report.preexisting)} violation(s){kept}"
        title = "Already broken before the install (not caused by this request)"
        items = tuple(Item(v.text()) for v in report.preexisting) if every else ()
        out.append(Section(title, items, note=note))
    if p is not None and p.opaque:
        title = "Opaque packages (their requirements are unknown, so they were not checked)"
        out.append(Section(title, note=_listed(p.opaque, 6, every)))
    routes, origins = report.requirement_routes, report.requirements_from
    if set(routes) - {"wheel", "declared"} or set(origins) - {"index"}:
        said = ", ".join(f"{n} {_ROUTE_WORDS.get(route, route)}" for route, n in routes.items())
        read = ", ".join(f"{n} {_ORIGIN_WORDS.get(where, where)}" for where, n in origins.items())
        note = f"{said} (read: {read})" if read else said
        out.append(Section("Where the image's requirements came from", note=note))
    return out


def _listed(names: Sequence[str], limit: int, every: bool) -> str:
    if every or len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


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


def _source_builds(report: Report) -> Section:
    items = []
    for build in report.source_builds:
        who = "requested" if build.requested else "pulled in by the request"
        items.append(Item(f"{build.name} {build.version} ({who}) from {build.filename}", build.details()))
    note = "pip builds these from their sdists; tfconflict reads the archives but never runs a build"
    return Section("Built from source", tuple(items), note=note)


def _conflict_set(report: Report, title: str = "Minimal conflicting set") -> Section:
    cs = report.conflict_set
    assert cs is not None
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
        return Section(
            title,
            note="no set to show: the search stopped at its budget (raise --budget)"
            if stopped
            else "not searched",
        )
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
            head = (
                f"{m.name} {m.installed} left out of the resolution that fitted (not shown that it must go)"
            )
        else:
            head = f"{m.name} {m.installed} -> {m.moves_to}"
        items.append(Item(head, tuple(str(edge) for edge in m.reasons)))
    if cs.several:
        items += [
            Item("another minimal set: " + ", ".join(str(m.name) for m in s.members)) for s in cs.sets[1:]
        ]
    return Section(title, tuple(items), note=note)


def _prediction(p: PipPrediction, report: Report, *, verbose: bool = False) -> list[Section]:
    request = _analysed(report)
    title = f"What pip would do (pip install {request})"
    if not p.ok:
        lines = p.conflict.pip_message().splitlines() if p.conflict is not None else []
        items = tuple(Item(line) for line in lines if line.strip())
        out = [Section(title, items, note="pip would fail: ResolutionImpossible")]
        if p.conflict is not None and p.conflict.unavailable:
            deepest = tuple(Item(u.reason(), u.chains[0]) for u in p.conflict.unavailable)
            out.append(Section("Why: a dependency has no version for this runtime", deepest))
        return out
    changes = {
        "downgrade": p.downgrades,
        "upgrade": p.upgrades,
        "reinstall": p.reinstalls,
        "install": p.installs,
    }
    items = tuple(Item(f"{label} {change}") for label, group in changes.items() for change in group)
    note = "" if items else "nothing to change: every requirement is already satisfied"
    items = _first(items, 12, verbose)
    out = [Section(title, items, note=note)]
    if p.newly_broken:
        out.append(_broken_by_cause(p, verbose))
    if p.extras_broken:
        note = (
            "pip check does not read extras, so pip prints none of these; the packages asking still need them"
        )
        items = tuple(Item(v.future_text()) for v in p.extras_broken)
        out.append(Section("Extras the image uses, newly unmet", items, note))
    if p.severe:
        title = "Severe: the notebook kernel may not survive this"
        out.append(Section(title, tuple(Item(str(s)) for s in p.severe)))
    return out


_ORIGIN_WORDS = {
    "snapshot": "from the snapshot itself",
    "table": "from the source's requirements table",
    "index": "from the index",
}

_ROUTE_WORDS = {
    "wheel": "from the wheel pip installs",
    "declared": "declared outside the index",
    "dist-info": "from the installed distribution's own METADATA (captured)",
    "sdist-pkg-info": "from an sdist's static PKG-INFO",
    "sdist-pkg-info-not-guaranteed": "from an sdist's PKG-INFO (not guaranteed)",
    "sdist-egg-info": "from an sdist's egg-info (not guaranteed)",
    "other-wheel": "from the version's wheel for another target (not guaranteed)",
    "unknown": "unknown",
}


def _first(items: tuple[Item, ...], limit: int, verbose: bool) -> tuple[Item, ...]:
    """A long list cut to its first lines, saying how many were left out (``--full`` and JSON list them all)."""
    if verbose or len(items) <= limit:
        return items
    return (*items[:limit], Item(f"... and {len(items) - limit} more (--full lists them all)"))


def _analysed(report: Report) -> str:
    """The request pip's part was computed for: the lines left out (a typo, no such version) are not in it."""
    return " ".join(str(i.requirement) for i in report.request if i not in report.left_out)
