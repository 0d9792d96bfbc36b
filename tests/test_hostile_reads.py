"""Hostile reads (issue 16, items 1, 3 and 4): every read has a size limit, a dead host costs one timeout per run,
a flaky resolver is asked once per host and retried when it fails for now, and an answer missing because the
network failed says so.

Each case ends in bounded time without a timed assertion: what is asserted is the outcome, the message (naming the
URL or file, credentials masked), the bytes the server sent, the connections it took and the memory the reader
held at its peak (``tracemalloc`` in this process; the high-water mark of a child for the runs through the CLI).
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from analyzer.metadata import filemeta, http
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.filemeta import LOCAL_SOURCE, NETWORK_FAILURE, network_failed
from analyzer.metadata.models import MetadataStatus
from analyzer.metadata.pages import network_failed as pages_network_failed
from tests.conftest import REPO_ROOT
from tests.indexserver import (
    Fault,
    FixtureIndex,
    MadeUpHosts,
    black_hole,
    endless_body,
    gzip_bomb,
    index_server,  # noqa: F401 - pytest fixture
    lying_wheel,
    made_up_hosts,  # noqa: F401 - pytest fixture
    status_fault,
    whole_file,
)
from tests.wheelfactory import make_sdist, make_wheel

pytestmark = pytest.mark.timeout(60)

SECRET = "hostile-pw-7q"
TIMEOUT = "0.3"
JSON_PAGE = "application/vnd.pypi.simple.v1+json"
APP_WHEEL = "app-1.0-py3-none-any.whl"
MB = 1024 * 1024
PEAK = 300 * MB
"""The most memory any hostile case may hold (issue 16)."""
SLACK = 16 * MB
"""Bytes a server gets into the sockets' buffers before a client that stopped reading hangs up."""


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "1")


@pytest.fixture
def served(index_server: FixtureIndex, fast: None) -> FixtureIndex:
    index_server.wheel("app", "1.0", ["dep>=1"])
    index_server.wheel("dep", "1.0")
    index_server.wheel("base", "1.0")
    return index_server


def _secret(url: str) -> str:
    return url.replace("http://", f"http://user:{SECRET}@")


def _masked(index: FixtureIndex) -> str:
    return index.base_url.replace("http://", "http://user:***@")


def _engine(index_url: str, *extra: str, workers: int = 24) -> MetadataEngine:
    return MetadataEngine(IndexConfig(index_url, extra), cache=MetadataCache(), workers=workers)


@contextmanager
def _traced() -> Iterator[list[int]]:
    """The peak of memory allocated by Python while the block ran, in bytes (in its one-item list)."""
    tracemalloc.start()
    peak = [0]
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# -- what is read from an index: a table of hostile answers ------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """A hostile answer at one path, what the reader must say, and at most how many bytes the server may send."""

    id: str
    path: str
    make: Callable[[], Fault]
    says: str
    sent: int
    metadata_file: bool = False


HOSTILE = [
    Hostile("endless-page", "/simple/app/", lambda: endless_body(200, {"Content-Type": JSON_PAGE}),
            "cannot read the page: the page is larger than 64 MB; not read further", 64 * MB + SLACK),
    Hostile("gzip-bomb-page", "/simple/app/", lambda: gzip_bomb(JSON_PAGE, 1024),
            "cannot read the page: the page is larger than 64 MB; not read further", 2 * MB),
    Hostile("nested-gzip-bomb-page", "/simple/app/", lambda: gzip_bomb(JSON_PAGE, 4096, layers=2),
            "cannot read the page: the page is larger than 64 MB; not read further", 2 * MB),
    Hostile("unasked-encoding", "/simple/app/",
            lambda: endless_body(200, {"Content-Type": JSON_PAGE, "Content-Encoding": "br"}),
            "cannot read the page: the answer could not be decoded (unsupported Content-Encoding 'br')", SLACK),
    Hostile("page-declared-huge", "/simple/app/",
            lambda: endless_body(200, {"Content-Type": JSON_PAGE, "Content-Length": str(10**11)}),
            "cannot read the page: the page is larger than 64 MB (95367 MB); not read", SLACK),
    Hostile("endless-range-answer", f"/files/{APP_WHEEL}",
            lambda: endless_body(206, {"Content-Range": "bytes 0-32767/40000"}),
            "the range answer is longer than the 32768 bytes asked", SLACK),
    Hostile("endless-metadata-file", f"/files/{APP_WHEEL}.metadata",
            lambda: endless_body(200, prefix=b"Metadata-Version: 2.1\nName: app\nVersion: 1.0\n\n"),
            "the .metadata file is larger than 8 MB; not read further; not metadata", 8 * MB + SLACK,
            metadata_file=True),
    Hostile("endless-whole-file", f"/files/{APP_WHEEL}", lambda: endless_body(200),
            "the file is larger than 4 MB; not read further", 4 * MB + SLACK),
]


@pytest.mark.parametrize("case", HOSTILE, ids=lambda c: c.id)
def test_a_hostile_answer_is_cut_at_its_limit(
    index_server: FixtureIndex, fast: None, monkeypatch: pytest.MonkeyPatch, case: Hostile
) -> None:
    monkeypatch.setattr(filemeta, "MAX_DOWNLOAD", 4 * MB)  # the whole-file bound, small enough to reach quickly
    index_server.wheel("app", "1.0", ["dep>=1"], metadata_file=case.metadata_file)
    index_server.wheel("dep", "1.0")
    index_server.faults[case.path] = case.make()
    with _traced() as peak, _engine(_secret(index_server.index_url)) as engine:
        if case.path.startswith("/simple/"):
            files = engine.project("app")
            other = engine.project("dep")
            (said,) = files.problems
            assert files.files == () and other.files
            assert not pages_network_failed(files)  # an answer too large is not the network's failure
            assert said.startswith(f"{_masked(index_server)}{case.path}: ")
        else:
            meta = engine.metadata(engine.project("app").files[0])
            assert meta.status is MetadataStatus.UNAVAILABLE and not network_failed(meta)
            said = meta.note
            assert said.startswith(f"app 1.0 ({_masked(index_server)}/files/{APP_WHEEL}): ")
            if case.metadata_file:  # the wheel holds the same METADATA (PEP 658): not asked for
                assert index_server.requests_for(f"/files/{APP_WHEEL}") == index_server.requests_for(case.path)
    assert case.says in said and SECRET not in said
    assert index_server.bytes_for(case.path) <= case.sent
    assert peak[0] < PEAK


def test_a_redirect_with_an_endless_body_is_followed_without_reading_it(
    index_server: FixtureIndex, fast: None
) -> None:
    index_server.wheel("app", "1.0")
    endless = endless_body(302, {"Location": "/simple/app/"})
    asked: list[int] = []

    def first_endless(handler: object) -> bool:
        asked.append(1)
        return len(asked) == 1 and endless(handler)  # type: ignore[arg-type]

    index_server.faults["/simple/app/"] = first_endless
    with _traced() as peak, _engine(index_server.index_url) as engine:
        assert len(engine.project("app").files) == 1
    assert len(asked) == 2 and peak[0] < PEAK


# -- what is inside a wheel or an sdist --------------------------------------------------------------------------


@pytest.mark.parametrize("claims", [200, 16 * MB], ids=["claims-200-bytes", "claims-16-MB"])
def test_metadata_is_inflated_up_to_its_limit_whatever_the_entry_claims(
    index_server: FixtureIndex, fast: None, claims: int
) -> None:
    """64 MB of METADATA under an entry that claims 200 bytes (or says 16 MB): never inflated past the limit."""
    index_server.add(lying_wheel("app", "1.0", claims=claims, inflates_to=64 * MB))
    with _traced() as peak, _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE and meta.source == ""  # an answer about the file
    says = "not a readable zip (Bad CRC-32" if claims == 200 else "METADATA is implausibly large (16777216 bytes, more than 8 MB)"
    assert says in meta.note and APP_WHEEL in meta.note
    assert peak[0] < 24 * MB  # the reader held at most the limit, not the 64 MB the entry inflates to


def test_the_lying_wheel_is_what_it_claims() -> None:
    """Control: the entry does claim 200 bytes and does inflate to far more (else the test above proves nothing)."""
    import io
    import zipfile
    import zlib

    built = lying_wheel("app", "1.0", inflates_to=16 * MB)
    with zipfile.ZipFile(io.BytesIO(built.data)) as zf:
        info = zf.getinfo("app-1.0.dist-info/METADATA")
        assert info.file_size == 200
        raw = built.data[info.header_offset + 30 + len(info.filename) :][: info.compress_size]
        assert len(zlib.decompressobj(-15).decompress(raw)) >= 16 * MB - 1024


# -- file:// references: only regular files are opened -----------------------------------------------------------


def _special(kind: str, at: Path) -> None:
    """``at`` made into a special file: a symlink to an endless device, a FIFO, a directory."""
    if kind == "dev-zero":
        at.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(at)
    else:
        at.mkdir()


SPECIAL = {"dev-zero": "a character device", "fifo": "a FIFO", "directory": "a directory"}


@pytest.mark.parametrize("filename", [APP_WHEEL, "app-1.0.tar.gz", "app-1.0.zip"])
@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_file_reference_to_a_special_file_is_refused(tmp_path: Path, kind: str, filename: str) -> None:
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / filename
    _special(kind, path)
    with _engine("http://127.0.0.1:9/simple/") as engine:
        meta = engine.metadata_for_url("app", path.as_uri())
    assert meta.status is MetadataStatus.UNAVAILABLE and meta.source == LOCAL_SOURCE
    assert f"app 1.0 ({path.as_uri()}): the file is not a regular file ({SPECIAL[kind]}); not read" in meta.note


def test_a_regular_local_wheel_and_sdist_are_still_read(tmp_path: Path) -> None:
    wheel = make_wheel("app", "1.0", ["dep>=1"])
    sdist = make_sdist("lib", "2.0", ["dep<3"], metadata_version="2.2")
    (tmp_path / wheel.filename).write_bytes(wheel.data)
    (tmp_path / sdist.filename).write_bytes(sdist.data)
    with _engine("http://127.0.0.1:9/simple/") as engine:
        app = engine.metadata_for_url("app", (tmp_path / wheel.filename).as_uri())
        lib = engine.metadata_for_url("lib", (tmp_path / sdist.filename).as_uri() + f"#sha256={sdist.sha256}")
        bad = engine.metadata_for_url("lib", (tmp_path / sdist.filename).as_uri() + "#sha256=00")
    assert [str(r) for r in app.requires_dist] == ["dep>=1"] and [str(r) for r in lib.requires_dist] == ["dep<3"]
    assert bad.status is MetadataStatus.UNAVAILABLE and "sha256 mismatch" in bad.note


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_a_local_index_page_that_is_a_special_file_is_a_problem(tmp_path: Path, kind: str) -> None:
    if kind == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    (tmp_path / "app").mkdir()
    _special(kind, tmp_path / "app" / "index.html")
    with _engine(tmp_path.as_uri() + "/") as engine:
        files = engine.project("app")
    (problem,) = files.problems
    assert files.files == () and f"/app/: cannot read the page: the page is not a regular file ({SPECIAL[kind]})" in problem


# -- time: a dead extra index costs one timeout for the run -------------------------------------------------------

NAMES = [f"pkg{i}" for i in range(12)]


@pytest.mark.parametrize("workers", [1, 6])
def test_a_black_hole_extra_index_costs_one_timeout(
    index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Default retries: a host that never answered is not retried and, once one request stalled, not asked again;
    so at most the requests already on their way wait (one connection each), all within the same timeout."""
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", TIMEOUT)
    for name in NAMES:
        index_server.wheel(name, "1.0")
    with black_hole() as hole, _engine(index_server.index_url, _secret(hole.index_url), workers=workers) as engine:
        engine.prefetch_projects(NAMES)
        found = [engine.project(n) for n in NAMES]
        given_up = engine.hosts_given_up()
        failed = engine.pages_failed_on_network()
        taken = len(hole.held)
    assert taken <= workers  # the first wave, none retried, none after
    assert given_up == {hole.base_url: f"no answer within {TIMEOUT} s; it has not answered a single request in this run"}
    assert all(len(f.files) == 1 and pages_network_failed(f) for f in found)
    assert failed == set(NAMES)
    assert all(SECRET not in p for f in found for p in f.problems)


def test_cli_names_a_black_hole_once(
    served: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analyzer.cli import main

    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    with black_hole() as hole:
        code = main(["check", "app", "--snapshot", str(freeze), "--python", "3.11", "--index-url", served.index_url,
                     "--extra-index-url", _secret(hole.index_url), "--format", "json"])
        out = capsys.readouterr()
    assert code in (0, 1, 3), out.err
    assert SECRET not in out.out + out.err and "Traceback" not in out.err
    text = out.out + out.err
    assert text.count(f"{hole.base_url}: given up for the rest of the run") == 1, text


# -- DNS: one lookup per host and run, temporary failures tried again ---------------------------------------------


@pytest.fixture
def quick_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "LOOKUP_BACKOFF", 0.001)


def _port(index: FixtureIndex) -> int:
    return int(index.base_url.rsplit(":", 1)[1])


def test_a_host_is_looked_up_once_per_run_and_its_connections_reused(
    served: FixtureIndex, made_up_hosts: MadeUpHosts, quick_lookups: None
) -> None:
    made_up_hosts.ports["index.test"] = _port(served)
    made_up_hosts.flaky["index.test"] = 2  # a flooded resolver: the first two lookups fail for now
    for name in NAMES:
        served.wheel(name, "1.0")
    workers = 4
    with _engine("http://index.test/simple/", workers=workers) as engine:
        assert engine.project("app").files
        engine.prefetch_projects(NAMES)
        assert all(engine.project(n).files for n in NAMES)
        assert engine.hosts_given_up() == {}
    assert made_up_hosts.lookups["index.test"] == 3  # two failures, then the one answer for the run
    assert served.connections <= workers + 1  # kept open and reused, not one per request


def test_connections_are_reused_across_requests(served: FixtureIndex) -> None:
    with _engine(served.index_url, workers=1) as engine:
        for name in ("app", "dep", "base"):
            engine.metadata(engine.project(name).files[0])
    assert len(served.log) == 6 and served.connections == 1


@pytest.mark.parametrize(("flaky", "lookups", "says"), [
    (100, http.LOOKUP_ATTEMPTS, f"the host name could not be looked up (temporary failure, {http.LOOKUP_ATTEMPTS} attempts)"),
    (0, 1, "the host name does not resolve"),
], ids=["temporary", "no-such-name"])
def test_a_name_that_does_not_resolve(
    served: FixtureIndex, made_up_hosts: MadeUpHosts, quick_lookups: None, flaky: int, lookups: int, says: str
) -> None:
    made_up_hosts.ports["gone.test"] = _port(served) if flaky else None
    made_up_hosts.flaky["gone.test"] = flaky
    with _engine(served.index_url, "http://gone.test/simple/", workers=1) as engine:
        found = [engine.project(n) for n in ("app", "dep", "base")]
    assert made_up_hosts.lookups["gone.test"] == lookups  # given up for the run after that
    assert says in found[0].problems[0] and all(f.files and pages_network_failed(f) for f in found)


# -- the contract: a failure of the network is marked as such ------------------------------------------------------


def test_network_failures_are_marked_and_answers_about_the_file_are_not(
    served: FixtureIndex, made_up_hosts: MadeUpHosts
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    made_up_hosts.ports["files.test"] = closed
    served.files[APP_WHEEL].url = f"http://files.test/files/{APP_WHEEL}"
    served.faults["/files/dep-1.0-py3-none-any.whl"] = status_fault(404)
    with _engine(served.index_url) as engine:
        app = engine.metadata(engine.project("app").files[0])
        dep = engine.metadata(engine.project("dep").files[0])
        assert not pages_network_failed(engine.project("app"))
    assert network_failed(app) and app.source == NETWORK_FAILURE and "cannot connect" in app.note
    assert dep.status is MetadataStatus.UNAVAILABLE and not network_failed(dep) and "HTTP 404" in dep.note


def test_a_range_ignored_download_still_reads_the_wheel(served: FixtureIndex) -> None:
    served.faults[f"/files/{APP_WHEEL}"] = whole_file()
    with _engine(served.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.OK and meta.source == "download"


# -- through the CLI, in a child process whose peak memory is measured ---------------------------------------------

RUNNER = (
    "import sys\n"
    "from analyzer.cli import main\n"
    "code = main(sys.argv[1:])\n"
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child of a large test process would report
    # its parent's peak; the high-water mark belongs to the child's own address space
    "peak = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "sys.stderr.write(f'\\nPEAK_KB={peak}\\n')\n"
    "sys.exit(code)\n"
)


def _child_check(index: FixtureIndex, tmp_path: Path, *request: str) -> tuple[int, str, str, int]:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    argv = ["check", *request, "--snapshot", str(freeze), "--python", "3.11", "--index-url",
            _secret(index.index_url), "--format", "json", "--no-suggestions"]
    run = subprocess.run([sys.executable, "-c", RUNNER, *argv], capture_output=True, text=True, cwd=REPO_ROOT,
                         timeout=60, env={**os.environ, "TFCONFLICT_HTTP_TIMEOUT": TIMEOUT}, check=False)
    err, _, peak = run.stderr.rpartition("PEAK_KB=")
    return run.returncode, run.stdout, err, int(peak) * 1024


@pytest.mark.parametrize("where", ["page", "gzip-page", "lying-dep-wheel"])
def test_cli_on_a_hostile_index_ends_in_bounded_memory(served: FixtureIndex, tmp_path: Path, where: str) -> None:
    if where == "page":
        served.faults["/simple/app/"] = endless_body(200, {"Content-Type": JSON_PAGE})
    elif where == "gzip-page":
        served.faults["/simple/app/"] = gzip_bomb(JSON_PAGE, 2048)
    else:
        del served.files["dep-1.0-py3-none-any.whl"]
        served.add(lying_wheel("dep", "1.0", inflates_to=256 * MB))
    code, out, err, peak = _child_check(served, tmp_path, "app")
    assert SECRET not in out + err and "Traceback" not in err
    assert peak < PEAK
    if where == "lying-dep-wheel":
        assert code == 0, err
        report = json.loads(out)
        assert report["pip"]["opaque"] == ["dep"]
        assert "dep 1.0: metadata unavailable" in "\n".join(report["warnings"])
    else:
        assert code == 3 and out == "", err
        assert f"cannot look up app: {_masked(served)}/simple/app/: cannot read the page: the page is larger" in err


def test_an_sdist_is_not_walked_past_its_bound_for_pkg_info(index_server: FixtureIndex, fast: None) -> None:
    """A tar whose first member claims 2 GB (a gzip bomb of zeros would fill it): PKG-INFO is not looked for past
    the bound, the stream is not inflated that far."""
    import gzip
    import io
    import tarfile

    header = tarfile.TarInfo("app-1.0/huge.bin")
    header.size = 2 * 1024**3
    data = gzip.compress(header.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * (4 * MB))
    built = make_sdist("app", "1.0")
    index_server.add(type(built)(built.filename, data, built.metadata))
    with _traced() as peak, _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE and meta.source == ""
    assert "app-1.0.tar.gz: no PKG-INFO in its first 1 GB unpacked; not read further" in meta.note
    assert peak[0] < PEAK
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:  # the archive is what it claims
        first = archive.next()
    assert first is not None and first.size == 2 * 1024**3
