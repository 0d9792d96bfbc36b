"""Source builds are a verdict: what an sdist says statically about its build, when pip would build one, and when
that build is likely to refuse the interpreter (wheels that stop below it)."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from analyzer.check import run_check
from analyzer.diagnosis.installable import Status, installability, source_builds
from analyzer.diagnosis.pip_prediction import predict
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.sdist import LEGACY_BACKEND, LEGACY_REQUIRES, facts_from_bytes, facts_from_chunks
from analyzer.render import render
from analyzer.render.github import findings
from analyzer.report import Report, Verdict
from analyzer.request import RequestItem
from analyzer.session import Session
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.memsource import MemorySource, scenario_from_dict
from tests.test_installable import PLATFORMS, FilesSource, cpython_wheels, env_for, sdist, wheel
from tests.wheelfactory import make_sdist

MESON = """
[build-system]
build-backend = "mesonpy"
requires = ["meson-python>=0.15", "Cython>=3", "numpy>=2.0"]
"""


def _items(*specs: str) -> tuple[RequestItem, ...]:
    return tuple(RequestItem(Requirement(s), "command line", None) for s in specs)


# -- the archive, read statically ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["tar.gz", "zip"])
def test_facts_name_backend_requirements_and_compiled_sources_without_running_anything(
    fmt: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    extra = {"src/fast.c": b"", "src/wrap.pyx": b"", "src/lib.cpp": b"", "src/more.c": b"", "include/x.h": b""}
    built = make_sdist("fastlib", "1.0", fmt=fmt, pyproject=MESON, extra=extra, marker_path=str(marker))
    facts = facts_from_bytes(built.data, built.filename)
    assert facts.read and facts.note == ""
    assert facts.build_backend == "mesonpy" and facts.backend_declared
    assert facts.build_requires == ("meson-python>=0.15", "Cython>=3", "numpy>=2.0") and facts.requires_declared
    assert dict(facts.sources) == {"C": 2, "C++": 1, "Cython": 1}  # headers alone compile nothing
    assert facts.compiling_tools == ("meson-python", "cython")
    assert facts.compiles is True
    assert not marker.exists()  # setup.py was never executed


def test_an_sdist_without_pyproject_builds_with_setuptools_legacy_and_pips_default_requirements() -> None:
    built = make_sdist("plain", "1.0")
    facts = facts_from_bytes(built.data, built.filename)
    assert facts.build_backend == LEGACY_BACKEND and not facts.backend_declared
    assert facts.build_requires == LEGACY_REQUIRES and not facts.requires_declared
    assert facts.compiles is False and facts.sources == ()


def test_a_pyproject_without_build_system_falls_back_and_a_broken_one_is_named() -> None:
    partial = make_sdist("p", "1.0", pyproject='[project]\nname = "p"\n', extra={"ext/m.rs": b""})
    facts = facts_from_bytes(partial.data, partial.filename)
    assert facts.build_backend == LEGACY_BACKEND and facts.build_requires == LEGACY_REQUIRES
    assert dict(facts.sources) == {"Rust": 1} and facts.compiles
    broken = make_sdist("b", "1.0", pyproject="[build-system\nrequires = [")
    facts = facts_from_bytes(broken.data, broken.filename)
    assert facts.read and "pyproject.toml does not parse" in facts.note


def test_an_archive_past_the_bound_is_not_read_and_says_so() -> None:
    built = make_sdist("big", "1.0", padding=200_000)
    chunks = (built.data[i : i + 4096] for i in range(0, len(built.data), 4096))
    facts = facts_from_chunks(chunks, built.filename, limit=50_000)
    assert not facts.read and facts.compiles is None
    assert facts.note.startswith("not read: too large")


def test_a_failure_of_the_byte_source_comes_out_as_itself() -> None:
    built = make_sdist("x", "1.0", padding=100_000)

    def broken() -> Any:
        yield built.data[:1000]
        raise ConnectionError("the wire broke")

    with pytest.raises(ConnectionError, match="the wire broke"):
        facts_from_chunks(broken(), built.filename)


def test_garbage_and_a_tar_bomb_of_members_are_values() -> None:
    assert facts_from_bytes(b"not an archive" * 50, "x-1.0.tar.gz").note.startswith("not read: not a readable")
    assert facts_from_bytes(b"PK nope", "x-1.0.zip").note.startswith("not read: not a readable")
    # a link member pointing outside the archive is only a name: nothing is extracted
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        link = tarfile.TarInfo("x-1.0/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    facts = facts_from_bytes(buffer.getvalue(), "x-1.0.tar.gz")
    assert facts.read and facts.members == 0


# -- installability: the request's own sdist ------------------------------------------------------------------

# numba's real shape: 0.56.4 has wheels cp37..cp310 and an sdist; 0.57.0 is the first with cp311 wheels.
NUMBA = FilesSource(
    cpython_wheels("numba", "0.56.4", range(7, 11), ">=3.7")
    + [sdist("numba", "0.56.4", rp=">=3.7")]
    + cpython_wheels("numba", "0.57.0", range(8, 12), ">=3.8")
    + [sdist("numba", "0.57.0", rp=">=3.8")]
    # gaps and generic wheels: no claim that the build refuses
    + [wheel("gappy", "1.0", f"cp3{m}-cp3{m}", PLATFORMS[0]) for m in (7, 9)]
    + [sdist("gappy", "1.0")]
    + [wheel("stable", "1.0", "cp37-abi3", PLATFORMS[1]), sdist("stable", "1.0")]
    # numpy 1.26.4's shape: cp39..cp312 and a PyPy wheel, which says nothing about CPython 3.13
    + cpython_wheels("numpy", "1.26.4", range(9, 13), ">=3.9")
    + [wheel("numpy", "1.26.4", "pp39-pypy39_pp73", PLATFORMS[0]), sdist("numpy", "1.26.4", rp=">=3.9")]
    # the newest version has only an sdist; an older one has a wheel: pip takes the newest
    + [wheel("fresh", "1.0", "py3-none", "any"), sdist("fresh", "2.0")]
)


def test_numba_0_56_4_on_python_3_11_is_not_installable_naming_the_missing_wheel_and_the_build() -> None:
    result = installability([Requirement("numba==0.56.4")], env_for("3.11.12"), NUMBA)
    (item,) = result.items
    assert not result.ok and item.status is Status.NOT_INSTALLABLE
    assert item.build is not None and item.build.likely_fails and item.build.stops_below == "cp310"
    assert "no cp311 wheel" in item.message and "numba-0.56.4.tar.gz" in item.message
    assert item.chosen_file == "numba-0.56.4.tar.gz"
    assert item.nearest_above == Version("0.57.0") and item.nearest_below is None
    assert item.build.interpreters == ("cp37", "cp38", "cp39", "cp310")


def test_pypy_wheels_do_not_extend_a_run_of_cpython_wheels() -> None:
    item = installability([Requirement("numpy==1.26.4")], env_for("3.13.5"), NUMBA).items[0]
    assert item.status is Status.NOT_INSTALLABLE
    assert item.build is not None and item.build.stops_below == "cp312"
    assert item.build.interpreters == ("cp39", "cp310", "cp311", "cp312", "pp39")


def test_the_same_version_installs_where_its_wheels_reach() -> None:
    item = installability([Requirement("numba==0.56.4")], env_for("3.10.12"), NUMBA).items[0]
    assert item.status is Status.INSTALLABLE and item.build is None


def test_a_range_request_takes_the_newest_version_even_when_an_older_one_would_build() -> None:
    # numba<0.58 on 3.12: 0.57.0's wheels stop at cp311 -> pip builds 0.57.0 and fails; it does not fall back
    item = installability([Requirement("numba<0.58")], env_for("3.12.3"), NUMBA).items[0]
    assert item.status is Status.NOT_INSTALLABLE and item.chosen == Version("0.57.0")
    assert item.build is not None and item.build.stops_below == "cp311"


@pytest.mark.parametrize("name", ["gappy", "stable"])
def test_no_refusal_is_claimed_without_a_contiguous_run_of_cpython_wheels(name: str) -> None:
    item = installability([Requirement(name)], env_for("3.11.12"), NUMBA).items[0]
    assert item.status is Status.SDIST_ONLY and item.installable
    assert item.build is not None and not item.build.likely_fails


def test_pip_takes_the_newest_version_and_builds_it_over_an_older_wheel() -> None:
    item = installability([Requirement("fresh")], env_for("3.11.12"), NUMBA).items[0]
    assert item.status is Status.SDIST_ONLY and item.chosen == Version("2.0")
    assert item.build is not None and item.build.nearest_below == Version("1.0")


def test_requires_python_of_the_sdist_still_excludes_it() -> None:
    source = FilesSource([sdist("old", "1.0", rp="<3.11"), wheel("old", "0.9", "py3-none", "any")])
    item = installability([Requirement("old")], env_for("3.11.12"), source).items[0]
    assert item.status is Status.INSTALLABLE and item.chosen == Version("0.9")


# -- the report: a verdict, in every rendering ----------------------------------------------------------------

SCENARIO: dict[str, Any] = {
    "image": {"python": "3.11.13", "pins": ["numpy==1.26.4"]},
    "package": [
        {"name": "app", "version": "1.0", "requires": ["fastlib>=1"]},
        {"name": "numpy", "version": "1.26.4", "files": ["cp311-cp311-manylinux_2_17_x86_64"]},
        {
            "name": "fastlib",
            "version": "1.2",
            "files": ["sdist"],
            "sdist": {"pyproject": MESON, "members": ["src/fast.c"]},
        },
        {"name": "fastlib", "version": "1.1", "files": ["cp311-cp311-manylinux_2_17_x86_64", "sdist"]},
        {
            "name": "oldlib",
            "version": "2.0",
            "files": [f"cp3{m}-cp3{m}-manylinux_2_17_x86_64" for m in (8, 9, 10)] + ["sdist"],
            "sdist": {"members": ["oldlib/_speedups.c"]},
        },
        {"name": "usesold", "version": "1.0", "requires": ["oldlib==2.0"]},
    ],
}


def _report(request: str) -> tuple[Report, MemorySource]:
    scenario = scenario_from_dict("builds", SCENARIO)
    return run_check(_items(request), scenario.snapshot, scenario.source, conflict_set=False), scenario.source


def test_a_dependency_built_from_source_makes_the_verdict_with_the_archives_facts() -> None:
    report, source = _report("app")
    assert report.verdict is Verdict.BUILDS_FROM_SOURCE and int(report.exit_code) == 1
    (build,) = report.source_builds
    assert (build.name, build.version, build.requested) == ("fastlib", Version("1.2"), False)
    assert build.nearest_below == Version("1.1") and not build.likely_fails
    assert build.facts is not None and build.facts.compiles and build.facts.build_backend == "mesonpy"
    assert source.calls["sdist_facts"] == 1
    assert "build 1 package(s) from source (fastlib 1.2)" in report.headline()
    data = json.loads(render("report", "json", report))
    assert data["verdict"] == "builds-from-source" and data["exit_code"] == 1
    (entry,) = data["source_builds"]
    assert entry["file"] == "fastlib-1.2.tar.gz" and entry["nearest_with_wheel_below"] == "1.1"
    assert entry["archive"]["compiles"] is True and entry["archive"]["compiled_sources"] == {"C": 1}
    assert entry["archive"]["build_backend"] == "mesonpy" and entry["likely_fails"] is False
    text = render("report", "text", report)
    assert text.startswith("BUILDS-FROM-SOURCE:") and "Built from source:" in text
    assert "build backend: mesonpy" in text and "compiles code: C sources: 1, meson-python, cython" in text
    assert "Built from source" in render("report", "markdown", report)
    (finding,) = findings(report)
    assert finding.severity == "error" and "fastlib 1.2 (fastlib-1.2.tar.gz)" in finding.message


def test_a_requested_sdist_is_a_source_build_without_the_resolution() -> None:
    scenario = scenario_from_dict("builds", SCENARIO)
    report = run_check(_items("fastlib"), scenario.snapshot, scenario.source, conflict_set=False)
    assert report.verdict is Verdict.BUILDS_FROM_SOURCE
    (build,) = report.source_builds
    assert build.requested and build.facts is not None and build.facts.read
    (finding,) = findings(report)
    assert "pip would build fastlib-1.2.tar.gz from source" in finding.message


def test_a_dependency_whose_wheels_stop_below_this_python_makes_the_request_not_installable() -> None:
    report, _ = _report("usesold")
    assert report.installability.ok  # the request itself has a wheel...
    assert report.verdict is Verdict.NOT_INSTALLABLE  # ...but pip would build oldlib and it would refuse 3.11
    headline = report.headline()
    assert "oldlib 2.0 (pulled in by the request): wheels cp38..cp310, no cp311 wheel; pip would build" in headline
    assert "likely to refuse or fail on Python 3.11" in headline
    data = json.loads(render("report", "json", report))
    assert data["verdict"] == "not-installable" and data["source_builds"][0]["wheels_stop_at"] == "cp310"
    (finding,) = findings(report)
    assert "oldlib 2.0 (pulled in by the request)" in finding.message
    assert "Built from source:" in render("report", "text", report)


def test_a_wheel_only_resolution_has_no_source_build() -> None:
    scenario = scenario_from_dict("builds", SCENARIO)
    session = Session.open(scenario.snapshot, scenario.source)
    prediction = predict([Requirement("fastlib==1.1")], session)
    assert prediction.ok and source_builds([Requirement("fastlib==1.1")], session, prediction) == ()


# -- the engine: over HTTP, cached by the archive's hash ------------------------------------------------------


def test_the_engine_reads_an_sdist_over_http_once_and_then_from_the_cache(index_server: FixtureIndex) -> None:
    built = make_sdist("fastlib", "1.2", pyproject=MESON, extra={"src/fast.c": b""})
    index_server.add(built)
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        (file,) = engine.project(canonicalize_name("fastlib")).files
        facts = engine.sdist_facts(file)
        assert engine.sdist_facts(file) is facts  # memoized for the run
    assert facts.read and facts.build_backend == "mesonpy" and dict(facts.sources) == {"C": 1}
    assert len(index_server.requests_for(f"/files/{built.filename}")) == 1
    index_server.reset_log()
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        (file,) = engine.project(canonicalize_name("fastlib")).files
        assert engine.sdist_facts(file) == facts
        assert engine.reads() is not None  # the cached row is stamped: a remembered answer can rely on it
    assert index_server.requests_for(f"/files/{built.filename}") == []


def test_the_engine_says_when_it_could_not_read_the_archive_and_asks_again_next_run(
    index_server: FixtureIndex,
) -> None:
    from tests.indexserver import status_fault

    built = make_sdist("gone", "1.0")
    index_server.add(built)
    path = f"/files/{built.filename}"
    index_server.faults[path] = status_fault(404)
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        (file,) = engine.project(canonicalize_name("gone")).files
        facts = engine.sdist_facts(file)
    assert not facts.read and facts.note == "not read: HTTP 404"
    del index_server.faults[path]
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        (file,) = engine.project(canonicalize_name("gone")).files
        assert engine.sdist_facts(file).read


@pytest.mark.parametrize("mode", ["json", "html"])
def test_the_engine_does_not_read_an_archive_past_its_bound(
    index_server: FixtureIndex, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("analyzer.metadata.engine.MAX_SDIST_BYTES", 64 * 1024)
    index_server.mode = mode
    built = make_sdist("huge", "1.0", padding=400_000)
    index_server.add(built)
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        (file,) = engine.project(canonicalize_name("huge")).files
        facts = engine.sdist_facts(file)
    assert not facts.read and facts.note.startswith("not read: too large")
    asked = index_server.requests_for(f"/files/{built.filename}")
    assert len(asked) == (0 if mode == "json" else 1)  # a page that gives the size spares the request


def test_offline_the_archive_is_not_read_and_the_answer_is_not_remembered(index_server: FixtureIndex) -> None:
    built = make_sdist("later", "1.0")
    index_server.add(built)
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        engine.project(canonicalize_name("later"))  # the page is cached; the archive is not asked for
    with MetadataEngine(config, cache=MetadataCache(), offline=True) as engine:
        (file,) = engine.project(canonicalize_name("later")).files
        facts = engine.sdist_facts(file)
        assert not facts.read and "offline" in facts.note
        assert engine.reads() is None
    assert index_server.requests_for(f"/files/{built.filename}") == []
