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


def test_a_spec_also_written_in_a_file_is_asked_once_where_first_written(
    tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("lib >= 2\n")
    code, out, _ = _run(capsys, "check", "lib>=2", "-r", str(requirements), *runtime, "--format", "json")
    assert code == 1
    assert json.loads(out)["request"] == [{"requirement": "lib>=2", "origin": "command line", "line": None}]


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
    pins = "".join(f"pkg{n}==1.{n}\n" for n in range(5))  # a freeze, with two odd lines among its pins
    freeze.write_text(f"lib==1.0\nother=={HUGE_VERSION}\n{HUGE_NAME}==1.0\n{pins}")
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


# -- snapshot JSON ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [("glibc", "abc"), ("glibc", "2"), ("glibc", "2.x"), ("glibc", "2.99999999999"), ("glibc", "２.35"),
     ("python", "3"), ("python", "3.100000")],
)
def test_a_snapshot_json_with_an_impossible_interpreter_is_refused_naming_the_file(
    field: str, value: str, tmp_path: Path, index_server: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    snapshot = {"schema": "tfconflict.snapshot/1", "id": "mine", "python": "3.11", "pins": [],
                "platform": {"glibc": "2.35"}}
    if field == "glibc":
        snapshot["platform"] = {"glibc": value}
    else:
        snapshot["python"] = value
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps(snapshot))
    code, out, err = _run(capsys, "check", "lib", "--snapshot", str(path), "--index-url", index_server.index_url)
    assert code == 2 and not out
    _one_clean_line(err, f"{path}: {field} {value!r} is not a")
    assert index_server.log == []  # refused before anything was asked


# -- the cache ----------------------------------------------------------------------------------------------------
def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_cache_folder_that_cannot_be_made_leaves_the_answer_as_it_is_with_one_warning(
    where: str, tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    expected = _run(capsys, "check", "lib>=2", *runtime)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(blocker if where == "a file" else blocker / "cache"))
    code, out, err = _run(capsys, "check", "lib>=2", *runtime)  # text: the JSON has this run's timings
    assert (code, out) == expected[:2]
    assert code == 1
    assert not err
    [warning] = _warnings(caplog)
    assert "cannot be made: a file is in its way; running without a metadata cache" in warning
    assert blocker.read_text() == "not a folder\n"


def test_a_sources_file_where_the_histories_go_costs_a_warning_not_the_runtime(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from analyzer.selectors import resolve_selector

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "sources").write_text("not a folder\n")
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(cache))
    snapshot = resolve_selector("colab:2025-07-14", colab_repo=str(bundle))
    assert snapshot.kind == "cpu" and len(snapshot.pins) > 500
    said = [message for message in _warnings(caplog) if "sources" in message]
    expected = (f"the cache folder {cache / 'sources'} cannot be made: a file is in its way; the snapshot "
                "histories are synced for this run only")
    assert said == [expected]
    assert (cache / "sources").read_text() == "not a folder\n"


def test_random_bytes_in_the_derived_tables_are_recomputed_to_the_same_answer(
    tmp_path: Path, colab_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import shutil

    from analyzer.selectors import resolve_selector

    expected = resolve_selector("colab:2025.07")
    cache = tmp_path / "cache"
    shutil.copytree(colab_cache / "sources", cache / "sources", symlinks=True)
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(cache))
    root = cache / "sources" / "colab"
    derived = [*root.glob("index-v*.json"), *(root / "tables").iterdir()]
    kept = {path: path.read_bytes() for path in derived}
    assert len(derived) == 3
    noise = bytes(range(256)) * 40
    for number, path in enumerate(derived):
        path.write_bytes(noise[number:] if number != 1 else b'{"commits": 7}')  # bytes, or JSON of another shape
    found = resolve_selector("colab:2025.07")
    assert (found.id, found.pins, found.declared, found.notes) == (
        expected.id, expected.pins, expected.declared, expected.notes
    )
    assert {path: path.read_bytes() for path in derived} == kept
    assert sum("damaged" in message for message in _warnings(caplog)) == 2


def test_a_full_disk_during_the_history_sync_is_one_clean_line(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full to write into")
    cache = tmp_path / "cache"
    root = cache / "sources" / "colab"
    root.mkdir(parents=True)
    # the next file the sync writes lands on a device that is always full
    (root / f"origin.json.tmp{os.getpid()}").symlink_to("/dev/full")
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(cache))
    code, out, err = _run(capsys, "check", "lib", "--snapshot", "colab:2025-07-14", "--colab-repo", str(bundle))
    assert code == 2 and not out
    line = err.strip().splitlines()[-1]
    assert _one_clean_line(line, f"cannot sync the colab history into {root}: No space left on device")


# -- files that are not what they are given as --------------------------------------------------------------------
PASSWD = "".join(f"user{n}:x:{1000 + n}:{1000 + n}:User {n}:/home/user{n}:/bin/bash\n" for n in range(25))
LOG = "".join(f"2026-01-0{n % 9 + 1} 12:00:0{n % 10} INFO request {n} served in {n} ms\n" for n in range(30))


@pytest.mark.parametrize("content", [PASSWD, LOG], ids=["passwd", "log"])
@pytest.mark.parametrize("given_as", ["--snapshot", "-r", "-c"])
def test_a_file_of_another_kind_is_refused_quoting_at_most_one_line(
    content: str, given_as: str, tmp_path: Path, runtime: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other-file"
    other.write_text(content)
    argv = ["check", "lib", *runtime, given_as, str(other)]
    if given_as == "--snapshot":
        argv = ["check", "lib", given_as, str(other), *runtime[2:]]
    code, out, err = _run(capsys, *argv)
    assert code == 2 and not out
    line = _one_clean_line(err, f"{other}: not a ")
    lines = content.splitlines()
    assert sum(text[:40] in line for text in lines) <= 1
    assert f"{len(lines)} of {len(lines)} lines" in line


def test_a_real_freeze_with_a_few_odd_lines_still_loads(
    tmp_path: Path, index_server: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel("lib", "1.0")
    pins = "".join(f"pkg{n}==1.{n}\n" for n in range(12))
    freeze = tmp_path / "freeze.txt"
    freeze.write_text(f"lib==1.0\n{pins}WARNING: something pip said\nnot a pin\n-e ./no-egg\n")
    code, _out, err = _run(capsys, "check", "lib", "--snapshot", str(freeze), "--python", "3.11",
                           "--index-url", index_server.index_url)
    assert code == 0, err[:2000]
    assert "not a pip freeze" not in err
    assert f"{freeze}:15:" in err  # each odd line is said where it is


def test_a_requirements_file_with_a_few_typos_names_each(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy=1.0\nrequests>=2\npandas=>2\n")
    problems = request_from_files([requirements]).parsed.problems
    assert [p.line for p in problems] == [1, 3]


def test_a_history_origin_with_credentials_is_fetched_but_never_kept(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analyzer.catalog import sync_source
    from analyzer.git import git
    from analyzer.sources import load_source

    upstream = tmp_path / "upstream.git"
    git(["clone", "--mirror", "--quiet", "--", str(bundle), str(upstream)])
    origin = "https://user:s3cr3t@git.example/colab.git"
    # git itself rewrites the origin to the local copy when it connects, so the origin keeps its form everywhere else
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{upstream.as_uri()}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", origin)
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")  # the side tables' upstream is then refused, not fetched
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(cache))
    for _ in range(2):  # a clone, then a fetch into the mirror
        result = sync_source(load_source("colab"), origin=origin)
        assert result.releases > 500
        kept = b"".join(path.read_bytes() for path in cache.rglob("*") if path.is_file())
        assert b"s3cr3t" not in kept
        assert b"user:***@git.example" in kept


def test_clearing_a_cache_that_cannot_be_made_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(blocker))
    code, out, _ = _run(capsys, "cache", "clear")
    assert code == 0
    assert out == f"nothing cleared: the cache folder {blocker} cannot be made: a file is in its way\n"
    assert blocker.read_text() == "not a folder\n"
