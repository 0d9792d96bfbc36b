"""Live tier: ``matrix`` over two real releases with the public index's metadata, pinned --as-of."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.catalog import Catalog
from analyzer.matrix.model import SetStatus
from analyzer.matrix.run import MatrixOptions, run_matrix
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.report import Verdict
from analyzer.request import parse_specs
from analyzer.sources import load_source

pytestmark = pytest.mark.live
AS_OF = datetime(2023, 9, 30, tzinfo=timezone.utc)


def test_tensorflow_2_12_stops_fitting_when_the_image_moves_to_2_13(colab_cache: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    options = MatrixOptions(since=date(2023, 9, 5), until=date(2023, 9, 6), workers=1)
    matrix = run_matrix(
        parse_specs(["tensorflow==2.12.0"]), catalog,
        lambda: MetadataEngine(IndexConfig(PYPI_SIMPLE_ENDPOINT), cache=MetadataCache(), as_of=AS_OF), options,
    )
    assert [r.release for r in matrix.rows] == ["colab@2e2ebf1142", "colab@34adb79ed8"]
    assert [r.verdict for r in matrix.rows] == [Verdict.FITS, Verdict.CHANGES]
    (point,) = matrix.turning_points
    assert point.stopped_fitting and point.python is None
    moved = {p.name: (p.old, p.new) for p in point.pins}
    assert moved["tensorflow"] == ("2.12.0", "2.13.0") and moved["keras"] == ("2.12.0", "2.13.1")
    row = matrix.rows[1]
    assert row.set_status is SetStatus.MINIMAL and row.set_size
    assert "keras" in {m.name for m in row.report.conflict_set.best.members}  # type: ignore[union-attr]
