"""Real pip against the pip prediction, offline: a metadata-only replica of real pins of the 2025-07-14 Colab release
(those the recorded index knows, at the release's versions), real ``pip install --dry-run --report`` against the
in-process fixture index, and real ``pip check`` on the replica changed as predicted.

The small case of ``scripts/differential.py``. pip sees only the fixture index (``--index-url``, no configuration,
no PIP_* variables, ``--only-binary=:all:``) and installs nothing.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer.diagnosis.pip_prediction import ChangeKind, predict
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.selectors import resolve_selector
from analyzer.session import Session
from analyzer.snapshot import Snapshot
from scripts.replica import (
    DistSpec,
    apply_changes,
    build_replica,
    copy_replica,
    dist_specs,
    pip_check,
    pip_dry_run,
    predicted_check_lines,
    predicted_set,
    set_differences,
    spec_for,
)
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

PIP = [sys.executable, "-m", "pip"]
WANTED = {
    "numpy",
    "jax",
    "jaxlib",
    "ml-dtypes",
    "keras",
    "protobuf",
    "scipy",
    "opt-einsum",
    "tensorflow",
    "tensorboard",
    "tf-keras",
    "absl-py",
    "gast",
    "h5py",
    "optree",
    "rich",
    "namex",
    "packaging",
}


def _recorded_versions() -> dict[str, set[str]]:
    out = {}
    for path in RECORDED.glob("*.json.gz"):
        record = json.loads(gzip.decompress(path.read_bytes()))
        out[record["name"]] = set(record["metadata"])
    return out


@pytest.fixture
def image(colab_cache: Path) -> Snapshot:
    """The release's pins that the recorded index has, at the release's own versions."""
    snapshot = resolve_selector("colab:2025-07-14")
    recorded = _recorded_versions()
    pins = tuple(p for p in snapshot.pins if p.name in WANTED and p.version in recorded.get(p.name, ()))
    assert {"numpy", "jax", "keras", "tensorflow", "ml-dtypes"} <= {p.name for p in pins}
    return Snapshot(id=snapshot.id, python=snapshot.python, pins=pins, platform=snapshot.platform)


@pytest.fixture
def engine(index_server: FixtureIndex) -> Iterator[MetadataEngine]:
    assert index_server.add_recorded(RECORDED) > 0
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as eng:
        yield eng


def _pip_works() -> bool:
    done = subprocess.run([*PIP, "install", "--help"], capture_output=True, text=True, check=False)
    return (
        done.returncode == 0
        and "--report" in done.stdout
        and "--python" in subprocess.run([*PIP, "--help"], capture_output=True, text=True, check=False).stdout
    )


@pytest.mark.parametrize("request_text", ["tensorflow==2.12.0", "numpy<2"])
def test_real_pip_agrees_with_the_prediction(
    request_text: str, image: Snapshot, engine: MetadataEngine, index_server: FixtureIndex, tmp_path: Path
) -> None:
    if not _pip_works():
        pytest.fail("this interpreter's pip lacks --python or --report (pip >= 22.3 needed)")
    env = TargetEnvironment.from_snapshot(image)
    info = dist_specs(image, engine, env)
    assert not info.opaque and not info.skipped
    replica = tmp_path / "replica"
    build_replica(replica, info.specs.values())

    index_server.reset_log()
    real = pip_dry_run(
        PIP,
        replica,
        [request_text],
        index_server.index_url,
        tmp_path / "report.json",
        extra=["--only-binary=:all:"],
    )
    assert real.ok, real.output
    assert index_server.requests_for("/simple/"), "pip did not ask the fixture index"
    prediction = predict([Requirement(request_text)], Session.open(image, engine, env))
    assert prediction.ok
    ours = predicted_set(prediction)
    assert set_differences(real.install, ours) == []
    assert ours, "the request changes the image: the comparison is not empty"
    assert any(c.kind is ChangeKind.DOWNGRADE for c in prediction.changes)

    changed = tmp_path / "changed"
    site = copy_replica(replica, changed)
    new: dict[NormalizedName, DistSpec] = {
        name: spec_for(name, ver, engine, env) for name, ver in ours.items()
    }
    apply_changes(site, new)
    assert pip_check(PIP, changed) == predicted_check_lines(prediction)


def test_pip_check_sees_the_image_as_the_prediction_does(
    image: Snapshot, engine: MetadataEngine, tmp_path: Path
) -> None:
    """Before any install: pip check on the replica is the prediction's view of what the image already breaks."""
    from analyzer.diagnosis.pipcheck import check_snapshot

    env = TargetEnvironment.from_snapshot(image)
    info = dist_specs(image, engine, env)
    replica = tmp_path / "replica"
    build_replica(replica, info.specs.values())
    expected = {v.check_text() for v in check_snapshot(Session.open(image, engine, env)).violations}
    assert expected, "the restricted image lacks some requirements: pip check has something to say"
    assert pip_check(PIP, replica) == expected
