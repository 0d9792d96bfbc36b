"""Network faults (issue 7, part 1), one table, injected by the fixture index at one path at a time.

Each fault is tried where it can happen: the requested project's page, its wheel's range requests, and (through
the CLI) a dependency's page and wheel. Every case must end in bounded time with a message naming the package
and the URL (credentials redacted everywhere: output, logs, the cache file), retry exactly where retrying makes
sense (5xx, 429, timeouts, broken connections; never 404/410 or an unreadable answer), and go on with the
affected package marked; exit code 3 only when the request's own project cannot be looked up.

Timeouts are tiny (``TFCONFLICT_HTTP_TIMEOUT``) and one retry is allowed (``TFCONFLICT_HTTP_RETRIES``), so the
stalling faults cost a fraction of a second; the server sleeps far longer than any of them, so a client that did
not give up would hang until the per-test timeout fails it.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
import logging
import socket
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.metadata import http
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.freshness import EMPTY_FRESHNESS, PAGE_FRESHNESS
from analyzer.metadata.models import MetadataStatus
from tests.indexserver import (
    Fault,
    FixtureIndex,
    MadeUpHosts,
    drop_connection,
    index_server,  # noqa: F401 - pytest fixture
    made_up_hosts,  # noqa: F401 - pytest fixture
    redirect_loop,
    replace_body,
    running_index,
    slow_body,
    slow_headers,
    status_fault,
    trickle,
    truncated_body,
    whole_file,
    wrong_length,
)
from tests.wheelfactory import Built, make_wheel

pytestmark = pytest.mark.timeout(60)

SECRET = "pw-9f3k2x"
TIMEOUT = "0.3"
"""Small enough for a fast suite, large enough that a loaded CI machine answers an ordinary request in time."""
STALL = 30.0
"""How long a stalling fault stalls: far beyond the client's timeout, well within the test's."""
APP_WHEEL = "app-1.0-py3-none-any.whl"
DEP_WHEEL = "dep-1.0-py3-none-any.whl"
JSON_PAGE = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Case:
    """One fault: how to make it, where it applies, how many requests it costs, and what the message says."""

    id: str
    make: Callable[[], Fault]
    attempts: int
    """Requests the server sees with one retry allowed (2 = retried once, 1 = not retried)."""
    says: str
    """A fragment of the problem message."""
    page: bool = True
    wheel: bool = True
    wheel_ok: bool = False
    """The metadata is still read (the fault only changes how)."""
    wheel_says: str | None = None
    """The message at a wheel, when it differs from ``says``."""

    def said(self, target: str) -> str:
        return self.says if target.endswith("page") or self.wheel_says is None else self.wheel_says


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


CASES = [
    Case("slow-headers", lambda: slow_headers(STALL), 2, f"no answer within {TIMEOUT} s"),
    Case("slow-body", lambda: slow_body(STALL), 2, f"no answer within {TIMEOUT} s"),
    Case("http-404", lambda: status_fault(404), 1, "HTTP 404"),
    Case("http-410", lambda: status_fault(410), 1, "HTTP 410"),
    Case("http-429", lambda: status_fault(429, {"Retry-After": "0"}), 2, "HTTP 429"),
    Case("http-500", lambda: status_fault(500), 2, "HTTP 500"),
    Case("http-503", lambda: status_fault(503), 2, "HTTP 503"),
    Case("truncated", lambda: truncated_body(0.5), 2, "the connection broke before the answer was complete"),
    Case("length-too-long", lambda: wrong_length(+100), 2, "the connection broke before the answer was complete"),
    Case("length-too-short", lambda: wrong_length(-100), 1, "unreadable project page", wheel_says="truncated range answer"),
    Case("dropped", drop_connection, 2, "the connection broke before the answer was complete (2 attempts)"),
    Case(
        "invalid-json",
        lambda: replace_body(b'{"meta": {"api-version": "1.1"}, "files": [{"filename"', JSON_PAGE),
        1,
        "unreadable project page",
        wheel=False,
    ),
    Case(
        "html-of-another-api",
        lambda: replace_body(b'<html><head><meta name="pypi:repository-version" content="2.0">', "text/html"),
        1,
        "unreadable project page",
        wheel=False,
    ),
    Case("range-ignored", whole_file, 1, "", page=False, wheel_ok=True),
    Case(
        "captive-portal",
        lambda: replace_body(b"<html><body><a href='/login'>Sign in to the hotel wifi</a></body></html>", "text/html"),
        1,
        "not a project page (HTML without a single file link: a login or proxy page?)",
        wheel=False,
    ),
    Case("http-401", lambda: status_fault(401), 1, "HTTP 401 (credentials missing or refused)", wheel_says="HTTP 401"),
    Case("http-403", lambda: status_fault(403), 1, "HTTP 403 (access refused)", wheel_says="HTTP 403"),
    Case("redirect-loop", redirect_loop, 31, "too many redirects (a redirect loop?)", wheel=False),
]
"""Wheel-only faults that are content, not transport (a zip without METADATA, a corrupt directory), are served as
the file itself: see ``HOSTILE_WHEELS``."""


def _no_metadata(name: str = "app") -> Built:
    return make_wheel(name, "1.0", ["dep>=1"] if name == "app" else [], with_metadata=False)


def _corrupt_directory(name: str = "app") -> Built:
    built = make_wheel(name, "1.0", ["dep>=1"] if name == "app" else [])
    data = bytearray(built.data)
    at = data.rfind(b"PK\x01\x02")  # the last central-directory entry
    data[at : at + 4] = b"XXXX"
    return Built(built.filename, bytes(data), built.metadata)


def _not_a_zip(name: str = "app") -> Built:
    built = make_wheel(name, "1.0")
    return Built(built.filename, b"<html>a captive portal</html>" * 100, built.metadata)


HOSTILE_WHEELS = {
    "zip-without-metadata": (_no_metadata, "no *.dist-info/METADATA in the wheel"),
    "corrupt-zip-directory": (_corrupt_directory, "not a readable zip"),
    "not-a-zip": (_not_a_zip, "not a readable zip"),
}

PAGE_CASES = [c for c in CASES if c.page]
WHEEL_CASES = [c for c in CASES if c.wheel]


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny timeouts and one retry, as a user would set them: through the environment."""
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", TIMEOUT)
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "1")


@pytest.fixture
def served(index_server: FixtureIndex, fast: None) -> FixtureIndex:
    """app 1.0 (requires dep>=1), dep 1.0 and base 1.0 (the image's one pin)."""
    index_server.wheel("app", "1.0", ["dep>=1"])
    index_server.wheel("dep", "1.0")
    index_server.wheel("base", "1.0")
    return index_server


def _secret_url(index: FixtureIndex) -> str:
    return index.index_url.replace("http://", f"http://user:{SECRET}@")


def _engine(index_url: str) -> MetadataEngine:
    return MetadataEngine(IndexConfig(index_url), cache=MetadataCache())


def _attempts(index: FixtureIndex, path: str) -> int:
    return len(index.requests_for(path))


def _assert_no_secret_in_cache() -> None:
    import os

    root = Path(os.environ["TFCONFLICT_CACHE_DIR"])
    for file in root.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file


# -- the engine ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.id)
def test_page_fault_is_a_problem_naming_the_page(
    served: FixtureIndex, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    served.faults["/simple/app/"] = case.make()
    with _engine(_secret_url(served)) as engine:
        other = engine.project("dep")  # the host has answered: a stall later is not a black hole's
        files = engine.project("app")
    assert files.files == ()
    assert other.files and other.problems == ()  # one page's fault is that page's alone
    assert _attempts(served, "/simple/app/") == case.attempts
    if case.id in ("http-404", "http-410"):
        assert files.problems == ()  # no such project: an answer, not a fault
    else:
        (problem,) = files.problems
        assert f"http://user:***@127.0.0.1:{served.base_url.rsplit(':', 1)[1]}/simple/app/: " in problem
        assert case.says in problem
    assert SECRET not in caplog.text
    _assert_no_secret_in_cache()


@pytest.mark.parametrize("case", WHEEL_CASES, ids=lambda c: c.id)
def test_wheel_fault_marks_that_file_unavailable(
    served: FixtureIndex, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    served.faults[f"/files/{APP_WHEEL}"] = case.make()
    with _engine(_secret_url(served)) as engine:
        meta = engine.metadata(engine.project("app").files[0])
        dep = engine.metadata(engine.project("dep").files[0])
    assert dep.status is MetadataStatus.OK
    assert _attempts(served, f"/files/{APP_WHEEL}") == case.attempts
    if case.wheel_ok:
        assert meta.status is MetadataStatus.OK and meta.source == "download"
        assert [str(r) for r in meta.requires_dist] == ["dep>=1"]
    else:
        assert meta.status is MetadataStatus.UNAVAILABLE
        assert meta.note.startswith(f"app 1.0 (http://user:***@127.0.0.1:{served.base_url.rsplit(':', 1)[1]}/files/")
        assert APP_WHEEL in meta.note and case.said("wheel") in meta.note
        assert meta.note.count(APP_WHEEL) == 1  # the URL is named once, not once per layer
    assert SECRET not in caplog.text
    _assert_no_secret_in_cache()


@pytest.mark.parametrize("kind", sorted(HOSTILE_WHEELS))
def test_hostile_wheel_is_unavailable_with_the_reason(index_server: FixtureIndex, fast: None, kind: str) -> None:
    build, says = HOSTILE_WHEELS[kind]
    index_server.add(build())
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE
    assert APP_WHEEL in meta.note and says in meta.note
    # a broken file is not retried: the same bytes would come back
    assert all(r.status in (200, 206) for r in index_server.requests_for(f"/files/{APP_WHEEL}"))


def test_connection_refused_at_the_index(fast: None) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{_closed_port()}/simple/"
    with _engine(url) as engine:
        files = engine.project("app")
    (problem,) = files.problems
    assert problem.startswith("http://user:***@127.0.0.1:") and "/simple/app/: cannot read the page: cannot connect" in problem
    assert "Connection refused" in problem and "(2 attempts)" in problem and SECRET not in problem


def test_connection_refused_at_a_file(served: FixtureIndex) -> None:
    port = _closed_port()
    served.files[APP_WHEEL].url = f"http://127.0.0.1:{port}/files/{APP_WHEEL}"
    with _engine(served.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE
    assert meta.note == f"app 1.0 (http://127.0.0.1:{port}/files/{APP_WHEEL}): cannot connect ([Errno 111] Connection refused) (2 attempts)"


@pytest.mark.parametrize("case", [c for c in CASES if c.wheel], ids=lambda c: c.id)
def test_metadata_file_fault_falls_back_to_the_wheel(index_server: FixtureIndex, fast: None, case: Case) -> None:
    """A broken PEP 658 ``.metadata`` file is not the end: the wheel itself is read by range."""
    index_server.wheel("app", "1.0", ["dep>=1"], metadata_file=True)
    index_server.faults[f"/files/{APP_WHEEL}.metadata"] = case.make()
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.OK and [str(r) for r in meta.requires_dist] == ["dep>=1"]
    if not case.wheel_ok:
        assert meta.source == "range"


@pytest.mark.parametrize("where", ["page", "wheel", "sdist", "download"])
def test_a_trickling_answer_stops_at_its_deadline(
    index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """One byte every 20 ms never trips a 100 ms read timeout; the answer's deadline (10 timeouts) stops it."""
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", "0.1")
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "1")
    entry = (
        index_server.sdist("app", "1.0", ["dep"])
        if where == "sdist"
        else index_server.wheel("app", "1.0", ["dep"], range_ok=where != "download")
    )
    path = "/simple/app/" if where == "page" else f"/files/{entry.filename}"
    index_server.faults[path] = trickle(0.02)
    with _engine(index_server.index_url) as engine:
        files = engine.project("app")
        if where == "page":
            (problem,) = files.problems
            assert problem.endswith("/simple/app/: cannot read the page: the answer took longer than 1 s")
        else:
            meta = engine.metadata(files.files[0])
            assert meta.status is MetadataStatus.UNAVAILABLE
            assert meta.note.endswith(f"/files/{entry.filename}): the answer took longer than 1 s")
    assert _attempts(index_server, path) == 1  # a server this slow is not asked again


# -- a host that is down is given up for the run ---------------------------------------------------------------

NAMES = ["app", "dep", "base", "four", "five"]


def test_an_unreachable_extra_index_is_asked_once(served: FixtureIndex) -> None:
    port = _closed_port()
    extra = f"http://user:{SECRET}@127.0.0.1:{port}/simple/"
    with MetadataEngine(IndexConfig(served.index_url, (extra,)), cache=MetadataCache(), workers=1) as engine:
        first, *rest = [engine.project(n) for n in NAMES]
    assert first.files and "cannot connect" in first.problems[0]
    for files in rest:
        (problem,) = files.problems
        assert f"/simple/{files.name}/: cannot read the page: not asked: http://127.0.0.1:{port} failed earlier" in problem
        assert SECRET not in problem
    assert [bool(f.files) for f in rest] == [True, True, False, False]  # the primary index still answers


def test_a_file_not_asked_for_is_failed_for_this_run_only(served: FixtureIndex, made_up_hosts: MadeUpHosts) -> None:
    """Files on a host that refuses: the second is not asked (the host failed in this run), and neither failure
    outlives the run: nothing computed from them can be remembered, and the next run asks again and reads both."""
    made_up_hosts.ports["files.test"] = _closed_port()
    for filename in (APP_WHEEL, DEP_WHEEL):
        served.files[filename].url = f"http://files.test/files/{filename}"
    with _engine(served.index_url) as engine:
        app = engine.metadata(engine.project("app").files[0])
        dep = engine.metadata(engine.project("dep").files[0])
        assert engine.metadata(engine.project("dep").files[0]) is dep  # remembered within the run
        assert engine.reads() is None
        assert engine.hosts_given_up() == {"http://files.test": app.note.split(": ", 1)[1]}
    assert "cannot connect" in app.note
    assert dep.note.endswith(f"not asked: http://files.test failed earlier in this run ({app.note.split(': ', 1)[1]})")
    made_up_hosts.ports["files.test"] = int(served.base_url.rsplit(":", 1)[1])  # the host is back
    with _engine(served.index_url) as engine:
        again = [engine.metadata(engine.project(name).files[0]) for name in ("app", "dep")]
        assert engine.reads() is not None
    assert [m.status for m in again] == [MetadataStatus.OK] * 2
    assert [_attempts(served, f"/files/{name}") for name in (APP_WHEEL, DEP_WHEEL)] == [1, 1]


@dataclass(frozen=True)
class Trouble:
    """A failure that the next run may not meet: made on the wire (``fault``), or by the name lookup of the
    host it happens at (``host``: None, the name does not resolve; 0, it resolves to a closed port)."""

    id: str
    fault: Callable[[], Fault] | None = None
    host: int | None = None


TROUBLES = [
    Trouble("dns"),
    Trouble("refused", host=0),
    Trouble("http-503", lambda: status_fault(503)),
    Trouble("http-429", lambda: status_fault(429, {"Retry-After": "0"})),
    Trouble("http-403", lambda: status_fault(403)),
    Trouble("timeout", lambda: slow_headers(STALL)),
    Trouble("dropped", drop_connection),
    Trouble("truncated", lambda: truncated_body(0.5)),
]


def _trouble_at(index: FixtureIndex, hosts: MadeUpHosts, trouble: Trouble, path: str) -> str:
    """``trouble`` at ``path``: the page's index, or the file alone, under a made-up host name (``broken.test``)
    when the trouble is the name's; the index URL to ask."""
    hosts.ports["broken.test"] = int(index.base_url.rsplit(":", 1)[1])
    if trouble.fault is not None:
        index.faults[path] = trouble.fault()
    else:
        hosts.ports["broken.test"] = None if trouble.host is None else _closed_port()
        if path.startswith("/files/"):
            index.files[path.rsplit("/", 1)[1]].url = f"http://broken.test{path}"
    return "http://broken.test/simple/" if path.startswith("/simple/") else index.index_url


def _recover(index: FixtureIndex, hosts: MadeUpHosts) -> None:
    index.faults.clear()
    hosts.ports["broken.test"] = int(index.base_url.rsplit(":", 1)[1])


@pytest.mark.parametrize("trouble", TROUBLES, ids=lambda t: t.id)
@pytest.mark.parametrize("target", ["page", "wheel", "dep-wheel"])
def test_a_failure_is_not_the_next_runs_answer(
    served: FixtureIndex,
    made_up_hosts: MadeUpHosts,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    trouble: Trouble,
    target: str,
) -> None:
    """Fails once, then recovers: the first run fails (exit 3 for the request's own page or metadata, an opaque
    dependency otherwise); a second run minutes later, with the same cache, asks again and answers."""
    path = TARGETS[target]
    url = _trouble_at(served, made_up_hosts, trouble, path)
    code, out, err = _check_at(url, tmp_path, capsys)
    if target == "dep-wheel":
        assert code == 0, err
        report = json.loads(out)
        assert report["pip"]["opaque"] == ["dep"] and "dep 1.0: metadata unavailable" in "\n".join(report["warnings"])
    else:
        assert code == 3 and out == "", err
    _recover(served, made_up_hosts)
    served.reset_log()
    code, out, err = _check_at(url, tmp_path, capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["verdict"] == "fits" and report["pip"]["opaque"] == []
    assert "unavailable" not in out and "not asked" not in out
    assert served.requests_for(path)  # asked again, not answered from the first run's failure


DEFINITE: dict[str, tuple[Callable[[FixtureIndex], object], str]] = {
    "http-404": (lambda index: index.faults.__setitem__(f"/files/{APP_WHEEL}", status_fault(404)), "HTTP 404"),
    "not-a-zip": (lambda index: index.add(_not_a_zip()), "not a readable zip"),
    "no-metadata": (lambda index: index.add(_no_metadata()), "no *.dist-info/METADATA in the wheel"),
    "hash-mismatch": (
        lambda index: index.faults.__setitem__(f"/files/{APP_WHEEL}", replace_body(b"PK" * 100, "application/zip")),
        "sha256 mismatch",
    ),
}
"""Failures that are answers about the file: a later run would get the same."""


@pytest.mark.parametrize("kind", sorted(DEFINITE))
def test_an_answer_about_the_file_is_kept_for_a_while(
    served: FixtureIndex, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A file that is not there, or not a wheel, is an answer: kept for the freshness window, then asked again."""
    make, says = DEFINITE[kind]
    make(served)
    seen = []
    for _ in range(2):
        with _engine(served.index_url) as engine:
            seen.append(engine.metadata(engine.project("app").files[0]))
            assert engine.reads() is not None  # an answer computed from it may be remembered
    assert all(m.status is MetadataStatus.UNAVAILABLE and says in m.note for m in seen), seen
    asked = _attempts(served, f"/files/{APP_WHEEL}")
    assert asked >= 1
    later = time.time() + PAGE_FRESHNESS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with _engine(served.index_url) as engine:
        assert engine.metadata(engine.project("app").files[0]).status is MetadataStatus.UNAVAILABLE
    assert _attempts(served, f"/files/{APP_WHEEL}") == 2 * asked  # once per window, not once per run


@pytest.mark.parametrize("case", PAGE_CASES, ids=lambda c: c.id)
def test_a_page_is_kept_for_the_next_run_only_when_it_is_an_answer(
    served: FixtureIndex, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    """"No such project" (404, 410) is kept for the short window of an empty page; a page that could not be had
    (or read) is asked for again by the next run, which then gets the files."""
    served.faults["/simple/app/"] = case.make()
    with _engine(served.index_url) as engine:
        assert engine.project("app").files == ()
    served.faults.clear()
    asked = _attempts(served, "/simple/app/")
    with _engine(served.index_url) as engine:
        files = engine.project("app")
    absent = case.id in ("http-404", "http-410")
    assert (files.files == ()) is absent
    assert _attempts(served, "/simple/app/") == asked + (0 if absent else 1)
    later = time.time() + EMPTY_FRESHNESS + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with _engine(served.index_url) as engine:
        assert engine.project("app").files  # the window of "no such project" is over: asked, and found


def test_a_broken_wheel_after_a_failed_metadata_file_is_not_kept(index_server: FixtureIndex, fast: None) -> None:
    """The ``.metadata`` file failed on the wire and the wheel then had no METADATA: the file's answer is not
    known (the ``.metadata`` file may be there next time), so the next run asks again."""
    entry = index_server.add(_no_metadata(), metadata_file=True)
    index_server.faults[f"/files/{entry.filename}.metadata"] = status_fault(503)
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
        assert engine.reads() is None
    assert meta.status is MetadataStatus.UNAVAILABLE and "no *.dist-info/METADATA" in meta.note
    index_server.faults.clear()
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("app").files[0])
    assert meta.status is MetadataStatus.OK and meta.source == "metadata-file"


def test_an_index_that_stalls_three_times_in_a_row_is_given_up(
    served: FixtureIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")  # one attempt per request: the count is of requests
    with running_index() as stalled:
        stalled.wheel("zero", "1.0")  # answered first: the stalls after it are not a black hole's
        for name in NAMES:
            stalled.faults[f"/simple/{name}/"] = slow_headers(STALL)
        config = IndexConfig(served.index_url, (stalled.index_url,))
        with MetadataEngine(config, cache=MetadataCache(), workers=1) as engine:
            found = [engine.project(n) for n in ["zero", *NAMES]][1:]
        asked = {r.path for r in stalled.log}
    assert asked == {"/simple/zero/", "/simple/app/", "/simple/dep/", "/simple/base/"} and len(stalled.log) == 4
    assert all(f.problems[0].endswith(f"no answer within {TIMEOUT} s") for f in found[:3])
    assert all("failed earlier in this run (3 requests in a row: no answer" in f.problems[0] for f in found[3:])


def test_an_index_that_trickles_three_answers_in_a_row_is_given_up(
    served: FixtureIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_TIMEOUT", "0.1")
    with running_index() as trickling:
        for name in NAMES:
            trickling.wheel(name, "1.0")
            trickling.faults[f"/simple/{name}/"] = trickle(0.02)
        config = IndexConfig(served.index_url, (trickling.index_url,))
        with MetadataEngine(config, cache=MetadataCache(), workers=1) as engine:
            found = [engine.project(n) for n in NAMES]
        asked = [r.path for r in trickling.log]
    assert asked == ["/simple/app/", "/simple/dep/", "/simple/base/"]
    assert all(f.problems[0].endswith("the answer took longer than 1 s") for f in found[:3])
    assert all("failed earlier in this run (3 requests in a row: the answer took" in f.problems[0] for f in found[3:])


def test_one_answer_between_stalls_resets_the_count(served: FixtureIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")
    with running_index() as flaky:
        for name in NAMES:
            flaky.wheel(name, "1.0")
            if name != "base":
                flaky.faults[f"/simple/{name}/"] = slow_headers(STALL)
        config = IndexConfig(served.index_url, (flaky.index_url,))
        flaky.wheel("zero", "1.0")
        with MetadataEngine(config, cache=MetadataCache(), workers=1) as engine:
            for name in ["zero", *NAMES]:  # answered first: the stalls after it are not a black hole's
                engine.project(name)
        asked = [r.path for r in flaky.log]
    # app, dep, (base answers), four, five
    assert sorted(set(asked)) == sorted(f"/simple/{n}/" for n in ["zero", *NAMES])


BUSY = "3600"
"""The Retry-After of an always-busy index: far beyond what is honoured."""


def test_an_index_busy_three_requests_in_a_row_is_given_up_after_one_wait(
    index_server: FixtureIndex, sleeps: list[float]
) -> None:
    """Default retries: the first busy answer's Retry-After (capped) is the host's one wait; later retries back off
    as usual; after three requests answered 503 in a row the host is not asked again, and is named."""
    for name in NAMES[:3]:
        index_server.wheel(name, "1.0")
    with running_index() as busy:
        busy.every = status_fault(503, {"Retry-After": BUSY})
        config = IndexConfig(index_server.index_url, (busy.index_url,))
        with MetadataEngine(config, cache=MetadataCache(), workers=1) as engine:
            found = [engine.project(n) for n in NAMES]
            given_up = engine.hosts_given_up()
        asked = [r.path for r in busy.log]
    attempts = http.RETRIES + 1
    assert asked == [f"/simple/{n}/" for n in NAMES[:3] for _ in range(attempts)]
    backoff = [0.5, 1.0, 2.0]  # urllib3's, before the 3rd, 4th and 5th attempts
    assert sleeps == [http.MAX_RETRY_AFTER, *backoff, *backoff, *backoff]
    host = busy.base_url
    assert given_up == {host: "3 requests in a row: HTTP 503"}
    assert all(f.problems[-1].endswith(f"/simple/{f.name}/: HTTP 503 ({attempts} attempts)") for f in found[:3])
    assert all(f"not asked: {host} failed earlier in this run (3 requests in a row: HTTP 503)" in f.problems[-1]
               for f in found[3:])
    assert [bool(f.files) for f in found] == [True, True, True, False, False]  # the primary index still answers


def test_a_busy_index_is_given_up_within_the_first_wave_of_workers(
    index_server: FixtureIndex, fast: None, sleeps: list[float]
) -> None:
    """Pages fetched in parallel: the busy host sees the requests already on their way when it is given up, and
    none after; every request waits at most the capped Retry-After."""
    names = [f"pkg{i}" for i in range(40)]
    for name in names:
        index_server.wheel(name, "1.0")
    workers = 8
    with running_index() as busy:
        busy.every = status_fault(503, {"Retry-After": BUSY})
        config = IndexConfig(index_server.index_url, (busy.index_url,))
        with MetadataEngine(config, cache=MetadataCache(), workers=workers) as engine:
            engine.prefetch_projects(names)
            found = [engine.project(n) for n in names]
        asked = len(busy.log)
    assert asked <= 2 * (http.STALLS_BEFORE_DOWN + workers - 1)  # two attempts per request on its way
    assert all(len(f.files) == 1 for f in found)
    assert all(wait <= http.MAX_RETRY_AFTER for wait in sleeps)
    assert sum("not asked" in f.problems[-1] for f in found) >= len(names) - asked


def test_one_answer_between_busy_answers_resets_the_count(served: FixtureIndex, sleeps: list[float]) -> None:
    with running_index() as flaky:
        for name in NAMES:
            flaky.wheel(name, "1.0")
            if name != "base":
                flaky.faults[f"/simple/{name}/"] = status_fault(503)
        config = IndexConfig(served.index_url, (flaky.index_url,))
        with MetadataEngine(config, cache=MetadataCache(), workers=1) as engine:
            for name in NAMES:
                engine.project(name)
            assert engine.hosts_given_up() == {}
        asked = {r.path for r in flaky.log}
    assert asked == {f"/simple/{n}/" for n in NAMES}  # app, dep, (base answers), four, five


def test_a_busy_extra_index_costs_one_wait_is_named_and_asked_again_by_the_next_run(
    served: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str], sleeps: list[float]
) -> None:
    with running_index() as busy:
        busy.every = status_fault(503, {"Retry-After": BUSY})
        busy.wheel("app", "1.0")
        code, out, err = _check_at(served.index_url, tmp_path, capsys, "--extra-index-url", busy.index_url)
        assert code == 0, err
        report = json.loads(out)
        assert report["verdict"] == "fits"
        note = f"{busy.base_url}: given up for the rest of the run (3 requests in a row: HTTP 503)"
        assert any(w.startswith(note) for w in report["warnings"]), report["warnings"]
        assert len(busy.log) == 3 * 2 and sleeps == [http.MAX_RETRY_AFTER]  # one retry each (``fast``)
        # no longer busy: the next run asks it again, and its answer counts
        busy.every = None
        busy.reset_log()
        code, out, err = _check_at(served.index_url, tmp_path, capsys, "--extra-index-url", busy.index_url)
        assert code == 0, err
        assert "given up" not in out and busy.requests_for("/simple/app/")


# -- retries ---------------------------------------------------------------------------------------------------


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """urllib3's waits between attempts, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr("urllib3.util.retry.time.sleep", waited.append)
    return waited


def test_429_honours_retry_after_once_then_succeeds(index_server: FixtureIndex, sleeps: list[float]) -> None:
    """The host's one wait of its busy spell is the first Retry-After; a second busy answer backs off as usual."""
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = status_fault(429, {"Retry-After": "7"}, times=2)
    with _engine(index_server.index_url) as engine:  # default retries: 4
        files = engine.project("app")
    assert len(files.files) == 1 and files.problems == ()
    assert [r.status for r in index_server.requests_for("/simple/app/")] == [429, 429, 200]
    assert sleeps == [7.0, 0.5]


def test_retry_after_is_capped(index_server: FixtureIndex, sleeps: list[float]) -> None:
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = status_fault(503, {"Retry-After": "86400"}, times=1)
    with _engine(index_server.index_url) as engine:
        assert engine.project("app").files
    assert sleeps == [http.MAX_RETRY_AFTER]


def test_5xx_is_retried_until_the_retries_run_out(
    index_server: FixtureIndex, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "3")
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = status_fault(502)
    with _engine(index_server.index_url) as engine:
        (problem,) = engine.project("app").problems
    assert problem.endswith("/simple/app/: HTTP 502 (4 attempts)")
    assert _attempts(index_server, "/simple/app/") == 4
    assert len(sleeps) == 2  # backoff before the 3rd and 4th attempts (urllib3 retries the 2nd at once)


def test_no_retries_when_asked_for_none(index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")
    index_server.wheel("app", "1.0")
    index_server.faults["/simple/app/"] = status_fault(503)
    with _engine(index_server.index_url) as engine:
        (problem,) = engine.project("app").problems
    assert problem.endswith("/simple/app/: HTTP 503") and _attempts(index_server, "/simple/app/") == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TFCONFLICT_HTTP_TIMEOUT", "soon"),
        ("TFCONFLICT_HTTP_TIMEOUT", "0"),
        ("TFCONFLICT_HTTP_TIMEOUT", "nan"),
        ("TFCONFLICT_HTTP_RETRIES", "-1"),
        ("TFCONFLICT_HTTP_RETRIES", "many"),
    ],
)
def test_bad_http_settings_are_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    code = main(["metadata", "app", "--snapshot", "current", "--index-url", "http://127.0.0.1:9/simple/"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{variable}={value!r}" in err and "Traceback" not in err


def test_http_settings_from_the_environment() -> None:
    assert http.HttpSettings.from_env({}) == http.HttpSettings(10.0, 30.0, 4)
    assert http.HttpSettings.from_env({"TFCONFLICT_HTTP_TIMEOUT": "2.5"}).timeout == (2.5, 2.5)
    assert http.HttpSettings.from_env({"TFCONFLICT_HTTP_TIMEOUT": "60"}).timeout == (10.0, 60.0)
    assert http.HttpSettings.from_env({"TFCONFLICT_HTTP_RETRIES": "0"}).retries == 0


# -- through the CLI -------------------------------------------------------------------------------------------

TARGETS = {
    "page": "/simple/app/",
    "dep-page": "/simple/dep/",
    "wheel": f"/files/{APP_WHEEL}",
    "dep-wheel": f"/files/{DEP_WHEEL}",
}
SLOW = {"slow-headers", "slow-body"}
CLI_CASES = [
    pytest.param(case, target, id=f"{case.id}@{target}")
    for case in CASES
    for target in TARGETS
    if (case.page if target.endswith("page") else case.wheel)
    # a stall costs real seconds: through the CLI once where it stops the run, once where the run goes on
    and (case.id not in SLOW or target in ("page", "dep-wheel"))
]


def _check(index: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return _check_at(_secret_url(index), tmp_path, capsys)


def _check_at(
    index_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str, str]:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    argv = ["check", "app", "--snapshot", str(freeze), "--python", "3.11", "--platform", "manylinux_2_35_x86_64"]
    code = main([*argv, "--index-url", index_url, *extra, "--format", "json", "--budget", "10", "--no-suggestions"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(("case", "target"), CLI_CASES)
def test_cli_goes_on_with_the_dependency_marked(
    served: FixtureIndex,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    case: Case,
    target: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    path = TARGETS[target]
    served.faults[path] = case.make()
    code, out, err = _check(served, tmp_path, capsys)
    for text in (out, err, caplog.text):
        assert SECRET not in text
    assert "Traceback" not in err and "internal error" not in err
    _assert_no_secret_in_cache()
    url = f"http://user:***@127.0.0.1:{served.base_url.rsplit(':', 1)[1]}{path}"
    package = "dep" if target.startswith("dep") else "app"
    absent = case.id in ("http-404", "http-410")

    if target == "page" and not absent:
        # the request's own project cannot be looked up: nothing to analyse
        assert code == 3, err
        assert out == "" and f"cannot look up app: {url}: " in err and case.said(target) in err
        return
    if target == "wheel" and not case.wheel_ok:
        # the version pip would install of the request has no readable metadata: what it brings is unknown
        assert code == 3, err
        assert out == "" and "cannot analyse the request: app 1.0: metadata unavailable" in err
        assert url in err and case.said(target) in err
        return
    assert code in (0, 1), err
    report = json.loads(out)
    warnings = "\n".join(report["warnings"])
    if target == "page":  # 404/410: the index says there is no such project
        assert report["verdict"] == "not-installable" and "app" in report["headline"]
    elif target == "dep-page":
        assert report["verdict"] == "unresolvable"
        if not absent:
            assert f"dep: no files: {url}: " in warnings and case.said(target) in warnings
    elif case.wheel_ok:
        assert report["verdict"] == "fits" and package not in warnings
    else:
        # the analysis went on: the dependency is installed, its requirements unknown, and the warning says why
        assert report["verdict"] == "fits" and report["pip"]["opaque"] == [package]
        assert f"{package} 1.0: metadata unavailable" in warnings and url in warnings
        assert case.said(target) in warnings


def test_cli_unreachable_index_is_exit_3_naming_the_url(
    fast: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    url = f"http://user:{SECRET}@127.0.0.1:{_closed_port()}/simple/"
    code = main(["check", "app", "--snapshot", str(freeze), "--python", "3.11", "--index-url", url])
    err = capsys.readouterr().err
    assert code == 3 and SECRET not in err
    assert "cannot look up app: http://user:***@127.0.0.1:" in err and "Connection refused" in err


@pytest.mark.parametrize("kind", sorted(HOSTILE_WHEELS))
def test_cli_goes_on_past_a_hostile_dependency_wheel(
    index_server: FixtureIndex, fast: None, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    build, says = HOSTILE_WHEELS[kind]
    index_server.wheel("app", "1.0", ["dep>=1"])
    index_server.wheel("base", "1.0")
    index_server.add(build("dep"))
    code, out, err = _check(index_server, tmp_path, capsys)
    assert code == 0, err
    report = json.loads(out)
    warnings = "\n".join(report["warnings"])
    assert report["verdict"] == "fits" and report["pip"]["opaque"] == ["dep"], report["pip"]
    assert f"dep 1.0: metadata unavailable ({DEP_WHEEL})" in warnings and says in warnings
    assert SECRET not in out + err


def test_a_failing_extra_index_does_not_stop_the_primary(
    served: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("base==1.0\n")
    extra = f"http://user:{SECRET}@127.0.0.1:{_closed_port()}/simple/"
    code = main(
        ["check", "app", "--snapshot", str(freeze), "--python", "3.11", "--index-url", served.index_url,
         "--extra-index-url", extra, "--format", "json"]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["verdict"] == "fits" and SECRET not in out.out + out.err


def _zip_members(data: bytes) -> list[str]:
    return zipfile.ZipFile(BytesIO(data)).namelist()


def test_hostile_wheels_are_what_they_claim() -> None:
    """The table's hostile files really are broken the way their names say (else the tests above prove nothing)."""
    assert not any(n.endswith("METADATA") for n in _zip_members(_no_metadata().data))
    with pytest.raises(zipfile.BadZipFile):
        _zip_members(_corrupt_directory().data)
