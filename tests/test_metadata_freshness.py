"""How long a cached page answers for the index, what the engine holds of pages, and the keys of credentials.

A page listing files is fresh for the whole window; "no files" (a 404, an empty list) only for a minute, so one
wrong answer does not stick; an answer that is no page at all is never cached. Pages stay in SQLite: the engine
holds their keys, and a pin reads its own version's line. Ages are moved in the cache file, never by sleeping.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from packaging.version import Version

from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import EMPTY_FRESHNESS, PAGE_FRESHNESS, MetadataEngine
from tests.indexserver import FixtureIndex, index_server, replace_body, status_fault  # noqa: F401

JSON_PAGE = "application/vnd.pypi.simple.v1+json"
PORTAL = b"<html><body><a href='/login'>Sign in to the hotel wifi</a></body></html>"
SECRET = "pw-9f3k2x"


def _files(index: FixtureIndex, name: str = "app") -> int:
    with MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache()) as engine:
        return len(engine.project(name).files)


def _asked(index: FixtureIndex, name: str = "app") -> int:
    return len(index.requests_for(f"/simple/{name}/"))


def _age_pages(seconds: float) -> None:
    """Every cached page fetched ``seconds`` earlier than it was (what waiting would do)."""
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE pages SET fetched = fetched - ?", (seconds,))


@pytest.mark.parametrize(
    "lie",
    [
        pytest.param(lambda: status_fault(404, times=1), id="404"),
        pytest.param(
            lambda: replace_body(b'{"meta": {"api-version": "1.1"}, "files": []}', JSON_PAGE), id="no-files"
        ),
    ],
)
def test_a_wrong_no_files_answer_is_asked_again_after_a_minute(
    index_server: FixtureIndex, lie: object
) -> None:
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = lie()  # type: ignore[operator]
    assert _files(index_server) == 0
    index_server.faults.clear()
    assert _files(index_server) == 0 and _asked(index_server) == 1  # within the minute: not asked again
    _age_pages(EMPTY_FRESHNESS + 1)
    assert _files(index_server) == 1 and _asked(index_server) == 2  # past it: asked, and the truth stays
    _age_pages(EMPTY_FRESHNESS + 1)
    assert _files(index_server) == 1 and _asked(index_server) == 2  # a page with files keeps the whole window


def test_a_missing_project_is_asked_at_most_once_a_minute(index_server: FixtureIndex) -> None:
    for _ in range(3):
        assert _files(index_server, "nowhere") == 0
    assert _asked(index_server, "nowhere") == 1
    _age_pages(EMPTY_FRESHNESS - 5)
    assert _files(index_server, "nowhere") == 0 and _asked(index_server, "nowhere") == 1
    _age_pages(10)
    assert _files(index_server, "nowhere") == 0 and _asked(index_server, "nowhere") == 2


def test_a_page_with_files_is_fresh_for_the_whole_window(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    assert _files(index_server) == 1
    _age_pages(PAGE_FRESHNESS - 5)
    assert _files(index_server) == 1 and _asked(index_server) == 1
    _age_pages(10)
    assert _files(index_server) == 1 and _asked(index_server) == 2


def test_a_login_page_is_not_cached(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = replace_body(PORTAL, "text/html")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        portal = engine.project("app")
    assert portal.files == () and "not a project page" in portal.problems[0]
    index_server.faults.clear()
    assert _files(index_server) == 1 and _asked(index_server) == 2  # the next run asks at once
    assert MetadataCache().info().page_entries == 1


def test_a_lie_after_the_truth_is_short_lived_too(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    assert _files(index_server) == 1
    _age_pages(PAGE_FRESHNESS + 1)
    index_server.faults["/simple/app/"] = status_fault(404, times=1)
    assert _files(index_server) == 0  # the index said so: believed, for a minute
    _age_pages(EMPTY_FRESHNESS + 1)
    assert _files(index_server) == 1 and _asked(index_server) == 3


# -- what the engine holds -------------------------------------------------------------------------------------


def test_a_pin_reads_its_own_version_without_reading_pages_whole(index_server: FixtureIndex) -> None:
    index_server.wheel("multi", "1.0")  # page key "1.0"
    index_server.sdist("multi", "1.0.0")  # page key "1.0.0": the same version, spelled longer
    index_server.wheel("multi", "1.0.1")
    index_server.wheel("multi", "10.0")
    index_server.wheel("multi", "1.0rc1")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.prefetch_projects(["multi", "gone"])
        assert engine.cache is not None
        whole: list[str] = []
        real = engine.cache.get_page
        engine.cache.get_page = lambda key: whole.append(key) or real(key)  # type: ignore[method-assign]
        one = engine.files_of("multi", Version("1"))
        assert engine.files_of("multi", Version("1.0.0.0")) == one
        assert whole == []  # the pages stayed in the cache; the pin's lines were read alone
        every = engine.project("multi").files
    assert sorted(f.filename for f in one) == ["multi-1.0-py3-none-any.whl", "multi-1.0.0.tar.gz"]
    assert sorted(one, key=lambda f: f.filename) == sorted(
        (f for f in every if f.version == Version("1")), key=lambda f: f.filename
    )
    assert len(every) == 5


def test_without_a_cache_pages_are_held(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=None) as engine:
        engine.prefetch_projects(["app"])
        assert [f.filename for f in engine.files_of("app", Version("1.0"))] == ["app-1.0-py3-none-any.whl"]
        assert [f.filename for f in engine.project("app").files] == ["app-1.0-py3-none-any.whl"]
    assert _asked(index_server) == 1


def test_a_row_gone_from_the_cache_is_fetched_again(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.prefetch_projects(["app"])
        assert engine.cache is not None
        engine.cache.clear()  # another process cleared the cache mid-run
        assert [f.filename for f in engine.project("app").files] == ["app-1.0-py3-none-any.whl"]
    assert _asked(index_server) == 2


# -- the keys of credentials -----------------------------------------------------------------------------------


def _secret_url(index: FixtureIndex) -> str:
    return index.index_url.replace("http://", f"http://user:{SECRET}@")


def test_a_credential_tag_is_keyed_per_cache_and_the_key_is_private(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    index_server.wheel("app", "1.0")
    url = _secret_url(index_server)
    assert _files_at(url) == 1 and _files_at(url) == 1
    assert _asked(index_server) == 1  # one cache, one key: the second run found the first run's row
    keys = _page_keys()
    (key,) = keys
    unkeyed = "#" + hashlib.sha256(url.encode()).hexdigest()[:12]
    assert "#" in key and unkeyed not in key and SECRET not in key
    key_file = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    hmac_key = key_file.read_text().strip()
    assert len(hmac_key) == 64
    assert hmac_key.encode() not in (key_file.parent / "metadata.sqlite3").read_bytes()
    # another cache has another key, so the same URL has another tag there
    other = MetadataCache(tmp_path / "other" / "metadata.sqlite3")
    with MetadataEngine(IndexConfig(url), cache=other) as engine:
        engine.project("app")
    with sqlite3.connect(tmp_path / "other" / "metadata.sqlite3") as conn:
        (other_key,) = [k for (k,) in conn.execute("SELECT key FROM pages")]
    assert other_key != key and other_key.split("|")[1] == key.split("|")[1] == "app"


def test_two_passwords_for_one_host_have_two_rows(index_server: FixtureIndex) -> None:
    index_server.wheel("app", "1.0")
    _files_at(_secret_url(index_server))
    _files_at(_secret_url(index_server).replace(SECRET, "another"))
    assert len(_page_keys()) == 2 and _asked(index_server) == 2


def _files_at(index_url: str) -> int:
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache()) as engine:
        return len(engine.project("app").files)


def _page_keys() -> list[str]:
    path = Path(os.environ["TFCONFLICT_CACHE_DIR"]) / "metadata.sqlite3"
    with sqlite3.connect(path) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM pages")]
