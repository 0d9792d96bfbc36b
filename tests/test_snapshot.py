"""The snapshot model and its JSON form: exact round trips (a real release included) and located errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from analyzer.catalog import Catalog
from analyzer.errors import InputError, Problem
from analyzer.snapshot import SCHEMA, DeclaredRequirements, Pin, Platform, Snapshot, snapshot_from_json
from analyzer.sources import load_source


def test_real_release_round_trips_exactly(colab_cache: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    for release in (catalog.latest("cpu"), catalog.releases_of("cpu")[0], catalog.latest("gpu")):
        snapshot = catalog.snapshot(release)
        assert snapshot.declared and snapshot.pins[0].line is not None
        again = snapshot_from_json(snapshot.to_json())
        assert again == snapshot
        assert again.to_json() == snapshot.to_json()


def test_synthetic_round_trip_with_every_field() -> None:
    snapshot = Snapshot(
        id="x",
        python="3.12.12",
        pins=(
            Pin("B_pkg", "1.0", display_name="B_pkg", line=3),
            Pin("a", None, url="git+https://example.invalid/a@1", editable=True),
        ),
        kind="gpu",
        date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        python_evidence="os-info-gpu.txt",
        platform=Platform(distro="ubuntu", distro_version="22.04", glibc="2.35", description="Ubuntu 22.04 LTS"),
        source="colab",
        commit="c" * 40,
        upstream_commit="abc",
        declared=(DeclaredRequirements("Google_Colab", ("pandas==2.2.2",), "row 3"),),
        problems=(Problem("f.txt", 4, "bad"), Problem("f.txt", None, "no python")),
        notes=("assumed",),
    )
    assert [p.name for p in snapshot.pins] == ["a", "b-pkg"]
    data = json.loads(snapshot.to_json())
    assert data["schema"] == SCHEMA
    assert snapshot_from_json(snapshot.to_json()) == snapshot


@pytest.mark.parametrize(
    "text,message",
    [
        ("{", "snap.json:1: not valid JSON"),
        ("[]", "snap.json: a snapshot must be a JSON object"),
        ('{"schema": "other/9"}', "unknown snapshot schema 'other/9'"),
        (json.dumps({"schema": SCHEMA, "id": "x", "python": "three"}), "field 'python' is not a version"),
        (json.dumps({"schema": SCHEMA, "id": "x", "python": "3.12", "pins": {}}), "field 'pins' must be a list"),
        (json.dumps({"schema": SCHEMA, "id": "x", "python": "3.12", "pins": [{"name": "a", "line": "2"}]}),
         "field 'line' must be an integer"),
    ],
)
def test_bad_json_is_located(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        snapshot_from_json(text, file="snap.json")
