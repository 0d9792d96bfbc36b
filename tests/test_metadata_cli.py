"""``tfconflict metadata`` and ``tfconflict cache`` end to end on the fixture index."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.cli import main
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture


@pytest.fixture
def freeze(tmp_path: Path) -> Path:
    path = tmp_path / "pip-freeze.txt"
    path.write_text("numpy==1.26.4\n")
    return path


def test_metadata_command_shows_versions_and_requirements_for_the_target(
    index_server: FixtureIndex, freeze: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel(
        "demo",
        "1.0",
        ["numpy<1.24", 'colorama; sys_platform == "win32"'],
        tag="cp311-cp311-manylinux_2_17_x86_64",
    )
    index_server.wheel("demo", "2.0", ["numpy>=2"], tag="cp313-cp313-manylinux_2_17_x86_64")
    args = [
        "metadata",
        "demo==1.0",
        "--snapshot",
        str(freeze),
        "--python",
        "3.11",
        "--index-url",
        index_server.index_url,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ok 1.0" in out and "-- 2.0" in out
    assert "numpy<1.24" in out.split("requires on this target")[1].split("not on this target")[0]
    assert 'colorama; sys_platform == "win32"' in out.split("not on this target")[1]
    assert main([*args[:2], "--format", "json", *args[2:]]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["selected"] == "1.0" and data["metadata"]["status"] == "ok"
    assert main(["cache", "info"]) == 0
    assert "core metadata entries: 1" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert main(["cache", "info"]) == 0
    assert "core metadata entries: 0" in capsys.readouterr().out


def test_metadata_command_offline_miss_exits_3_and_names_it(
    index_server: FixtureIndex, freeze: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "metadata",
        "nothing-here",
        "--snapshot",
        str(freeze),
        "--python",
        "3.11",
        "--index-url",
        index_server.index_url,
        "--offline",
    ]
    assert main(args) == 3
    assert "not in the cache (offline)" in capsys.readouterr().out
    assert index_server.log == []


def test_bad_as_of_is_a_clear_input_error(
    index_server: FixtureIndex, freeze: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "metadata",
        "demo",
        "--snapshot",
        str(freeze),
        "--python",
        "3.11",
        "--index-url",
        index_server.index_url,
        "--as-of",
        "yesterday",
    ]
    assert main(args) == 2
    assert "--as-of: 'yesterday' is not a date" in capsys.readouterr().err
