"""``check`` end to end on real data: Colab releases from the history bundle, recorded real index metadata served
by the in-process fixture index (tensorflow 2.12.0's closure, numpy, jax, keras... as of 2025-06-01)."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from analyzer.check import run_check
from analyzer.cli import main
from analyzer.diagnosis.conflict_set import Verdict as SetVerdict
from analyzer.environment import TargetEnvironment
from analyzer.errors import InputError
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.render.sections import render_text
from analyzer.report import SCHEMA, Verdict
from analyzer.request import RequestItem, parse_specs
from analyzer.resolver import resolve
from analyzer.selectors import resolve_selector
from analyzer.session import Session
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    return index_server


def _engine(index: FixtureIndex) -> MetadataEngine:
    return MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache())


def test_latest_colab_cannot_install_tensorflow_2_12(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = resolve_selector("colab:latest")
    assert snapshot.python.startswith("3.13")
    with _engine(recorded) as engine:
        report = run_check(
            parse_specs(["tensorflow==2.12.0"]), snapshot, engine, releases=(("colab:2025-07-14", "3.11.13"),)
        )
    assert report.verdict is Verdict.NOT_INSTALLABLE
    assert report.exit_code == 1
    (item,) = report.installability.blocking
    # the evidence is the tags the real wheels carry: cp38..cp311, nothing for 3.13
    assert "cp311" in item.interpreters and "cp313" not in item.interpreters
    assert item.fitting_releases == ("colab:2025-07-14",)
    assert report.prediction is None and report.conflict_set is None
    data = report.to_json_dict()
    assert data["schema"] == SCHEMA and data["verdict"] == "not-installable"
    json.dumps(data)  # serialisable as is


def test_python_311_release_conflicts_and_the_set_is_minimal(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = resolve_selector("colab:2025-07-14")
    assert snapshot.python == "3.11.13"
    request = [Requirement("tensorflow==2.12.0")]
    with _engine(recorded) as engine:
        report = run_check(parse_specs(["tensorflow==2.12.0"]), snapshot, engine)
        assert report.verdict in (Verdict.BREAKS, Verdict.CHANGES)
        prediction = report.prediction
        assert prediction is not None and prediction.ok
        changed = {c.name: c for c in prediction.changes}
        # tensorflow 2.12.0 requires numpy<1.24: the image's numpy must go down
        numpy_pin = snapshot.by_name[canonicalize_name("numpy")]
        assert "numpy" in changed and changed["numpy"].old == numpy_pin.version
        assert changed["numpy"].new.startswith("1.23")

        found = report.conflict_set
        assert found is not None and found.verdict is SetVerdict.CONFLICT
        best = found.best
        assert best is not None and "numpy" in best.names
        # minimality, re-checked here with the resolver itself: freeing the set fits, keeping any member fails
        env = TargetEnvironment.from_snapshot(snapshot)
        relevant = [n for n in found.candidates if n not in best.names]
        ignored = found.ignored
        freed = resolve(request, Session.open(snapshot, engine, env), keep=relevant, free=best.names,
                        ignore_edges=ignored)
        assert freed.ok
        for member in best.names:
            rest = [n for n in best.names if n != member]
            again = resolve(request, Session.open(snapshot, engine, env), keep=[*relevant, member],
                            free=rest, ignore_edges=ignored)
            assert not again.ok, f"{member} is not needed in the set"
        for member in best.members:
            assert member.reasons, f"{member.name} has no reason chain"


def test_check_cli_json_and_markdown(colab_cache: Path, recorded: FixtureIndex, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tensorflow==2.12.0", "--snapshot", "colab:latest", "--index-url", recorded.index_url,
                 "--format", "json"])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "not-installable" and data["exit_code"] == 1
    code = main(["check", "tensorflow==2.12.0", "--snapshot", "colab:latest", "--index-url", recorded.index_url,
                 "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("### tfconflict: not-installable")
    assert "cp311" in out


def test_bad_spec_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tensorflow==", "--snapshot", "colab:latest"]) == 2
    err = capsys.readouterr().err
    assert "not a requirement: 'tensorflow=='" in err and "Traceback" not in err


def test_unreachable_index_is_exit_3(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a port nothing listens on: the request itself cannot be looked up
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["check", "numpy", "--snapshot", "colab:latest", "--index-url", f"http://127.0.0.1:{port}/simple/"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "numpy" in err and "Traceback" not in err


def test_unknown_project_is_named(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = resolve_selector("colab:latest")
    with _engine(recorded) as engine:
        report = run_check(parse_specs(["no-such-project-xyz"]), snapshot, engine)
    assert report.verdict is Verdict.NOT_INSTALLABLE
    assert "no-such-project-xyz" in report.headline()


def test_request_items_keep_their_origin() -> None:
    (item,) = parse_specs(["Keras[tf]>=2.12"])
    assert isinstance(item, RequestItem) and item.name == "keras" and item.origin == "command line"
    with pytest.raises(InputError):
        parse_specs([])


def test_budget_stops_the_search_and_says_so(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = resolve_selector("colab:2025-07-14")
    with _engine(recorded) as engine:
        report = run_check(parse_specs(["tensorflow==2.12.0"]), snapshot, engine, budget=0.0,
                           with_suggestions=False)
    found = report.conflict_set
    assert found is not None and found.verdict is SetVerdict.CONFLICT
    # the first question (does it fit as it is?) is always answered; nothing after the budget
    assert found.resolver_calls == 1 and not found.searched
    assert all(not s.verified for s in found.sets)
    assert any("budget" in w for w in report.warnings)
    assert report.verdict in (Verdict.BREAKS, Verdict.CHANGES)
    # the text says why no set (or no minimal one) is shown, never "not searched"
    text = render_text(report)
    section = text.split("Minimal conflicting set", 1)[1].split("\n\n", 1)[0]
    assert "raise --budget" in section or "not shown minimal: " in section
    assert "not searched" not in section


def test_the_direct_layer_of_the_real_case_is_verified_and_every_chain_reaches_the_request(
    colab_cache: Path, recorded: FixtureIndex
) -> None:
    from analyzer.diagnosis.graph import REQUEST

    snapshot = resolve_selector("colab:2025-07-14")
    with _engine(recorded) as engine:
        report = run_check(parse_specs(["tensorflow==2.12.0"]), snapshot, engine)
    found = report.conflict_set
    assert found is not None and found.direct is not None
    direct, best = found.direct, found.best
    assert direct.verified and direct.members, direct.doubt
    # the direct layer is the smaller one: every member also moves in the whole-image set
    assert best is not None and set(direct.names) < set(best.names)
    for member in direct.members:
        assert member.reasons[-1].parent == REQUEST or any(e.parent == REQUEST for e in member.reasons), (
            member
        )
    # each knock-on group hangs off a direct member (or the requested project that moves), and its breakage is
    # a requirement on that member or of it
    causes = {*direct.names, "tensorflow"}
    for group in direct.knock_on:
        assert group.cause in causes
        assert all(group.cause in (v.dependency, v.name) for v in group.broken)
    # the default text fits a screen, cuts its lists with "and N more", and --full lists everything
    text, full = render_text(report), render_text(report, full=True)
    assert len(text.splitlines()) <= 60, text
    assert "more" in text and text.index("Direct conflicts") < text.index("What pip would do")
    assert all(f"{v.name} {v.version} needs" in full for g in direct.knock_on for v in g.broken)
