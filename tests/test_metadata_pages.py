"""Reading PEP 691 pages on the cold path: the fast writer of page rows and its fallbacks give the answers the
standard library gives, and a JSON page needs no HTML parser."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version as Version_

from analyzer.metadata import index
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import DistFile
from tests.indexserver import FixtureIndex, index_server, replace_body  # noqa: F401 - pytest fixture

JSON_PAGE = "application/vnd.pypi.simple.v1+json"
ROOT = Path(__file__).resolve().parents[1]


def _files(index_url: str, cache_dir: Path, name: str = "demo") -> tuple[DistFile, ...]:
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache(cache_dir / "m.sqlite3")) as engine:
        found = engine.project(name)
    assert found.problems == ()
    return found.files


@pytest.mark.parametrize("fast", [True, False], ids=["orjson-if-installed", "stdlib"])
def test_a_page_reads_the_same_with_or_without_the_fast_writer(
    index_server: FixtureIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    index_server.wheel("demo", "1.0", requires_python=">=3.8")
    index_server.wheel("demo", "1.1", yanked="brøken wheel ✗")  # non-ASCII: orjson writes UTF-8, json escapes
    index_server.sdist("demo", "1.1")
    reference = _files(index_server.index_url, tmp_path / "a")
    if not fast:
        monkeypatch.setattr(index, "_orjson", None)
    again = _files(index_server.index_url, tmp_path / "b")
    assert again == reference
    assert {f.yanked for f in again} == {None, "brøken wheel ✗"}


def _served(index_server: FixtureIndex, size: str) -> None:
    page = (
        '{"meta": {"api-version": "1.1"}, "files": [{"filename": "demo-1.0-py3-none-any.whl", '
        '"url": "demo-1.0-py3-none-any.whl", "hashes": {}, "size": SIZE}]}'
    ).replace("SIZE", size)
    index_server.faults["/simple/demo/"] = replace_body(page.encode(), JSON_PAGE)


def test_what_the_fast_writer_refuses_is_written_by_the_standard_library(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    huge = 2**70 + 1  # past 64 bits: orjson refuses to write it
    _served(index_server, str(huge))
    (file,) = _files(index_server.index_url, tmp_path)
    assert file.size == huge and type(file.size) is int
    assert file.url == f"{index_server.index_url}demo/demo-1.0-py3-none-any.whl"


def test_a_page_with_nan_is_written_by_the_standard_library(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    _served(index_server, "NaN")  # the standard library reads it; orjson would write it back as null
    (file,) = _files(index_server.index_url, tmp_path)
    assert isinstance(file.size, float) and math.isnan(file.size)


@pytest.mark.parametrize(
    "file",
    [
        '{"filename": 5, "url": "x"}',
        '{"filename": "demo-1.0.tar.gz", "url": "x", "requires-python": 3}',
        '{"filename": "demo-1.0.tar.gz", "url": "x", "hashes": [1]}',
    ],
    ids=["number-as-filename", "number-as-requires-python", "list-as-hashes"],
)
def test_a_field_of_the_wrong_type_is_an_unreadable_page_not_a_crash(
    index_server: FixtureIndex, tmp_path: Path, file: str
) -> None:
    body = '{"meta": {"api-version": "1.0"}, "files": [FILE]}'.replace("FILE", file)
    index_server.faults["/simple/demo/"] = replace_body(body.encode(), JSON_PAGE)
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache(tmp_path / "m")) as engine:
        found = engine.project("demo")
    assert found.files == ()
    assert len(found.problems) == 1 and "/simple/demo/: unreadable project page (" in found.problems[0]


def test_a_utf16_page_is_decoded_as_requests_decodes_it(index_server: FixtureIndex, tmp_path: Path) -> None:
    page = {
        "meta": {"api-version": "1.0"},
        "files": [{"filename": "demo-2.0.tar.gz", "url": "x.tar.gz", "hashes": {}}],
    }
    index_server.faults["/simple/demo/"] = replace_body(json.dumps(page).encode("utf-16"), JSON_PAGE)
    (file,) = _files(index_server.index_url, tmp_path)
    assert file.filename == "demo-2.0.tar.gz"


def test_plain_tuples_keep_every_field_of_an_entry() -> None:
    data = {
        "meta": {"api-version": "1.1"},
        "files": [
            {
                "filename": "demo-1.0-py3-none-any.whl",
                "url": "../../files/demo-1.0-py3-none-any.whl#sha256=ab",
                "hashes": {"sha256": "ab"},
                "requires-python": ">=3.9",
                "yanked": True,
                "upload-time": "2024-01-02T03:04:05Z",
                "size": 7,
                "core-metadata": {"sha256": "cd"},
            },
            {"filename": "demo-1.0.tar.gz", "url": "https://example.org/demo-1.0.tar.gz", "yanked": "bad"},
        ],
    }
    wheel, sdist = index._entries_from_json(data, "https://example.org/simple/demo/")
    assert wheel == (
        "demo-1.0-py3-none-any.whl",
        "https://example.org/files/demo-1.0-py3-none-any.whl#sha256=ab",
        ">=3.9",
        "",
        "2024-01-02T03:04:05+00:00",
        {"sha256": "ab"},
        7,
        "https://example.org/files/demo-1.0-py3-none-any.whl.metadata",
        {"sha256": "cd"},
    )
    assert sdist == (
        "demo-1.0.tar.gz",
        "https://example.org/demo-1.0.tar.gz",
        None,
        "bad",
        None,
        {},
        None,
        None,
        {},
    )


def test_a_json_page_does_not_import_the_html_parser(tmp_path: Path) -> None:
    """pypi_simple loads pydantic (0.12 s of a cold run): only an HTML page needs it."""
    code = f"""
import sys
from pathlib import Path
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from tests.indexserver import running_index

with running_index() as served:
    served.wheel("demo", "1.0")
    with MetadataEngine(IndexConfig(served.index_url), cache=MetadataCache(Path({str(tmp_path)!r}) / "m")) as e:
        assert len(e.project("demo").files) == 1
    print("json", "pypi_simple" in sys.modules)
    served.mode = "html"
    with MetadataEngine(IndexConfig(served.index_url), cache=MetadataCache(Path({str(tmp_path)!r}) / "h")) as e:
        assert len(e.project("demo").files) == 1
    print("html", "pypi_simple" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["json False", "html True"]


@pytest.mark.parametrize(
    "filename",
    [
        "demo-1.0.tar.gz",
        "demo-1.0.zip",
        "Demo_Pkg-1.0.tar.gz",
        "demo-1.0.TAR.GZ",
        "-1.0.tar.gz",
        "demo1.0.tar.gz",
        "demo-1.0-1.tar.gz",
        "demo-not.a.version.tar.gz",
        "other-1.0.tar.gz",
        "demo-1.0-py3-none-any.whl",
        "demo-1.0-py3-any.whl",
        "de__mo-1.0-py3-none-any.whl",
        "demo-1.0-1-py3-none-any.whl",
    ],
)
def test_file_names_parse_as_packaging_parses_them(filename: str) -> None:
    """A page's file names are grouped by the version packaging reads in them; a name packaging refuses, or another
    project's, is skipped with a stated problem."""
    from packaging.utils import (
        InvalidSdistFilename,
        InvalidWheelFilename,
        parse_sdist_filename,
        parse_wheel_filename,
    )

    try:
        if filename.endswith(".whl"):
            name, version = parse_wheel_filename(filename)[:2]
        else:
            name, version = parse_sdist_filename(filename)
        expected: object = (
            [(str(version), "w" if filename.endswith(".whl") else "s")] if name == "demo" else ValueError
        )
    except (InvalidSdistFilename, InvalidWheelFilename):
        expected = ValueError
    entry = (filename, f"https://example.org/{filename}", None, None, None, {}, None, None, {})
    body, problems = index.compact_body([entry], canonicalize_name("demo"), "page")
    got: object = [(v, rows[0][1]) for v, rows in body["groups"]] or ValueError
    assert got == expected
    assert bool(problems) == (expected is ValueError)


def _pins(
    index_url: str, cache_dir: Path, asked: list[tuple[str, str]]
) -> tuple[list[tuple[DistFile, ...]], list[str]]:
    """files_of each (name, version) on a fresh engine over a warm cache; and the projects whose page was read
    whole."""
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache(cache_dir / "m.sqlite3")) as engine:
        assert engine.cache is not None
        whole = []
        real = engine.cache.get_page
        engine.cache.get_page = lambda key: whole.append(key) or real(key)  # type: ignore[method-assign]
        answers = [engine.files_of(name, Version_(v)) for name, v in asked]
    return answers, sorted({key.rsplit("|", 1)[1] for key in whole})


def _sql(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of the cache file read, or changed, behind the engine's back (as another process or a damaged disk)."""
    with contextlib.closing(sqlite3.connect(db, isolation_level=None)) as conn:
        return conn.execute(sql, args).fetchall()


def _many_versions(index_server: FixtureIndex, yanked: str = "") -> list[tuple[str, str]]:
    for v in ("1.0", "1.0.1", "1.1", "1!1.0", "2.0rc1", "2.0", "10.0", "1.10"):
        index_server.wheel("demo", v, yanked=yanked or None)
    index_server.sdist("demo", "1.0.0")  # spelled otherwise: a second line equal to 1.0
    index_server.wheel("other", "3.0")
    return [("demo", v) for v in ("1", "1.0", "1.0.0.0", "1.1", "1!1", "2.0rc1", "2", "10", "1.10", "9")] + [
        ("other", "3"),
        ("nothing", "1.0"),
    ]


def test_a_pin_reads_its_version_lines_alone_with_the_same_files(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    asked = _many_versions(index_server)
    with MetadataEngine(
        IndexConfig(index_server.index_url), cache=MetadataCache(tmp_path / "m.sqlite3")
    ) as engine:
        expected = [
            tuple(f for f in engine.project(name).files if f.version == Version_(v)) for name, v in asked
        ]
    answers, whole = _pins(index_server.index_url, tmp_path, asked)
    assert answers == expected and sum(map(len, answers)) == 13
    assert whole == ["nothing"]  # a page without files (a small blob): the others said where each line is


def test_a_page_stored_without_its_line_index_is_read_whole(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    """Pages stored by an older version (no ``at`` in the header), with non-ASCII rows (no byte offsets), or with
    a header pointing off its lines give the same files, read the old way."""
    asked = _many_versions(index_server, yanked="brøken ✗")
    _pins(index_server.index_url, tmp_path, asked)  # the pages fetched and stored
    answers, whole = _pins(index_server.index_url, tmp_path, asked)
    assert whole == ["demo", "nothing"] and sum(map(len, answers)) == 13  # demo's rows are not ASCII
    db = tmp_path / "m.sqlite3"
    for key, text in _sql(db, "SELECT key, body FROM pages"):
        if not isinstance(text, str):
            continue
        header, _, rest = text.partition("\n")
        meta = json.loads(header)
        assert ("at" in meta) == rest.isascii()
        if key.endswith("|other"):
            old = json.dumps({"base": meta["base"], "problems": meta["problems"]}, separators=(",", ":"))
            _sql(db, "UPDATE pages SET body=? WHERE key=?", f"{old}\n{rest}", key)
    again, whole = _pins(index_server.index_url, tmp_path, asked)
    assert again == answers and whole == ["demo", "nothing", "other"]
    for key, text in _sql(db, "SELECT key, body FROM pages"):
        if isinstance(text, str) and key.endswith("|other"):
            header, _, rest = text.partition("\n")
            meta = json.loads(header)
            meta["at"] = "\n3.0\t0\t3"  # off its line: not JSON rows
            _sql(db, "UPDATE pages SET body=? WHERE key=?", json.dumps(meta) + "\n" + rest, key)
    assert _pins(index_server.index_url, tmp_path, asked) == (answers, ["demo", "nothing", "other"])


def test_a_page_found_unchanged_is_stored_again_with_its_line_index(
    index_server: FixtureIndex, tmp_path: Path
) -> None:
    asked = _many_versions(index_server)
    _pins(index_server.index_url, tmp_path, asked)
    db = tmp_path / "m.sqlite3"
    stored = dict(_sql(db, "SELECT key, body FROM pages"))
    (key,) = [k for k in stored if k.endswith("|demo")]
    header, _, rest = stored[key].partition("\n")
    meta = json.loads(header)
    del meta["at"]
    _sql(db, "UPDATE pages SET body=? WHERE key=?", json.dumps(meta) + "\n" + rest, key)
    with MetadataEngine(
        IndexConfig(index_server.index_url), cache=MetadataCache(tmp_path / "m.sqlite3"), freshness=0
    ) as engine:
        files = engine.project("demo").files
    assert [p.status for p in index_server.requests_for("/simple/demo/")][-1] == 304
    assert _sql(db, "SELECT body FROM pages WHERE key=?", key) == [(stored[key],)]  # as a new page is stored
    answers, whole = _pins(index_server.index_url, tmp_path, asked)
    assert whole == ["nothing"] and sum(map(len, answers)) == 13 and len(files) == 9
