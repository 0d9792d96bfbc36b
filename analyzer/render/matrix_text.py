"""The matrix as plain text: the turning points first (what a reader asks), then one line per distinct release."""

from __future__ import annotations

from analyzer.matrix.model import Matrix, MatrixRow, SetStatus

__all__ = ["NOT_COMPUTED_NOTE", "folded_text", "matrix_title", "render_matrix_text", "set_text", "verdict_text"]

NOT_COMPUTED_NOTE = (
    "minimal conflicting sets are searched at the turning points and the latest release (--sets all: every row "
    "that changes something); 'not computed' means no search ran for that row"
)


def matrix_title(matrix: Matrix) -> str:
    request = ", ".join(str(i) for i in matrix.request)
    span = ""
    if matrix.rows:
        span = f" from {matrix.rows[0].day.isoformat()} to {matrix.rows[-1].day.isoformat()}"
    folded = matrix.releases - len(matrix.rows)
    same = f" ({folded} identical to the release before, folded)" if folded else ""
    return f"{request} on {matrix.source} {matrix.kind} releases{span}: {matrix.releases} release(s){same}"


def set_text(row: MatrixRow) -> str:
    """The row's conflicting set in words, saying how it was obtained."""
    status = row.set_status
    if status is SetStatus.NONE:
        return "-"
    if status is SetStatus.NOT_COMPUTED:
        return "not computed"
    members = ", ".join(m.text for m in row.set_members)
    more = ", ..." if row.set_size is not None and row.set_size > len(row.set_members) else ""
    how = {
        SetStatus.NOT_MINIMAL: " (not shown minimal)",
        SetStatus.REUSED: f" (as {row.set_from_name or row.set_from})",
    }.get(status, "")
    return f"{row.set_size}{how}: {members}{more}"


def folded_text(row: MatrixRow) -> str:
    """The releases folded into the row, and the earlier row it shares its freeze with."""
    folded = f" (+{len(row.folded)} identical)" if row.folded else ""
    return folded + (f" (same freeze as {row.same_as_name or row.same_as})" if row.same_as else "")


def verdict_text(row: MatrixRow) -> str:
    return row.verdict_text if row.error is None else f"error: {row.error}"


def _line(row: MatrixRow, width: int) -> str:
    return f"  {row.label:<{width}} {row.python:<8} {verdict_text(row):<32} {set_text(row)}{folded_text(row)}"


def render_matrix_text(matrix: Matrix, *, verbose: bool = False) -> str:
    out = [matrix_title(matrix), ""]
    if matrix.turning_points:
        out.append("Turning points:")
        for point in matrix.turning_points:
            mark = " [stopped fitting]" if point.stopped_fitting else ""
            out.append(f"  {point.sentence}{mark}")
    elif matrix.rows:
        out.append(f"No turning point: every release answers {matrix.rows[0].verdict_text}.")
    out.append("")
    width = max([len("release"), *(len(r.label) for r in matrix.rows)])
    out.append(f"  {'release':<{width}} {'python':<8} {'verdict':<32} minimal conflicting set")
    out.extend(_line(row, width) for row in matrix.rows)
    notes: list[str] = []
    if any(r.set_status is SetStatus.NOT_COMPUTED for r in matrix.rows):
        notes.append(NOT_COMPUTED_NOTE)
    if matrix.warnings or notes:
        out.append("")
        out.append("Notes:")
        out.extend(f"  {w}" for w in (*notes, *matrix.warnings))
    if verbose and matrix.timings:
        out.append("")
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in matrix.timings.items())
        out.append(f"Timings ({matrix.workers} worker(s)): {timings}")
    return "\n".join(out) + "\n"
