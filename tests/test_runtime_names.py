"""Releases named as Colab names them, on the real history bundle and its runtime-versions table: a release a named
runtime version selects (``colab 2025.07 (2025-08-11)``), one between two names (``colab after 2025.07 (...)``),
and a kind whose releases predate every name it has (``colab-gpu 2026-01-08``)."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from analyzer.catalog import Catalog, alternative_releases
from analyzer.check import run_check
from analyzer.diff import diff
from analyzer.errors import InputError
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.render import render
from analyzer.render.snapshots import render_diff
from analyzer.report import Verdict
from analyzer.request import parse_specs
from analyzer.selectors import resolve_selector
from analyzer.snapshot import snapshot_from_json
from analyzer.sources import load_source
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture


@pytest.fixture
def catalog(colab_cache: Path) -> Catalog:
    return Catalog.open(load_source("colab"))


def test_a_named_version_names_the_release_a_notebook_gets_with_it(catalog: Catalog) -> None:
    versions = catalog.tables.runtime_versions
    assert len(versions) >= 2
    for version in versions:
        for files in catalog.decl.kinds:
            release = catalog.at(files.kind, version.date)
            if release is None:
                continue
            name = catalog.name_of(release)
            assert name.version_name == version.name
            assert name.label == f"{files.selector} {version.name} ({release.date.date()})"
            # the selector of that name gives the same release, under the same name
            snapshot = resolve_selector(f"{files.selector}:{version.name}")
            assert (snapshot.id, snapshot.label, snapshot.version_name) == (release.id, name.label, version.name)
    # the example: 2025.07 is the CPU release of 2025-08-11, its commit still there for JSON and show
    snapshot = resolve_selector("colab:2025.07")
    assert snapshot.label == "colab 2025.07 (2025-08-11)" and snapshot.id.startswith("colab@")
    assert snapshot.commit is not None and snapshot.id[len("colab@"):] == snapshot.commit[:10]


def test_a_release_between_two_names_says_which_it_follows(catalog: Catalog) -> None:
    snapshot = resolve_selector("colab:2025-09-02")
    assert snapshot.label == "colab after 2025.07 (2025-09-02)" and snapshot.version_name is None
    first = catalog.at("cpu", catalog.tables.runtime_version("2025.07").date)  # type: ignore[union-attr]
    following = catalog.at("cpu", catalog.tables.runtime_version("2025.10").date)  # type: ignore[union-attr]
    assert first is not None and following is not None
    between = [r for r in catalog.releases_of("cpu") if first.position < r.position < following.position]
    assert len(between) > 5
    assert all(catalog.name_of(r).follows == "2025.07" for r in between)
    assert all(catalog.name_of(r).label.startswith("colab after 2025.07 (") for r in between)
    # before the first named version there is nothing to follow: the date alone
    older = [r for r in catalog.releases_of("cpu") if r.position < first.position]
    assert older and all(catalog.name_of(r).label.startswith(f"colab {r.date.date()}") for r in older)


def test_a_kind_without_a_name_yet_is_named_by_its_date(catalog: Catalog) -> None:
    gpu = catalog.releases_of("gpu")
    first_name = min(v.date for v in catalog.tables.runtime_versions if catalog.at("gpu", v.date) is not None)
    unnamed = [r for r in gpu if r.date < first_name]
    assert unnamed, "the GPU history starts before its first named version"
    # 2025.10 names CPU releases before these, but no GPU release was in force then: nothing to follow
    assert catalog.at("gpu", catalog.tables.runtime_version("2025.10").date) is None  # type: ignore[union-attr]
    snapshot = resolve_selector("colab-gpu:2026-01-08")
    assert snapshot.label == "colab-gpu 2026-01-08" and snapshot.version_name is None
    assert all(catalog.name_of(r).follows is None for r in unnamed)
    with pytest.raises(InputError, match="predates the first gpu release"):
        resolve_selector("colab-gpu:2025.10")
    # and a GPU release that has a name says it is a GPU release
    assert resolve_selector("colab-gpu:2026.01").label.startswith("colab-gpu 2026.01 (")


def test_every_release_has_its_own_name(catalog: Catalog) -> None:
    labels = Counter(catalog.name_of(r).label for r in catalog.releases)
    assert labels.most_common(1)[0][1] == 1
    # two CPU releases on one day: the time of day tells them apart
    day = next(d for d, n in Counter(r.date.date() for r in catalog.releases_of("cpu")).items() if n > 1)
    same = [r for r in catalog.releases_of("cpu") if r.date.date() == day]
    for r in same:
        name = catalog.name_of(r)
        assert name.version_name or f"{day} {r.date.strftime('%H:%M')}" in name.label


def test_names_survive_json_and_show_in_diff(catalog: Catalog) -> None:
    a, b = resolve_selector("colab:2025.07"), resolve_selector("colab:2025.10")
    back = snapshot_from_json(a.to_json())
    assert back == a and back.label == "colab 2025.07 (2025-08-11)"
    result = diff(a, b)
    assert render_diff(result).splitlines()[0] == f"{a.label} -> {b.label}"
    data = result.to_json_dict()
    assert (data["a"], data["a_name"]) == (a.id, a.label)


def test_alternatives_offer_named_versions_first(catalog: Catalog) -> None:
    latest = resolve_selector("colab:latest")
    offered = alternative_releases(latest)
    pythons = [python for _, python in offered]
    assert len(pythons) == len(set(pythons)) >= 3
    for label, python in offered:
        assert f"Python {python})" in label and "@" not in label
    # for each Python a named version has, that name is offered: a notebook can select it
    for version in catalog.tables.runtime_versions:
        release = catalog.at("cpu", version.date)
        assert release is not None
        (label,) = [label for label, python in offered if python == release.python]
        assert label.startswith("colab ") and any(
            f"colab {v.name} (" in label for v in catalog.tables.runtime_versions
            if (r := catalog.at("cpu", v.date)) is not None and r.python == release.python
        )


def test_the_report_names_the_runtime_and_keeps_the_commit_in_json(
    colab_cache: Path, index_server: FixtureIndex
) -> None:
    assert index_server.add_recorded(RECORDED) > 0
    snapshot = resolve_selector("colab:latest")
    with MetadataEngine(IndexConfig(index_server.index_url), cache=MetadataCache()) as engine:
        report = run_check(parse_specs(["tensorflow==2.12.0"]), snapshot, engine, conflict_set=False,
                           with_suggestions=False)
    assert report.verdict is Verdict.NOT_INSTALLABLE
    assert snapshot.label.startswith("colab after ") and snapshot.label in report.headline()
    assert snapshot.id not in report.headline()
    text = render("report", "text", report)
    runtime_line = text.splitlines()[1]
    assert runtime_line.startswith(f"runtime: {snapshot.label}, release {snapshot.id}: ")
    data = json.loads(render("report", "json", report))
    runtime = data["runtime"]
    assert runtime["id"] == snapshot.id and runtime["name"] == snapshot.label
    assert runtime["commit"] == snapshot.commit and runtime["version_name"] is None
