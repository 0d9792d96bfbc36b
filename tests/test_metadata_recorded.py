"""Recorded real metadata (tests/data/index/, from scripts/record_fixture_index.py) served by the fixture index."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import MetadataStatus
from analyzer.metadata.select import best_file
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture


def _env(python: str) -> TargetEnvironment:
    return TargetEnvironment(
        python=Version(python),
        python_full=f"{python}.0",
        sys_platform="linux",
        platform_system="Linux",
        machine="x86_64",
        glibc=(2, 35),
    )


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED, {"tensorflow", "numpy", "keras"}) > 0
    return index_server


def test_tensorflow_2_12_requirements_as_published(recorded: FixtureIndex) -> None:
    with MetadataEngine(IndexConfig(recorded.index_url), cache=MetadataCache()) as engine:
        files = [f for f in engine.project("tensorflow").files if f.version == Version("2.12.0")]
        chosen = best_file(files, _env("3.11"))
        assert chosen is not None and "cp311" in chosen.filename
        meta = engine.metadata(chosen)
    assert meta.status is MetadataStatus.OK and meta.source == "metadata-file"
    lines = {str(r) for r in meta.requires_dist}
    assert {"numpy<1.24,>=1.22", "keras<2.13,>=2.12.0"} <= lines
    assert best_file(files, _env("3.13")) is None  # no cp313 wheel and no sdist: not installable there


def test_recorded_wheels_are_served_as_real_zips_for_range_reads(recorded: FixtureIndex) -> None:
    for entry in recorded.files.values():
        entry.metadata_file = False
    with MetadataEngine(IndexConfig(recorded.index_url), cache=MetadataCache()) as engine:
        files = [f for f in engine.project("keras").files if f.version == Version("2.12.0")]
        chosen = best_file(files, _env("3.11"))
        assert chosen is not None
        meta = engine.metadata(chosen)
    assert meta.status is MetadataStatus.OK and meta.source == "range"
    assert meta.version == Version("2.12.0")


def test_as_of_replays_a_past_day(recorded: FixtureIndex) -> None:
    with MetadataEngine(
        IndexConfig(recorded.index_url),
        cache=MetadataCache(),
        as_of=datetime(2023, 6, 1, tzinfo=timezone.utc),
    ) as engine:
        versions = engine.project("tensorflow").versions()
    assert Version("2.12.0") in versions
    assert max(versions) < Version("2.14")
