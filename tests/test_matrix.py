"""``matrix`` end to end on real data: CPU releases of the Colab history bundle around two turning points of
tensorflow==2.12.0, with the recorded real index metadata served by the fixture index (as of 2025-06-01)."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from analyzer.catalog import Catalog
from analyzer.check import run_check
from analyzer.cli import main
from analyzer.matrix.model import SCHEMA, Matrix, MatrixRow, SetStatus
from analyzer.matrix.run import MatrixOptions, fold_releases, run_matrix, twin_row, twins
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.render.matrix_json import render_matrix_json
from analyzer.render.matrix_markdown import render_matrix_markdown
from analyzer.render.matrix_text import render_matrix_text
from analyzer.report import Verdict
from analyzer.request import parse_specs
from analyzer.selectors import resolve_selector
from analyzer.sources import load_source
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

TF = parse_specs(["tensorflow==2.12.0"])
PY312 = "colab@a3e2b56e54"
"""The first CPU release on Python 3.12 (2025-08-15; the one before, colab@ff419f350b, is on 3.11.13)."""
TF213 = "colab@34adb79ed8"
"""2023-09-06: the image moves from tensorflow 2.12.0 to 2.13.0 (colab@2e2ebf1142, the day before, has 2.12.0)."""


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    return index_server


def _matrix(index: FixtureIndex, since: str, until: str, **options: object) -> Matrix:
    catalog = Catalog.open(load_source("colab"))
    opts = MatrixOptions(since=date.fromisoformat(since), until=date.fromisoformat(until), **options)  # type: ignore[arg-type]
    return run_matrix(TF, catalog, lambda: MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache()), opts)


def test_python_past_311_is_the_turning_point_after_which_it_is_not_installable(
    colab_cache: Path, recorded: FixtureIndex
) -> None:
    matrix = _matrix(recorded, "2025-08-12", "2025-08-20", workers=1)
    days = [r.day.isoformat() for r in matrix.rows]
    assert days == sorted(days) and len(matrix.rows) == matrix.releases >= 4
    py311 = [r for r in matrix.rows if r.python.startswith("3.11")]
    py312 = [r for r in matrix.rows if r.python.startswith("3.12")]
    assert py311 and py312
    assert all(r.verdict in (Verdict.CHANGES, Verdict.BREAKS) for r in py311)
    assert all(r.verdict is Verdict.NOT_INSTALLABLE for r in py312)
    (point,) = matrix.turning_points
    assert point.after.release == PY312 and point.before.release == py311[-1].release
    assert point.python == ("3.11.13", "3.12.11")
    assert point.after.verdict is Verdict.NOT_INSTALLABLE
    assert "Python 3.11.13 -> 3.12.11" in point.sentence
    # the interpreter is the cause, not a pin: nothing is blamed on the pins that changed that day (some did, and
    # some of them are in the earlier row's reason chain)
    assert point.pins == () and "changed pins" not in point.sentence
    assert point.other_changes > 0
    # the last row that installs is searched (a turning point's side), and its set is a real one
    before = matrix.row(point.before.release)
    assert before.set_status in (SetStatus.MINIMAL, SetStatus.NOT_MINIMAL)
    assert before.set_size and before.set_members
    assert before.report is not None and before.report.conflict_set is not None
    # the rows that were no turning point's side say their set was not searched, and claim no size
    others = [r for r in py311 if r.release != before.release]
    assert others and all(r.set_status is SetStatus.NOT_COMPUTED and r.set_size is None for r in others)
    assert all(r.set_status is SetStatus.NONE for r in py312)


def test_an_earlier_turning_point_names_the_pins_checked_by_hand(colab_cache: Path, recorded: FixtureIndex) -> None:
    # by hand, from the two freezes: the image moved tensorflow 2.12.0 -> 2.13.0 and keras 2.12.0 -> 2.13.1;
    # tensorflow 2.12.0 requires keras<2.13,>=2.12.0, so from then on pip must take keras (and tf) back down
    before = resolve_selector("colab@2e2ebf1142")
    after = resolve_selector("colab@34adb79ed8")
    pins = {n: (before.by_name[canonicalize_name(n)].version, after.by_name[canonicalize_name(n)].version)
            for n in ("tensorflow", "keras", "numpy")}
    assert pins["tensorflow"] == ("2.12.0", "2.13.0")
    assert pins["keras"] == ("2.12.0", "2.13.1")
    assert pins["numpy"][0] == pins["numpy"][1]  # numpy did not move that day: it must not be blamed

    matrix = _matrix(recorded, "2023-08-20", "2023-09-06", workers=2)
    assert [r.verdict for r in matrix.rows[-2:]] == [Verdict.FITS, Verdict.CHANGES]
    (point,) = matrix.turning_points
    assert point.after.release == TF213 and point.stopped_fitting
    assert matrix.stopped_fitting is point
    assert point.python is None
    moved = {p.name: (p.old, p.new) for p in point.pins}
    assert moved["tensorflow"] == ("2.12.0", "2.13.0")
    assert moved["keras"] == ("2.12.0", "2.13.1")
    assert "numpy" not in moved
    assert "keras 2.12.0 -> 2.13.1" in point.sentence
    # the row that stopped fitting: pip takes keras back to 2.12.0, and the set (searched here) holds keras
    row = matrix.row(TF213)
    assert row.report is not None and row.report.prediction is not None
    changes = {str(c.name): (c.old, c.new) for c in row.report.prediction.changes}
    assert changes["keras"] == ("2.13.1", "2.12.0")
    assert row.set_status is SetStatus.MINIMAL
    assert "keras" in {m.name for m in row.set_members} or "keras" in {
        m.name for m in row.report.conflict_set.best.members  # type: ignore[union-attr]
    }
    assert row.changes == len(row.report.prediction.upgrades) + len(row.report.prediction.downgrades) + len(
        row.report.prediction.reinstalls
    )


def test_a_row_answers_as_check_does(colab_cache: Path, recorded: FixtureIndex) -> None:
    matrix = _matrix(recorded, "2023-09-06", "2023-09-07", sets="none", workers=1)
    assert matrix.rows and all(r.set_status is not SetStatus.MINIMAL for r in matrix.rows)
    for row in matrix.rows:
        with MetadataEngine(IndexConfig(recorded.index_url), cache=MetadataCache()) as engine:
            report = run_check(TF, resolve_selector(row.release), engine, conflict_set=False, with_suggestions=False)
        assert row.verdict is report.verdict
        assert row.summary == report.headline()
        assert row.newly_broken == len({v.name for v in report.prediction.newly_broken})  # type: ignore[union-attr]


def test_identical_freezes_fold_and_ranges_select(colab_cache: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    releases = catalog.releases_of("cpu", date(2023, 9, 5), date(2023, 9, 7))
    assert [r.id for r in releases][:2] == ["colab@2e2ebf1142", TF213]
    assert all(date(2023, 9, 5) <= r.date.date() <= date(2023, 9, 7) for r in releases)
    groups = fold_releases(catalog, (*releases, releases[-1]))
    # the same release twice in a row is one row, the second folded into it
    assert len(groups) == len(releases) and groups[-1].folded == (releases[-1],)


def test_renderings(colab_cache: Path, recorded: FixtureIndex) -> None:
    matrix = _matrix(recorded, "2025-08-13", "2025-08-16", sets="none", workers=1)
    text = render_matrix_text(matrix)
    assert text.splitlines()[0].startswith("tensorflow==2.12.0 on colab cpu releases from 2025-08-13")
    # rows and turning points name releases by the runtime version they follow; JSON keeps the ids
    assert matrix.row(PY312).label == "colab after 2025.07 (2025-08-15)"
    assert "Turning points:" in text and "  colab after 2025.07 (2025-08-15): " in text and "not installable" in text
    assert PY312 not in text
    assert "not computed" in text and "no search ran for that row" in text
    md = render_matrix_markdown(matrix)
    assert "| release | Python | verdict | minimal conflicting set |" in md
    assert "| colab after 2025.07 (2025-08-15) | 3.12.11 |" in md
    data = json.loads(render_matrix_json(matrix))
    assert data["schema"] == SCHEMA and len(data["rows"]) == len(matrix.rows)
    assert data["turning_points"][0]["after"] == PY312
    assert data["turning_points"][0]["after_name"] == "colab after 2025.07 (2025-08-15)"
    assert data["rows"][0]["release"].startswith("colab@") and data["rows"][0]["name"].startswith("colab ")
    assert data["turning_points"][0]["python"] == {"old": "3.11.13", "new": "3.12.11"}
    assert "report" not in data["rows"][0]
    full = json.loads(render_matrix_json(matrix, with_reports=True))
    assert full["rows"][-1]["report"]["verdict"] == "not-installable"


def test_cli(colab_cache: Path, recorded: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["matrix", "tensorflow==2.12.0", "--since", "2025-08-14", "--until", "2025-08-16",
            "--index-url", recorded.index_url, "--workers", "1", "--sets", "none"]
    code = main([*args, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    # the latest release in the range decides the exit code: not installable there
    assert code == 1 and data["rows"][-1]["verdict"] == "not-installable"
    assert data["rows"][0]["conflict_set"]["status"] == "not-computed"

    reqs = tmp_path / "requirements.txt"
    reqs.write_text("tensorflow==2.12.0\n", encoding="utf-8")
    code = main([*args[:1], "-r", str(reqs), *args[2:], "-o", str(reqs)])
    err = capsys.readouterr().err
    assert code == 2 and "would overwrite an input file" in err
    assert reqs.read_text(encoding="utf-8") == "tensorflow==2.12.0\n"

    out = tmp_path / "matrix.md"
    code = main([*args, "--format", "markdown", "-o", str(out)])
    assert code == 1 and out.read_text(encoding="utf-8").startswith("### tensorflow==2.12.0 on colab cpu")

    assert main([*args, "--since", "2025-08-20"]) == 2
    assert "is after --until" in capsys.readouterr().err
    assert main([*args, "--format", "html"]) == 2
    assert "-o FILE" in capsys.readouterr().err


def test_a_freeze_reverted_to_is_copied_and_says_so(colab_cache: Path, recorded: FixtureIndex) -> None:
    # the real history has no exact revert (google-colab's declared requirements differ each time), so make one:
    # three releases where the third has the first's inputs
    catalog = Catalog.open(load_source("colab"))
    a, b = catalog.releases_of("cpu", date(2025, 8, 14), date(2025, 8, 15))[:2]
    groups = fold_releases(catalog, (a, b))
    groups.append(replace(groups[0], release=replace(a, commit="f" * 40)))
    assert twins(groups) == {2: 0}
    assert twins(groups[:2]) == {}
    row = MatrixRow(release=a.id, date=a.date, commit=a.commit, python=a.python, kind="cpu",
                    verdict=Verdict.BREAKS, summary=f"tensorflow==2.12.0 installs on {a.id}, but ...")
    twin = twin_row(row, groups[2])
    assert twin.release == "colab@ffffffffff" and twin.same_as == a.id and twin.verdict is Verdict.BREAKS
    assert twin.summary == "tensorflow==2.12.0 installs on colab@ffffffffff, but ..."
    assert "(same freeze as colab@" in render_matrix_text(Matrix(TF, "cpu", "colab", None, None, (row, twin)))


def test_sets_everywhere_reuse_only_what_a_search_confirms(colab_cache: Path, recorded: FixtureIndex) -> None:
    matrix = _matrix(recorded, "2024-02-13", "2024-02-20", sets="all", workers=1)
    changing = [r for r in matrix.rows if r.verdict in (Verdict.CHANGES, Verdict.BREAKS)]
    assert changing and all(
        r.set_status in (SetStatus.MINIMAL, SetStatus.NOT_MINIMAL, SetStatus.REUSED) for r in changing
    )
    reused = [r for r in changing if r.set_status is SetStatus.REUSED]
    assert reused, "no row reused a set: the test range no longer exercises reuse"
    for row in reused:
        source = matrix.row(row.set_from or "")
        assert source.day <= row.day and source.set_status is SetStatus.MINIMAL
        assert (row.set_size, row.set_members) == (source.set_size, source.set_members)
        # the reused answer is the one a search of this very release finds
        with MetadataEngine(IndexConfig(recorded.index_url), cache=MetadataCache()) as engine:
            report = run_check(TF, resolve_selector(row.release), engine, with_suggestions=False)
        assert report.conflict_set is not None and report.conflict_set.best is not None
        best = report.conflict_set.best
        assert len(best) == row.set_size
        assert [str(m.name) for m in best.members[: len(row.set_members)]] == [m.name for m in row.set_members]


def test_cli_release_must_be_in_the_range(colab_cache: Path, recorded: FixtureIndex, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.html"
    code = main(["matrix", "tensorflow==2.12.0", "--since", "2025-08-14", "--until", "2025-08-16", "--index-url",
                 recorded.index_url, "--format", "html", "-o", str(out), "--release", "colab@2e2ebf1142"])
    assert code == 2 and not out.exists()
    assert "--release colab@2e2ebf1142: no cpu release of the range" in capsys.readouterr().err


def test_an_unreachable_index_is_a_value_in_every_row_and_exit_3(
    colab_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["matrix", "numpy", "--since", "2025-08-14", "--until", "2025-08-15", "--workers", "1",
                 "--index-url", f"http://127.0.0.1:{port}/simple/", "--format", "json"])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    data = json.loads(captured.out)
    assert data["rows"] and all(r["verdict"] is None and "numpy" in r["error"] for r in data["rows"])
    assert data["turning_points"] == [] and "Traceback" not in captured.err


def test_cli_output_never_overwrites_the_history(
    colab_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.bundle"
    history.write_bytes(b"not really a bundle")
    monkeypatch.setenv("TFCONFLICT_COLAB_REPO", str(history))
    code = main(["matrix", "numpy", "--format", "json", "-o", str(history)])
    assert code == 2 and "would overwrite an input file" in capsys.readouterr().err
    assert history.read_bytes() == b"not really a bundle"
