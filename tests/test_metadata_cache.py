"""The SQLite cache: shared by processes, survives corruption, never stops an analysis."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pytest import MonkeyPatch

from analyzer.metadata import cache as cache_module
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import MetadataStatus
from tests.conftest import REPO_ROOT
from tests.indexserver import FixtureIndex, index_server, status_fault  # noqa: F401 - pytest fixture

_WORKER = """
import json, sys
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
index_url, names = sys.argv[1], sys.argv[2].split(",")
with MetadataEngine(IndexConfig(index_url), cache=MetadataCache()) as engine:
    engine.prefetch_projects(names)
    files = [engine.project(n).files[0] for n in names]
    engine.prefetch(files)
    print(json.dumps({f.project: sorted(str(r) for r in engine.metadata(f).requires_dist) for f in files}))
"""


def test_two_processes_share_one_cache(index_server: FixtureIndex, tmp_path: Path) -> None:
    names = [f"shared{i}" for i in range(12)]
    for i, name in enumerate(names):
        index_server.wheel(name, "1.0", [f"dep{i}>=1"], padding=20_000)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    cmd = [sys.executable, "-c", _WORKER, index_server.index_url, ",".join(names)]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert json.loads(out) == {n: [f"dep{i}>=1"] for i, n in enumerate(names)}
    count = len(index_server.log)
    # A third process finds everything in the cache both wrote.
    third = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(third.stdout) == json.loads(outputs[0][0])
    assert len(index_server.log) == count
    info = MetadataCache().info()
    assert (info.metadata_entries, info.page_entries) == (12, 12)


def test_corrupt_cache_file_is_set_aside_and_rebuilt(index_server: FixtureIndex, caplog: object) -> None:
    index_server.wheel("solid", "1.0", ["dep"])
    path = MetadataCache().path
    MetadataCache().close()
    path.write_bytes(b"this is not an SQLite database at all" * 100)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    cache = MetadataCache()
    assert cache.usable
    assert any(p.name.startswith("metadata.sqlite3.corrupt-") for p in path.parent.iterdir())
    with MetadataEngine(IndexConfig(index_server.index_url), cache=cache) as engine:
        meta = engine.metadata(engine.project("solid").files[0])
    assert meta.status is MetadataStatus.OK
    assert MetadataCache().info().metadata_entries == 1
    assert "set it aside" in caplog.text  # type: ignore[attr-defined]


def test_unwritable_cache_folder_runs_without_caching(index_server: FixtureIndex, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    cache = MetadataCache(blocker / "sub" / "metadata.sqlite3")
    assert not cache.usable and cache.disabled_reason
    index_server.wheel("solid", "1.0", ["dep"])
    with MetadataEngine(IndexConfig(index_server.index_url), cache=cache) as engine:
        meta = engine.metadata(engine.project("solid").files[0])
    assert meta.status is MetadataStatus.OK and {str(r) for r in meta.requires_dist} == {"dep"}


def test_info_and_clear(index_server: FixtureIndex) -> None:
    index_server.wheel("a", "1.0")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.metadata(engine.project("a").files[0])
    cache = MetadataCache()
    info = cache.info()
    assert (info.metadata_entries, info.page_entries) == (1, 1) and info.size > 0
    cache.clear()
    assert (cache.info().metadata_entries, cache.info().page_entries) == (0, 0)


def test_unreadable_cached_page_is_fetched_again(index_server: FixtureIndex) -> None:
    index_server.wheel("page", "1.0")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.project("page")
    cache = MetadataCache()
    _sql(cache.path, "UPDATE pages SET body='garbage without a header'")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=cache) as engine:
        files = engine.project("page")
    assert [str(v) for v in files.versions()] == ["1.0"]
    assert [r.status for r in index_server.requests_for("/simple/page/")] == [200, 200]


def _sql(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of the cache file read, or changed, behind the engine's back (as another process or a damaged disk)."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        return conn.execute(sql, args).fetchall()


def _fill(index_server: FixtureIndex) -> list[str]:
    """Five readable wheels and one whose file is gone (a failure remembered until it expires), all cached."""
    names = [f"pkg{i}" for i in range(5)]
    for i, name in enumerate(names):
        index_server.wheel(name, "1.0", [f"dep{i}>=1", f"extra{i}; extra == 'x'"])
    gone = index_server.wheel("gone", "1.0")
    index_server.faults[f"/files/{gone.filename}"] = status_fault(404)
    names.append("gone")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        for name in names:
            engine.metadata(engine.project(name).files[0])
    return names


def test_many_metadata_rows_are_read_as_one_by_one(index_server: FixtureIndex, monkeypatch: MonkeyPatch) -> None:
    names = _fill(index_server)
    monkeypatch.setattr(cache_module, "_IN_CHUNK", 2)  # several chunks, one of them short
    cache = MetadataCache()
    keys = [row[0] for row in _sql(cache.path, "SELECT key FROM metadata")]
    assert len(keys) == len(names)
    _sql(cache.path, "UPDATE metadata SET body=? WHERE key=?", b"not zlib", keys[0])
    many = cache.get_metadata_many([*keys, "sha256:absent"])
    assert sorted(many) == sorted(keys[1:])  # the unreadable row and the absent key are misses, as one by one
    assert all(many[key] == cache.get_metadata_stamped(key) for key in keys[1:])
    assert cache.get_metadata_stamped(keys[0]) is None


def test_a_prefetch_from_the_cache_reads_and_stamps_as_one_by_one(
    index_server: FixtureIndex, monkeypatch: MonkeyPatch
) -> None:
    """The remembered answers check every row an answer came from by its stamp: a prefetch that reads many rows
    at once must stamp each exactly as ``metadata`` reading it alone does (a failure with its expiry)."""
    names = _fill(index_server)
    monkeypatch.setattr(cache_module, "_IN_CHUNK", 4)
    seen = []
    for prefetch in (False, True):
        with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
            files = [engine.project(name).files[0] for name in names]
            before = len(index_server.log)
            if prefetch:
                engine.prefetch(files)
            metas = [engine.metadata(f) for f in files]
            assert len(index_server.log) == before  # all from the cache
            seen.append((metas, engine.reads()))
    (one, one_reads), (many, many_reads) = seen
    assert one == many and one_reads == many_reads and one_reads is not None
    assert [m.status for m in one] == [MetadataStatus.OK] * 5 + [MetadataStatus.UNAVAILABLE]
    assert sum(exp is not None for _, _, exp in one_reads["metadata"]) == 1


def test_a_network_failure_stored_by_an_older_version_is_a_miss(index_server: FixtureIndex) -> None:
    """Older versions kept every failed read for the freshness window, network failures too; such a row (a
    failure without the mark of an answer about the file) is asked about again, and read."""
    entry = index_server.wheel("app", "1.0", ["dep>=1"])
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        key = "sha256:" + dict(engine.project("app").files[0].hashes)["sha256"]  # how the cache keys it
    old: dict[str, object] = {
        "n": "app", "v": "1.0", "rd": [], "rp": None, "pe": [], "st": "unavailable", "src": "",
        "note": "app 1.0: not asked: http://files.example failed in a run at 06:39 UTC", "sk": [],
        "exp": time.time() + 600,
    }
    cache = MetadataCache()
    assert cache.put_metadata(key, old) is not None
    with MetadataEngine(config, cache=cache) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.OK and [str(r) for r in meta.requires_dist] == ["dep>=1"]
    assert index_server.requests_for(f"/files/{entry.filename}")
