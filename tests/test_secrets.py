"""No credential of a URL is printed, logged or stored: direct references, editable VCS URLs in requirements files,
freeze lines, index URLs (with and without a scheme) and the remembered answers in the cache.

A small index served in process (wheels from tests/wheelfactory.py); every URL the user gives carries the password
``SECRET``, and every run's standard output and error, the SQLite file, its write-ahead log and every compressed
body in it are searched for it.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import os
import sqlite3
import zlib
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.redact import redact
from tests.indexserver import FixtureIndex, index_server  # noqa: F401

SECRET = "s3cr3t-Pa55"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _cache_contents() -> bytes:
    """Every byte the cache folder holds, with every compressed body of the SQLite file inflated."""
    root = Path(os.environ["TFCONFLICT_CACHE_DIR"])
    found = b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())
    database = root / "metadata.sqlite3"
    if database.is_file():
        with sqlite3.connect(database) as conn:
            for table in ("metadata", "pages", "answers"):
                for (body,) in conn.execute(f"SELECT body FROM {table}"):
                    if isinstance(body, bytes):
                        try:
                            found += zlib.decompress(body)
                        except zlib.error:
                            found += body
                    else:
                        found += str(body).encode()
    return found


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://user:pw@host.example/x.whl", "https://user:***@host.example/x.whl"),
        ("x @ https://user:pw@host.example/x.whl ; python_version>'3'", "x @ https://user:***@host.example/x.whl ; python_version>'3'"),
        ("-e git+https://user:pw@host.example/a/b#egg=x", "-e git+https://user:***@host.example/a/b#egg=x"),
        ("https://tok3n@host.example/simple", "https://***@host.example/simple"),
        ("https://tok3n:@host.example/simple", "https://***@host.example/simple"),
        ("https://user:p@w@host.example/", "https://user:***@host.example/"),
        ("user:pw@host.example/simple/numpy/: cannot read", "user:***@host.example/simple/numpy/: cannot read"),
        ("http://u:pw@[::1/simple", "http://u:***@[::1/simple"),
        ('{"url": "https://u:pw@h.example/x", "to": "a@b"}', '{"url": "https://u:***@h.example/x", "to": "a@b"}'),
        ("https://user:${TOKEN}@host.example/simple", "https://user:${TOKEN}@host.example/simple"),
        ("git+https://host.example/a/b.git@v1#egg=x", "git+https://host.example/a/b.git@v1#egg=x"),
        ("name @ https://host.example/x.whl", "name @ https://host.example/x.whl"),
        ("http://[::1]:8080/simple/", "http://[::1]:8080/simple/"),
    ],
)
def test_one_rule_hides_every_credential_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown
    assert redact(shown) == shown


def test_a_direct_reference_with_credentials_is_never_shown_or_stored(
    index_server: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel("app", "1.0", ["lib>=2"])
    index_server.wheel("lib", "1.0")
    index_server.wheel("lib", "2.0")
    index_server.wheel("other", "1.0", ["lib<2"])
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("lib==1.0\nother==1.0\n")
    url = f"{index_server.base_url}/files/app-1.0-py3-none-any.whl".replace("http://", f"http://user:{SECRET}@")
    runtime = ["--snapshot", str(freeze), "--python", "3.11", "--index-url", index_server.index_url]
    for fmt in ("text", "json", "markdown", "github", "text"):  # the last text run is the remembered answer
        code, shown = _run(capsys, "check", f"app @ {url}", *runtime, "--format", fmt)
        assert code == 1, shown
        assert SECRET not in shown
        assert "user:***@" in shown
    assert SECRET.encode() not in _cache_contents()


def test_editable_vcs_urls_and_freeze_lines_are_shown_masked(
    index_server: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_server.wheel("lib", "1.0")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text(
        f"lib==1.0\nprivate @ https://user:{SECRET}@host.example/private-1.0-py3-none-any.whl\n"
        f"private @ https://user:{SECRET}@host.example/private-1.0-py3-none-any.whl\nnot a pin at all {SECRET}@x\n"
    )
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"lib\n-e git+https://user:{SECRET}@host.example/team/tool.git#egg=tool\n")
    for fmt in ("text", "json"):
        code, shown = _run(capsys, "check", "-r", str(requirements), "--snapshot", str(freeze), "--python", "3.11",
                           "--index-url", index_server.index_url, "--format", fmt)
        assert code in (0, 1, 3), shown
        assert f":{SECRET}@" not in shown
        assert "user:***@host.example/team/tool.git" in shown
    assert f":{SECRET}@".encode() not in _cache_contents()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        (f"user:{SECRET}@host.example/simple", "neither an http(s) or file URL nor an existing folder"),
        (f"http://user:{SECRET}@[::1/simple", "is not a valid URL"),
        (f"https://user:{SECRET}@host.example:99999/simple", "is not a valid URL"),
    ],
)
def test_a_bad_index_url_is_one_line_without_its_password(
    url: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("lib==1.0\n")
    for option in ("--index-url", "--extra-index-url"):
        code, shown = _run(capsys, "check", "app", "--snapshot", str(freeze), "--python", "3.11", option, url)
        assert code == 2
        assert SECRET not in shown
        assert words in shown and "user:***@" in shown
        assert len(shown.strip().splitlines()) == 1, shown


def test_an_existing_folder_is_an_index_as_pip_takes_it(tmp_path: Path) -> None:
    from analyzer.metadata.config import IndexConfig, index_config

    folder = tmp_path / "simple"
    folder.mkdir()
    config = index_config(str(folder), pip=IndexConfig())
    assert config.index_url == folder.resolve().as_uri()


@pytest.mark.parametrize("text", ["a." * 200_000 + "@", "a:" * 200_000 + "@", "://" * 200_000 + "@"])
def test_hostile_text_is_masked_in_one_pass(text: str) -> None:
    """Megabytes of text a URL rule could backtrack through at every position: the answer is the text itself."""
    assert redact(text) == text
