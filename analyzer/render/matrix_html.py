"""The matrix as one self-contained HTML page: the verdict first, a timeline chart of the verdicts across releases,
the turning points in plain words, the reason chains of one chosen release, and every row.

jinja2 lays the page out (autoescape on: package names and specifiers are data, never markup) and matplotlib draws
the chart as SVG, inlined, so the file opens offline: no script, no font, no stylesheet is fetched. Both come with
the ``html`` extra and are imported only when a page is rendered.
"""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from analyzer import __version__
from analyzer.errors import InputError, TfconflictError
from analyzer.matrix.model import Matrix, MatrixRow, SetStatus, TurningPoint
from analyzer.render.sections import sections

__all__ = [
    "SET_COLOR", "VERDICT_STYLE", "HtmlUnavailable", "default_release", "render_matrix_html",
    "require_html_libraries", "stop_point",
]


class HtmlUnavailable(TfconflictError):
    """jinja2 or matplotlib is missing: the HTML report needs the ``html`` extra."""


@dataclass(frozen=True)
class VerdictStyle:
    label: str
    color: str
    meaning: str


VERDICT_STYLE: dict[str, VerdictStyle] = {
    "fits": VerdictStyle("fits", "#2e7d32", "pip would install it without touching any preinstalled package"),
    "changes": VerdictStyle(
        "changes", "#ef8f00", "pip would upgrade or downgrade preinstalled packages, leaving none broken"
    ),
    "breaks": VerdictStyle(
        "breaks",
        "#c62828",
        "pip would install it and leave preinstalled packages with requirements no longer met",
    ),
    "builds-from-source": VerdictStyle(
        "builds from source", "#8d6e63", "pip would build an sdist: the outcome depends on a build never run here"
    ),
    "unresolvable": VerdictStyle(
        "unresolvable", "#6a1b9a", "pip would fail: the requirements cannot all be met"
    ),
    "not-installable": VerdictStyle(
        "not installable", "#37474f", "no distribution of the request installs on this Python and platform"
    ),
    "error": VerdictStyle("error", "#000000", "this release could not be checked (the row says why)"),
}
"""Lanes of the chart, top to bottom: the further down, the worse."""

SET_COLOR = "#5c6bc0"
"""The bars of the conflicting set's size: a colour used nowhere else on the page (the browser test looks for it)."""

BACKGROUND = ("Already broken", "Opaque", "Warnings")
"""Sections of a report that are not about the request: shown folded under the reasons."""

def _key(row: MatrixRow) -> str:
    return row.verdict.value if row.verdict is not None else "error"


def _day(row: MatrixRow) -> str:
    return row.date.date().isoformat()


def _anchor(row: MatrixRow) -> str:
    return "row-" + re.sub(r"[^A-Za-z0-9_-]", "-", row.release)


def _lanes(rows: tuple[MatrixRow, ...]) -> list[str]:
    """The verdicts' lanes, the error lane only when a row failed."""
    return [k for k in VERDICT_STYLE if k != "error" or any(r.verdict is None for r in rows)]


def _request(matrix: Matrix) -> str:
    return " ".join(str(item.requirement) for item in matrix.request)


def default_release(matrix: Matrix) -> MatrixRow | None:
    """The row whose reasons matter most: where the request stopped fitting, else the latest change of verdict,
    else the latest release."""
    point = stop_point(matrix) or (matrix.turning_points[-1] if matrix.turning_points else None)
    if point is not None:
        return point.after
    return matrix.rows[-1] if matrix.rows else None


def stop_point(matrix: Matrix) -> TurningPoint | None:
    """Where the request stopped fitting, as a reader asks it: when the latest release does not fit, the last time
    it went from fitting to not fitting; else none (it fits now, whatever happened before)."""
    if not matrix.rows or matrix.rows[-1].fits:
        return None
    stops = [t for t in matrix.turning_points if t.before.fits and not t.after.fits]
    return stops[-1] if stops else None


def require_html_libraries() -> None:
    """Raise HtmlUnavailable, naming the missing library, before a caller spends minutes on a matrix."""
    try:
        import jinja2  # noqa: F401 - imported to learn whether it is there
        import markupsafe  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise HtmlUnavailable(
            f"the HTML report needs {exc.name}: install tfconflict[html] (pip install 'tfconflict[html]')"
        ) from None


def render_matrix_html(matrix: Matrix, *, release: str | None = None) -> str:
    """The page for ``matrix``; ``release`` (a row's id, a folded id or a prefix) picks whose reason chains show."""
    require_html_libraries()
    import jinja2
    import markupsafe

    chosen = default_release(matrix)
    if release is not None:
        try:
            chosen = matrix.row(release)
        except KeyError:
            known = ", ".join(r.release for r in matrix.rows[:5])
            raise InputError(
                f"--release {release}: no such release in the matrix (its rows: {known}, ...)"
            ) from None
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analyzer.render", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    # the template phrases the page; these name and date its rows
    env.globals.update(
        key=_key, day=_day, anchor=_anchor, set_text=_set_text, stop_point=stop_point, fit_run_start=_fit_run_start
    )
    env.filters["sentence"] = _sentence
    sections_of = [] if chosen is None or chosen.report is None else sections(chosen.report, full=True)
    return env.get_template("matrix.html.j2").render(
        matrix=matrix, chosen=chosen, request=_request(matrix), tally=_tally(matrix.rows),
        lanes=_lanes(matrix.rows),
        reasons=[s for s in sections_of if not s.title.startswith(BACKGROUND)],
        background=[s for s in sections_of if s.title.startswith(BACKGROUND)],
        chart=markupsafe.Markup(timeline_svg(matrix, chosen)), styles=VERDICT_STYLE, version=__version__,
    )


# -- the page's sentences --------------------------------------------------------------------------------------


def _set_text(row: MatrixRow) -> str:
    if row.set_status is SetStatus.NONE:
        return "—"
    if row.set_status is SetStatus.NOT_COMPUTED or row.set_size is None:
        return "not computed"
    tail = {
        SetStatus.NOT_MINIMAL: " (not shown minimal)",
        SetStatus.REUSED: f" (as {row.set_from_name or row.set_from})" if row.set_from else " (reused)",
    }.get(row.set_status, "")
    return f"{row.set_size}{tail}"


def _tally(rows: tuple[MatrixRow, ...]) -> str:
    """``8 distinct releases checked: 5 fits, 3 breaks``."""
    if not rows:
        return ""
    counts = Counter(_key(r) for r in rows)
    tally = ", ".join(f"{counts[k]} {VERDICT_STYLE[k].label}" for k in VERDICT_STYLE if counts[k])
    return f"{len(rows)} distinct release{'s' if len(rows) != 1 else ''} checked: {tally}"


def _fit_run_start(rows: tuple[MatrixRow, ...], last_fit: MatrixRow) -> MatrixRow:
    """The first row of the unbroken run of fitting rows that ends at ``last_fit``."""
    index = next(i for i, r in enumerate(rows) if r.release == last_fit.release)
    while index > 0 and rows[index - 1].fits:
        index -= 1
    return rows[index]


def _sentence(text: str) -> str:
    """The first letter up, the rest as it is (``str.capitalize`` would lower the package names)."""
    return text[:1].upper() + text[1:]


# -- the chart -------------------------------------------------------------------------------------------------


def timeline_svg(matrix: Matrix, chosen: MatrixRow | None = None) -> str:
    """The verdict of every row against its release date (one mark per row, ``id="mark-N"``, linked to its table
    row), turning points as dashed lines, and the size of the minimal conflicting set below."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure

    rows = matrix.rows
    lanes = _lanes(rows)
    y_of = {k: len(lanes) - 1 - i for i, k in enumerate(lanes)}
    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "tfconflict",
            "font.family": "sans-serif",
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig = Figure(figsize=(11, 4.6), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.4))
        days = [r.date for r in rows]
        if rows:
            # a thin grey path first, so the eye follows the release order through the lanes
            lane_of = [y_of[_key(r)] for r in rows]
            top.plot(days, lane_of, color="#b0b0b0", lw=1, zorder=1, drawstyle="steps-post")
        for i, row in enumerate(rows):
            big = chosen is not None and row.release == chosen.release
            (mark,) = top.plot(
                [row.date], [y_of[_key(row)]], marker="o", ms=11 if big else 8, ls="none", zorder=3,
                color=VERDICT_STYLE[_key(row)].color, mec="#000000" if big else "white", mew=2 if big else 0.8,
            )
            mark.set_gid(f"mark-{i}")
            mark.set_url(f"#{_anchor(row)}")
        top.set_yticks([y_of[k] for k in lanes], [VERDICT_STYLE[k].label for k in lanes])
        for tick, k in zip(top.get_yticklabels(), lanes, strict=True):
            tick.set_color(VERDICT_STYLE[k].color)
            tick.set_fontweight("bold")
        top.set_ylim(-0.6, len(lanes) - 0.1)
        top.grid(axis="y", color="#eeeeee")
        top.set_title(
            f"pip install {_request(matrix)}: the verdict in each {matrix.source} ({matrix.kind}) release",
            loc="left", fontsize=11,
        )

        sized = [(i, r) for i, r in enumerate(rows) if r.set_size is not None]
        width = _bar_width(days)
        if sized:
            bars = bottom.bar(
                [r.date for _, r in sized], [r.set_size for _, r in sized], width=width, color=SET_COLOR
            )
            for (i, _), patch in zip(sized, bars.patches, strict=True):
                patch.set_gid(f"size-{i}")
        unsearched = [
            r.date
            for r in rows
            if r.set_status is SetStatus.NOT_COMPUTED and r.verdict is not None and not r.fits
        ]
        if unsearched:
            (ticks,) = bottom.plot(
                unsearched, [0] * len(unsearched), ls="none", marker="|", ms=7, color="#9e9e9e",
                label="not searched in this release", clip_on=False,
            )
            ticks.set_gid("unsearched")
            bottom.legend(loc="upper left", fontsize=8, frameon=False)
        bottom.set_ylabel("must change", fontsize=9)
        bottom.set_title(
            "packages in the minimal conflicting set (what must give for the request to fit)",
            loc="left", fontsize=9, color="#444444",
        )
        if sized:
            bottom.yaxis.get_major_locator().set_params(integer=True)
        else:
            bottom.text(
                0.5, 0.5, "no conflicting set in this range", transform=bottom.transAxes, ha="center",
                va="center", color="#777777",
            )
            bottom.set_yticks([])

        for n, point in enumerate(matrix.turning_points, 1):
            x = point.after.date - (point.after.date - point.before.date) / 2
            for ax in (top, bottom):
                ax.axvline(x, color="#555555", ls="--", lw=1, zorder=0, gid=f"turn-{n}")
            # the number above the lanes (the list under the chart says what changed), clear of every mark
            top.annotate(
                f"{n} stopped fitting" if point.stopped_fitting else str(n),
                (date2num(x), len(lanes) - 0.5),  # type: ignore[no-untyped-call]
                xytext=(0, 0), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                fontweight="bold" if point.stopped_fitting else "normal", color="#222222",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#555555", "lw": 0.8},
                gid=f"turn-label-{n}",
            )
        if rows:
            pad = max(timedelta(days=3), (rows[-1].date - rows[0].date) * 0.03)
            bottom.set_xlim(rows[0].date - pad, rows[-1].date + pad)
        locator = AutoDateLocator()  # type: ignore[no-untyped-call]
        bottom.xaxis.set_major_locator(locator)
        bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        buffer = io.StringIO()
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None, "Creator": None})  # type: ignore[no-untyped-call]
    return _with_titles(_inline(buffer.getvalue()), rows)


def _bar_width(days: list[datetime]) -> float:
    """Bars a little narrower than the usual gap between releases, in days (matplotlib's unit for dates), and never
    thinner than a 250th of the whole range, so a bar stays visible over years of releases."""
    gaps = sorted((b - a).total_seconds() / 86400 for a, b in itertools.pairwise(days) if b > a)
    typical = gaps[len(gaps) // 2] if gaps else 5.0
    span = (days[-1] - days[0]).total_seconds() / 86400 if len(days) > 1 else 0.0
    return max(1.0, span / 250, min(typical * 0.7, 8.0))


def _inline(svg: str) -> str:
    """An SVG document as an element inside HTML: no XML prolog, no RDF metadata block, scales with the page."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    return re.sub(
        r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
        r'<svg \1role="img" aria-label="timeline of the verdicts"',
        svg,
        count=1,
    )


def _with_titles(svg: str, rows: tuple[MatrixRow, ...]) -> str:
    """A tooltip per mark (the release, its date and verdict): SVG's own <title>, no script needed."""
    for i, row in enumerate(rows):
        tip = escape(f"{row.label}  Python {row.python}: {row.verdict_text}", quote=False)
        svg = svg.replace(
            f'<g id="mark-{i}">', f'<g id="mark-{i}" class="mark verdict-{_key(row)}"><title>{tip}</title>', 1
        )
    return svg
