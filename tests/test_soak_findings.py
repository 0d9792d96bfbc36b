"""What scripts/soak.py found, as fast offline tests: a failed read of exactly the page or metadata that matters is
named in the report (never a shorter broken list said as if complete), and checks in a row in one process leave
no thread or open file behind."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from analyzer.check import run_check
from analyzer.errors import MetadataUnavailable
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.report import Report, Verdict
from analyzer.request import parse_specs
from analyzer.snapshot import Snapshot
from tests.indexserver import FixtureIndex, drop_connection, index_server, status_fault  # noqa: F401 - fixture
from tests.memsource import build_snapshot

IMAGE = build_snapshot({"pins": ["app==1.0", "lib==1.0", "other==1.0", "ghost==1.0"]})
"""``app`` requires ``lib<2``: installing ``lib==2`` breaks it. ``ghost`` is on no index (opaque by the index's
own answer, not by a failure)."""


@pytest.fixture
def index(index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch) -> FixtureIndex:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")
    index_server.wheel("app", "1.0", ["lib<2"], metadata_file=True)
    index_server.wheel("lib", "1.0", metadata_file=True)
    index_server.wheel("lib", "2.0", metadata_file=True)
    index_server.wheel("other", "1.0", ["lib"], metadata_file=True)
    return index_server


def _check(index: FixtureIndex, cache: Path, spec: str = "lib==2", snapshot: Snapshot = IMAGE) -> Report:
    with MetadataEngine(
        IndexConfig(index.index_url), cache=MetadataCache(cache / "metadata.sqlite3")
    ) as engine:
        return run_check(parse_specs([spec]), snapshot, engine, budget=None)


def test_without_faults_the_install_breaks_app(index: FixtureIndex, tmp_path: Path) -> None:
    report = _check(index, tmp_path)
    assert report.verdict is Verdict.BREAKS
    assert report.prediction is not None
    assert [v.name for v in report.prediction.newly_broken] == ["app"]
    assert "ghost" in report.prediction.opaque and report.prediction.unread == ()
    assert not [w for w in report.warnings if "could not be read" in w]
    assert "could not be read" not in report.headline()


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param(("/simple/app/",), id="page-500"),
        pytest.param(
            ("/files/app-1.0-py3-none-any.whl.metadata", "/files/app-1.0-py3-none-any.whl"), id="files-500"
        ),
    ],
)
def test_a_failed_read_of_the_broken_package_is_named(
    index: FixtureIndex, tmp_path: Path, paths: tuple[str, ...]
) -> None:
    for path in paths:
        index.faults[path] = status_fault(500)
    report = _check(index, tmp_path)
    assert report.prediction is not None and report.prediction.ok
    # app's requirements are unknown, so it is not in the broken list: the report must say why it is missing
    assert report.prediction.newly_broken == ()
    assert [(u.name, u.version) for u in report.prediction.unread] == [("app", "1.0")]
    (said,) = [w for w in report.warnings if "could not be read" in w]
    assert "app 1.0" in said and "HTTP 500" in said and "ghost" not in said
    assert "breaking none of those that could be checked; 1 whose requirements could not be read" in (
        report.headline()
    )
    unread = report.to_json_dict()["pip"]["unread"]
    assert [u["name"] for u in unread] == ["app"] and "HTTP 500" in unread[0]["why"]


def test_a_dropped_connection_on_a_page_is_named_too(index: FixtureIndex, tmp_path: Path) -> None:
    index.faults["/simple/app/"] = drop_connection()
    report = _check(index, tmp_path)
    assert report.prediction is not None
    assert [u.name for u in report.prediction.unread] == ["app"]
    assert any("app 1.0" in w and "could not be read" in w for w in report.warnings)


def test_the_requested_project_unreadable_is_exit_3(index: FixtureIndex, tmp_path: Path) -> None:
    index.faults["/simple/lib/"] = status_fault(500)
    with pytest.raises(MetadataUnavailable) as caught:
        _check(index, tmp_path)
    assert caught.value.package == "lib"


def _settled() -> tuple[int, int]:
    """Threads and open files once the fixture server's connection threads are done: each ends when the client
    closes its connection, so one still alive after a while is a connection the client kept."""
    for thread in threading.enumerate():
        if thread.name.endswith("(process_request_thread)"):
            thread.join(2)
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open files through /proc")
def test_checks_in_a_row_leave_no_thread_or_open_file(index: FixtureIndex, tmp_path: Path) -> None:
    index.faults["/simple/other/"] = drop_connection()  # a failed request's socket must not be kept either
    _check(index, tmp_path / "first")
    threads, fds = _settled()
    for run in range(4):
        _check(index, tmp_path / f"run-{run}")
        _check(index, tmp_path / "shared")
    threads_after, fds_after = _settled()
    assert threads_after <= threads, [t.name for t in threading.enumerate()]
    assert fds_after <= fds, os.listdir("/proc/self/fd")


def test_a_failed_read_the_conflict_set_rests_on_is_named(index: FixtureIndex, tmp_path: Path) -> None:
    """The set moves app to 2.0, a version only the search reads: its requirements unread, the set says so."""
    index.wheel("app", "2.0", ["lib>=2"], metadata_file=True)
    clean = _check(index, tmp_path / "clean")
    assert clean.conflict_set is not None and clean.conflict_set.best is not None
    assert [(m.name, m.moves_to) for m in clean.conflict_set.best.members] == [("app", "2.0")]
    assert not [w for w in clean.warnings if "app 2.0" in w]
    for path in ("/files/app-2.0-py3-none-any.whl.metadata", "/files/app-2.0-py3-none-any.whl"):
        index.faults[path] = status_fault(500)
    report = _check(index, tmp_path / "faulty")
    assert report.conflict_set is not None
    assert any("app 2.0" in w and "metadata unavailable" in w for w in report.conflict_set.warnings)
    assert any("app 2.0" in w and "HTTP 500" in w for w in report.warnings)


def test_a_failed_read_a_suggestion_rests_on_is_named(index: FixtureIndex, tmp_path: Path) -> None:
    """tool>=2 needs lib>=2; of the older versions only tool 1.0 fits as it is. tool 1.5, read by the suggestions
    alone, would fit too once its requirements cannot be read: the report must say why."""
    index.wheel("tool", "2.0", ["lib>=2"], metadata_file=True)
    index.wheel("tool", "1.5", ["lib>=2"], metadata_file=True)
    index.wheel("tool", "1.0", ["lib<2"], metadata_file=True)
    clean = _check(index, tmp_path / "clean", "tool>=2")
    assert clean.suggestions is not None
    assert [(str(s.version), s.fits_as_is) for s in clean.suggestions.items] == [("1.0", True)]
    for path in ("/files/tool-1.5-py3-none-any.whl.metadata", "/files/tool-1.5-py3-none-any.whl"):
        index.faults[path] = status_fault(500)
    report = _check(index, tmp_path / "faulty", "tool>=2")
    assert report.suggestions is not None
    assert any("tool 1.5" in w and "HTTP 500" in w for w in report.suggestions.warnings)
    assert any("tool 1.5" in w and "metadata unavailable" in w for w in report.warnings)
