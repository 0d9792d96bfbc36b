"""Security: no analysed package's code ever runs, no shell command is built, only the URLs pip would read are
read, and credentials in an index URL never reach the output, the log or the cache."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import ast
import io
import json
import logging
import sqlite3
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3.util.connection

from analyzer.cli import main
from tests.conftest import REPO_ROOT
from tests.indexserver import FixtureIndex, _Handler, index_server, running_index  # noqa: F401 - fixture
from tests.wheelfactory import Built, make_wheel

ANALYZER = REPO_ROOT / "analyzer"


def _booby_trapped_wheel(name: str, version: str, marker: Path, requires: list[str]) -> Built:
    """A wheel that writes ``marker`` if installed (its .pth runs at interpreter start) or imported."""
    plain = make_wheel(name, version, requires)
    payload = f"open({str(marker)!r}, 'w').write('ran')\n".encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.data)) as src, zipfile.ZipFile(buffer, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info, payload if info.filename.endswith("/__init__.py") else data)
        out.writestr(f"{name}-trap.pth", b"import os; " + payload)
        out.writestr(f"{name}/sub.py", payload)
    return Built(plain.filename, buffer.getvalue(), plain.metadata)


@pytest.fixture
def trapped(index_server: FixtureIndex, tmp_path: Path) -> tuple[FixtureIndex, Path, Path]:
    """An index whose wheels and sdists would all write the marker if anything ran them, and an image holding
    two of them (so ``why`` reads them too)."""
    marker = tmp_path / "marker"
    # no PEP 658 file: tfconflict must open the wheel itself
    index_server.add(_booby_trapped_wheel("trapwheel", "1.0", marker, ["trapsdist>=1"]))
    index_server.add(_booby_trapped_wheel("trapwheel", "2.0", marker, ["trapsdist>=2"]))
    index_server.sdist("trapsdist", "1.0", marker_path=str(marker))
    index_server.sdist("trapsdist", "2.0", marker_path=str(marker))
    index_server.sdist("trapdynamic", "1.0", ["trapsdist"], metadata_version="2.1", marker_path=str(marker))
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("trapwheel==1.0\ntrapsdist==1.0\n")
    return index_server, freeze, marker


def test_the_traps_are_armed(trapped: tuple[FixtureIndex, Path, Path], tmp_path: Path) -> None:
    """Control: the fixtures' code does write the marker when Python runs it (so its absence below means
    something)."""
    index, _, marker = trapped
    with zipfile.ZipFile(io.BytesIO(index.files["trapwheel-1.0-py3-none-any.whl"].content())) as zf:
        pth = zf.read("trapwheel-trap.pth").decode()
    subprocess.run([sys.executable, "-c", pth], check=True, cwd=tmp_path)
    assert marker.read_text() == "ran"


@pytest.mark.parametrize(
    "command",
    [
        ["check", "trapwheel==2.0", "trapdynamic"],
        ["check", "trapwheel==2.0", "--format", "json"],
        ["why", "trapsdist"],
        ["metadata", "trapdynamic"],
        ["hook", "{reqs}"],
    ],
)
def test_no_analysed_package_code_runs(
    trapped: tuple[FixtureIndex, Path, Path], tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    index, freeze, marker = trapped
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("trapwheel==2.0\ntrapdynamic\n")
    args = [a.replace("{reqs}", str(reqs)) for a in command]
    code = main([*args, "--snapshot", str(freeze), "--python", "3.11", "--index-url", index.index_url])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert "Traceback" not in out.err
    # the files were read: wheels and sdists fetched, not skipped
    read = {r.path.rsplit("/", 1)[-1] for r in index.requests_for("/files/")}
    assert read & {"trapwheel-1.0-py3-none-any.whl", "trapwheel-2.0-py3-none-any.whl", "trapsdist-1.0.tar.gz",
                   "trapdynamic-1.0.tar.gz"}, read
    assert not marker.exists()
    assert not {"trapwheel", "trapsdist", "trapdynamic"} & set(sys.modules)


# -- no shell, no evaluation of text ---------------------------------------------------------------------------

_FORBIDDEN_CALLS = {
    "os.system", "os.popen", "os.execl", "os.execlp", "os.execv", "os.execvp", "os.spawnl", "os.spawnv",
    "eval", "exec", "compile", "__import__", "pickle.loads", "pickle.load", "marshal.loads", "runpy.run_path",
    "runpy.run_module", "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn",
}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _violations(tree: ast.AST, where: str) -> Iterator[str]:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in _FORBIDDEN_CALLS:
            yield f"{where}:{node.lineno}: {name}()"
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                yield f"{where}:{node.lineno}: shell={ast.unparse(kw.value)}"
        if name.startswith("subprocess.") and node.args and not isinstance(node.args[0], (ast.List, ast.Tuple, ast.Name)):
            yield f"{where}:{node.lineno}: {name}() with a command that is not an argument list"
        if name in ("importlib.import_module", "import_module") and node.args:
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) or (
                isinstance(arg, ast.JoinedStr) and isinstance(arg.values[0], ast.Constant)
                and str(arg.values[0].value).startswith("analyzer.")
            )
            if not literal:
                yield f"{where}:{node.lineno}: import_module() of a computed name"


def test_no_shell_and_no_evaluation_in_the_analyzer() -> None:
    found: list[str] = []
    files = sorted(ANALYZER.rglob("*.py"))
    assert len(files) > 30
    for path in files:
        found += _violations(ast.parse(path.read_text(), str(path)), str(path.relative_to(REPO_ROOT)))
    assert found == []


def test_the_static_check_finds_what_it_looks_for() -> None:
    bad = (
        "import os, subprocess\nos.system('ls ' + name)\nsubprocess.run(f'git {x}', shell=True)\n"
        "eval(text)\nsubprocess.check_output('git log')\n"
    )
    assert len(list(_violations(ast.parse(bad), "bad.py"))) == 5


# -- which URLs are read -------------------------------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[FixtureIndex]:
    """A second server, on another port: where direct references point."""
    with running_index() as index:
        yield index


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (host, port) the process opens a connection to."""
    seen: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def record(address: tuple[str, int], *args: object, **kw: object) -> object:
        seen.append((address[0], int(address[1])))
        return real(address, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib3.util.connection, "create_connection", record)
    monkeypatch.setattr("urllib3.connection.connection.create_connection", record)
    return seen


def _port(index: FixtureIndex) -> int:
    return int(index.base_url.rsplit(":", 1)[1])


def test_a_direct_reference_the_user_gave_is_read_and_nothing_else(
    index_server: FixtureIndex, elsewhere: FixtureIndex, tmp_path: Path, connections: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    index_server.wheel("base", "1.0")
    direct = elsewhere.wheel("direct", "1.0", ["base"])
    elsewhere.wheel("unrelated", "1.0")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    url = f"{elsewhere.base_url}/files/{direct.filename}"
    code = main(["check", f"direct @ {url}", "--snapshot", str(freeze), "--python", "3.11", "--index-url",
                 index_server.index_url, "--format", "json"])
    assert code == 0, capsys.readouterr().err
    assert {r.path for r in elsewhere.log} == {f"/files/{direct.filename}"}
    assert {r.path for r in index_server.log} <= {"/simple/base/", "/simple/direct/", "/files/base-1.0-py3-none-any.whl",
                                                  "/files/base-1.0-py3-none-any.whl.metadata"}
    assert set(connections) <= {("127.0.0.1", _port(index_server)), ("127.0.0.1", _port(elsewhere))}


def test_a_url_named_by_a_dependency_is_read_only_as_pip_would(
    index_server: FixtureIndex, elsewhere: FixtureIndex, tmp_path: Path, connections: list[tuple[str, int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pip follows a direct reference in a dependency's metadata when that package came from an index other than
    the public one (it refuses only for the public index's files): exactly that URL is read, nothing else there."""
    sneaky = elsewhere.wheel("sneaky", "1.0")
    elsewhere.wheel("unrelated", "1.0")
    url = f"{elsewhere.base_url}/files/{sneaky.filename}"
    index_server.wheel("parent", "1.0", [f"sneaky @ {url}"])
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("")
    code = main(["check", "parent", "--snapshot", str(freeze), "--python", "3.11", "--index-url",
                 index_server.index_url, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["verdict"] == "fits"
    assert {r.path for r in elsewhere.log} == {f"/files/{sneaky.filename}"}
    assert {h for h, _ in connections} == {"127.0.0.1"}
    assert {p for _, p in connections} <= {_port(index_server), _port(elsewhere)}


# -- credentials -----------------------------------------------------------------------------------------------------

SECRET = "s3cr3t-t0ken-x"


def _cache_text(cache: Path) -> bytes:
    """Every byte under the cache folder, with the database's compressed rows decompressed."""
    out = bytearray()
    for path in sorted(p for p in cache.rglob("*") if p.is_file()):
        out += path.read_bytes()
    db = cache / "metadata.sqlite3"
    if db.exists():
        with sqlite3.connect(db) as conn:
            for table in ("metadata", "pages"):
                for row in conn.execute(f"SELECT * FROM {table}"):
                    for value in row:
                        if isinstance(value, bytes):
                            try:
                                value = zlib.decompress(value)
                            except zlib.error:
                                pass
                            out += value
                        else:
                            out += str(value).encode()
    return bytes(out)


def test_credentials_in_an_index_url_never_leave_the_request(
    index_server: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(cache))
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")  # the failing page fails at once
    index_server.wheel("app", "1.0", ["lib>=1", "gone"])
    index_server.wheel("lib", "1.0", metadata_file=True)
    index_server.sdist("lib", "0.5")
    index_server.wheel("gone", "1.0")
    auth: list[str | None] = []

    def remember(handler: _Handler) -> bool:
        auth.append(handler.headers.get("Authorization"))
        return False

    def broken(handler: _Handler) -> bool:
        handler.send_body(500, b"broken", "text/plain")
        return True

    index_server.faults["/simple/app/"] = remember
    index_server.faults["/simple/gone/"] = broken
    url = index_server.index_url.replace("http://", f"http://user:{SECRET}@")
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("lib==0.5\n")
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for extra in (["--format", "json"], ["--format", "text"], ["--format", "markdown"], ["--offline"]):
            main(["-vv", "check", "app", "--snapshot", str(freeze), "--python", "3.11", "--index-url", url, *extra])
            out = capsys.readouterr()
            texts += [out.out, out.err]
        main(["-vv", "metadata", "gone", "--snapshot", str(freeze), "--python", "3.11", "--index-url", url])
        out = capsys.readouterr()
        texts += [out.out, out.err]
        main(["cache", "info"])
        texts.append(capsys.readouterr().out)
    texts += [r.getMessage() for r in caplog.records]
    assert auth and auth[0] is not None and auth[0].startswith("Basic ")  # the credentials were used
    assert any("gone" in t for t in texts)  # the failing page was reported
    assert [t for t in texts if SECRET in t] == []
    assert SECRET.encode() not in _cache_text(cache)
    assert (cache / "metadata.sqlite3").exists()


def test_no_analysed_package_code_runs_in_matrix(
    trapped: tuple[FixtureIndex, Path, Path], colab_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """matrix checks the request against real Colab releases (their pins unknown to this index: opaque)."""
    index, _, marker = trapped
    code = main(["matrix", "trapwheel==2.0", "trapdynamic", "--since", "2025-07-10", "--until", "2025-07-20",
                 "--sets", "none", "--workers", "1", "--format", "json", "--index-url", index.index_url])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert json.loads(out.out)["rows"]
    read = {r.path.rsplit("/", 1)[-1] for r in index.requests_for("/files/")}
    assert {"trapwheel-2.0-py3-none-any.whl", "trapdynamic-1.0.tar.gz"} <= read, read
    assert not marker.exists()
    assert not {"trapwheel", "trapsdist", "trapdynamic"} & set(sys.modules)
