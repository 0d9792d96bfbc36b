"""The "What to do" section: the requested project's versions with their cost here, the notebook command for each,
and the named runtime versions where the exact request installs as it is."""

from __future__ import annotations

from analyzer.diagnosis.options import RESTART, Option, Options
from analyzer.render.sections import Item, Section
from analyzer.report import Report

__all__ = ["TITLE", "options_section"]

TITLE = "What to do"


def options_of(report: Report) -> Options | None:
    """The report's options (computed with the suggestions: only when the request does not fit as is)."""
    return report.suggestions.options if report.suggestions is not None else None


def options_section(report: Report, *, full: bool = True) -> Section:
    """One line per version (its cost; ``requested`` and ``installed`` marked), its ``%pip`` command under it, then
    where the exact request fits as is among the named runtime versions checked. Without ``full`` only the
    requested version shows its command (the others differ only in the version)."""
    found = options_of(report)
    if found is None or not (found.versions or found.runtimes_checked):
        return Section(TITLE, note="no options computed")
    items = [_version_item(o, full or o.requested) for o in found.versions]
    if found.runtimes_checked:
        request = " ".join(str(i.requirement) for i in report.request)
        fitting = [r.label for r in found.runtimes if r.fits]
        head = (
            f"{request} fits as is on: {', '.join(fitting)}"
            if fitting
            else f"{request} fits as is on none of the {found.runtimes_checked} named runtime versions checked"
        )
        detail = _runtime_lines(found)
        items.append(Item(head, detail))
    note = (
        "cut short: not every nearby version or runtime version was tried (--budget bounds the time)"
        if found.exhausted
        else ""
    )
    return Section(TITLE, tuple(items), note=note)


def _runtime_lines(found: Options) -> tuple[str, ...]:
    """One line per verdict: runtime versions answered alike (same verdict, detail and Python ``X.Y``) share it."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for r in found.runtimes:
        python = ".".join(r.python.split(".")[:2])
        groups.setdefault((r.verdict, r.detail, python), []).append(r.label)
    return tuple(
        f"{', '.join(labels)}, Python {python}: {verdict}{f' ({detail})' if detail else ''}"
        for (verdict, detail, python), labels in groups.items()
    )


def _version_item(option: Option, command: bool = True) -> Item:
    marks = [m for m, on in (("installed", option.installed), ("requested", option.requested)) if on]
    marked = f" ({', '.join(marks)})" if marks else ""
    head = f"{option.name} {option.version}{marked}: {option.cost()}"
    if option.restart:
        names = ", ".join(option.restart[:3]) + (
            f" and {len(option.restart) - 3} more" if len(option.restart) > 3 else ""
        )
        head += f"; {RESTART} (it changes {names})"
    if not command or not option.installs or (option.installed and option.free):
        return Item(head)
    return Item(head, (option.command,))
