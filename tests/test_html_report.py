"""The matrix's HTML report: built from a real matrix (the Colab releases of 2025-07-24..2025-08-01 from the history
bundle, the recorded real index metadata served by the fixture index), checked as markup, then opened in headless
Chromium (Debian's package; ``scripts/test-machine-deps`` installs it), its DOM read back and a screenshot taken."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from analyzer.catalog import Catalog
from analyzer.cli import main
from analyzer.errors import InputError
from analyzer.matrix.model import Matrix, TurningPoint
from analyzer.matrix.run import MatrixOptions, run_matrix
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.render.matrix_html import (
    SET_COLOR,
    VERDICT_STYLE,
    HtmlUnavailable,
    default_release,
    render_matrix_html,
    stop_point,
)
from analyzer.report import Verdict
from analyzer.request import parse_specs
from analyzer.sources import load_source
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

CHROMIUM = "/usr/bin/chromium"
STOPPED = "colab@fc25c37db7"
"""The release of 2025-07-30: tensorflow 2.19 preinstalled, so tensorflow==2.18.0 no longer fits."""

_BUILT: dict[str, Matrix] = {}


@pytest.fixture
def matrix(colab_cache: Path, index_server: FixtureIndex) -> Matrix:
    """tensorflow==2.18.0 over eight real releases around the day Colab moved to tensorflow 2.19 (built once)."""
    if "tf" not in _BUILT:
        assert index_server.add_recorded(RECORDED) > 0
        url = index_server.index_url
        _BUILT["tf"] = run_matrix(
            parse_specs(["tensorflow==2.18.0"]),
            Catalog.open(load_source("colab")),
            lambda: MetadataEngine(IndexConfig(url), cache=MetadataCache()),
            MatrixOptions(since=date(2025, 7, 24), until=date(2025, 8, 1), workers=1),
        )
    return _BUILT["tf"]


def test_the_matrix_has_what_the_page_must_show(matrix: Matrix) -> None:
    # the real history: five releases fit, then tensorflow 2.19 arrives and the request breaks things
    assert len(matrix.rows) >= 6
    assert {r.verdict for r in matrix.rows} == {Verdict.FITS, Verdict.BREAKS}
    point = matrix.stopped_fitting
    assert point is not None and point.after.release == STOPPED
    assert "tensorflow" in {p.name for p in point.pins}
    assert default_release(matrix) is point.after


def test_page_is_self_contained_and_escaped(matrix: Matrix) -> None:
    page = render_matrix_html(matrix)
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no script, stylesheet, image or font from anywhere (SVG namespaces are names, not fetches)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    fetched = re.findall(r"""(?:src|href)\s*=\s*["']([^"'#][^"']*)""", page)
    assert fetched == []
    # a URL may be text (a warning names a direct reference it could not read), never a value the page loads
    no_names = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert re.findall(r"""(?:=|url\()\s*["']?https?://""", no_names) == []
    # the chart: one mark per row, each linked to its table row, with a tooltip
    marks = re.findall(r'<g id="mark-(\d+)" class="mark verdict-([a-z-]+)"><title>([^<]*)</title>', page)
    assert [int(i) for i, _, _ in marks] == list(range(len(matrix.rows)))
    assert [v for _, v, _ in marks] == [r.verdict.value for r in matrix.rows if r.verdict is not None]
    for row in matrix.rows:
        assert f'id="row-{row.release.replace("@", "-")}"' in page
    # the answer first, in words
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert h1 is not None and h1.group(1) == "pip install tensorflow==2.18.0 stopped fitting on 2025-07-30"
    assert (
        page.index("<h1")
        < page.index("<svg")
        < page.index('id="turning-points"')
        < page.index('id="reasons"')
    )
    assert "tensorflow 2.18.0 -&gt; 2.19.0" in page  # a pin move, escaped
    assert "the request requires tensorflow==2.18.0" in page  # a reason chain ends at the request


def test_autoescape_keeps_names_as_text(matrix: Matrix) -> None:
    evil = replace(matrix.rows[0], summary='<img src=x onerror="alert(1)">')
    page = render_matrix_html(replace(matrix, rows=(evil, *matrix.rows[1:])))
    assert "<img" not in page and "&lt;img src=x" in page


def test_a_chosen_release_and_a_wrong_one(matrix: Matrix) -> None:
    first = matrix.rows[0]
    page = render_matrix_html(matrix, release=first.release)
    # named as people name it (the day is shared, so the time tells it apart), the commit kept in the row's title
    assert first.label.startswith("colab 2025-07-24 ") and f"Why, in {first.label}, Python" in page
    assert f'<td class="release" title="{first.release}">{first.label}' in page
    assert re.search(rf'<tr id="row-{first.release.replace("@", "-")}" class="row verdict-fits chosen"', page)
    with pytest.raises(InputError, match="no such release"):
        render_matrix_html(matrix, release="colab@0000000000")


def test_an_empty_range_still_renders(matrix: Matrix) -> None:
    page = render_matrix_html(replace(matrix, rows=(), turning_points=()))
    assert "No release of colab (cpu) in this range" in page and "<svg" in page


def test_missing_extra_is_named(matrix: Matrix, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    with pytest.raises(HtmlUnavailable, match=r"install tfconflict\[html\]"):
        render_matrix_html(matrix)


# -- in a real browser -----------------------------------------------------------------------------------------


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    browser = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if browser is None:
        pytest.fail(
            "chromium is not installed: run scripts/test-machine-deps (it installs Debian's chromium)"
        )
    profile = tmp_path / "profile"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _near(pixels: object, hex_color: str, tolerance: float = 0.06) -> int:
    import numpy as np

    rgb = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    image = np.asarray(pixels)[..., :3]
    return int((np.abs(image - rgb).max(axis=-1) < tolerance).sum())


@pytest.mark.browser
def test_report_renders_in_headless_chromium(matrix: Matrix, tmp_path: Path) -> None:
    import matplotlib.image
    import numpy as np

    report = tmp_path / "report.html"
    report.write_text(render_matrix_html(matrix), encoding="utf-8")
    url = report.as_uri()

    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    # what the browser built: the chart's marks, the rows' table, the turning points, the reasons
    assert len(re.findall(r'<g id="mark-\d+" class="mark verdict-', dom)) == len(matrix.rows)
    assert len(re.findall(r'<tr id="row-[^"]+" class="row verdict-', dom)) == len(matrix.rows)
    assert len(re.findall(r'<li class="turning-point', dom)) == len(matrix.turning_points) >= 1
    assert "stopped fitting on 2025-07-30" in dom
    assert f"Why, in {matrix.row(STOPPED).label}" in dom

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(str(shot))
    assert pixels.shape[:2] == (2000, 1280)
    assert float(np.asarray(pixels)[..., :3].std()) > 0.05  # not a blank page
    # the chart was painted: its bars (a colour nothing else on the page uses), and both verdicts' colours
    assert _near(pixels, SET_COLOR) > 100
    assert _near(pixels, VERDICT_STYLE["fits"].color) > 200
    assert _near(pixels, VERDICT_STYLE["breaks"].color) > 200
    print(f"screenshot: {shot}")


def _story(matrix: Matrix, verdicts: str) -> Matrix:
    """The real rows re-told: one real fitting row and one real breaking row repeated in the order ``verdicts``
    gives (``F``/``B``), a day apart, with a turning point at each change of verdict."""
    fit = next(r for r in matrix.rows if r.fits)
    broken = next(r for r in matrix.rows if not r.fits)
    # N: the breaking row on a Python the request has no wheel for (the verdict a Python change gives)
    moved = replace(broken, verdict=Verdict.NOT_INSTALLABLE, python="3.12.11", report=None)
    start = fit.date
    rows = tuple(
        replace(
            {"F": fit, "B": broken, "N": moved}[v], release=f"colab@{i:010d}", date=start + timedelta(days=i),
            name="",  # made-up releases have no name: their label is the id and the day
        )
        for i, v in enumerate(verdicts)
    )
    points = tuple(
        TurningPoint(
            a,
            b,
            f"{a.verdict_text} -> {b.verdict_text}",
            python=(a.python, b.python) if a.python != b.python else None,
        )
        for a, b in itertools.pairwise(rows)
        if a.verdict is not b.verdict
    )
    return replace(matrix, rows=rows, turning_points=points)


def _h1(page: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", page, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_headline_tells_the_story(matrix: Matrix) -> None:
    request = "pip install tensorflow==2.18.0"
    # stopped twice: the reader wants the last time, the one that still holds
    story = _story(matrix, "FFBFFB")
    assert stop_point(story) is story.turning_points[-1]
    page = render_matrix_html(story)
    assert _h1(page) == f"{request} stopped fitting on {_day_of(story, 5)}"
    assert f"every release from {_day_of(story, 3)} to {_day_of(story, 4)}" in page
    assert default_release(story) is story.rows[5]
    # fits again now: no "stopped", the last change is told instead
    story = _story(matrix, "FBF")
    assert stop_point(story) is None
    page = render_matrix_html(story)
    assert _h1(page) == f"{request} fits the latest release"
    assert f"The verdict last changed in colab@0000000002 ({_day_of(story, 2)})" in page
    # stopped, then worse: the page says what holds now, and why
    story = _story(matrix, "FBN")
    page = render_matrix_html(story)
    assert _h1(page) == f"{request} stopped fitting on {_day_of(story, 1)}"
    assert (
        f"<strong>Now:</strong> not installable since colab@0000000002 ({_day_of(story, 2)}): between "
        f"{_day_of(story, 1)} and {_day_of(story, 2)}, Colab moved from Python 3.11.13 to 3.12.11." in page
    )
    assert "no full report was kept" not in page  # the reasons shown are the stop's, which has its report
    assert _h1(render_matrix_html(_story(matrix, "FFF"))) == f"{request} fits every release in this range"
    assert _h1(render_matrix_html(_story(matrix, "BB"))) == f"{request} fits no release in this range"


def _day_of(matrix: Matrix, i: int) -> str:
    return matrix.rows[i].date.date().isoformat()


def test_cli_names_the_missing_extra_before_any_work(
    colab_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # an index on a closed port: had the matrix been computed first, the message would be about the index
    monkeypatch.setitem(sys.modules, "jinja2", None)
    out = tmp_path / "m.html"
    code = main(["matrix", "tensorflow==2.12.0", "--since", "2025-08-14", "--until", "2025-08-16", "--workers", "1",
                 "--index-url", "http://127.0.0.1:9/simple/", "--format", "html", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "install tfconflict[html]" in err and "127.0.0.1" not in err
    assert not out.exists()
