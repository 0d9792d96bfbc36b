"""Plain text for people at a terminal: the verdict first, then the sections."""

from __future__ import annotations

from analyzer.render.sections import runtime_line, sections
from analyzer.report import Report


def render_text(report: Report, *, verbose: bool = False) -> str:
    lines = [f"{report.verdict.value.upper()}: {report.headline()}", f"runtime: {runtime_line(report)}"]
    for section in sections(report, verbose=verbose):
        lines.append("")
        lines.append(f"{section.title}:" if section.items or not section.note else f"{section.title}: {section.note}")
        if section.items and section.note:
            lines.append(f"  {section.note}")
        for item in section.items:
            lines.append(f"  {item.text}")
            lines.extend(f"      {detail}" for detail in item.detail)
    return "\n".join(lines) + "\n"
