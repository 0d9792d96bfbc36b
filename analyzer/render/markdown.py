"""Markdown for pasting into an issue or a pull request."""

from __future__ import annotations

from analyzer.render.sections import runtime_line, sections
from analyzer.report import Report


def render_markdown(report: Report, *, verbose: bool = False) -> str:
    lines = [
        f"### tfconflict: {report.verdict.value}",
        "",
        f"**{report.headline()}**",
        "",
        f"Runtime: `{runtime_line(report)}`",
    ]
    for section in sections(report, verbose=verbose):
        lines += ["", f"#### {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        for item in section.items:
            lines.append(f"- `{item.text}`" if not item.detail else f"- **{item.text}**")
            lines.extend(f"  - {detail}" for detail in item.detail)
    return "\n".join(lines) + "\n"
