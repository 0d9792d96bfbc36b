"""Live tier: real metadata from the public index, pinned --as-of so the answers do not drift."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import MetadataStatus

pytestmark = pytest.mark.live
AS_OF = datetime(2025, 6, 1, tzinfo=timezone.utc)
WHEEL = "tensorflow-2.12.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"


def test_tensorflow_2_12_metadata_by_range_requests() -> None:
    with MetadataEngine(IndexConfig(PYPI_SIMPLE_ENDPOINT), cache=MetadataCache(), as_of=AS_OF) as engine:
        files = engine.project("tensorflow")
        assert all(f.upload_time is None or f.upload_time <= AS_OF for f in files.files)
        (wheel,) = [f for f in files.files if f.filename == WHEEL]
        meta = engine.metadata(wheel)
        read = engine.traffic.bytes
    assert meta.status is MetadataStatus.OK
    if wheel.metadata_url is None:
        assert meta.source == "range"
    lines = {str(r) for r in meta.requires_dist}
    assert {"numpy<1.24,>=1.22", "keras<2.13,>=2.12.0", "tensorboard<2.13,>=2.12"} <= lines
    assert str(meta.requires_python) == ">=3.8"
    assert wheel.size is not None and read < wheel.size / 100
