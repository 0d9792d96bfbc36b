"""The matrix as GitHub-flavoured markdown: the turning points as a list, the releases as a table."""

from __future__ import annotations

from analyzer.matrix.model import Matrix, MatrixRow
from analyzer.render.matrix_text import folded_text, matrix_title, set_text, verdict_text

__all__ = ["render_matrix_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(row: MatrixRow) -> str:
    cells = (row.label + folded_text(row), row.python, verdict_text(row), set_text(row))
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def render_matrix_markdown(matrix: Matrix, *, verbose: bool = False) -> str:
    out = [f"### {_cell(matrix_title(matrix))}", ""]
    if matrix.turning_points:
        out.append("**Turning points**")
        out.append("")
        for point in matrix.turning_points:
            mark = " **(stopped fitting)**" if point.stopped_fitting else ""
            out.append(f"- {_cell(point.sentence)}{mark}")
        out.append("")
    out.append("| release | Python | verdict | minimal conflicting set |")
    out.append("|---|---|---|---|")
    out.extend(_row(r) for r in matrix.rows)
    if matrix.warnings:
        out.append("")
        out.extend(f"> {_cell(w)}" for w in matrix.warnings)
    if verbose and matrix.timings:
        out.append("")
        out.append("Timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in matrix.timings.items()))
    return "\n".join(out) + "\n"
