"""Bad metadata from the wild (issue 7, part 2): wheels built with hostile METADATA, served by the fixture index.

Legacy versions and specifiers that ``packaging`` refuses, markers that do not parse, self-dependencies, cycles,
enormous requirement lists, extras that do not exist, METADATA that is not metadata. The resolver never crashes
on them; where a right answer exists the check gives it, and the report names what was skipped and why.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name
from packaging.version import Version

from analyzer.cli import main
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.coremeta import parse_core_metadata
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import MetadataStatus
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.wheelfactory import Built, make_sdist, make_wheel, metadata_text

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def wild(index_server: FixtureIndex) -> FixtureIndex:
    """An index with ordinary ``dep`` releases and ``base`` (the image's one pin); tests add the hostile ones."""
    index_server.wheel("base", "1.0")
    index_server.wheel("dep", "1.0")
    index_server.wheel("dep", "2.0b0")
    return index_server


def _check(index: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], *specs: str) -> dict[str, Any]:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    argv = ["check", *specs, "--snapshot", str(freeze), "--python", "3.11", "--platform", "manylinux_2_35_x86_64"]
    code = main([*argv, "--index-url", index.index_url, "--format", "json", "--budget", "20"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    assert code in (0, 1), out.err
    report: dict[str, Any] = json.loads(out.out)
    assert report["exit_code"] == code
    return report


def _installs(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["to"] for c in report["pip"]["changes"] if c["action"] == "install"}


def _warnings(report: dict[str, Any]) -> str:
    return "\n".join(report["warnings"])


# -- versions ------------------------------------------------------------------------------------------------


def test_files_with_legacy_versions_are_skipped_and_named(wild: FixtureIndex) -> None:
    wild.add(Built("dep-2004d-py3-none-any.whl", make_wheel("dep", "1.0").data, b""), project="dep")
    wild.add(make_sdist("dep", "1.0-SNAPSHOT"), project="dep")
    wild.add(Built("dep-1.0_32bitOS.tar.gz", make_sdist("dep", "1.0").data, b""), project="dep")
    with MetadataEngine(IndexConfig(wild.index_url), cache=MetadataCache()) as engine:
        files = engine.project("dep")
    assert sorted(str(v) for v in files.versions()) == ["1.0", "2.0b0"]
    problems = "\n".join(files.problems)
    for skipped in ("dep-2004d-py3-none-any.whl", "dep-1.0-SNAPSHOT.tar.gz", "dep-1.0_32bitOS.tar.gz"):
        assert f"skipped {skipped}: " in problems
    assert "Invalid version" in problems or "invalid version" in problems


def test_a_request_for_a_legacy_version_is_answered_not_crashed(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.add(Built("dep-2004d-py3-none-any.whl", make_wheel("dep", "1.0").data, b""), project="dep")
    report = _check(wild, tmp_path, capsys, "dep===2004d")
    assert report["verdict"] == "not-installable" and "dep===2004d" in report["headline"]
    # and the report says why 2004d is not among the versions: its file was skipped
    assert "skipped dep-2004d-py3-none-any.whl: " in _warnings(report)


def test_skipped_files_of_a_dependency_do_not_stop_it(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.add(Built("dep-2004d-py3-none-any.whl", make_wheel("dep", "1.0").data, b""), project="dep")
    wild.wheel("app", "1.0", ["dep<2"])
    report = _check(wild, tmp_path, capsys, "app")
    assert report["verdict"] == "fits" and _installs(report) == {"app": "1.0", "dep": "1.0"}


def test_legacy_version_inside_metadata_does_not_matter(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file name carries the version pip uses; a METADATA ``Version: 1.0-SNAPSHOT`` does not stop anything."""
    wild.wheel("snap", "1.0", metadata=metadata_text("snap", "1.0-SNAPSHOT", ["dep<2"]))
    report = _check(wild, tmp_path, capsys, "snap")
    assert report["verdict"] == "fits" and _installs(report) == {"snap": "1.0", "dep": "1.0"}


# -- specifiers and markers -----------------------------------------------------------------------------------


def test_refused_specifiers_and_markers_are_skipped_and_named(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requires = [
        "dep>=1.0.*",  # packaging >= 22 refuses .* with >=
        "dep==2.0-beta",  # a legacy spelling packaging still reads: 2.0b0, a pre-release named explicitly
        "dep; python_version >> '3'",
        "dep>=1; os_name == 'posix' and",
        "base; extra == 'nope'",  # an extra the package never provides: false, not an error
    ]
    meta = metadata_text("legacy", "1.0", requires, requires_python=">=3.6.*")
    wild.wheel("legacy", "1.0", metadata=meta)
    report = _check(wild, tmp_path, capsys, "legacy")
    # the right answer: the one line that means something pins the pre-release
    assert report["verdict"] == "fits" and _installs(report) == {"legacy": "1.0", "dep": "2.0b0"}
    warnings = [w for w in report["warnings"] if w.startswith("legacy 1.0: skipped ")]
    assert len(warnings) == 4, warnings
    text = "\n".join(warnings)
    assert "skipped Requires-Dist: dep>=1.0.* (" in text
    assert "skipped Requires-Dist: dep; python_version >> '3' (" in text
    assert "skipped Requires-Dist: dep>=1; os_name == 'posix' and (" in text
    assert "skipped Requires-Python: >=3.6.* (" in text and "any Python accepted" in text
    assert all("\n" not in w for w in warnings)  # packaging's caret drawings stay out of the report


def test_a_marker_that_holds_keeps_its_requirement(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("marked", "1.0", ["dep<2; python_version >= '3.8'", "nothere; sys_platform == 'win32'"])
    report = _check(wild, tmp_path, capsys, "marked")
    assert _installs(report) == {"marked": "1.0", "dep": "1.0"} and "nothere" not in json.dumps(report["pip"])


# -- self-dependencies and cycles ------------------------------------------------------------------------------


def test_a_package_requiring_itself_installs(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("selfish", "1.0", ["selfish", "dep<2"])
    report = _check(wild, tmp_path, capsys, "selfish")
    assert report["verdict"] == "fits" and _installs(report) == {"selfish": "1.0", "dep": "1.0"}


def test_a_package_requiring_another_version_of_itself_is_unresolvable(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("selfish", "1.0", ["selfish>=2"])
    report = _check(wild, tmp_path, capsys, "selfish")
    assert report["verdict"] == "unresolvable"
    assert "selfish 1.0 depends on selfish>=2" in report["pip"]["conflict"]["message"]


def test_extras_requiring_the_package_with_other_extras(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ``ray[all]`` pattern: an extra that pulls in the package itself with another extra."""
    wild.wheel("meta", "1.0", ["meta[test]; extra == 'all'", "dep<2; extra == 'test'"], extras=["all", "test"])
    report = _check(wild, tmp_path, capsys, "meta[all]")
    assert report["verdict"] == "fits" and _installs(report) == {"meta": "1.0", "dep": "1.0"}


def test_a_cycle_installs(wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wild.wheel("cyca", "1.0", ["cycb"])
    wild.wheel("cycb", "1.0", ["cycc"])
    wild.wheel("cycc", "1.0", ["cyca"])
    report = _check(wild, tmp_path, capsys, "cyca")
    assert report["verdict"] == "fits" and _installs(report) == {"cyca": "1.0", "cycb": "1.0", "cycc": "1.0"}


def test_a_cycle_that_contradicts_itself_is_unresolvable(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("cyca", "1.0", ["cycb>=1"])
    wild.wheel("cycb", "1.0", ["cyca<1"])
    report = _check(wild, tmp_path, capsys, "cyca")
    assert report["verdict"] == "unresolvable"
    assert "cycb 1.0 depends on cyca<1" in report["pip"]["conflict"]["message"]


# -- enormous lists --------------------------------------------------------------------------------------------


def test_five_thousand_requirement_lines(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"plugin{i}; extra == 'e{i}'" for i in range(5000)] + ["dep<2"]
    wild.wheel("huge", "1.0", lines)
    report = _check(wild, tmp_path, capsys, "huge")
    assert report["verdict"] == "fits" and _installs(report) == {"huge": "1.0", "dep": "1.0"}


def test_five_thousand_copies_of_one_line_are_one_requirement(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("copies", "1.0", ["dep<2"] * 5000)
    with MetadataEngine(IndexConfig(wild.index_url), cache=MetadataCache()) as engine:
        meta = engine.metadata(engine.project("copies").files[0])
    assert [str(r) for r in meta.requires_dist] == ["dep<2"]
    report = _check(wild, tmp_path, capsys, "copies")
    assert report["verdict"] == "fits" and _installs(report) == {"copies": "1.0", "dep": "1.0"}


def test_hundreds_of_specifiers_on_one_name(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Combining N specifiers once per resolver call, not N times: this took seconds at 300 lines, minutes at 5000."""
    wild.wheel("picky", "1.0", [f"dep>=0.{i}" for i in range(300)] + ["dep<2"])
    report = _check(wild, tmp_path, capsys, "picky")
    assert report["verdict"] == "fits" and _installs(report) == {"picky": "1.0", "dep": "1.0"}


# -- extras that do not exist ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["wants", "dep[nope]<2"])
def test_an_extra_that_does_not_exist_is_named(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    wild.wheel("wants", "1.0", ["dep[nope]<2"])
    report = _check(wild, tmp_path, capsys, spec)
    assert report["verdict"] == "fits" and _installs(report)["dep"] == "1.0"
    assert "dep 1.0 does not provide the extra 'nope'" in _warnings(report)


# -- METADATA that is not metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 20, b"", b"\n\n\n", "Ünïcode: ☃\n".encode("utf-16")],
    ids=["binary", "empty", "blank", "utf-16"],
)
def test_metadata_that_is_not_metadata_is_unavailable_and_named(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    wild.wheel("junk", "1.0", metadata=data)
    wild.wheel("app", "1.0", ["junk"])
    report = _check(wild, tmp_path, capsys, "app")
    assert report["verdict"] == "fits" and _installs(report) == {"app": "1.0", "junk": "1.0"}
    assert report["pip"]["opaque"] == ["junk"]
    assert "junk 1.0: metadata unavailable" in _warnings(report) and "not core metadata" in _warnings(report)


def test_a_request_whose_metadata_is_not_metadata_cannot_be_analysed(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wild.wheel("junk", "1.0", metadata=b"\x00\x01garbage")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    code = main(["check", "junk", "--snapshot", str(freeze), "--python", "3.11", "--index-url", wild.index_url])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback" not in err
    assert "cannot analyse the request: junk 1.0: metadata unavailable (junk-1.0-py3-none-any.whl)" in err
    assert "not core metadata" in err


def test_an_implausibly_large_metadata_is_refused_unread(
    wild: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a 9 MB description that does not compress (hex digits: about 4.5 MB in the zip)
    data = metadata_text("vast", "1.0", ["dep<2"]) + secrets.token_hex(9 * 1024 * 1024 // 2).encode()
    entry = wild.wheel("vast", "1.0", metadata=data)
    wild.wheel("app", "1.0", ["vast"])
    report = _check(wild, tmp_path, capsys, "app")
    assert report["verdict"] == "fits" and "vast 1.0: metadata unavailable" in _warnings(report)
    assert "METADATA is implausibly large" in _warnings(report)
    # the zip directory said how large it is: its bytes were never fetched
    assert wild.bytes_for(f"/files/{entry.filename}") < 100_000


# -- fuzz: whatever a Requires-Dist line holds, parsing answers -------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "dep", "dep2", ">=", "==", "~=", "===", "!=", "<", "1.0", "1.0.*", "2004d", "1.0-SNAPSHOT", "2.0-beta",
        ",", ";", " ", "(", ")", "[", "]", "extra", "==", "'x'", '"3.8"', "python_version", "os_name", "and",
        "or", "@", "https://example.org/dep.whl", "#", "\\", "\t", "ü", "\x00",
    ]
)
LINES = st.lists(FRAGMENTS, max_size=12).map("".join).filter(lambda s: s.strip() == s and s != "")


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LINES, max_size=20), st.one_of(st.none(), LINES))
def test_fuzzed_requirement_lines_are_parsed_or_skipped(lines: list[str], requires_python: str | None) -> None:
    data = metadata_text("fuzz", "1.0", lines, requires_python=requires_python)
    meta = parse_core_metadata(data, name=canonicalize_name("fuzz"), version=Version("1.0"), source="test")
    assert meta.status is MetadataStatus.OK
    # every distinct line is accounted for: a requirement, or a skipped line that names it
    assert len(meta.requires_dist) + sum(s.startswith("Requires-Dist: ") for s in meta.skipped) == len(
        dict.fromkeys(lines)
    )
    assert all("\n" not in s for s in meta.skipped)
