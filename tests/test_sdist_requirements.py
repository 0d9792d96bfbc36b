"""Requirements of an sdist-only version (issue 13, part 2): a static PKG-INFO, else its Requires-Dist marked as
not guaranteed, else setuptools' ``*.egg-info/requires.txt`` read from the archive, else the same version's wheels
for other interpreters; each route named, opaque only when none exists. Nothing is ever built or run."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from analyzer.metadata.coremeta import (
    PkgInfo,
    SdistError,
    SdistRoute,
    parse_core_metadata,
    read_pkg_info,
    read_pkg_info_stream,
    requires_txt_lines,
    sdist_route,
)
from analyzer.metadata.models import CoreMetadata, MetadataStatus
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


def test_an_archive_that_breaks_after_pkg_info_says_so() -> None:
    archive = _tar({"legacy-1.0/PKG-INFO": _legacy_pkg_info(), "legacy-1.0/big.bin": bytes(200_000)})
    cut = read_pkg_info_stream(io.BytesIO(archive[: len(archive) // 2 + 60]), "legacy-1.0.tar.gz")
    assert isinstance(cut, PkgInfo) and cut.egg_info is None and "broke off" in cut.note
    assert "broke off" in _parse(cut).note


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
