"""Requirements of an sdist-only version (issue 13, part 2): a static PKG-INFO, else its Requires-Dist marked as
not guaranteed, else setuptools' ``*.egg-info/requires.txt`` read from the archive, else the same version's wheels
for other interpreters; each route named, opaque only when none exists. Nothing is ever built or run."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.cli import main
from analyzer.diagnosis.pip_prediction import predict
from analyzer.metadata import coremeta
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.coremeta import (
    SdistError,
    SdistRoute,
    parse_core_metadata,
    read_pkg_info,
    read_pkg_info_stream,
    requires_txt_lines,
    sdist_route,
)
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import CoreMetadata, DistFile, MetadataStatus
from analyzer.resolver import ResolverWarning, WarningKind, resolve
from analyzer.resolver.candidates import IndexCandidate, RequirementsRoute, route_counts
from analyzer.session import Session
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.memsource import MemorySource, build_snapshot, scenario_from_dict
from tests.wheelfactory import make_sdist, metadata_text

REQUIRES_TXT = b"""numpy>=1.18,<1.24
llvmlite<0.40  # the compiler
setuptools \\
    >=40

[:python_version < "3.8"]
importlib_metadata

[Test_Suite]
pytest>=7

[cuda:sys_platform == "linux"]
cupy-cuda12x; python_version >= "3.9"
"""


def _tar(members: dict[str, bytes]) -> bytes:
    """An sdist archive with its members in the given order (a tar is read in that order)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _parse(data: bytes, name: str = "legacy") -> CoreMetadata:
    return parse_core_metadata(
        data, name=canonicalize_name(name), version=Version("1.0"), source="sdist", sdist=True
    )


def _texts(meta: CoreMetadata) -> list[str]:
    return [str(r) for r in meta.requires_dist]


def _legacy_pkg_info(requires: tuple[str, ...] = (), version: str = "2.1") -> bytes:
    return metadata_text("legacy", "1.0", requires, metadata_version=version)


# -- PKG-INFO ---------------------------------------------------------------------------------------------------


def test_a_static_pkg_info_is_trusted_as_it_is() -> None:
    meta = _parse(metadata_text("legacy", "1.0", ["attrs>=20"], metadata_version="2.4"))
    assert meta.status is MetadataStatus.OK and meta.source == "sdist" and meta.note == ""
    assert _texts(meta) == ["attrs>=20"] and sdist_route(meta.source) is None


def test_a_static_pkg_info_without_requirements_means_none() -> None:
    meta = _parse(metadata_text("legacy", "1.0", [], metadata_version="2.2"))
    assert meta.status is MetadataStatus.OK and meta.requires_dist == () and sdist_route(meta.source) is None


@pytest.mark.parametrize(
    ("version", "dynamic", "why"),
    [
        ("2.1", (), "Metadata-Version 2.1, before 2.2"),
        ("1.2", (), "Metadata-Version 1.2, before 2.2"),
        ("2.2", ("Requires-Dist",), "Requires-Dist listed in Dynamic"),
    ],
)
def test_requires_dist_that_is_not_promised_is_used_and_marked(
    version: str, dynamic: tuple[str, ...], why: str
) -> None:
    data = metadata_text("legacy", "1.0", ["cudf-cu12==25.2.*"], metadata_version=version, dynamic=dynamic)
    meta = _parse(data)
    assert meta.status is MetadataStatus.OK and _texts(meta) == ["cudf-cu12==25.2.*"]
    assert sdist_route(meta.source) is SdistRoute.PKG_INFO_NOT_GUARANTEED
    assert why in meta.note and "not guaranteed" in meta.note


def test_a_wheel_metadata_is_never_marked() -> None:
    meta = parse_core_metadata(
        _legacy_pkg_info(("attrs",)), name=canonicalize_name("legacy"), version=Version("1.0"), source="range"
    )
    assert meta.status is MetadataStatus.OK and meta.source == "range" and meta.note == ""


def test_without_requires_dist_or_egg_info_the_requirements_are_unknown() -> None:
    data = read_pkg_info_stream(
        io.BytesIO(_tar({"legacy-1.0/PKG-INFO": _legacy_pkg_info()})), "legacy-1.0.tar.gz"
    )
    meta = _parse(data)
    assert meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN and meta.requires_dist == ()
    assert "names no Requires-Dist" in meta.note and "no *.egg-info/requires.txt in the archive" in meta.note


def test_a_metadata_file_alone_says_the_archive_was_not_read() -> None:
    meta = _parse(_legacy_pkg_info())  # plain bytes: a PEP 658 file of an sdist, no archive behind it
    assert meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN and "not read for its egg-info" in meta.note


# -- requires.txt -------------------------------------------------------------------------------------------------


def test_requires_txt_becomes_requires_dist_with_markers() -> None:
    skipped: list[str] = []
    lines, extras = requires_txt_lines(REQUIRES_TXT.decode(), skipped)
    assert lines == [
        "numpy<1.24,>=1.18",
        "llvmlite<0.40",
        "setuptools>=40",
        'importlib_metadata; python_version < "3.8"',
        'pytest>=7; extra == "test-suite"',
        'cupy-cuda12x; python_version >= "3.9" and sys_platform == "linux" and extra == "cuda"',
    ]
    assert extras == {"test-suite", "cuda"} and skipped == []


def test_a_section_marker_with_or_keeps_its_meaning() -> None:
    lines, _ = requires_txt_lines('[x:os_name == "nt" or python_version < "3"]\nwin\n', [])
    marker = Requirement(lines[0]).marker
    assert marker is not None
    linux = {"os_name": "posix", "python_version": "3.11"}
    assert not marker.evaluate({**linux, "extra": "x"}) and not marker.evaluate({**linux, "os_name": "nt"})
    assert marker.evaluate({**linux, "os_name": "nt", "extra": "x"})


def test_bad_lines_and_sections_of_requires_txt_are_named_and_skipped() -> None:
    skipped: list[str] = []
    text = "good>=1\nbad >>= 2\n[:python_version <<< '3']\nhidden\n[ok]\nfine\n"
    lines, extras = requires_txt_lines(text, skipped)
    assert lines == ["good>=1", 'fine; extra == "ok"'] and extras == {"ok"}
    assert len(skipped) == 3 and "bad >>= 2" in skipped[0] and "hidden" in skipped[2]


@pytest.mark.parametrize("folder", ["legacy.egg-info", "src/legacy.egg-info"])
def test_requires_txt_is_read_from_the_archive_stream(folder: str) -> None:
    archive = _tar(
        {
            "legacy-1.0/PKG-INFO": _legacy_pkg_info(),
            "legacy-1.0/setup.py": b"raise SystemExit('never run')\n",
            f"legacy-1.0/{folder}/PKG-INFO": _legacy_pkg_info(),
            f"legacy-1.0/{folder}/requires.txt": REQUIRES_TXT,
        }
    )
    meta = _parse(read_pkg_info_stream(io.BytesIO(archive), "legacy-1.0.tar.gz"))
    assert meta.status is MetadataStatus.OK and sdist_route(meta.source) is SdistRoute.EGG_INFO
    assert "numpy<1.24,>=1.18" in _texts(meta) and meta.provides_extra == {"test-suite", "cuda"}
    assert f"{folder}/requires.txt" in meta.note and "not guaranteed" in meta.note


def test_requires_txt_before_pkg_info_and_the_project_own_folder_win() -> None:
    archive = _tar(
        {
            "legacy-1.0/vendored/other.egg-info/requires.txt": b"wrong\n",
            "legacy-1.0/legacy.egg-info/requires.txt": b"right>=2\n",
            "legacy-1.0/PKG-INFO": _legacy_pkg_info(),
        }
    )
    meta = _parse(read_pkg_info_stream(io.BytesIO(archive), "legacy-1.0.tar.gz"))
    assert _texts(meta) == ["right>=2"]


def test_requires_txt_is_read_from_a_zip_sdist() -> None:
    archive = _zip(
        {"legacy-1.0/PKG-INFO": _legacy_pkg_info(), "legacy-1.0/legacy.egg-info/requires.txt": b"a\n"}
    )
    meta = _parse(read_pkg_info(archive, "legacy-1.0.zip"))
    assert _texts(meta) == ["a"] and sdist_route(meta.source) is SdistRoute.EGG_INFO


def test_an_egg_info_without_requires_txt_means_no_requirements() -> None:
    archive = _tar({"legacy-1.0/PKG-INFO": _legacy_pkg_info(), "legacy-1.0/legacy.egg-info/PKG-INFO": b""})
    meta = _parse(read_pkg_info_stream(io.BytesIO(archive), "legacy-1.0.tar.gz"))
    assert meta.status is MetadataStatus.OK and meta.requires_dist == ()
    assert sdist_route(meta.source) is SdistRoute.EGG_INFO and "has no requires.txt" in meta.note


def test_pkg_info_requires_dist_comes_before_requires_txt() -> None:
    archive = _tar(
        {
            "legacy-1.0/PKG-INFO": _legacy_pkg_info(("listed",)),
            "legacy-1.0/legacy.egg-info/requires.txt": b"egg\n",
        }
    )
    meta = _parse(read_pkg_info_stream(io.BytesIO(archive), "legacy-1.0.tar.gz"))
    assert _texts(meta) == ["listed"] and sdist_route(meta.source) is SdistRoute.PKG_INFO_NOT_GUARANTEED


class _Counting(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        self.count += len(data)
        return data


@pytest.mark.parametrize(("version", "whole"), [("2.2", False), ("2.1", True)])
def test_the_stream_is_read_past_pkg_info_only_when_pkg_info_says_nothing(version: str, whole: bool) -> None:
    built = make_sdist("legacy", "1.0", metadata_version=version, padding=2_000_000)
    stream = _Counting(built.data)
    meta = _parse(read_pkg_info_stream(stream, built.filename))
    assert (stream.count > len(built.data) // 2) is whole
    assert meta.status is (MetadataStatus.REQUIREMENTS_UNKNOWN if whole else MetadataStatus.OK)


def test_an_archive_that_breaks_off_while_its_egg_info_is_looked_for_is_unreadable() -> None:
    archive = _tar({"legacy-1.0/PKG-INFO": _legacy_pkg_info(), "legacy-1.0/big.bin": bytes(200_000)})
    with pytest.raises(SdistError, match="not a readable archive"):
        read_pkg_info_stream(io.BytesIO(archive[: len(archive) // 2 + 60]), "legacy-1.0.tar.gz")
    # a static PKG-INFO is the whole answer: the rest of the archive is not read
    static = _tar(
        {
            "legacy-1.0/PKG-INFO": metadata_text("legacy", "1.0", metadata_version="2.2"),
            "legacy-1.0/big.bin": bytes(200_000),
        }
    )
    assert (
        read_pkg_info_stream(io.BytesIO(static[: len(static) // 2 + 60]), "legacy-1.0.tar.gz").egg_info
        is None
    )


def test_the_egg_info_is_not_looked_for_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coremeta, "MAX_EGG_INFO_SCAN", 100_000)
    members = {"legacy-1.0/PKG-INFO": _legacy_pkg_info(), "legacy-1.0/big.bin": bytes(200_000)}
    archive = _tar({**members, "legacy-1.0/legacy.egg-info/requires.txt": b"late\n"})
    meta = _parse(read_pkg_info_stream(io.BytesIO(archive), "legacy-1.0.tar.gz"))
    assert meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN and "not read past" in meta.note


def test_an_archive_without_pkg_info_is_an_error() -> None:
    with pytest.raises(SdistError):
        read_pkg_info_stream(
            io.BytesIO(_tar({"legacy-1.0/legacy.egg-info/requires.txt": b"a\n"})), "x.tar.gz"
        )


def test_nothing_in_the_archive_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    built = make_sdist("legacy", "1.0", metadata_version="2.1", marker_path=str(marker))
    _parse(read_pkg_info_stream(io.BytesIO(built.data), built.filename))
    assert not marker.exists()


# -- the resolver: which route a candidate's requirements came by -----------------------------------------------

SDIST_ONLY_HERE: list[dict[str, Any]] = [
    # pip would build the sdist on Linux 3.11; the wheels are for other targets and say what the build said there
    {
        "name": "legacy",
        "version": "1.0",
        "files": ["sdist", "cp310-cp310-manylinux_2_17_x86_64", "cp311-cp311-win_amd64"],
    },
    {"name": "numpy", "version": "1.23.5"},
    {"name": "numpy", "version": "1.26.4"},
    {"name": "llvmlite", "version": "0.39.1"},
    {"name": "colorama", "version": "0.4.6"},
]
LEGACY = canonicalize_name("legacy")
PER_FILE = {
    "legacy-1.0.tar.gz": CoreMetadata(
        canonicalize_name("legacy"),
        Version("1.0"),
        requires_python=SpecifierSet(">=3.7"),
        status=MetadataStatus.REQUIREMENTS_UNKNOWN,
        source="sdist",
        note="PKG-INFO names no Requires-Dist",
    ),
    "legacy-1.0-cp310-cp310-manylinux_2_17_x86_64.whl": CoreMetadata(
        canonicalize_name("legacy"),
        Version("1.0"),
        (
            Requirement("numpy<1.24,>=1.18"),
            Requirement("llvmlite<0.40"),
            Requirement("tomli; python_version < '3.11'"),
        ),
        source="range",
    ),
    "legacy-1.0-cp311-cp311-win_amd64.whl": CoreMetadata(
        canonicalize_name("legacy"),
        Version("1.0"),
        (
            Requirement("numpy<1.24,>=1.18"),
            Requirement("colorama"),
            Requirement("winonly; sys_platform == 'win32'"),
        ),
        source="range",
    ),
}


@dataclass
class PerFileSource(MemorySource):
    """A memory source whose files of one version can say different things (an sdist and its wheels)."""

    by_file: dict[str, CoreMetadata] = field(default_factory=dict)

    def metadata(self, file: DistFile) -> CoreMetadata:
        found = self.by_file.get(file.filename)
        if found is None:
            return super().metadata(file)
        self.calls["metadata"] += 1
        return found


def _session(
    packages: list[dict[str, Any]], by_file: dict[str, CoreMetadata], pins: Sequence[str] = ()
) -> Session:
    s = scenario_from_dict("inline", {"image": {"pins": list(pins)}, "package": packages})
    source = PerFileSource(s.source.files, s.source.meta, s.source.direct, archives=s.source.archives)
    source.by_file.update(by_file)
    return Session.open(s.snapshot, source, s.env)


def _route_warnings(warnings: Iterable[ResolverWarning]) -> list[str]:
    return [w.message for w in warnings if w.kind is WarningKind.REQUIREMENTS_ROUTE]


def test_an_sdist_without_requirements_takes_the_nearest_wheel_of_its_version() -> None:
    session = _session(SDIST_ONLY_HERE, PER_FILE)
    result = resolve([Requirement("legacy")], session)
    assert result.ok
    legacy = result.mapping[LEGACY]
    # the cp310 Linux wheel, not the Windows one: markers of its lines still evaluated for this target
    assert [str(r) for r in legacy.requirements] == ["numpy<1.24,>=1.18", "llvmlite<0.40"] and legacy.known
    assert {n: str(d.version) for n, d in result.mapping.items()} == {
        "legacy": "1.0",
        "numpy": "1.23.5",
        "llvmlite": "0.39.1",
    }
    [said] = _route_warnings(result.warnings)
    assert "legacy-1.0-cp310-cp310-manylinux_2_17_x86_64.whl" in said and "another interpreter" in said
    assert "legacy-1.0.tar.gz" in said and not any(
        w.kind is WarningKind.REQUIREMENTS_UNKNOWN for w in result.warnings
    )


def test_without_any_wheel_the_sdist_stays_unknown_and_says_so() -> None:
    packages = [{**SDIST_ONLY_HERE[0], "files": ["sdist"]}, *SDIST_ONLY_HERE[1:]]
    result = resolve([Requirement("legacy")], _session(packages, PER_FILE))
    assert result.ok and not result.mapping[LEGACY].known and list(result.mapping) == ["legacy"]
    [unknown] = [w.message for w in result.warnings if w.kind is WarningKind.REQUIREMENTS_UNKNOWN]
    assert "no wheel of this version" in unknown and "PKG-INFO names no Requires-Dist" in unknown


def test_an_unreadable_nearest_wheel_gives_way_to_the_next() -> None:
    broken = CoreMetadata(
        canonicalize_name("legacy"), Version("1.0"), status=MetadataStatus.UNAVAILABLE, note="HTTP 500"
    )
    by_file = {**PER_FILE, "legacy-1.0-cp310-cp310-manylinux_2_17_x86_64.whl": broken}
    session = _session(SDIST_ONLY_HERE, by_file)
    result = resolve([Requirement("legacy")], session)
    # the Windows wheel's lines, its markers evaluated for Linux
    assert [str(r) for r in result.mapping[LEGACY].requirements] == ["numpy<1.24,>=1.18", "colorama"]
    assert "winonly" not in result.mapping
    assert "legacy-1.0-cp311-cp311-win_amd64.whl" in _route_warnings(result.warnings)[0]


@pytest.mark.parametrize(
    ("source", "route"),
    [
        ("sdist", RequirementsRoute.SDIST_PKG_INFO),
        ("sdist+pkg-info-not-guaranteed", RequirementsRoute.SDIST_PKG_INFO_NOT_GUARANTEED),
        ("metadata-file+egg-info", RequirementsRoute.SDIST_EGG_INFO),
    ],
)
def test_an_sdist_route_is_named_in_a_warning(source: str, route: RequirementsRoute) -> None:
    meta = replace(
        PER_FILE["legacy-1.0.tar.gz"], status=MetadataStatus.OK, source=source, note="what coremeta said"
    )
    session = _session([{**SDIST_ONLY_HERE[0], "files": ["sdist"]}], {"legacy-1.0.tar.gz": meta})
    result = resolve([Requirement("legacy")], session)
    assert result.ok and result.mapping[LEGACY].known
    assert session.factory.index_candidates(canonicalize_name("legacy"), [])[0].info.route is route
    [said] = _route_warnings(result.warnings)
    assert "legacy-1.0.tar.gz" in said
    assert (
        ("PEP 643" in said) if route is RequirementsRoute.SDIST_PKG_INFO else ("what coremeta said" in said)
    )


def test_installed_pins_are_counted_by_route() -> None:
    packages = [
        *SDIST_ONLY_HERE,
        {"name": "plain", "version": "1.0"},
        {"name": "foreign", "version": "2.0", "files": ["cp311-cp311-win_amd64"]},
        {"name": "opaque", "version": "3.0", "files": ["sdist"]},
        # installed although its Requires-Python now excludes the target: its wheel says what is installed
        {"name": "old", "version": "1.0", "files": ["sdist", "py3-none-any"], "requires_python": "<3.10"},
    ]
    unknown = replace(PER_FILE["legacy-1.0.tar.gz"], name=canonicalize_name("opaque"), version=Version("3.0"))
    pins = ["legacy==1.0", "plain==1.0", "foreign==2.0", "opaque==3.0", "numpy==1.23.5", "old==1.0"]
    session = _session(packages, {**PER_FILE, "opaque-3.0.tar.gz": unknown}, pins)
    counts = route_counts(session.installed.values())
    assert counts == {
        RequirementsRoute.WHEEL: 3,
        RequirementsRoute.OTHER_WHEEL: 2,
        RequirementsRoute.UNKNOWN: 1,
    }
    legacy = session.installed[canonicalize_name("legacy")]
    assert legacy.file is not None and legacy.file.filename == "legacy-1.0.tar.gz"  # pip's file, not a wheel


def test_a_not_guaranteed_requirement_of_a_pin_is_checked_after_an_install() -> None:
    """The cuml-cu12 case: its only metadata is a 2.1 PKG-INFO; moving cudf-cu12 breaks it, and pip says so."""
    packages: list[dict[str, Any]] = [
        {"name": "cuml-cu12", "version": "25.2.1", "files": ["sdist"]},
        {"name": "cudf-cu12", "version": "24.10.1"},
        {"name": "cudf-cu12", "version": "25.2.2"},
    ]
    cuml = CoreMetadata(
        canonicalize_name("cuml-cu12"),
        Version("25.2.1"),
        (Requirement("cudf-cu12==25.2.*"),),
        source="sdist+pkg-info-not-guaranteed",
        note="Requires-Dist from the sdist's PKG-INFO: not guaranteed",
    )
    session = _session(
        packages, {"cuml_cu12-25.2.1.tar.gz": cuml}, ["cuml-cu12==25.2.1", "cudf-cu12==25.2.2"]
    )
    prediction = predict([Requirement("cudf-cu12==24.10.1")], session)
    assert prediction.ok and "cuml-cu12" not in prediction.opaque
    assert [v.text() for v in prediction.newly_broken] == [
        "cuml-cu12 25.2.1 requires cudf-cu12==25.2.*, but you have cudf-cu12 24.10.1 which is incompatible."
    ]


# -- end to end: the engine reads the archive, the check names the route ------------------------------------------


def _check(
    index: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> dict[str, Any]:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    argv = [
        "check",
        spec,
        "--snapshot",
        str(freeze),
        "--python",
        "3.11",
        "--platform",
        "manylinux_2_35_x86_64",
    ]
    main([*argv, "--index-url", index.index_url, "--format", "json", "--budget", "20"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    report: dict[str, Any] = json.loads(out.out)
    return report


@pytest.mark.parametrize(
    ("legacy_files", "route"),
    [
        (
            {"legacy.egg-info/requires.txt": b"dep>=1\n\n[:sys_platform == 'win32']\nwinonly\n"},
            "legacy.egg-info",
        ),
        ({}, "legacy-1.0-cp311-cp311-win_amd64.whl"),
    ],
)
def test_a_check_reads_an_sdist_only_dependency_by_its_route(
    index_server: FixtureIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    legacy_files: dict[str, bytes],
    route: str,
) -> None:
    marker = tmp_path / "setup-py-ran"
    index_server.wheel("base", "1.0")
    index_server.wheel("dep", "1.0")
    index_server.wheel("app", "1.0", ["legacy"])
    index_server.add(
        make_sdist("legacy", "1.0", metadata_version="2.1", marker_path=str(marker), extra=legacy_files)
    )
    # a wheel for Windows only: on Linux pip builds the sdist; its METADATA says what the build said there
    index_server.wheel(
        "legacy", "1.0", ["dep>=1", "winonly; sys_platform == 'win32'"], tag="cp311-cp311-win_amd64"
    )
    report = _check(index_server, tmp_path, capsys, "app")
    installs = {c["name"]: c["to"] for c in report["pip"]["changes"] if c["action"] == "install"}
    assert installs == {"app": "1.0", "legacy": "1.0", "dep": "1.0"}
    said = [w for w in report["warnings"] if w.startswith("legacy 1.0: requirements from")]
    assert len(said) == 1 and route in said[0] and "not guaranteed" in said[0]
    assert not any("requirements unknown" in w for w in report["warnings"])
    assert not marker.exists()


# -- live: the cases on the real index, pinned --as-of ---------------------------------------------------

LIVE_AS_OF = datetime(2025, 6, 1, tzinfo=timezone.utc)


def _live_candidate(name: str, version: str) -> tuple[IndexCandidate, tuple[str, ...]]:
    snapshot = build_snapshot({"python": "3.11.12", "glibc": "2.35"})
    config = IndexConfig(PYPI_SIMPLE_ENDPOINT)
    with MetadataEngine(config, cache=MetadataCache(), as_of=LIVE_AS_OF) as engine:
        session = Session.open(snapshot, engine)
        [found] = [
            c
            for c in session.factory.index_candidates(canonicalize_name(name), [])
            if str(c.version) == version
        ]
        evaluated = tuple(str(r) for r in session.factory.evaluated(found, frozenset()))
    return found, evaluated


@pytest.mark.live
def test_live_numba_0_56_4_sdist_reads_its_cp310_wheel() -> None:
    numba, requirements = _live_candidate("numba", "0.56.4")
    assert numba.file is not None and numba.file.filename == "numba-0.56.4.tar.gz"
    assert numba.info.route is RequirementsRoute.OTHER_WHEEL
    assert {"numpy<1.24,>=1.18", "llvmlite<0.40,>=0.39.0dev0"} <= set(requirements)
    [said] = _route_warnings(numba.warnings)
    assert "numba-0.56.4-cp310-cp310-manylinux" in said


@pytest.mark.live
def test_live_cuml_cu12_25_2_1_reads_its_pkg_info() -> None:
    cuml, requirements = _live_candidate("cuml-cu12", "25.2.1")
    assert cuml.info.route is RequirementsRoute.SDIST_PKG_INFO_NOT_GUARANTEED
    assert "cudf-cu12==25.2.*" in requirements


def test_the_report_counts_the_image_pins_by_route(
    index_server: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel("base", "1.0")
    index_server.wheel("app", "1.0")
    index_server.wheel("dep", "1.0")
    index_server.add(
        make_sdist("legacy", "1.0", metadata_version="2.1", extra={"legacy.egg-info/requires.txt": b"dep>=1\n"})
    )
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\nlegacy==1.0\ndep==1.0\n")
    argv = ["check", "app", "--snapshot", str(freeze), "--python", "3.11", "--platform", "manylinux_2_35_x86_64"]
    main([*argv, "--index-url", index_server.index_url, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert report["requirement_routes"] == {"wheel": 2, "sdist-egg-info": 1}
    main([*argv, "--index-url", index_server.index_url, "--recompute"])
    text = capsys.readouterr().out
    assert "2 from the wheel pip installs, 1 from an sdist's egg-info (not guaranteed)" in text
