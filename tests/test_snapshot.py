"""The snapshot model and its JSON form: exact round trips (a real release included) and located errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from analyzer.catalog import Catalog
from analyzer.cli import main
from analyzer.errors import InputError, Problem
from analyzer.snapshot import (
    DECLARED,
    DIST_INFO,
    SCHEMA,
    DeclaredRequirements,
    Pin,
    Platform,
    Snapshot,
    snapshot_from_json,
)
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


OLD_FORM = """{
  "schema": "tfconflict.snapshot/1",
  "id": "colab@abc",
  "python": "3.11.13",
  "pins": [
    {
      "name": "google-colab",
      "version": "1.0.0",
      "line": 7
    }
  ],
  "declared_requirements": [
    {
      "name": "google-colab",
      "requirements": [
        "pandas==2.2.2"
      ],
      "evidence": "google-colab-requires.tsv line 3"
    }
  ]
}
"""


def test_the_first_schema_still_loads() -> None:
    snapshot = snapshot_from_json(OLD_FORM, file="old.json")
    assert snapshot.declared == (
        DeclaredRequirements(canonicalize_name("google-colab"), ("pandas==2.2.2",), "google-colab-requires.tsv line 3"),
    )
    assert snapshot.declared[0].origin == DECLARED and snapshot.declared[0].requires_python is None
    again = json.loads(snapshot.to_json())
    assert again["schema"] == SCHEMA != "tfconflict.snapshot/1"
    assert again["declared_requirements"] == [json.loads(OLD_FORM)["declared_requirements"][0]]


def test_requirements_read_from_a_dist_info_round_trip() -> None:
    torch = DeclaredRequirements(
        canonicalize_name("torch"),
        ("filelock", 'optree>=0.13.0; extra == "optree"', "not a requirement >="),
        "torch-2.6.0+cu124.dist-info/METADATA",
        requires_python=">=3.9.0",
        provides_extra=("optree",),
        origin=DIST_INFO,
    )
    snapshot = Snapshot(id="current", python="3.12.12", pins=(Pin(canonicalize_name("torch"), "2.6.0+cu124"),), declared=(torch,))
    text = snapshot.to_json()
    assert snapshot_from_json(text) == snapshot
    entry = json.loads(text)["declared_requirements"][0]
    assert entry == {"name": "torch", "origin": "dist-info", "evidence": "torch-2.6.0+cu124.dist-info/METADATA",
                     "requires_python": ">=3.9.0", "provides_extra": ["optree"], "requirements": list(torch.requirements)}
    assert [str(r) for r in torch.parsed()] == ["filelock", 'optree>=0.13.0; extra == "optree"']


def _with_declared(*entries: dict[str, object]) -> str:
    return json.dumps({"schema": SCHEMA, "id": "x", "python": "3.12", "declared_requirements": list(entries)})


@pytest.mark.parametrize(
    "text,message",
    [
        (_with_declared({"name": "torch", "origin": "wheel"}),
         ("snap.json: malformed snapshot: declared_requirements entry 0 ('torch'): field 'origin' must be one of "
         "'declared', 'dist-info', not 'wheel'")),
        (_with_declared({"name": "a"}, {"name": "torch", "provides_extra": "optree"}),
         ("snap.json: malformed snapshot: declared_requirements entry 1 ('torch'): field 'provides_extra' must be "
         "a list of strings")),
        (_with_declared({"name": "torch", "requires_python": 3.9}),
         "declared_requirements entry 0 ('torch'): field 'requires_python' must be a string or null, not a number"),
        (_with_declared({"name": "Torch"}, {"name": "torch"}),
         "declared_requirements entry 1 ('torch'): torch has requirements already (entry 0)"),
        (_with_declared({"name": ""}), "declared_requirements entry 0 (''): field 'name' must be a non-empty string"),
        (_with_declared({"requirements": ["a"]}), "declared_requirements entry 0: field 'name' must be"),
    ],
)
def test_bad_requirement_entries_are_named(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        snapshot_from_json(text, file="snap.json")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_bad_entry_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "capture.json"
    path.write_text(_with_declared({"name": "torch", "origin": "pypi"}), encoding="utf-8")
    code = main(["snapshots", "show", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"{path}: malformed snapshot: declared_requirements entry 0 ('torch')" in err
