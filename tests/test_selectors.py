"""Selectors on the real history: each resolves to the commit git itself names, errors say what would work."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from analyzer.catalog import Catalog
from analyzer.errors import InputError
from analyzer.git import git
from analyzer.selectors import parse_platform, resolve_selector
from analyzer.snapshot import Platform
from analyzer.sources import load_source


@pytest.fixture
def catalog(colab_cache: Path) -> Catalog:
    return Catalog.open(load_source("colab"))


def _log(catalog: Catalog, path: str) -> list[tuple[str, str]]:
    """``(commit, day as the commit records it)`` of every commit that changed ``path``, newest first."""
    out = git(["log", "--format=%H %cd", "--date=short", "HEAD", "--", path], cwd=catalog.repo).decode()
    return [tuple(line.split()) for line in out.splitlines()]  # type: ignore[misc]


def _in_force_on(catalog: Catalog, path: str, day: date) -> str:
    return next(commit for commit, when in _log(catalog, path) if when <= day.isoformat())


def test_colab_and_latest_are_the_newest_cpu_release(catalog: Catalog) -> None:
    newest = _log(catalog, "pip-freeze.txt")[0][0]
    for text in ("colab", "colab:latest"):
        snapshot = resolve_selector(text)
        assert snapshot.commit == newest and snapshot.kind == "cpu"
    assert resolve_selector("colab-gpu").commit == _log(catalog, "pip-freeze.gpu.txt")[0][0]
    assert resolve_selector("colab-tpu:latest").kind == "tpu"


@pytest.mark.parametrize("path,kind", [("pip-freeze.txt", "colab"), ("pip-freeze.tpu.txt", "colab-tpu")])
def test_dates_at_release_boundaries(catalog: Catalog, path: str, kind: str) -> None:
    log = _log(catalog, path)
    days = sorted({when for _, when in log})
    # a day with a release whose previous release is on an earlier day, in the middle of the history
    day = date.fromisoformat(days[len(days) // 2])
    on_day = resolve_selector(f"{kind}:{day}")
    assert on_day.commit == _in_force_on(catalog, path, day)
    assert on_day.date is not None and on_day.date.date() == day
    before = resolve_selector(f"{kind}:{day - timedelta(days=1)}")
    assert before.commit == _in_force_on(catalog, path, day - timedelta(days=1))
    assert before.date is not None and before.date.date() < day


def test_a_date_before_the_first_release_is_a_clear_error(catalog: Catalog) -> None:
    first = date.fromisoformat(_log(catalog, "pip-freeze.txt")[-1][1])
    assert resolve_selector(f"colab:{first}").commit == _log(catalog, "pip-freeze.txt")[-1][0]
    with pytest.raises(InputError, match=f"is before the first cpu release of colab \\({first}\\)"):
        resolve_selector(f"colab:{first - timedelta(days=1)}")
    first_gpu = _log(catalog, "pip-freeze.gpu.txt")[-1][1]
    with pytest.raises(InputError, match=f"before the first gpu release of colab \\({first_gpu}\\)"):
        resolve_selector("colab-gpu:2025-12-31")


def test_named_runtime_version_is_the_last_commit_at_or_before_its_date(catalog: Catalog) -> None:
    row = catalog.tables.runtime_version("2025.07")
    assert row is not None
    expected = git(
        ["log", "-1", "--format=%H", f"--until={row.date.isoformat()}", "HEAD", "--", "pip-freeze.txt"],
        cwd=catalog.repo,
    ).decode().strip()
    snapshot = resolve_selector("colab:2025.07")
    assert snapshot.commit == expected
    assert snapshot.python == "3.11.13" == row.python
    assert any("runtime version 2025.07" in note for note in snapshot.notes)
    with pytest.raises(InputError, match="no runtime version named '2019.01' \\(known: .*2025.07"):
        resolve_selector("colab:2019.01")


def test_commit_selectors_take_prefixes_of_either_id(catalog: Catalog) -> None:
    release = catalog.releases_of("cpu")[100]
    assert resolve_selector(f"colab@{release.commit[:8]}").commit == release.commit
    assert resolve_selector(f"colab@{release.upstream_commit}").commit == release.commit
    assert resolve_selector(f"colab@{release.commit.upper()}").commit == release.commit


def test_commit_that_did_not_change_the_kind_gives_the_release_in_force_and_says_so(catalog: Catalog) -> None:
    only_os_info = _log(catalog, "os-info.txt")[-1][0]  # the commit adding os-info.txt changed nothing else
    changed = git(["show", "--format=", "--name-only", only_os_info], cwd=catalog.repo).decode().split()
    assert changed == ["os-info.txt"]
    snapshot = resolve_selector(f"colab@{only_os_info[:12]}")
    parent = git(["rev-parse", f"{only_os_info}^"], cwd=catalog.repo).decode().strip()
    assert snapshot.commit == _log_at(catalog, parent)
    assert any("did not change pip-freeze.txt" in note for note in snapshot.notes)
    assert any(f"in force there is {snapshot.label}, commit {snapshot.commit[:12]}" in note for note in snapshot.notes)


def _log_at(catalog: Catalog, commit: str) -> str:
    return git(["log", "-1", "--format=%H", commit, "--", "pip-freeze.txt"], cwd=catalog.repo).decode().strip()


@pytest.mark.parametrize(
    "text,message",
    [
        ("colab@zzzz", "is not a commit id"),
        ("colab@abc", "is not a commit id"),
        ("colab@0000000000", "no commit of the colab history starts with '0000000000'"),
        ("colab-xpu:latest", "unknown snapshot source or runtime kind 'colab-xpu' \\(known: colab, colab-gpu"),
        ("colab:yesterday", "expected 'latest', a date \\(YYYY-MM-DD\\) or a runtime version"),
        ("colab:2025-02-30", "is not a calendar date"),
        ("colab:", "ends after ':'"),
        ("nonsense", "no such file, and not a snapshot selector"),
        ("", "empty snapshot selector"),
    ],
)
def test_bad_selectors_explain_themselves(catalog: Catalog, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_selector(text)


def test_ambiguous_commit_prefix(catalog: Catalog) -> None:
    prefixes: dict[str, int] = {}
    for commit in catalog.commits:
        prefixes[commit.commit[:4]] = prefixes.get(commit.commit[:4], 0) + 1
    shared = next(p for p, n in prefixes.items() if n > 1)
    with pytest.raises(InputError, match="is ambiguous"):
        resolve_selector(f"colab@{shared}")


def test_python_and_platform_apply_to_freeze_files_only(catalog: Catalog) -> None:
    with pytest.raises(InputError, match="--python applies to freeze files only"):
        resolve_selector("colab", python="3.12")


def test_freeze_file_with_defaults_says_what_it_assumed(tmp_path: Path) -> None:
    path = tmp_path / "requirements-freeze.txt"
    path.write_text("# header\nnumpy==2.0.2\nbad line here\n", encoding="utf-8")
    snapshot = resolve_selector(str(path))
    running = ".".join(str(p) for p in sys.version_info[:3])
    assert snapshot.python == running
    assert snapshot.platform.glibc == "2.35" and snapshot.platform.machine == "x86_64"
    assert any(f"Python {running} assumed" in n for n in snapshot.notes)
    assert any("glibc 2.35" in n and "--platform" in n for n in snapshot.notes)
    assert str(snapshot.problems[0]).startswith(f"{path}:3: ")
    assert snapshot.by_name["numpy"].version == "2.0.2"


def test_freeze_file_with_python_and_platform(tmp_path: Path) -> None:
    path = tmp_path / "freeze.txt"
    path.write_text("numpy==1.26.4\n", encoding="utf-8")
    snapshot = resolve_selector(str(path), python="3.10.12", platform="manylinux_2_31_x86_64")
    assert snapshot.python == "3.10.12" and snapshot.python_evidence == "given (--python)"
    assert snapshot.platform == Platform(os_name="Linux", glibc="2.31", machine="x86_64")
    assert snapshot.notes == ()
    with pytest.raises(InputError, match="--python 'three' is not a version"):
        resolve_selector(str(path), python="three")
    with pytest.raises(InputError, match="needs at least a minor version"):
        resolve_selector(str(path), python="3")


@pytest.mark.parametrize(
    "tag,expected",
    [
        ("manylinux2014_x86_64", Platform(os_name="Linux", glibc="2.17", machine="x86_64")),
        ("linux_aarch64", Platform(os_name="Linux", glibc=None, machine="aarch64")),
        ("win_amd64", Platform(os_name="Windows", machine="AMD64")),
        ("macosx_11_0_arm64", Platform(os_name="Darwin", distro_version="11.0", machine="arm64")),
    ],
)
def test_platform_tags(tag: str, expected: Platform) -> None:
    assert parse_platform(tag) == expected


def test_bad_platform_tag() -> None:
    with pytest.raises(InputError, match="is not a platform tag"):
        parse_platform("commodore64")


def test_snapshot_json_file(catalog: Catalog, tmp_path: Path) -> None:
    snapshot = resolve_selector("colab-tpu")
    path = tmp_path / "tpu.json"
    path.write_text(snapshot.to_json(), encoding="utf-8")
    assert resolve_selector(str(path)) == snapshot
    with pytest.raises(InputError, match="--platform applies to freeze files only"):
        resolve_selector(str(path), platform="win_amd64")


def test_current_is_the_running_interpreter() -> None:
    snapshot = resolve_selector("current")
    assert snapshot.source == "current"
    assert snapshot.python == ".".join(str(p) for p in sys.version_info[:3])
    assert "pytest" in snapshot.by_name


def test_selectors_win_over_a_file_of_the_same_name(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "colab").write_text("numpy==1.0\n", encoding="utf-8")
    assert resolve_selector("colab").source == "colab"
    assert resolve_selector("./colab", python="3.12").source == "file"
