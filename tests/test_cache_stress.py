"""The metadata cache under stress, end to end through the command line: several real processes on one cache
folder, a cache file damaged between runs, a cache folder that cannot be written, a disk that fills up.

Every run answers a real question (tensorflow 2.12.0 on the Colab release of 2025-07-14, recorded index metadata
served by the fixture index) and must give the answer a single process gives on a cache of its own.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from analyzer.cli import main
from analyzer.metadata import cache as cache_module
from analyzer.selectors import resolve_selector
from tests.conftest import REPO_ROOT
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

TIMEOUT = 600


@dataclass(frozen=True)
class Answer:
    code: int
    output: Any
    """The report with what legitimately varies between runs (timings) taken out."""
    stderr: str


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    return index_server


@pytest.fixture
def runtime(colab_cache: Path, tmp_path: Path) -> Path:
    """Colab 2025-07-14 as a snapshot file, so the processes need nothing from the shared Colab cache folder."""
    snapshot = replace(resolve_selector("colab:2025-07-14"), source="file")
    path = tmp_path / "runtime.json"
    path.write_text(snapshot.to_json())
    (tmp_path / "requirements.txt").write_text("tensorflow==2.12.0\n")
    return path


def _commands(index: FixtureIndex, runtime: Path) -> dict[str, list[str]]:
    where = ["--snapshot", str(runtime), "--index-url", index.index_url]
    return {
        "check": ["check", "tensorflow==2.12.0", "--budget", "0", "--format", "json", *where],
        "check-numpy": ["check", "numpy<2", "--no-conflict-set", "--no-suggestions", "--format", "json", *where],
        "metadata": ["metadata", "tensorflow==2.12.0", "--format", "json", *where],
        "hook": ["hook", str(runtime.parent / "requirements.txt"), *where],
        "matrix": [
            "matrix", "tensorflow==2.12.0", "--since", "2025-07-01", "--until", "2025-07-20", "--sets", "none",
            "--workers", "1", "--format", "json", "--index-url", index.index_url,
        ],
    }


def _with_history(cache: Path, colab_cache: Path) -> Path:
    """A cache folder holding the synced Colab history (what ``matrix`` reads) and nothing else yet."""
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copytree(colab_cache / "sources", cache / "sources", dirs_exist_ok=True)
    return cache


def _start(args: list[str], cache: Path, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "TFCONFLICT_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, TFCONFLICT_CACHE_DIR=str(cache), PYTHONPATH=str(REPO_ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "analyzer", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _normalized(stdout: str) -> Any:
    try:
        data = json.loads(stdout)
    except ValueError:
        return stdout
    return _untimed(data)


def _untimed(data: Any) -> Any:
    """The JSON without what legitimately varies from run to run: timings and seconds, at any depth."""
    if isinstance(data, dict):
        return {k: _untimed(v) for k, v in data.items() if k not in ("timings", "seconds")}
    if isinstance(data, list):
        return [_untimed(v) for v in data]
    return data


def _finish(proc: subprocess.Popen[str]) -> Answer:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert "Traceback" not in err and "internal error" not in err, err
    return Answer(proc.returncode, _normalized(out), err)


def _run_together(commands: list[list[str]], cache: Path, cwd: Path) -> list[Answer]:
    """Start every command at once on one cache folder, then collect them."""
    procs = [_start(args, cache, cwd) for args in commands]
    return [_finish(p) for p in procs]


def _sound(cache: Path) -> None:
    """The cache file is a sound database and nothing was set aside."""
    with sqlite3.connect(cache / "metadata.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM metadata").fetchone()[0] > 0
    assert not [p.name for p in cache.iterdir() if ".corrupt-" in p.name]


@pytest.mark.parametrize("names", [("check", "matrix"), ("check", "check", "matrix", "hook")])
def test_processes_at_once_on_one_cache_answer_as_one_alone(
    recorded: FixtureIndex, runtime: Path, tmp_path: Path, names: tuple[str, ...], colab_cache: Path
) -> None:
    commands = _commands(recorded, runtime)
    alone = {
        name: _run_together([commands[name]], _with_history(tmp_path / f"alone-{name}", colab_cache), tmp_path)[0]
        for name in set(names)
    }
    assert alone["check"].code == 1 and alone["check"].output["verdict"] == "breaks"
    if "matrix" in alone:
        assert len(alone["matrix"].output["rows"]) > 3
    shared = _with_history(tmp_path / "shared", colab_cache)
    for phase in ("cold", "warm"):
        before = len(recorded.log)
        answers = _run_together([commands[n] for n in names], shared, tmp_path)
        for name, answer in zip(names, answers):
            assert (answer.code, answer.output) == (alone[name].code, alone[name].output), (phase, name)
            assert "cache" not in answer.stderr, (phase, name, answer.stderr)
        if phase == "warm":
            assert len(recorded.log) == before, "a warm run asked the index again"
    _sound(shared)


def _damage(cache: Path, how: str) -> None:
    db = cache / "metadata.sqlite3"
    size = db.stat().st_size
    assert size > 100_000
    if how == "truncated":
        os.truncate(db, size // 3)
    elif how == "garbage":
        db.write_bytes(b"\x13\x37 not a database " * (size // 18))
    elif how == "wal":
        (cache / "metadata.sqlite3-wal").write_bytes(b"\x00garbage where a log should be" * 1000)
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("truncated", "set it aside"),
        ("garbage", "set it aside"),
        ("wal", "write-ahead log"),
    ],
)
def test_damaged_cache_is_detected_set_aside_and_rebuilt(
    recorded: FixtureIndex, runtime: Path, tmp_path: Path, how: str, said: str
) -> None:
    command = _commands(recorded, runtime)["check"]
    cache = tmp_path / "cache"
    first = _run_together([command], cache, tmp_path)[0]
    assert first.code == 1 and "cache" not in first.stderr
    _damage(cache, how)
    damaged = _run_together([command], cache, tmp_path)[0]
    assert (damaged.code, damaged.output) == (first.code, first.output)
    assert damaged.stderr.count(said) == 1, damaged.stderr
    if how != "wal":
        assert len([p for p in cache.iterdir() if ".corrupt-" in p.name]) == 1
    # rebuilt: the next run is answered from the new cache alone, and says nothing
    before = len(recorded.log)
    again = _run_together([command], cache, tmp_path)[0]
    assert (again.code, again.output, again.stderr) == (first.code, first.output, "")
    assert len(recorded.log) == before


@pytest.mark.parametrize("where", ["parent-is-a-file", "file-is-a-folder", "proc"])
def test_unusable_cache_folder_runs_on_without_caching_and_says_so_once(
    recorded: FixtureIndex, runtime: Path, tmp_path: Path, where: str
) -> None:
    """Places where writing fails even for root (tests run as root here, where chmod stops nothing)."""
    command = _commands(recorded, runtime)["check"]
    alone = _run_together([command], tmp_path / "alone", tmp_path)[0]
    if where == "parent-is-a-file":
        (tmp_path / "blocker").write_text("a file where a folder should be")
        cache = tmp_path / "blocker" / "cache"
    elif where == "file-is-a-folder":
        cache = tmp_path / "cache"
        (cache / "metadata.sqlite3").mkdir(parents=True)
    else:
        cache = Path("/proc/self/tfconflict-cache")
    answer = _run_together([command], cache, tmp_path)[0]
    assert (answer.code, answer.output) == (alone.code, alone.output)
    assert answer.stderr.count("running without a metadata cache") == 1, answer.stderr
    assert str(cache) in answer.stderr


def test_full_disk_runs_on_without_caching_and_says_so_once(
    recorded: FixtureIndex,
    runtime: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SQLite's own "database or disk is full", from a page limit a few pages above what the file holds."""
    command = _commands(recorded, runtime)["check"]
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "alone"))
    code = main(command)
    alone = _normalized(capsys.readouterr().out)

    connect = cache_module.MetadataCache._connect

    def small_disk(self: cache_module.MetadataCache) -> sqlite3.Connection:
        conn = connect(self)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={max(pages, 4) + 8}")
        return conn

    monkeypatch.setattr(cache_module.MetadataCache, "_connect", small_disk)
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "full"))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert main(command) == code
    assert _normalized(capsys.readouterr().out) == alone
    said = [r.getMessage() for r in caplog.records if "cache" in r.getMessage()]
    assert len(said) == 1 and "database or disk is full" in said[0], said
    assert "without caching" in said[0]


def _soak_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("tfconflict_soak", REPO_ROOT / "scripts" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_short_soak_no_wrong_answer_and_no_leak(
    colab_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """scripts/soak.py in short: checks in a row in this process, faults at random, a shared and fresh caches.

    Warnings are not recorded, as in the script: pytest keeps every log record of a test, and a record's
    arguments (an exception, its traceback, the frames holding a failed request's socket) with it.
    """
    caplog.set_level(logging.ERROR)
    soak = _soak_module()
    snapshot = replace(resolve_selector("colab:2025-07-14"), source="file")
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "2")
    figures = soak.soak(12, 3, tmp_path, snapshot=snapshot, requests=("jax", "numpy<2"))
    assert figures["wrong_answers"] == 0, figures["wrong"]
    assert "crash" not in figures["outcomes"], figures["failures_by_kind"]
    assert sum(figures["faults_injected"].values()) > 5
    assert figures["end"]["fds"] <= figures["start"]["fds"] + 2
    assert figures["end"]["threads"] <= figures["start"]["threads"]
