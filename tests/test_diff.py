"""diff on real releases, checked against ``git diff`` of the freeze files; and its rules on small cases."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from analyzer.catalog import Catalog, Release
from analyzer.diff import diff, is_major_change
from analyzer.freeze import parse_freeze_line
from analyzer.git import git
from analyzer.selectors import freeze_snapshot
from analyzer.snapshot import Snapshot
from analyzer.sources import load_source


@pytest.fixture
def catalog(colab_cache: Path) -> Catalog:
    return Catalog.open(load_source("colab"))


def _git_diff(catalog: Catalog, a: Release, b: Release) -> tuple[dict[str, str], dict[str, str]]:
    """Pins on removed and added lines of ``git diff`` between two releases' freeze files: name -> line."""
    out = git(
        ["diff", "-U0", a.commit, b.commit, "--", a.freeze_file], cwd=catalog.repo
    ).decode("utf-8", "replace")
    removed: dict[str, str] = {}
    added: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith(("---", "+++")) or not line[:1] in "+-" or not line[1:].strip():
            continue
        if line[1:].lstrip().startswith("#"):
            continue
        pin = parse_freeze_line(line[1:].strip())
        (added if line[0] == "+" else removed)[canonicalize_name(pin.name)] = line[1:].strip()
    return removed, added


def _pairs(catalog: Catalog) -> list[tuple[Release, Release]]:
    cpu = catalog.releases_of("cpu")
    python_change = next(i for i in range(1, len(cpu)) if cpu[i].python != cpu[i - 1].python and i > 400)
    return [
        (cpu[-2], cpu[-1]),  # the newest step
        (cpu[python_change - 1], cpu[python_change]),  # a step that changed Python
        (cpu[200], cpu[260]),  # months apart
        (catalog.releases_of("tpu")[10], catalog.releases_of("tpu")[11]),
    ]


def test_diff_of_real_releases_lists_exactly_the_pins_git_diff_changes(catalog: Catalog) -> None:
    for a, b in _pairs(catalog):
        result = diff(catalog.snapshot(a), catalog.snapshot(b))
        removed, added = _git_diff(catalog, a, b)
        changed_lines = {n for n in removed.keys() | added.keys() if removed.get(n) != added.get(n)}
        assert result.changed_names == changed_lines, (a.id, b.id)
        assert {str(p.name) for p in result.added} == added.keys() - removed.keys()
        assert {str(p.name) for p in result.removed} == removed.keys() - added.keys()
        for change in result.upgraded + result.downgraded + result.changed:
            assert parse_freeze_line(removed[change.name]) == replace(change.old, line=None)
            assert parse_freeze_line(added[change.name]) == replace(change.new, line=None)
        for change in result.upgraded:
            assert Version(str(change.new.version)) > Version(str(change.old.version))
        for change in result.downgraded:
            assert Version(str(change.new.version)) < Version(str(change.old.version))


def test_diff_reports_the_python_change_and_major_changes(catalog: Catalog) -> None:
    a, b = _pairs(catalog)[1]
    result = diff(catalog.snapshot(a), catalog.snapshot(b))
    assert result.python == (a.python, b.python)
    assert all(c.major for c in result.major_changes)
    assert result.a == a.id and result.b == b.id


def test_diff_is_sorted_and_stable(catalog: Catalog) -> None:
    a, b = _pairs(catalog)[2]
    first = diff(catalog.snapshot(a), catalog.snapshot(b))
    assert first == diff(catalog.snapshot(a), catalog.snapshot(b))
    for items in (first.added, first.removed):
        assert [p.name for p in items] == sorted(p.name for p in items)
    for changes in (first.upgraded, first.downgraded, first.changed):
        assert [c.name for c in changes] == sorted(c.name for c in changes)


def _snap(text: str, python: str = "3.11.13") -> Snapshot:
    return freeze_snapshot(text, "f.txt", python=python, platform="manylinux_2_35_x86_64")


def test_diff_kinds_on_small_cases() -> None:
    a = _snap("Alpha==1.0\nbeta==2.0\ngamma==0.4.1\ndelta==3.0\nurl @ https://x/url-1.0-py3-none-any.whl\nsame==1\n")
    b = _snap(
        "alpha==2.0\nbeta==1.9\ngamma==1.0.0\nepsilon==1\nurl @ https://y/url-1.0-py3-none-any.whl\nsame==1\n",
        python="3.12.12",
    )
    result = diff(a, b)
    assert [p.name for p in result.added] == ["epsilon"]
    assert [p.name for p in result.removed] == ["delta"]
    assert [(c.name, c.major) for c in result.upgraded] == [("alpha", True), ("gamma", True)]
    assert [(c.name, c.major) for c in result.downgraded] == [("beta", True)]
    assert [c.name for c in result.changed] == ["url"]
    assert result.python == ("3.11.13", "3.12.12")
    assert result.platform is None
    assert [c.name for c in result.major_changes] == ["alpha", "beta", "gamma"]
    data = result.to_json_dict()
    assert data["major"] == ["alpha", "beta", "gamma"]
    assert data["changed"][0]["new_url"] == "https://y/url-1.0-py3-none-any.whl"
    assert diff(a, a).empty


@pytest.mark.parametrize(
    "old,new,major",
    [
        ("1.2", "2.0", True),
        ("1.2", "1.9", False),
        ("0.4", "0.5", False),
        ("0.9", "1.0", True),
        ("2", "2.1", False),
        ("2025.8.3", "2026.1.4", False),
        ("3.0", "2024.1", True),
    ],
)
def test_major_change_rule(old: str, new: str, major: bool) -> None:
    assert is_major_change(Version(old), Version(new)) is major
