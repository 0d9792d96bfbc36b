"""Range reads of a wheel's METADATA: how many round trips each layout costs, and that every layout reads right."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable

import pytest
from packaging.utils import canonicalize_name

from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.lazywheel import TAIL_BYTES, WheelMetadataError, _SparseFile, read_metadata_from_zip
from analyzer.metadata.models import CoreMetadata, MetadataStatus
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.wheelfactory import Built, make_wheel, metadata_text, wheel_filename


def _wheel(name: str, *, record: int = 0, members: int = 0, metadata_first: bool = False) -> Built:
    """A 2 MB wheel laid out as builders do: payload, then ``*.dist-info`` with METADATA, WHEEL and a RECORD of
    ``record`` bytes (stored); ``members`` small files before it (a central directory that many entries
    long); ``metadata_first`` puts the dist-info at the front, as some builders do."""
    dist = name.replace("-", "_")
    info = f"{dist}-1.0.dist-info"
    meta = metadata_text(name, "1.0", [f"{name}-dep>=1"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:

        def dist_info() -> None:
            zf.writestr(f"{info}/METADATA", meta)
            zf.writestr(f"{info}/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            stored = zipfile.ZipInfo(f"{info}/RECORD")  # stored: ``record`` bytes in the file
            zf.writestr(stored, os.urandom(record).hex()[:record].encode())

        if metadata_first:
            dist_info()
        zf.writestr(zipfile.ZipInfo(f"{dist}/payload.bin"), os.urandom(2_000_000))  # stored
        for i in range(members):
            zf.writestr(f"{dist}/{'sub/' * 8}module_{i:05d}.py", b"")
        if not metadata_first:
            dist_info()
    return Built(wheel_filename(name, "1.0"), buffer.getvalue(), meta)


def _read(index: FixtureIndex, built: Built) -> tuple[CoreMetadata, list[str]]:
    index.add(built)
    with MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache()) as engine:
        meta = engine.metadata(engine.project(built.filename.split("-")[0]).files[0])
    reads = index.requests_for("/files/")
    assert all(r.status == 206 for r in reads), reads
    return meta, [r.range or "" for r in reads]


@pytest.mark.parametrize(
    ("layout", "round_trips"),
    [
        ({}, 1),  # the common wheel: METADATA, RECORD and the directory all in the tail
        ({"record": 24 * 1024}, 1),  # a RECORD of a few hundred files still fits (a 16 KiB tail took 2)
        ({"record": TAIL_BYTES * 3}, 2),  # a big RECORD pushes METADATA out of the tail
        ({"members": 3000}, 3),  # a directory longer than the tail: the rest of it, then METADATA
        ({"metadata_first": True}, 2),  # METADATA at the front of the file
    ],
    ids=["small", "mid-record", "big-record", "long-directory", "metadata-first"],
)
def test_round_trips_per_layout(index_server: FixtureIndex, layout: dict[str, int], round_trips: int) -> None:
    built = _wheel("lay-out", **layout)
    meta, ranges = _read(index_server, built)
    assert meta.status is MetadataStatus.OK and meta.source == "range"
    assert {str(r) for r in meta.requires_dist} == {"lay-out-dep>=1"}
    assert len(ranges) == round_trips, ranges
    assert ranges[0] == f"bytes=-{TAIL_BYTES}"
    assert index_server.bytes_for("/files/") < len(built.data) / 4


def _sparse(data: bytes) -> _SparseFile:
    return _SparseFile(len(data), lambda a, b: data[a:b])


@pytest.mark.parametrize(
    "layout", [{}, {"record": 100_000}, {"members": 3000}, {"metadata_first": True}], ids=str
)
def test_a_sparse_zip_reads_what_the_whole_file_holds(layout: dict[str, int]) -> None:
    built = _wheel("walk-er", **layout)
    assert read_metadata_from_zip(_sparse(built.data), canonicalize_name("walk-er"), "x") == built.metadata


@pytest.mark.parametrize(
    ("spoil", "readable"),
    [
        (lambda d: make_wheel("walk-er", "1.0", zip64=True).data, True),  # ZIP64 end records
        (lambda d: b"#!prefix\n" + d, True),  # bytes before the zip (offsets all shifted)
        (lambda d: d[: d.rfind(b"PK\x01\x02")] + b"XXXX" + d[d.rfind(b"PK\x01\x02") + 4 :], False),  # bad entry
        (lambda d: d.replace(b"walk_er-1.0.dist-info/METADATA", b"walk_er-1.0.dist-info/METADATX"), False),
        (lambda d: d[:-2] + b"\x01\x00" + b"!", True),  # a comment: the end record is not where it ends
    ],
    ids=["zip64", "prefixed", "corrupt-entry", "no-metadata", "comment"],
)
def test_unusual_zips_are_read_or_said_unreadable(spoil: Callable[[bytes], bytes], readable: bool) -> None:
    data = spoil(_wheel("walk-er").data)
    name = canonicalize_name("walk-er")
    if readable:
        assert read_metadata_from_zip(_sparse(data), name, "x").startswith(b"Metadata-Version")
    else:
        with pytest.raises(WheelMetadataError, match="no \\*.dist-info/METADATA|not a readable zip"):
            read_metadata_from_zip(_sparse(data), name, "x")
