"""The requirements table a snapshot source ships (``analyzer.pintable``, ``analyzer.pintable_build``): its
records equal a fresh reading by the metadata engine, an update reads only what the table lacks, and a reading
that met a network failure is never kept."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer import pintable_build
from analyzer.catalog import Catalog, Release
from analyzer.cli import main
from analyzer.environment import TargetEnvironment
from analyzer.errors import InputError
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.index import split_dist_filename
from analyzer.pintable import (
    PinRecord,
    TableData,
    env_key,
    index_digest,
    load_table,
    overlay_path,
    read_table_file,
    write_table_file,
)
from analyzer.pintable_build import (
    BuildResult,
    HistoryPins,
    build_table,
    held_for_update,
    history_pins,
    record_of,
    write_update,
)
from analyzer.resolver.candidates import InstalledCandidate
from analyzer.resolver.factory import Factory
from analyzer.snapshot import Snapshot
from analyzer.sources import load_source
from analyzer.versions import parse_version
from tests.indexserver import RECORDED, FileEntry, FixtureIndex, index_server, status_fault  # noqa: F401

DAY = date(2025, 7, 14)
HASHED = {"absl-py", "keras", "termcolor", "wheel"}
"""Projects whose files the fixture index lists with their sha256 (the table keeps files' metadata by it)."""


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    for entry in index_server.files.values():
        entry.with_hash = entry.project in HASHED
    return index_server


@pytest.fixture
def release(colab_cache: Path) -> tuple[Catalog, Release]:
    catalog = Catalog.open(load_source("colab"))
    found = catalog.at("cpu", DAY)
    assert found is not None
    return catalog, found


def _engines(index: FixtureIndex, cache: Path) -> MetadataEngine:
    return MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache(cache / "metadata.sqlite3"))


def _build(
    index: FixtureIndex, history: HistoryPins, cache: Path, held: TableData | None = None
) -> BuildResult:
    held = held if held is not None else TableData("colab", index_digest([index.index_url]))
    return build_table(history, held, lambda: _engines(index, cache), source="colab")


def _history(catalog: Catalog, release: Release, only: set[str] | None = None) -> HistoryPins:
    """One release's pins, direct references read from the index only (their own hosts are not this test's);
    ``only``: these projects alone."""
    history = history_pins(catalog, [release])
    pins = {
        key: frozenset((name, version, None) for name, version, _ in specs if only is None or name in only)
        for key, specs in history.pins.items()
    }
    return replace(history, pins=pins, pins_of_release={
        rid: (key, pins[key]) for rid, (key, _) in history.pins_of_release.items()
    })


def _env(release: Release) -> TargetEnvironment:
    return TargetEnvironment.from_snapshot(Snapshot(release.id, release.python, platform=release.platform))


def test_every_record_equals_a_fresh_reading(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path
) -> None:
    catalog, rel = release
    history = _history(catalog, rel)
    key = env_key(_env(rel))
    numpy = next(p for p in catalog.snapshot(rel).pins if p.name == "numpy")
    wheel = next(f for f in recorded.project_files("numpy") if f.filename.startswith(f"numpy-{numpy.version}-cp311"))
    direct = f"{recorded.base_url}/files/{wheel.filename}"
    history = replace(history, pins={key: history.pins[key] | {(numpy.name, str(numpy.version), direct)}})
    result = _build(recorded, history, tmp_path / "build")
    assert result.transient == 0 and result.records_added == result.pins_read == result.pins > 500
    assert result.urls_added == 1 and result.data.urls[direct].known
    path = tmp_path / "table.pintable"
    write_table_file(path, result.data, read_at="2025-07-14")
    table = read_table_file(path)
    assert len(table) == result.records_added

    env = _env(rel)
    snapshot = catalog.snapshot(rel)
    known = 0
    with _engines(recorded, tmp_path / "fresh") as engine:
        engine.prefetch_projects([pin.name for pin in snapshot.pins])  # the pages in parallel, as a check does
        for pin in snapshot.pins:
            version = parse_version(pin.version)
            if version is None:
                continue
            factory = Factory(engine, env)
            fresh_info = factory.info_for_installed(InstalledCandidate(factory, pin.name, version))
            fresh = record_of(fresh_info)
            assert table.pin(pin.name, pin.version or "", key) == fresh, pin.name
            known += fresh.known
            if pin.name == "numpy":
                read = factory.info_for_installed(InstalledCandidate(factory, pin.name, version, url=direct))
                assert table.url(direct) == record_of(read)
                assert read.requires_dist == fresh_info.requires_dist  # the same wheel's, read from its URL
        assert known > 40  # the recorded projects are read, the others are opaque (not on this index)
        files = result.data.files
        assert files and {meta.name for _, meta in files.values()} <= HASHED
        for filename, (sha, meta) in files.items():
            listed = [f for f in engine.project(meta.name).files if f.filename == filename]
            assert table.file(filename, sha.upper()) == engine.metadata(listed[0]) == meta
            assert table.file(filename, "0" * 64) is None
    assert table.pin(NormalizedName("numpy"), "2.0.2", "3.11.13-linux-x86_64-glibc2.99") is None


def _pinned(catalog: Catalog, release: Release) -> dict[str, Version]:
    return {p.name: v for p in catalog.snapshot(release).pins if (v := parse_version(p.version)) is not None}


def _version_of(entry: FileEntry) -> Version:
    found = split_dist_filename(entry.filename)
    assert found is not None
    return found[1]


def test_other_versions_files_equal_fresh_readings(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For each pinned project, the file pip picks for every version it considers by default (below the pinned
    version, wheels only); each entry what the engine reads of that file afresh."""
    catalog, rel = release
    pinned = _pinned(catalog, rel)
    left_aside = {  # what pip's finder does not offer by default, or cannot install here
        recorded.wheel("keras", "99.0.0rc1").filename,
        recorded.wheel("keras", "99.0.0.dev1").filename,
        recorded.wheel("absl-py", "99.0.0", yanked="broken").filename,
        recorded.wheel("termcolor", "99.0.0", requires_python=">=3.99").filename,
        recorded.sdist("keras", "0.0.1").filename,  # an old version with no wheel: its archive is not read
    }
    old_wheel = recorded.wheel("keras", "0.0.2").filename
    monkeypatch.setattr(pintable_build, "_PROJECTS_AT_ONCE", 3)  # two groups of projects, an engine each
    result = _build(recorded, _history(catalog, rel, HASHED), tmp_path / "build")
    assert result.projects == len(HASHED) and result.version_files_transient == 0
    path = tmp_path / "table.pintable"
    write_table_file(path, result.data, read_at="2025-07-14")
    table = read_table_file(path)
    held = set(result.data.files)
    assert not held & left_aside and old_wheel in held
    assert not {f.filename for f in recorded.project_files("wheel") if f.yanked is not None} & held  # recorded yanks
    expected = older = newer = 0
    for name in sorted(HASHED):
        files = [f for f in recorded.project_files(name) if f.filename not in left_aside and f.yanked is None]
        wheels = {f.filename for f in files if f.filename.endswith(".whl")}
        versions = {_version_of(f) for f in files if _version_of(f) >= pinned[name] or f.filename in wheels}
        mine = [f for f in files if f.filename in held]
        assert {_version_of(f) for f in mine} == versions, name
        for version in versions:  # one file per version, the wheel when it has one
            (chosen,) = [f for f in mine if _version_of(f) == version]
            assert (chosen.filename in wheels) == any(_version_of(f) == version for f in files if f.filename in wheels)
        older += any(v < pinned[name] for v in versions)
        newer += any(v > pinned[name] for v in versions)
        expected += len(versions)
    assert result.versions == result.version_files == len(held) == expected and older == len(HASHED) and newer > 1
    with _engines(recorded, tmp_path / "fresh") as engine:
        for name in sorted(HASHED):
            for file in engine.project(NormalizedName(name)).files:
                if file.filename in held:
                    assert table.file(file.filename, file.hashes["sha256"]) == engine.metadata(file), file.filename


def test_file_form_round_trips_and_is_stable(tmp_path: Path) -> None:
    record = PinRecord(("numpy>=1.22", 'rich; extra == "cli"'), ">=3.9", ("cli",), True, "wheel", "a-1-py3-none-any.whl", ())
    opaque = PinRecord((), None, (), False, "unknown", None, (("opaque", "b 2 is opaque: no file"),))
    data = TableData("colab", "abc")
    data.pins[(NormalizedName("a"), "1", "3.11.13-linux-x86_64-glibc2.35")] = record
    data.pins[(NormalizedName("a"), "1", "3.12.12-linux-x86_64-glibc2.35")] = record
    data.pins[(NormalizedName("b"), "2+cpu", "3.12.12-linux-x86_64-glibc2.35")] = opaque
    data.urls["https://example.test/a-1-py3-none-any.whl"] = record
    first, second = tmp_path / "1.pintable", tmp_path / "2.pintable"
    write_table_file(first, data, read_at="2026-01-01")
    table = read_table_file(first)
    assert len(table) == 3
    assert table.pin(NormalizedName("A"), "1.0", "3.12.12-linux-x86_64-glibc2.35") is None  # "1.0" is not "1"
    assert table.pin(NormalizedName("b"), "2+CPU", "3.12.12-linux-x86_64-glibc2.35") == opaque
    assert table.url("https://example.test/a-1-py3-none-any.whl") == record
    back = table.data()
    assert (back.pins, back.urls, back.files) == (data.pins, data.urls, data.files)
    write_table_file(second, back, read_at="2026-01-01")
    assert first.read_bytes() == second.read_bytes()


def test_overlay_sits_on_the_shipped_file_it_was_made_against(tmp_path: Path) -> None:
    decl = replace(load_source("colab"), requirements_table=None)
    assert load_table(decl, cache_root=tmp_path) is None
    data = TableData("colab", "abc")
    data.pins[(NormalizedName("a"), "1", "3.11.13-linux-x86_64-glibc2.35")] = PinRecord(
        (), None, (), True, "wheel", "a-1-py3-none-any.whl", ()
    )
    write_table_file(overlay_path("colab", tmp_path), data, read_at="2026-01-01")
    table = load_table(decl, cache_root=tmp_path)
    assert table is not None and len(table) == 1 and "(1 pins)" in table.label
    data.base = "another shipped file"
    write_table_file(overlay_path("colab", tmp_path), data, read_at="2026-01-01")
    assert load_table(decl, cache_root=tmp_path) is None
    overlay_path("colab", tmp_path).write_bytes(b"not a table")
    assert load_table(decl, cache_root=tmp_path) is None


def test_update_reads_only_the_pins_the_table_lacks(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path
) -> None:
    catalog, rel = release
    history = _history(catalog, rel)
    full = _build(recorded, history, tmp_path / "first").data
    key = env_key(_env(rel))
    dropped = {NormalizedName("numpy"), NormalizedName("keras"), NormalizedName("wheel")}
    held = TableData(full.source, full.index)
    held.update(full)
    for pin_at in [p for p in held.pins if p[0] in dropped]:
        del held.pins[pin_at]
    keras_pin = _pinned(catalog, rel)["keras"]
    later = sorted(f for f, (_, meta) in full.files.items() if meta.name == "keras" and meta.version > keras_pin)
    assert len(later) >= 2
    for filename in later[-2:]:  # the two newest versions' files: as if uploaded after the table was made
        del held.files[filename]
    recorded.reset_log()
    again = _build(recorded, history, tmp_path / "second", held)  # an empty cache: every read goes to the index
    assert again.pins_read == again.records_added == len(dropped)
    assert again.pins_held == again.pins - len(dropped)
    assert again.version_files_read == again.version_files_added == 2 and again.version_files_transient == 0
    fetched = {r.path.rsplit("/", 1)[-1].removesuffix(".metadata") for r in recorded.requests_for("/files/")}
    assert {name.split("-")[0] for name in fetched} == dropped  # the pins' files, and the two new ones
    assert set(later[-2:]) <= fetched and not set(later[:-2]) & fetched
    assert {p: again.data.pins[p] for p in again.data.pins} == {p: full.pins[p] for p in full.pins if p[0] in dropped}
    assert all(k == key for _, _, k in again.data.pins)
    assert {f: again.data.files[f] for f in later[-2:]} == {f: full.files[f] for f in later[-2:]}

    recorded.reset_log()
    held.update(again.data)
    nothing = _build(recorded, history, tmp_path / "third", held)
    assert (nothing.pins_read, nothing.records_added, nothing.releases_complete) == (0, 0, 1)
    assert (nothing.version_files_read, nothing.version_files_held) == (0, len(full.files))
    assert recorded.requests_for("/files/") == []  # the pages alone: what new versions there are


def test_a_reading_that_met_a_network_failure_is_not_kept(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCONFLICT_HTTP_RETRIES", "0")  # each failure once: what is kept does not depend on it
    catalog, rel = release
    snapshot = catalog.snapshot(rel)
    small = _history(catalog, rel, {"numpy", "keras", "absl-py", "google-colab"})
    numpy = next(p for p in snapshot.pins if p.name == "numpy")
    wheel = next(
        f for f in recorded.project_files("numpy") if f.filename.startswith(f"numpy-{numpy.version}-cp311-cp311-manylinux")
    )
    recorded.faults[f"/files/{wheel.filename}.metadata"] = status_fault(503)
    recorded.faults[f"/files/{wheel.filename}"] = status_fault(503)
    recorded.faults["/simple/keras/"] = status_fault(502)
    absl = _pinned(catalog, rel)["absl-py"]
    newest = max((f for f in recorded.project_files("absl-py") if f.filename.endswith(".whl")), key=_version_of)
    assert _version_of(newest) > absl
    recorded.faults[f"/files/{newest.filename}.metadata"] = status_fault(503)  # a later version's file
    recorded.faults[f"/files/{newest.filename}"] = status_fault(503)
    cache = tmp_path / "cache"
    result = _build(recorded, small, cache)
    names = {name for name, _, _ in result.data.pins}
    assert names == {"absl-py", "google-colab"}  # google-colab is not on this index: that answer is permanent
    assert result.transient == 2 and result.records_added == 2
    assert not any(meta.name == "numpy" for _, meta in result.data.files.values())
    assert (result.version_files_transient, result.version_pages_transient) == (1, 1)  # absl-py's file, keras
    assert newest.filename not in result.data.files
    assert {meta.name for _, meta in result.data.files.values()} == {"absl-py"} and result.version_files_added > 1

    recorded.faults.clear()
    held = result.data
    healed = _build(recorded, small, cache, held)  # the same cache: the failures were not kept in it either
    assert healed.pins_read == 2 and healed.records_added == 2 and healed.transient == 0
    assert {name for name, _, _ in healed.data.pins} == {"numpy", "keras"}
    assert (healed.version_files_transient, healed.version_pages_transient) == (0, 0)
    assert newest.filename in healed.data.files and any(m.name == "keras" for _, m in healed.data.files.values())


def test_a_file_gone_from_the_index_is_a_permanent_answer(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path
) -> None:
    catalog, rel = release
    small = _history(catalog, rel, {"absl-py"})
    for entry in recorded.project_files("absl-py"):
        recorded.faults[f"/files/{entry.filename}.metadata"] = status_fault(404)
        recorded.faults[f"/files/{entry.filename}"] = status_fault(404)
    result = _build(recorded, small, tmp_path / "cache")
    (record,) = result.data.pins.values()
    assert result.transient == 0 and not record.known and record.filename is None
    assert record.warnings[0][0] == "opaque" and "HTTP 404" in record.warnings[0][1]


def test_an_update_writes_the_overlay_and_then_nothing(
    recorded: FixtureIndex, release: tuple[Catalog, Release], tmp_path: Path
) -> None:
    catalog, rel = release
    decl = replace(load_source("colab"), requirements_table=None)  # no shipped file: the overlay stands alone
    index = index_digest([recorded.index_url])
    small = _history(catalog, rel, {"absl-py", "keras"})
    held = held_for_update(decl, index, None, tmp_path)
    result = _build(recorded, small, tmp_path / "cache", held)
    written = write_update(decl, held, result, None, tmp_path)
    assert written is not None and (written.path, written.pins) == (overlay_path("colab", tmp_path), 2)
    table = load_table(decl, cache_root=tmp_path)
    assert table is not None and len(table) == 2 and table.uses_indexes([recorded.index_url])
    assert load_table(decl, cache_root=tmp_path, index_urls=[recorded.index_url]) is not None
    assert load_table(decl, cache_root=tmp_path, index_urls=["https://elsewhere.test/simple/"]) is None
    # extra indexes change nothing the table says (pins are the runtime's, files are keyed by content)
    extra = [recorded.index_url, "https://extra.test/simple/"]
    assert load_table(decl, cache_root=tmp_path, index_urls=extra) is not None

    held = held_for_update(decl, index, None, tmp_path)
    assert len(held.pins) == 2
    again = _build(recorded, small, tmp_path / "cache", held)
    assert again.pins_read == 0 and write_update(decl, held, again, None, tmp_path) is None
    with pytest.raises(InputError, match="other indexes"):
        held_for_update(decl, index_digest(["https://elsewhere.test/simple/"]), None, tmp_path)
    with pytest.raises(InputError, match="another --as-of"):
        held_for_update(decl, index, None, tmp_path, as_of=datetime(2025, 6, 1, tzinfo=timezone.utc))

    out = tmp_path / "whole.pintable"
    whole = write_update(decl, held, again, out, tmp_path)  # --out FILE: the whole table, even with nothing new
    assert whole is not None and read_table_file(out).data().pins == held.pins


def test_an_update_needs_a_cache_to_witness_its_readings(
    recorded: FixtureIndex, release: tuple[Catalog, Release]
) -> None:
    catalog, rel = release
    small = _history(catalog, rel, {"absl-py"})
    held = TableData("colab", index_digest([recorded.index_url]))
    held.update(_build(recorded, small, Path(os.environ["TFCONFLICT_CACHE_DIR"])).data)  # the pins held already
    with pytest.raises(InputError, match="usable metadata cache"):  # the other versions' pass needs one too
        build_table(small, held, lambda: MetadataEngine(IndexConfig(recorded.index_url)), source="colab")


def test_update_command_says_bad_input_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["snapshots", "requirements", "--source", "nowhere"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown snapshot source 'nowhere'" in err and "\n" not in err
    assert main(["snapshots", "requirements", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(tmp_path) in err and "folder" in err and "\n" not in err
    bad = tmp_path / "table.pintable"
    bad.write_bytes(b'tfconflict.requirements-table/0\n{"sections": {}}\n')
    assert main(["snapshots", "requirements", "--out", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "not a requirements table" in err and "\n" not in err


@pytest.mark.live
def test_shipped_table_equals_a_fresh_reading_of_the_live_index(colab_cache: Path) -> None:
    """A sample of pins across releases and targets; pinned to the day the table was read (a file uploaded
    later would change which one pip picks, not what the table said)."""
    from pypi_simple import PYPI_SIMPLE_ENDPOINT

    from analyzer.cli.indexopts import parse_as_of

    table = load_table("colab")
    assert table is not None and table.uses_indexes([PYPI_SIMPLE_ENDPOINT]) and table.read_at
    history = history_pins(Catalog.open(load_source("colab")))
    every = sorted((name, version, key) for key, specs in history.pins.items() for name, version, _ in specs)
    sample = every[:: len(every) // 20]
    firsts: dict[tuple[str, bool], tuple[NormalizedName, str, str]] = {}
    for name, version, key in every:  # and the first pin of every route, of a local version, opaque or not
        record = table.pin(name, version, key)
        assert record is not None
        firsts.setdefault((record.route, "+" in version), (name, version, key))
    sample += sorted(firsts.values())
    assert len({key for _, _, key in sample}) > 3 and len(firsts) >= 5
    with MetadataEngine(
        IndexConfig(PYPI_SIMPLE_ENDPOINT), cache=MetadataCache(), as_of=parse_as_of(table.read_at)
    ) as engine:
        engine.prefetch_projects([name for name, _, _ in sample])
        for name, version, key in sample:
            factory = Factory(engine, history.targets[key])
            found = parse_version(version)
            assert found is not None
            fresh = factory.info_for_installed(InstalledCandidate(factory, name, found))
            assert table.pin(name, version, key) == record_of(fresh), (name, version, key)
        files = table.data().files  # and a sample of the files, the other versions' among them
        names = sorted(files)
        for filename in names[:: len(names) // 20]:
            sha, meta = files[filename]
            listed = [f for f in engine.project(meta.name).files if f.filename == filename]
            assert listed and listed[0].hashes.get("sha256") == sha, filename
            assert engine.metadata(listed[0]) == table.file(filename, sha) == meta, filename
