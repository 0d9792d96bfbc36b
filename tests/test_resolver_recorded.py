"""The resolver and the pip prediction on recorded real metadata (tensorflow 2.12.0's closure, as of 2025-06-01),
served by the in-process fixture index: a Python 3.11 image shaped like a mid-2025 Colab runtime."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.diagnosis.pip_prediction import Change, ChangeKind, predict
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.resolver import Role, resolve
from analyzer.session import Session
from analyzer.snapshot import DeclaredRequirements, Pin, Platform, Snapshot
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

# Versions a mid-2025 Python 3.11 Colab runtime had, for the recorded projects.
IMAGE = {
    "numpy": "2.0.2",
    "tensorflow": "2.18.0",
    "keras": "3.8.0",
    "jax": "0.5.2",
    "jaxlib": "0.5.1",
    "ml-dtypes": "0.4.1",
    "tensorboard": "2.18.0",
    "protobuf": "5.29.5",
    "tf-keras": "2.18.0",
    "gast": "0.6.0",
    "h5py": "3.13.0",
    "scipy": "1.15.3",
    "opt-einsum": "3.4.0",
    "absl-py": "2.3.0",
}


def _recorded_versions(name: str) -> set[str]:
    record = json.loads(gzip.decompress((RECORDED / f"{name}.json.gz").read_bytes()))
    return set(record["metadata"])


def _snapshot(python: str = "3.11.13", declared: tuple[DeclaredRequirements, ...] = ()) -> Snapshot:
    for name, version in IMAGE.items():
        assert version in _recorded_versions(name), f"{name} {version} is not in the recorded data"
    return Snapshot(
        id="recorded-mid-2025",
        python=python,
        pins=tuple(Pin(name=NormalizedName(n), version=v) for n, v in IMAGE.items()),
        platform=Platform(glibc="2.35"),
        declared=declared,
    )


@pytest.fixture
def engine(index_server: FixtureIndex) -> Iterator[MetadataEngine]:
    assert index_server.add_recorded(RECORDED) > 0
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as eng:
        yield eng


TF212 = [Requirement("tensorflow==2.12.0")]


def test_pip_would_downgrade_numpy_and_keras_for_tensorflow_2_12(engine: MetadataEngine) -> None:
    snapshot = _snapshot()
    env = TargetEnvironment.from_snapshot(snapshot)
    prediction = predict(TF212, Session.open(snapshot, engine, env))
    assert prediction.ok
    changes: dict[str, Change] = {c.name: c for c in prediction.changes}
    assert changes["tensorflow"].kind is ChangeKind.DOWNGRADE and changes["tensorflow"].new == "2.12.0"
    numpy = Version(changes["numpy"].new)
    assert Version("1.22") <= numpy < Version("1.24")  # tensorflow 2.12.0 requires numpy<1.24,>=1.22
    assert changes["keras"].new.startswith("2.12.")
    assert changes["tensorboard"].new.startswith("2.12.")
    # tensorflow 2.12.0 requires jax>=0.3.15, and jax 0.5.2 requires numpy>=1.25: pip moves jax back too
    assert Version(changes["jax"].new) < Version("0.5")
    # tf-keras 2.18.0 is installed, does not come along, and requires tensorflow 2.18: pip warns about it
    assert [v.text() for v in prediction.pip_warning] == [
        "tf-keras 2.18.0 requires tensorflow<2.19,>=2.18, but you have tensorflow 2.12.0 which is incompatible."
    ]
    assert [v.name for v in prediction.newly_broken] == ["tf-keras"]


def test_keeping_the_image_conflicts_and_the_chain_starts_at_the_request(engine: MetadataEngine) -> None:
    snapshot = _snapshot()
    env = TargetEnvironment.from_snapshot(snapshot)
    keep = [p.name for p in snapshot.pins if p.name != "tensorflow"]
    result = resolve(TF212, Session.open(snapshot, engine, env), keep=keep)
    assert not result.ok and result.conflict is not None
    causes = result.conflict.causes
    texts = [c.text for c in causes]
    # the request is one side of the conflict; a kept pin (or a requirement of one) is the other
    assert "The user requested tensorflow==2.12.0" in texts or any(
        c.chain[:1] == ("The user requested tensorflow==2.12.0",) for c in causes
    ), texts
    assert any(
        c.role is Role.KEEP or (c.chain and c.chain[0].startswith("The image keeps")) for c in causes
    ), texts
    # tf-keras 2.18.0 requires tensorflow 2.18: keeping it can never fit tensorflow 2.12.0
    assert "tf-keras 2.18.0 depends on tensorflow<2.19,>=2.18" in texts
    # freeing what tensorflow 2.12.0 pins tightly lets it fit
    free = [
        NormalizedName(n)
        for n in ("numpy", "keras", "tensorboard", "gast", "ml-dtypes", "jax", "jaxlib", "protobuf", "h5py")
    ]
    keep = [n for n in keep if n != "tf-keras"]  # removed: no tf-keras release fits tensorflow 2.12.0
    freed = resolve(
        TF212, Session.open(snapshot, engine, env), keep=[n for n in keep if n not in free], free=free
    )
    assert freed.ok, freed.conflict.pip_message() if freed.conflict else ""
    assert str(freed.mapping[NormalizedName("tensorflow")].version) == "2.12.0"


def test_tensorflow_2_12_has_no_candidate_on_python_3_13(engine: MetadataEngine) -> None:
    snapshot = _snapshot(python="3.13.3")
    env = TargetEnvironment.from_snapshot(snapshot)
    result = resolve(TF212, Session.open(snapshot, engine, env))
    assert not result.ok and result.conflict is not None
    message = result.conflict.pip_message()
    assert message.startswith("Could not find a version that satisfies the requirement tensorflow==2.12.0")
    assert "2.12.0" not in result.conflict.versions


def test_declared_google_colab_pins_are_reported_like_metadata(engine: MetadataEngine) -> None:
    declared = (DeclaredRequirements(NormalizedName("google-colab"), ("numpy==2.0.2",), "recorded test"),)
    snapshot = _snapshot(declared=declared)
    snapshot = snapshot.with_pins((*snapshot.pins, Pin(name=NormalizedName("google-colab"), version="1.0.0")))
    env = TargetEnvironment.from_snapshot(snapshot)
    prediction = predict(TF212, Session.open(snapshot, engine, env))
    numpy = next(c.new for c in prediction.changes if c.name == "numpy")
    assert f"google-colab 1.0.0 requires numpy==2.0.2, but you will have numpy {numpy}" in [
        v.future_text() for v in prediction.newly_broken
    ]
    assert "google-colab" in {s.name for s in prediction.severe}
