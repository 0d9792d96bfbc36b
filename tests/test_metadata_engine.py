"""The metadata engine against the in-process fixture index: every path a real index can take us down."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import hashlib
import multiprocessing
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import DistFile, DistKind, MetadataStatus
from analyzer.metadata.pool import WorkerPool
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture
from tests.wheelfactory import make_sdist, make_wheel

UTC = timezone.utc


def _engine(*urls: str, **kw: object) -> MetadataEngine:
    config = IndexConfig(urls[0], tuple(urls[1:]))
    kw.setdefault("cache", MetadataCache())
    return MetadataEngine(config, **kw)  # type: ignore[arg-type]


def _requires(meta: object) -> set[str]:
    return {str(r) for r in meta.requires_dist}  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", ["json", "html"])
def test_project_page_lists_files_with_their_fields(index_server: FixtureIndex, mode: str) -> None:
    index_server.mode = mode
    index_server.wheel(
        "Demo.Pkg", "1.0", requires_python=">=3.8", upload_time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    index_server.wheel("demo-pkg", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64", yanked="broken build")
    index_server.sdist("demo-pkg", "2.0")
    with _engine(index_server.index_url) as engine:
        files = engine.project("Demo_Pkg")
    assert files.name == "demo-pkg"
    assert files.problems == ()
    assert files.versions() == (Version("1.0"), Version("2.0"))
    by_name = {f.filename: f for f in files.files}
    first = by_name["demo_pkg-1.0-py3-none-any.whl"]
    assert first.requires_python == SpecifierSet(">=3.8")
    assert first.kind is DistKind.WHEEL and not first.is_yanked
    assert first.hashes["sha256"] == hashlib.sha256(index_server.files[first.filename].content()).hexdigest()
    if mode == "json":
        assert first.upload_time == datetime(2024, 1, 1, tzinfo=UTC)
        assert first.size == len(index_server.files[first.filename].content())
    yanked = by_name["demo_pkg-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"]
    assert yanked.is_yanked and yanked.yanked == "broken build"
    assert by_name["demo_pkg-2.0.tar.gz"].kind is DistKind.SDIST
    assert index_server.requests_for("/simple/")[0].status == 200


def test_unknown_project_has_no_files_and_no_problem(index_server: FixtureIndex) -> None:
    index_server.wheel("present", "1.0")
    with _engine(index_server.index_url) as engine:
        files = engine.project("absent")
    assert files.files == () and files.problems == ()


def test_unparsable_names_and_invalid_requires_python_are_skipped_and_named(
    index_server: FixtureIndex,
) -> None:
    index_server.wheel("good", "1.0", requires_python=">=3.8,<4")
    index_server.wheel("good", "2.0", requires_python=">=3.6.*")
    bad = make_wheel("good", "3.0")
    index_server.add(
        bad.__class__("good-notaversion!-py3-none-any.whl", bad.data, bad.metadata), project="good"
    )
    with _engine(index_server.index_url) as engine:
        files = engine.project("good")
    assert [str(v) for v in files.versions()] == ["1.0", "2.0"]
    two = next(f for f in files.files if f.version == Version("2.0"))
    assert two.requires_python is None
    assert any("Requires-Python" in p and ">=3.6.*" in p for p in files.problems)
    assert any("good-notaversion!-py3-none-any.whl" in p for p in files.problems)


def test_metadata_file_is_used_and_its_hash_verified(index_server: FixtureIndex) -> None:
    index_server.wheel(
        "meta", "1.0", ["dep>=1", "other; extra == 'x'"], extras=["x"], metadata_file=True, padding=200_000
    )
    with _engine(index_server.index_url) as engine:
        (file,) = engine.project("meta").files
        assert file.metadata_url is not None and file.metadata_hashes
        meta = engine.metadata(file)
    assert meta.status is MetadataStatus.OK and meta.source == "metadata-file"
    assert _requires(meta) == {"dep>=1", 'other; extra == "x"'}
    assert meta.provides_extra == frozenset({"x"})
    assert [r.path for r in index_server.requests_for("/files/")] == [f"/files/{file.filename}.metadata"]


def test_metadata_file_with_a_wrong_hash_is_not_trusted(index_server: FixtureIndex) -> None:
    index_server.wheel("liar", "1.0", ["true-dep"], metadata_file=True, metadata_hash="0" * 64)
    index_server.files[
        "liar-1.0-py3-none-any.whl"
    ].metadata = b"Metadata-Version: 2.1\nName: liar\nVersion: 1.0\nRequires-Dist: evil\n"
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("liar").files[0])
    # The lying .metadata file is refused; the wheel itself is read instead.
    assert meta.status is MetadataStatus.OK and meta.source == "range"
    assert _requires(meta) == {"true-dep"}


@pytest.mark.parametrize("zip64", [False, True])
def test_range_read_fetches_only_the_tail_and_metadata(index_server: FixtureIndex, zip64: bool) -> None:
    entry = index_server.wheel(
        "big", "1.0", ["numpy<2,>=1.22"], requires_python=">=3.9", padding=3_000_000, zip64=zip64
    )
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("big").files[0])
    assert meta.status is MetadataStatus.OK and meta.source == "range"
    assert _requires(meta) == {"numpy<2,>=1.22"}
    assert meta.requires_python == SpecifierSet(">=3.9")
    reads = index_server.requests_for("/files/")
    assert all(r.status == 206 and r.range for r in reads)
    assert index_server.bytes_for("/files/") < len(entry.content()) / 20


def test_server_without_range_support_is_downloaded_whole(index_server: FixtureIndex) -> None:
    entry = index_server.wheel("norange", "1.0", ["six"], padding=500_000, range_ok=False)
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("norange").files[0])
    assert meta.status is MetadataStatus.OK and meta.source == "download"
    assert _requires(meta) == {"six"}
    assert index_server.bytes_for("/files/") == len(entry.content())


def test_wheel_without_metadata_is_unavailable_with_a_note(index_server: FixtureIndex) -> None:
    index_server.wheel("hollow", "1.0", with_metadata=False)
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("hollow").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE
    assert "hollow 1.0" in meta.note and "METADATA" in meta.note and index_server.base_url in meta.note


def test_bad_requires_dist_line_is_skipped_not_fatal(index_server: FixtureIndex) -> None:
    raw = b"Metadata-Version: 2.1\nName: messy\nVersion: 1.0\nRequires-Dist: good>=1\nRequires-Dist: bad >>= 2\n"
    index_server.wheel("messy", "1.0", metadata=raw)
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("messy").files[0])
    assert meta.status is MetadataStatus.OK
    assert _requires(meta) == {"good>=1"}
    assert len(meta.skipped) == 1 and "bad >>= 2" in meta.skipped[0]


@pytest.mark.parametrize(
    ("metadata_version", "dynamic", "fmt", "source"),
    [
        ("2.2", (), "tar.gz", "sdist"),
        ("2.2", (), "zip", "sdist"),
        # not promised (PEP 643), so used and marked as not guaranteed (issue 13)
        ("2.2", ("Requires-Dist",), "tar.gz", "sdist+pkg-info-not-guaranteed"),
        ("2.1", (), "tar.gz", "sdist+pkg-info-not-guaranteed"),
    ],
)
def test_sdist_requirements_are_trusted_only_when_static(
    index_server: FixtureIndex,
    tmp_path: Path,
    metadata_version: str,
    dynamic: tuple[str, ...],
    fmt: str,
    source: str,
) -> None:
    marker = tmp_path / "setup-py-ran"
    index_server.sdist(
        "src-only",
        "1.0",
        ["attrs>=20"],
        metadata_version=metadata_version,
        dynamic=dynamic,
        fmt=fmt,
        marker_path=str(marker),
    )
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("src-only").files[0])
    assert meta.status is MetadataStatus.OK and meta.source == source
    assert _requires(meta) == {"attrs>=20"}
    if source != "sdist":
        assert "not guaranteed" in meta.note and f"Metadata-Version {metadata_version}" in meta.note
    assert not marker.exists()


def test_as_of_drops_later_uploads_and_keeps_undated_ones_with_a_note(index_server: FixtureIndex) -> None:
    index_server.wheel("dated", "1.0", upload_time=datetime(2023, 1, 1, tzinfo=UTC))
    index_server.wheel("dated", "2.0", upload_time=datetime(2025, 1, 1, tzinfo=UTC))
    index_server.wheel("dated", "1.5")
    with _engine(index_server.index_url, as_of=datetime(2024, 6, 1)) as engine:
        files = engine.project("dated")
    assert [str(v) for v in files.versions()] == ["1.0", "1.5"]
    assert any("1 file(s) have no upload time" in n for n in files.notes)


def test_several_indexes_are_merged(index_server: FixtureIndex, tmp_path: Path) -> None:
    index_server.wheel("shared", "1.0")
    local = tmp_path / "simple" / "shared"
    local.mkdir(parents=True)
    wheel = make_wheel("shared", "2.0", ["from-local"])
    (tmp_path / wheel.filename).write_bytes(wheel.data)
    (local / "index.html").write_text(
        f'<a href="../../{wheel.filename}#sha256={wheel.sha256}">{wheel.filename}</a>'
    )
    file_index = (tmp_path / "simple").as_uri()
    with _engine(index_server.index_url, file_index) as engine:
        files = engine.project("shared")
        assert [str(v) for v in files.versions()] == ["1.0", "2.0"]
        assert len(files.indexes) == 2
        local_file = next(f for f in files.files if f.version == Version("2.0"))
        assert local_file.url.startswith("file:")
        meta = engine.metadata(local_file)
    assert _requires(meta) == {"from-local"}


def test_extra_index_that_is_down_is_a_problem_not_a_failure(
    index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")
    index_server.wheel("solid", "1.0")
    with _engine(index_server.index_url, "http://127.0.0.1:9/simple/", session=None) as engine:
        files = engine.project("solid")
    assert [str(v) for v in files.versions()] == ["1.0"]
    assert any("127.0.0.1:9" in p and "cannot connect" in p for p in files.problems)


def test_credentials_are_redacted_in_problems_notes_and_cache(index_server: FixtureIndex) -> None:
    index_server.wheel("private", "1.0", with_metadata=False)
    secret_url = index_server.index_url.replace("http://", "http://alice:s3cr3t-token@")
    cache = MetadataCache()
    with _engine(secret_url, cache=cache) as engine:
        files = engine.project("private")
        assert all("s3cr3t" not in f.index_url for f in files.files)
        meta = engine.metadata(files.files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE
    assert "s3cr3t-token" not in meta.note and "alice:***@" in meta.note
    assert b"s3cr3t-token" not in cache.path.read_bytes()
    wal = cache.path.with_name(cache.path.name + "-wal")
    assert not wal.exists() or b"s3cr3t-token" not in wal.read_bytes()


def test_second_engine_answers_from_the_cache_without_requests(index_server: FixtureIndex) -> None:
    index_server.wheel("cached", "1.0", ["dep"], padding=100_000)
    with _engine(index_server.index_url) as engine:
        first = engine.metadata(engine.project("cached").files[0])
    count = len(index_server.log)
    with _engine(index_server.index_url) as engine:
        files = engine.project("cached")
        second = engine.metadata(files.files[0])
    assert len(index_server.log) == count
    assert _requires(second) == _requires(first) == {"dep"}


def test_stale_page_is_revalidated_with_its_etag(index_server: FixtureIndex) -> None:
    index_server.wheel("fresh", "1.0")
    with _engine(index_server.index_url) as engine:
        engine.project("fresh")
    with _engine(index_server.index_url, freshness=0) as engine:
        files = engine.project("fresh")
    pages = index_server.requests_for("/simple/")
    assert [p.status for p in pages] == [200, 304]
    assert [str(v) for v in files.versions()] == ["1.0"]
    index_server.wheel("fresh", "2.0")
    with _engine(index_server.index_url, freshness=0) as engine:
        files = engine.project("fresh")
    assert [str(v) for v in files.versions()] == ["1.0", "2.0"]


def test_offline_answers_from_the_cache_and_names_what_is_missing(index_server: FixtureIndex) -> None:
    index_server.wheel("known", "1.0", ["dep"])
    index_server.wheel("unfetched", "1.0")
    with _engine(index_server.index_url) as engine:
        engine.metadata(engine.project("known").files[0])
        unfetched = engine.project("unfetched").files[0]
    count = len(index_server.log)
    with _engine(index_server.index_url, offline=True) as engine:
        assert _requires(engine.metadata(engine.project("known").files[0])) == {"dep"}
        missing_page = engine.project("never-seen")
        missing_meta = engine.metadata(unfetched)
    assert len(index_server.log) == count
    assert missing_page.files == () and any("not in the cache (offline)" in p for p in missing_page.problems)
    assert (
        missing_meta.status is MetadataStatus.UNAVAILABLE
        and "not in the cache (offline)" in missing_meta.note
    )


def test_prefetch_fetches_many_in_parallel_then_metadata_is_memoized(index_server: FixtureIndex) -> None:
    for i in range(30):
        index_server.wheel(f"pkg{i}", "1.0", [f"dep{i}"], padding=50_000)
    with _engine(index_server.index_url) as engine:
        engine.prefetch_projects(f"pkg{i}" for i in range(30))
        files = [engine.project(f"pkg{i}").files[0] for i in range(30)]
        engine.prefetch(files)
        count = len(index_server.log)
        metas = [engine.metadata(f) for f in files]
    assert len(index_server.log) == count
    assert [_requires(m) for m in metas] == [{f"dep{i}"} for i in range(30)]


def test_direct_reference_is_read_or_marked_opaque(index_server: FixtureIndex) -> None:
    entry = index_server.wheel("torchish", "2.0+cpu", ["filelock"], padding=100_000)
    url = f"{index_server.base_url}/files/{entry.filename}"
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata_for_url("torchish", url)
        gone = engine.metadata_for_url(
            "torchish", f"{index_server.base_url}/files/torchish-9.0-py3-none-any.whl"
        )
        odd = engine.metadata_for_url("thing", "https://example.invalid/thing/archive/main")
    assert (
        meta.status is MetadataStatus.OK
        and meta.version == Version("2.0+cpu")
        and _requires(meta) == {"filelock"}
    )
    assert gone.status is MetadataStatus.UNAVAILABLE and "opaque" in gone.note and "404" in gone.note
    assert odd.status is MetadataStatus.UNAVAILABLE and "opaque" in odd.note


def test_sdist_in_memory_reader_rejects_non_archives(index_server: FixtureIndex) -> None:
    built = make_sdist("notar", "1.0")
    index_server.add(built.__class__(built.filename, b"this is not a tarball", built.metadata))
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("notar").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE and "notar-1.0.tar.gz" in meta.note


def test_requirement_objects_round_trip_through_the_cache(index_server: FixtureIndex) -> None:
    reqs = [
        'jax[cuda]>=0.4; python_version >= "3.9"',
        "numpy<2,>=1.22",
        'tensorflow-io-gcs-filesystem>=0.23.1; platform_machine != "arm64"',
    ]
    index_server.wheel("rt", "1.0", reqs)
    with _engine(index_server.index_url) as engine:
        engine.metadata(engine.project("rt").files[0])
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("rt").files[0])
    assert {str(r) for r in meta.requires_dist} == {str(Requirement(r)) for r in reqs}


def test_files_of_one_version_equals_the_filtered_project(index_server: FixtureIndex) -> None:
    for version in ("1.0", "1.1", "2.0"):
        index_server.wheel("multi", version, upload_time=datetime(2024, 1, int(version[0]), tzinfo=UTC))
        index_server.sdist("multi", version)
    with _engine(index_server.index_url) as engine:
        engine.prefetch_projects(["multi"])
        one = engine.files_of("multi", Version("1.1"))
    with _engine(index_server.index_url) as engine:
        everything = engine.project("multi")
        assert one == tuple(f for f in everything.files if f.version == Version("1.1"))
        assert engine.files_of("Multi", Version("1.1")) == one
    assert sorted(f.filename for f in one) == ["multi-1.1-py3-none-any.whl", "multi-1.1.tar.gz"]


def test_large_sdist_is_read_only_up_to_pkg_info(index_server: FixtureIndex) -> None:
    entry = index_server.sdist("bigsrc", "1.0", ["numpy"], padding=4_000_000)
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("bigsrc").files[0])
        read = engine.traffic.bytes
    assert meta.status is MetadataStatus.OK and _requires(meta) == {"numpy"}
    assert read < len(entry.content()) / 4


def test_metadata_file_offered_in_html(index_server: FixtureIndex) -> None:
    index_server.mode = "html"
    index_server.wheel("htmlmeta", "1.0", ["dep"], metadata_file=True)
    with _engine(index_server.index_url) as engine:
        (file,) = engine.project("htmlmeta").files
        meta = engine.metadata(file)
    assert file.metadata_hashes and meta.source == "metadata-file" and _requires(meta) == {"dep"}


def test_fault_hook_503_then_429_are_retried(index_server: FixtureIndex) -> None:
    index_server.wheel("flaky", "1.0")
    answers = iter([(503, {}), (429, {"Retry-After": "0"})])

    def fault(handler: object) -> bool:
        status = next(answers, None)
        if status is None:
            return False  # serve normally from now on
        handler.send_body(status[0], b"try later", "text/plain", status[1])  # type: ignore[attr-defined]
        return True

    index_server.faults["/simple/flaky/"] = fault
    with _engine(index_server.index_url) as engine:
        files = engine.project("flaky")
    assert [str(v) for v in files.versions()] == ["1.0"] and files.problems == ()
    assert [r.status for r in index_server.requests_for("/simple/flaky/")] == [503, 429, 200]


def test_persistent_server_error_is_a_problem_naming_the_url(
    index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "1")
    index_server.wheel("broken", "1.0")

    def fault(handler: object) -> bool:
        handler.send_body(500, b"oops", "text/plain")  # type: ignore[attr-defined]
        return True

    index_server.faults["/simple/broken/"] = fault
    with _engine(index_server.index_url) as engine:
        files = engine.project("broken")
    assert files.files == ()
    assert any("/simple/broken/" in p and "HTTP 500 (2 attempts)" in p for p in files.problems)


def test_truncated_file_body_is_unavailable_not_an_exception(
    index_server: FixtureIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "1")
    entry = index_server.wheel("cut", "1.0", ["dep"], padding=100_000)

    def truncate(handler: object) -> bool:
        h: Any = handler
        h.send_response(206)
        h.send_header("Content-Range", f"bytes 0-999/{len(entry.content())}")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b"PK" * 10)
        h.close_connection = True
        h.record(206, 20)
        return True

    index_server.faults[f"/files/{entry.filename}"] = truncate
    with _engine(index_server.index_url) as engine:
        meta = engine.metadata(engine.project("cut").files[0])
    assert meta.status is MetadataStatus.UNAVAILABLE
    assert "cut 1.0" in meta.note and entry.filename in meta.note


def test_batches_share_the_engines_threads(index_server: FixtureIndex) -> None:
    for i in range(8):
        index_server.wheel(f"pkg{i}", "1.0")
    threads: set[threading.Thread] = set()
    with _engine(index_server.index_url, workers=4) as engine:
        real = engine.metadata

        def metadata(file: DistFile) -> Any:
            threads.add(threading.current_thread())
            return real(file)

        engine.metadata = metadata  # type: ignore[method-assign]
        engine.prefetch_projects([f"pkg{i}" for i in range(8)])
        files = [f for i in range(8) for f in engine.project(f"pkg{i}").files]
        engine.prefetch(files[:4])
        engine.prefetch(files[4:])
        assert all(engine.metadata(f).status is MetadataStatus.OK for f in files)
    workers = {t for t in threads if t is not threading.current_thread()}
    assert 1 <= len(workers) <= 4  # one pool for both batches, not one per batch
    assert not [t for t in workers if t.is_alive()]  # stopped with the engine


def test_a_batch_tells_its_progress_and_prints_nothing(
    index_server: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(5):
        index_server.wheel(f"pkg{i}", "1.0")
    told: list[tuple[str, int, int]] = []
    engine = MetadataEngine(
        IndexConfig(index_server.index_url), cache=MetadataCache(), progress=lambda *a: told.append(a)
    )
    with engine:
        engine.prefetch_projects([f"pkg{i}" for i in range(5)])
    assert told == [("index pages", n, 5) for n in range(1, 6)]
    assert capsys.readouterr() == ("", "")


def test_a_batch_runs_at_most_its_workers_at_once_and_nested_batches_do_not_wait() -> None:
    running, peak, lock = [0], [0], threading.Lock()
    done: list[int] = []
    pool = WorkerPool(6)

    def work(item: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        pool.run(done.append, [item * 10, item * 10 + 1], "inner")  # in a worker: serial
        threading.Event().wait(0.01)
        with lock:
            running[0] -= 1

    pool.run(work, list(range(12)), "outer", workers=2)
    pool.close()
    assert peak[0] <= 2
    assert sorted(done) == sorted(n for i in range(12) for n in (i * 10, i * 10 + 1))


def test_a_forked_child_gets_threads_of_its_own() -> None:
    pool = WorkerPool(3)
    pool.run(lambda _: None, [1, 2, 3], "warm-up")  # the parent's threads exist, idle, at the fork
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_child_batch, args=(pool, child))
    process.start()
    process.join(60)
    pool.close()
    assert process.exitcode == 0
    assert parent.recv() == [2, 4, 6]


def _child_batch(pool: WorkerPool, conn: Any) -> None:
    out: list[int] = []
    pool.run(lambda n: out.append(2 * n), [1, 2, 3], "in the child")
    conn.send(sorted(out))
