"""A captured snapshot carries its own requirements: ``check`` on it reads an installed package's requirements
from the dist-info it was captured from (route "dist-info"), even for a package on no index or a local version,
and finds conflicts through them."""

from __future__ import annotations

from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from analyzer.check import run_check
from analyzer.current import current_snapshot
from analyzer.report import Verdict
from analyzer.request import parse_specs
from analyzer.snapshot import Snapshot, snapshot_from_json
from tests.memsource import MemorySource, build_source

SITE = {
    # on no index at all: its requirements can only come from the capture
    "google_colab-1.0.0.dist-info": "Name: google-colab\nVersion: 1.0.0\nRequires-Dist: pandas==2.2.2\n"
                                    "Requires-Dist: requests==2.32.3\n",
    # a local version the index does not have; its extra asks more than the public 2.6.0's does
    "torch-2.6.0+cu124.dist-info": 'Name: torch\nVersion: 2.6.0+cu124\nRequires-Python: >=3.9.0\n'
                                   'Requires-Dist: filelock\nRequires-Dist: optree>=0.13.0; extra == "optree"\n'
                                   "Provides-Extra: optree\n",
    "pandas-2.2.2.dist-info": "Name: pandas\nVersion: 2.2.2\n",
    "requests-2.32.3.dist-info": "Name: requests\nVersion: 2.32.3\n",
    "filelock-3.16.1.dist-info": "Name: filelock\nVersion: 3.16.1\n",
}
INDEX: list[dict[str, Any]] = [
    {"name": "pandas", "version": "2.2.2"},
    {"name": "pandas", "version": "2.3.0"},
    {"name": "requests", "version": "2.32.3"},
    {"name": "filelock", "version": "3.16.1"},
    {"name": "torch", "version": "2.6.0", "requires": ["filelock", "optree>=0.10; extra == 'optree'"]},
    {"name": "optree", "version": "0.12.0"},
]


@pytest.fixture
def captured(tmp_path: Path) -> Snapshot:
    """The site captured and read back from its JSON file, as a user hands it to ``check``."""
    for folder, text in SITE.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "METADATA").write_text(f"Metadata-Version: 2.1\n{text}", encoding="utf-8")
    snapshot = current_snapshot(metadata.distributions(path=[str(tmp_path)]))
    return snapshot_from_json(snapshot.to_json(), file="capture.json")


def _source() -> MemorySource:
    return build_source(INDEX)


def test_a_package_on_no_index_is_broken_through_its_captured_requirements(captured: Snapshot) -> None:
    report = run_check(parse_specs(["pandas>=2.3"]), captured, _source())
    assert dict(report.requirement_routes) == {"dist-info": len(captured.pins)}
    assert dict(report.requirements_from) == {"snapshot": len(captured.pins)}
    assert report.verdict is Verdict.BREAKS
    prediction = report.prediction
    assert prediction is not None and prediction.ok
    assert [(v.name, v.requirement, v.installed) for v in prediction.newly_broken] == [
        ("google-colab", "pandas==2.2.2", "2.3.0")
    ]
    assert report.conflict_set is not None and report.conflict_set.best is not None
    assert report.conflict_set.best.names == (canonicalize_name("google-colab"),)
    # without what the capture carries, google-colab is opaque (on no index) and nothing is found broken
    blind = run_check(parse_specs(["pandas>=2.3"]), replace(captured, declared=()), _source())
    assert blind.prediction is not None and blind.prediction.newly_broken == ()
    assert canonicalize_name("google-colab") in blind.prediction.opaque


def test_a_local_version_keeps_its_own_extras(captured: Snapshot) -> None:
    # torch 2.6.0+cu124's extra needs optree>=0.13.0, which no index has: pip keeps the installed torch only if
    # its extra can be met, so it takes the index's torch 2.6.0, whose extra asks less
    report = run_check(parse_specs(["torch[optree]"]), captured, _source())
    prediction = report.prediction
    assert prediction is not None and prediction.ok
    assert sorted(str(c) for c in prediction.changes) == ["optree 0.12.0", "torch 2.6.0+cu124 -> 2.6.0"]
    # the same request with the index's reading of torch (its public version) keeps the installed torch
    public = tuple(d for d in captured.declared if d.name != "torch")
    index_read = run_check(parse_specs(["torch[optree]"]), replace(captured, declared=public), _source())
    assert index_read.prediction is not None
    assert [str(c) for c in index_read.prediction.changes] == ["optree 0.12.0"]
