"""The warm path's shortcuts give the same answers as the long way, and are actually taken.

Counted, never timed: rows built from cached pages, and the answers of the memos' keys.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from packaging.version import Version

from analyzer.diagnosis.graph import image_graph
from analyzer.environment import TargetEnvironment
from analyzer.metadata import index as index_module
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import DistFile
from analyzer.metadata.select import best_file
from analyzer.session import Session
from analyzer.snapshot import Pin, Platform, Snapshot
from tests.indexserver import FixtureIndex, index_server  # noqa: F401 - pytest fixture

ENV = TargetEnvironment(
    python=Version("3.11"),
    python_full="3.11.13",
    sys_platform="linux",
    platform_system="Linux",
    machine="x86_64",
    glibc=(2, 35),
)


@pytest.fixture
def built_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every (version) group of rows that ``files_from_page`` turns into ``DistFile`` objects, in order."""
    seen: list[str] = []
    original = index_module._build

    def counting(groups: list[tuple[str, list[list[Any]]]], *args: Any) -> None:
        seen.extend(v for v, _ in groups)
        original(groups, *args)

    monkeypatch.setattr(index_module, "_build", counting)
    yield seen


def _publish(index_server: FixtureIndex) -> None:
    for version in ("1.0", "1.1", "2.0"):
        index_server.wheel("multi", version, [f"dep>={version}"])
        index_server.wheel("multi", version, [f"dep>={version}"], tag="cp311-cp311-manylinux_2_17_x86_64")
        index_server.sdist("multi", version)
    index_server.wheel("dep", "3.0")


def test_installed_pins_decode_only_their_own_version(
    index_server: FixtureIndex, built_rows: list[str]
) -> None:
    _publish(index_server)
    pins = (Pin("multi", "1.1"), Pin("dep", "3.0"), Pin("multi-missing", "1.0"))
    snapshot = Snapshot(id="t", python="3.11.13", platform=Platform(glibc="2.35"), pins=pins)
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache()) as engine:
        engine.prefetch_projects(p.name for p in pins)
        built_rows.clear()
        graph = image_graph(Session.open(snapshot, engine, ENV))
        # only the pinned versions' rows were built: no whole project was decoded
        assert sorted(built_rows) == ["1.1", "3.0"]
    assert [e.requirement for e in graph.requirements_of("multi")] == ["dep>=1.1"]
    assert graph.opaque == {"multi-missing"}

    # the same choice as the long way (every file of the project, then the version's best file)
    with MetadataEngine(config, cache=MetadataCache(), offline=True) as engine:
        best = best_file(_of_version(engine.project("multi").files, "1.1"), ENV)
        short = best_file(engine.files_of("multi", Version("1.1")), ENV)
    assert best is not None and best == short
    assert best.filename == "multi-1.1-cp311-cp311-manylinux_2_17_x86_64.whl"


def _of_version(files: Iterable[DistFile], version: str) -> list[DistFile]:
    return [f for f in files if f.version == Version(version)]


def test_as_of_still_applies_to_installed_pins(index_server: FixtureIndex) -> None:
    from datetime import datetime, timezone

    old = datetime(2024, 1, 1, tzinfo=timezone.utc)
    new = datetime(2025, 1, 1, tzinfo=timezone.utc)
    index_server.wheel("dated", "1.0", upload_time=old)
    index_server.wheel("dated", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64", upload_time=new)
    config = IndexConfig(index_server.index_url)
    with MetadataEngine(config, cache=MetadataCache(), as_of=datetime(2024, 6, 1)) as engine:
        chosen = engine.files_of("dated", Version("1.0"))
        assert [f.filename for f in chosen] == ["dated-1.0-py3-none-any.whl"]
        assert best_file(chosen, ENV) == best_file(_of_version(engine.project("dated").files, "1.0"), ENV)


TRICKY_WHEELS = [
    "demo-1.0-py3-none-any.whl",
    "demo-1.0-1-py2.py3-none-any.whl",
    "demo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "demo-1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
    "demo-2.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",  # same tags, other prefix
    "demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl",
    "demo-1.0-cp311-cp311-win_amd64.whl",
    "demo-1.0--none-any.whl",  # empty interpreter
    "demo-1.0-py3--any.whl",
    "demo-1.0-py3-none-.whl",
    "demo-1.0-3py-none-any.whl",  # interpreter not an identifier
    "de__mo-1.0-py3-none-any.whl",
    "-1.0-py3-none-any.whl",
    "demo-not a version-py3-none-any.whl",
    "demo-not a version-cp311-cp311-manylinux_2_17_x86_64.whl",  # valid tags, invalid prefix
    "demo-1.0-x1-py3-none-any.whl",  # build tag must start with a digit
    "demo-1.0-py3-none.whl",
    "demo-1.0-a-b-py3-none-any.whl",
    "demo-1.0-py3-none-any.zip",
]


def _reference_rank(env: TargetEnvironment, filename: str) -> int | None:
    """What ``wheel_rank`` answered before its memo: parse the whole name with ``packaging`` every time."""
    from packaging.utils import parse_wheel_filename

    try:
        _, _, _, wheel_tags = parse_wheel_filename(filename)
    except ValueError:
        return None
    ranks = [env.tag_rank[t] for t in wheel_tags if t in env.tag_rank]
    return min(ranks) if ranks else None


def test_wheel_rank_memo_answers_as_packaging_does() -> None:
    env = TargetEnvironment(
        python=Version("3.11"),
        python_full="3.11.13",
        sys_platform="linux",
        platform_system="Linux",
        machine="x86_64",
        glibc=(2, 35),
    )
    expected = [_reference_rank(env, f) for f in TRICKY_WHEELS]
    assert [env.wheel_rank(f) for f in TRICKY_WHEELS] == expected
    # a second pass comes from the memo and does not change
    assert [env.wheel_rank(f) for f in TRICKY_WHEELS] == expected
    assert expected[0] is not None and expected[7] is None and expected[14] is None
    # the memo belongs to one target: another Python ranks the same names afresh
    other = TargetEnvironment(
        python=Version("3.12"),
        python_full="3.12.1",
        sys_platform="linux",
        platform_system="Linux",
        machine="x86_64",
        glibc=(2, 35),
    )
    assert [other.wheel_rank(f) for f in TRICKY_WHEELS] == [_reference_rank(other, f) for f in TRICKY_WHEELS]
    assert other.wheel_rank(TRICKY_WHEELS[2]) is None and env.wheel_rank(TRICKY_WHEELS[2]) is not None


def test_default_endpoint_is_pypi_simples_without_importing_it() -> None:
    import subprocess
    import sys

    import pypi_simple

    from analyzer.metadata.config import PYPI_SIMPLE_ENDPOINT, IndexConfig

    assert PYPI_SIMPLE_ENDPOINT == pypi_simple.PYPI_SIMPLE_ENDPOINT
    assert IndexConfig().index_url == pypi_simple.PYPI_SIMPLE_ENDPOINT
    # the command line and the warm path's modules do not import the page parsers (bs4, pydantic)
    code = (
        "import sys, analyzer.cli, analyzer.check, analyzer.metadata.engine\n"
        "analyzer.cli.build_parser()\n"
        "print(sorted(m for m in ('pypi_simple', 'bs4', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_warm_offline_answer_does_not_import_the_page_parsers(index_server: FixtureIndex) -> None:
    import subprocess
    import sys

    _publish(index_server)
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        engine.prefetch_projects(["multi", "dep"])
        engine.prefetch(engine.files_of("multi", Version("1.1")))
    code = (
        "import sys\n"
        "from packaging.version import Version\n"
        "from analyzer.metadata.cache import MetadataCache\n"
        "from analyzer.metadata.config import IndexConfig\n"
        "from analyzer.metadata.engine import MetadataEngine\n"
        f"with MetadataEngine(IndexConfig({index_server.index_url!r}), cache=MetadataCache(), offline=True) as e:\n"
        "    e.prefetch_projects(['multi', 'dep'])\n"
        "    files = e.files_of('multi', Version('1.1'))\n"
        "    print(len(e.project('multi').files), len(files), [str(r) for r in e.metadata(files[0]).requires_dist])\n"
        "print('pypi_simple' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["9 3 ['dep>=1.1']", "False"]


MARKER_TEXTS = [
    'python_version < "3.12"',
    'python_version >= "3.12"',
    'sys_platform == "win32"',
    'extra == "gpu"',
    'extra == "gpu" and python_version < "3.12"',
    'platform_machine == "x86_64" or extra == "test"',
]


def test_marker_memo_answers_as_packaging_does_even_when_ids_are_reused() -> None:
    from packaging.markers import Marker

    values = {**ENV.markers}
    for extras in ((), ("gpu",), ("test", "gpu")):
        for _ in range(3):  # fresh objects each pass: CPython reuses the ids of the ones just freed
            for text in MARKER_TEXTS:
                marker = Marker(text)
                expected = any(marker.evaluate({**values, "extra": e}) for e in ("", *extras))
                assert ENV.evaluate(marker, extras) is expected, (text, extras)
                assert ENV.evaluate(marker, extras) is expected  # the remembered answer
                del marker
    assert ENV.evaluate(Marker('python_version < "3.12"')) and not ENV.evaluate(Marker('extra == "gpu"'))
    assert ENV.evaluate(Marker('extra == "gpu"'), ("gpu",))
    bad = Marker('python_version ~= "foo"')
    for _ in range(2):  # packaging's error is raised every time, never remembered as an answer
        with pytest.raises(ValueError):
            ENV.evaluate(bad)
