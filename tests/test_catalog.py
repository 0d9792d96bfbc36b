"""The Colab release catalog, on the real history bundle: releases, Python evidence, cache and index behaviour."""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from analyzer.catalog import Catalog, infer_python, source_dir, sync_source
from analyzer.errors import SourceError
from analyzer.freeze import parse_freeze
from analyzer.git import git
from analyzer.sources import load_source


@pytest.fixture
def catalog(colab_cache: Path) -> Catalog:
    return Catalog.open(load_source("colab"))


def _mirror(catalog: Catalog) -> Path:
    return catalog.repo


def _commits_changing(catalog: Catalog, path: str) -> list[str]:
    """Commits that changed a file, oldest first, as git itself lists them."""
    out = git(["log", "--reverse", "--format=%H", "HEAD", "--", path], cwd=_mirror(catalog)).decode()
    return out.split()


def test_every_commit_that_changed_a_freeze_file_is_a_release(catalog: Catalog) -> None:
    decl = catalog.decl
    for files in decl.kinds:
        expected = _commits_changing(catalog, files.freeze)
        assert [r.commit for r in catalog.releases_of(files.kind)] == expected
    assert len(catalog.releases) == sum(len(_commits_changing(catalog, f.freeze)) for f in decl.kinds)
    assert len(catalog.commits) == len(git(["rev-list", "HEAD"], cwd=_mirror(catalog)).split())


def test_latest_cpu_release_is_2026_08_19_with_python_3_13_15_and_tensorflow_2_20_0(catalog: Catalog) -> None:
    latest = catalog.latest("cpu")
    assert latest.date.date().isoformat() == "2026-08-19"
    assert latest.python == "3.13.15"
    assert latest.python_evidence.startswith("os-info.txt at ")
    assert not latest.python_inferred
    assert latest.platform.glibc == "2.35" and latest.platform.machine == "x86_64"
    snapshot = catalog.snapshot(latest)
    assert snapshot.by_name["tensorflow"].version == "2.20.0"
    assert snapshot.commit == latest.commit and snapshot.kind == "cpu"
    assert len(snapshot.pins) == latest.packages


def test_cpu_releases_of_july_2025_have_python_3_11_13(catalog: Catalog) -> None:
    july = [r for r in catalog.releases_of("cpu") if r.date.strftime("%Y-%m") == "2025-07"]
    assert july
    assert {r.python for r in july} == {"3.11.13"}


def test_release_dates_and_upstream_ids_come_from_the_commits(catalog: Catalog) -> None:
    release = catalog.latest("gpu")
    line = git(["log", "-1", "--format=%cI%x00%s", release.commit], cwd=_mirror(catalog)).decode().strip()
    when, subject = line.split("\x00")
    assert release.date == datetime.fromisoformat(when)
    assert subject == f"Colab runtime snapshot (upstream {release.upstream_commit})"


def test_python_before_os_info_is_inferred_from_wheel_tags_and_says_so(catalog: Catalog) -> None:
    first_os_info = _commits_changing(catalog, "os-info.txt")[0]
    position = next(c.position for c in catalog.commits if c.commit == first_os_info)
    older = [r for r in catalog.releases_of("cpu") if r.position < position]
    newer = [r for r in catalog.releases_of("cpu") if r.position > position]
    assert older and newer
    for release in older:
        assert release.python_inferred
        assert release.python_evidence.startswith("inferred from the cp3")
        assert "wheel URL" in release.python_evidence
        assert any(note.startswith("OS and glibc assumed") for note in release.notes)
    assert all(not r.python_inferred for r in newer)
    first = catalog.releases_of("cpu")[0]
    assert first.python == "3.7"
    assert "the cp37 tag of torch's wheel URL" in first.python_evidence


def test_inference_matches_the_wheels_of_the_freeze(catalog: Catalog) -> None:
    release = catalog.releases_of("cpu")[0]
    pins = parse_freeze(catalog.read_blob(release.freeze_blob)).pins
    assert infer_python(pins) == (release.python, release.python_evidence.split("; ")[0])


def test_infer_python_ignores_abi3_and_reports_disagreement() -> None:
    text = (
        "a @ https://x/a-1.0-cp38-abi3-manylinux2014_x86_64.whl\n"
        "b @ https://x/b-1.0-cp310-cp310-linux_x86_64.whl\n"
        "c @ https://x/c-1.0-cp310-cp310-linux_x86_64.whl\n"
        "d @ https://x/d-1.0-cp39-cp39-linux_x86_64.whl\n"
    )
    python, evidence = infer_python(parse_freeze(text).pins) or ("", "")
    assert python == "3.10"
    assert evidence == "inferred from the cp310 tag of b's wheel URL (2 of 3 cpXY wheel URLs agree)"
    assert infer_python(parse_freeze("x==1\n").pins) is None


def test_queries_at_dates_and_commits(catalog: Catalog) -> None:
    cpu = catalog.releases_of("cpu")
    second = cpu[1]
    assert catalog.at("cpu", second.date) == second
    assert catalog.at("cpu", cpu[0].date.replace(year=2000)) is None
    commit = next(c for c in catalog.commits if c.commit == second.commit)
    assert catalog.at_commit("cpu", commit) == second
    assert catalog.find_commits(second.commit[:10]) == (commit,)
    assert commit in catalog.find_commits(str(second.upstream_commit)[:8])


def test_the_index_is_kept_per_head_and_reused(catalog: Catalog) -> None:
    assert catalog.index_path.name == f"index-v2-{catalog.head}.json"
    assert catalog.index_path.is_file()
    again = Catalog.open(load_source("colab"))
    assert again.releases == catalog.releases
    assert [p.name for p in catalog.root.glob("index-*.json")] == [catalog.index_path.name]


def test_later_runs_are_offline(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "elsewhere" / "backend-info.bundle"
    copy.parent.mkdir()
    shutil.copyfile(bundle, copy)
    decl = load_source("colab")
    result = sync_source(decl, str(copy))
    assert result.cloned and result.releases > 800
    copy.unlink()
    catalog = Catalog.open(decl)
    assert len(catalog.releases) == result.releases
    assert catalog.snapshot(catalog.latest("tpu")).kind == "tpu"


def test_first_use_syncs_automatically_and_says_so(
    tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TFCONFLICT_COLAB_REPO", str(bundle))
    with caplog.at_level(logging.WARNING):
        catalog = Catalog.open(load_source("colab"))
    assert "no synced copy of the colab history yet: syncing from" in caplog.text
    assert str(bundle) in caplog.text
    assert catalog.latest("cpu").python == "3.13.15"


def test_second_sync_fetches(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path))
    decl = load_source("colab")
    assert sync_source(decl, str(bundle)).cloned
    again = sync_source(decl, str(bundle))
    assert not again.cloned
    assert again.origin == str(bundle.resolve()) and again.origin_reason == "given"
    assert (source_dir(decl) / "repo.git" / "HEAD").is_file()


def test_unreachable_origin_is_a_source_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path))
    with pytest.raises(SourceError, match="git clone failed"):
        sync_source(load_source("colab"), str(tmp_path / "no-such-repo"))


KAGGLE = """
name = "kaggle"
description = "a second platform, declared as data only"
upstream = "https://example.invalid/kaggle-history"
origin_env = "TFCONFLICT_KAGGLE_REPO"
default_kind = "gpu"
machine = "x86_64"

[kinds.gpu]
freeze = "requirements-gpu.txt"
os_info = "os.txt"
selector = "kaggle-gpu"
"""


def test_another_platform_is_a_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from analyzer import sources
    from analyzer.selectors import resolve_selector

    declarations = tmp_path / "declared"
    declarations.mkdir()
    (declarations / "kaggle.toml").write_text(KAGGLE, encoding="utf-8")
    real_roots = list(sources.declaration_roots())
    monkeypatch.setattr(sources, "declaration_roots", lambda: iter([*real_roots, declarations]))
    assert sources.list_sources() == ("colab", "kaggle")

    repo = tmp_path / "kaggle-history"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "requirements-gpu.txt").write_text("torch==2.5.1\n", encoding="utf-8")
    (repo / "os.txt").write_text("Ubuntu 24.04.1 LTS\nPython 3.12.3\n", encoding="utf-8")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "one"],
                   cwd=repo, check=True)
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFCONFLICT_KAGGLE_REPO", str(repo))
    snapshot = resolve_selector("kaggle-gpu")
    assert (snapshot.source, snapshot.kind, snapshot.python) == ("kaggle", "gpu", "3.12.3")
    assert resolve_selector("kaggle:latest") == snapshot  # the source's name names its default kind
    assert snapshot.platform.glibc == "2.39" and snapshot.by_name["torch"].version == "2.5.1"
    assert snapshot.declared == () and snapshot.notes == ()


def test_declarations_load_and_errors_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from analyzer import sources
    from analyzer.errors import InputError

    colab = load_source("colab")
    assert colab.upstream == "https://github.com/googlecolab/backend-info"
    assert colab.origin_env == "TFCONFLICT_COLAB_REPO" and colab.default_kind == "cpu"
    assert [(k.kind, k.freeze, k.os_info, k.selector) for k in colab.kinds] == [
        ("cpu", "pip-freeze.txt", "os-info.txt", "colab"),
        ("gpu", "pip-freeze.gpu.txt", "os-info-gpu.txt", "colab-gpu"),
        ("tpu", "pip-freeze.tpu.txt", "os-info-tpu.txt", "colab-tpu"),
    ]
    assert colab.declared_requirements is not None and colab.declared_requirements.package == "google-colab"
    assert colab.runtime_versions is not None and colab.runtime_versions.offline == "runtime-versions.tsv"
    with pytest.raises(InputError, match="unknown snapshot source 'nope' \\(declared: colab\\)"):
        load_source("nope")
    (tmp_path / "broken.toml").write_text('name = "broken"\nupstream = "x"\ndefault_kind = "cpu"\n', encoding="utf-8")
    monkeypatch.setattr(sources, "declaration_roots", lambda: iter([tmp_path]))
    with pytest.raises(InputError, match=r"broken.toml: malformed source declaration: \[kinds\] must be a table"):
        load_source("broken")


def test_first_use_without_a_reachable_origin_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFCONFLICT_COLAB_REPO", str(tmp_path / "missing.bundle"))
    with pytest.raises(SourceError, match="nothing of the colab history is synced yet: give --colab-repo .* or set "
                       "\\$TFCONFLICT_COLAB_REPO"):
        Catalog.open(load_source("colab"))
