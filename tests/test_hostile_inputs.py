"""Hostile or mistaken input ends in one clean line and exit 2 (or, for the cache, the run goes on without it):
huge names and versions, requests repeated ten thousand times, files that are not what they are given as, a
damaged or misplaced cache, and git options passed as a repository.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.request import request_from_files
from tests.indexserver import FixtureIndex, index_server  # noqa: F401

HUGE_NAME = "a" * 1_000_000
HUGE_VERSION = "1" + "0" * 5000


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_clean_line(err: str, *words: str) -> str:
    """The only line of standard error: a ``tfconflict: error:`` of sane length, no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:2000]
    assert lines[0].startswith("tfconflict: error: ") and "internal error" not in lines[0], lines[0][:2000]
    assert len(lines[0]) < 2000
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def runtime(tmp_path: Path, index_server: FixtureIndex) -> list[str]:
    """A freeze file and the index: ``lib 1.0`` installed, ``lib 2.0`` served."""
    index_server.wheel("lib", "1.0")
    index_server.wheel("lib", "2.0")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("lib==1.0\n")
    return ["--snapshot", str(freeze), "--python", "3.11", "--index-url", index_server.index_url]


# -- a request repeated -------------------------------------------------------------------------------------------
def test_ten_thousand_identical_lines_are_one_requirement(
    tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("lib>=2\n" * 10_000)
    request = request_from_files([requirements])
    assert [(str(i.requirement), i.line) for i in request.items] == [("lib>=2", 1)]
    [note] = [n for n in request.parsed.notes if "repeats" in n.message]
    assert note.line == 2
    assert note.message == f"lib>=2 repeats {requirements}:1; counted once (as pip does), and 9998 more lines repeat " \
        "an earlier one"
    code, out, _ = _run(capsys, "check", "-r", str(requirements), *runtime, "--format", "json")
    assert code == 1  # lib 1.0 is installed; the request moves it to 2.0
    assert '"lib>=2"' in out and out.count(f"{requirements}:1") >= 1


def test_different_lines_naming_one_project_are_all_kept(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("lib>=1\nlib<3\nlib >= 1\nLIB<3\nlib>=1; python_version>'3'\n")
    items = request_from_files([requirements]).items
    assert [(str(i.requirement), i.line) for i in items] == [
        ("lib>=1", 1), ("lib<3", 2), ("LIB<3", 4), ('lib>=1; python_version > "3"', 5)
    ]


# -- huge names and versions --------------------------------------------------------------------------------------
def test_a_megabyte_package_name_is_refused_in_one_line(
    tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"lib\n{HUGE_NAME}\n")
    code, out, err = _run(capsys, "check", "-r", str(requirements), *runtime)
    assert code == 2 and not out
    _one_clean_line(err, f"{requirements}:2:", "a project name of 1000000 characters")
    for argv in (["check", HUGE_NAME[:100_000], *runtime], ["check", "lib", *runtime[:1], HUGE_NAME[:100_000]],
                 ["check", "-r", HUGE_NAME[:100_000], *runtime], ["why", HUGE_NAME[:100_000], *runtime[:4]],
                 ["metadata", HUGE_NAME[:100_000], *runtime[:4]]):
        code, out, err = _run(capsys, *argv)
        assert code == 2, err[:500]
        _one_clean_line(err)


def test_a_freeze_with_a_megabyte_name_or_a_5000_digit_version_skips_those_lines(
    tmp_path: Path, index_server: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel("lib", "1.0")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text(f"lib==1.0\nother=={HUGE_VERSION}\n{HUGE_NAME}==1.0\n")
    code, _out, err = _run(capsys, "check", "lib", "--snapshot", str(freeze), "--python", "3.11",
                          "--index-url", index_server.index_url)
    assert code == 0, err[:2000]
    assert f"{freeze}:2: the version cannot be compared" in err
    assert f"{freeze}:3: a project name of 1000000 characters" in err
    assert len(err) < 5000


@pytest.mark.parametrize(
    "spec",
    [f"lib=={HUGE_VERSION}", f"lib>={HUGE_VERSION}", f"lib; python_version > '{HUGE_VERSION}'",
     "lib; python_version ~= 'abc'"],
)
def test_a_version_no_comparison_can_use_is_refused_in_one_line(
    spec: str, tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "check", spec, *runtime)
    assert code == 2 and not out
    _one_clean_line(err, "not a usable requirement: lib:")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{spec}\n")
    code, out, err = _run(capsys, "check", "-r", str(requirements), *runtime)
    assert code == 2 and not out
    _one_clean_line(err, f"{requirements}:1: lib:")


# -- git ----------------------------------------------------------------------------------------------------------
def test_an_origin_that_looks_like_an_option_is_a_repository_to_git(tmp_path: Path) -> None:
    from analyzer.catalog import sync_source
    from analyzer.errors import SourceError
    from analyzer.git import clone_or_fetch, git
    from analyzer.sources import load_source

    marker = tmp_path / "ran"
    origin = f"--upload-pack=touch {marker}"
    with pytest.raises(SourceError, match="repository '--upload-pack=touch") as caught:
        sync_source(load_source("colab"), origin=origin)
    assert "does not exist" in str(caught.value)
    mirror = tmp_path / "mirror.git"
    git(["init", "--quiet", "--bare", str(mirror)])
    git(["remote", "add", "origin", str(tmp_path / "elsewhere")], cwd=mirror)
    with pytest.raises(SourceError, match="git fetch failed: .*'--upload-pack=touch "):
        clone_or_fetch(origin, mirror)  # a mirror already there: the origin is set as the remote's URL, then fetched
    assert not marker.exists()
