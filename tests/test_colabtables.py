"""google-colab's requirements and named runtime versions: the offline tables beside the bundle, and the upstream
path (setup.py history read with ``ast``, README history) on small git repositories made here, offline."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from analyzer.catalog import Catalog, source_dir, sync_source
from analyzer.colabtables import (
    derive_requires_history,
    load_tables,
    read_requires_tsv,
    read_runtime_versions_tsv,
    requirements_from_setup_py,
    runtime_versions_from_readme,
    split_requirements,
)
from analyzer.errors import InputError
from analyzer.selectors import resolve_selector
from analyzer.snapshot import DeclaredRequirements, Snapshot
from analyzer.sources import load_source


def _commit(repo: Path, files: dict[str, str], when: str, message: str = "change") -> None:
    for name, text in files.items():
        (repo / name).write_text(text, encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "add", *files], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", message],
        cwd=repo, check=True, env=env,
    )


def _colab_requires(snapshot: Snapshot) -> DeclaredRequirements | None:
    return next((d for d in snapshot.declared if d.name == "google-colab"), None)


def _repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


SETUP_V1 = """
from setuptools import setup
raise SystemExit("setup.py must never be executed")
DEPENDENCIES = ('google-auth==2.38.0', 'pandas==2.2.2')
setup(name='google-colab', install_requires=DEPENDENCIES)
"""
SETUP_V2 = """
import setuptools
BASE = ['google-auth==2.40.0']
setuptools.setup(name='google-colab', install_requires=BASE + ['pandas==2.2.3', 'tornado==6.5.1'])
"""
SETUP_V3_COSMETIC = SETUP_V2.replace("import setuptools", "import setuptools  # a comment only")
SETUP_COMPUTED = "from setuptools import setup\nsetup(install_requires=open('req.txt').read().split())\n"


def test_setup_py_is_read_statically() -> None:
    assert requirements_from_setup_py(SETUP_V1) == ("google-auth==2.38.0", "pandas==2.2.2")
    assert requirements_from_setup_py(SETUP_V2) == ("google-auth==2.40.0", "pandas==2.2.3", "tornado==6.5.1")
    assert requirements_from_setup_py(SETUP_COMPUTED) is None
    assert requirements_from_setup_py("def broken(:\n") is None
    assert requirements_from_setup_py("print('no setup call')\n") is None


def test_split_keeps_markers_with_their_requirement() -> None:
    text = 'six~=1.12.0; pandas~=0.24.0; python_version < "3.0"; pandas~=0.25.0; python_version >= "3.0"; tornado'
    assert split_requirements(text) == (
        "six~=1.12.0",
        'pandas~=0.24.0; python_version < "3.0"',
        'pandas~=0.25.0; python_version >= "3.0"',
        "tornado",
    )


def test_the_shipped_tables_read(bundle: Path) -> None:
    requires_file = bundle.parent / "google-colab-requires.tsv"
    rows = read_requires_tsv(requires_file.read_text(encoding="utf-8"))
    lines = [ln for ln in requires_file.read_text(encoding="utf-8").splitlines()[1:] if ln.strip()]
    assert len(rows) == len(lines)
    assert [r.date for r in rows] == sorted(r.date for r in rows)
    versions = read_runtime_versions_tsv((bundle.parent / "runtime-versions.tsv").read_text(encoding="utf-8"))
    assert {"2025.07", "2026.01"} <= {v.name for v in versions}


def test_bad_tables_name_file_and_line() -> None:
    with pytest.raises(InputError, match="t.tsv:1: expected the header"):
        read_requires_tsv("when\twhat\n", "t.tsv")
    with pytest.raises(InputError, match="t.tsv:3: not an ISO date"):
        read_requires_tsv("date\tupstream_commit\trequires_dist\n2020-01-01T00:00:00+00:00\tabc\tx\nsoon\tabc\tx\n",
                          "t.tsv")


def test_rows_in_force_at_a_release_date(colab_cache: Path, bundle: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    rows = read_requires_tsv((bundle.parent / "google-colab-requires.tsv").read_text(encoding="utf-8"))
    for release in (catalog.latest("cpu"), catalog.releases_of("cpu")[300], catalog.releases_of("tpu")[0]):
        expected = [r for r in rows if r.date <= release.date][-1]
        declared = _colab_requires(catalog.snapshot(release))
        assert declared is not None
        assert declared.requirements == expected.requirements
        assert f"line {expected.line}" in declared.evidence and expected.upstream_commit in declared.evidence
    # exactly at a row's date that row is in force; a second earlier, the previous one
    tables = catalog.tables
    row = rows[-3]
    assert tables.requires_at(row.date) == row
    assert tables.requires_at(row.date - timedelta(seconds=1)) == rows[-4]


def test_upstream_setup_py_history(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "colabtools")
    _commit(repo, {"setup.py": SETUP_V1}, "2025-01-10T10:00:00-08:00")
    _commit(repo, {"README.md": "docs\n"}, "2025-02-10T10:00:00-08:00")
    _commit(repo, {"setup.py": SETUP_V2}, "2025-03-10T10:00:00-07:00")
    _commit(repo, {"setup.py": SETUP_V3_COSMETIC}, "2025-04-10T10:00:00-07:00")
    _commit(repo, {"setup.py": SETUP_COMPUTED}, "2025-05-10T10:00:00-07:00")
    rows = derive_requires_history(str(repo), "setup.py", tmp_path / "mirror")
    assert [(r.date.isoformat(), r.requirements) for r in rows] == [
        ("2025-01-10T10:00:00-08:00", ("google-auth==2.38.0", "pandas==2.2.2")),
        ("2025-03-10T10:00:00-07:00", ("google-auth==2.40.0", "pandas==2.2.3", "tornado==6.5.1")),
    ]
    _commit(repo, {"setup.py": SETUP_V1.replace("2.2.2", "2.3.0")}, "2025-06-10T10:00:00-07:00")
    again = derive_requires_history(str(repo), "setup.py", tmp_path / "mirror")  # fetches into the same mirror
    assert again[-1].requirements == ("google-auth==2.38.0", "pandas==2.3.0")


README = """# Backend Information

## Colab's Past Runtime Versions

### 2099.01

*   Ubuntu 22.04.5 LTS
*   Python 3.12.12
*   numpy 2.0.2

For the exact details refer to this [GitHub commit](https://github.com/googlecolab/backend-info/tree/{commit}).

### 2098.07

*   Python 3.11.13

No commit link in this section.

## Contributing
"""

OS_INFO = "Ubuntu 22.04.5 LTS\nPython {python}\n"


def test_readme_sections(tmp_path: Path) -> None:
    assert runtime_versions_from_readme(README.format(commit="abc1234def")) == [("2099.01", "abc1234def", "3.12.12")]


def test_sync_from_upstream_derives_both_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend-info-like repository with no tables beside it: both tables come from upstream history."""
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    colabtools = _repo(tmp_path / "upstream" / "colabtools")
    _commit(colabtools, {"setup.py": SETUP_V1}, "2099-01-01T10:00:00+00:00")
    _commit(colabtools, {"setup.py": SETUP_V2}, "2099-02-01T10:00:00+00:00")
    monkeypatch.setenv("TFCONFLICT_COLABTOOLS_REPO", str(colabtools))
    info = _repo(tmp_path / "upstream" / "backend-info")
    _commit(info, {"pip-freeze.txt": "pandas==2.2.2\n", "os-info.txt": OS_INFO.format(python="3.11.13")},
            "2099-01-05T10:00:00+00:00")
    _commit(info, {"pip-freeze.txt": "pandas==2.2.3\n", "os-info.txt": OS_INFO.format(python="3.12.12")},
            "2099-01-20T10:00:00+00:00")
    pinned = subprocess.run(["git", "rev-parse", "HEAD"], cwd=info, capture_output=True, text=True, check=True)
    _commit(info, {"pip-freeze.txt": "pandas==2.2.3\ntornado==6.5.1\n"}, "2099-02-10T10:00:00+00:00")
    _commit(info, {"README.md": README.format(commit=pinned.stdout.strip())}, "2099-02-11T10:00:00+00:00")

    decl = load_source("colab")
    result = sync_source(decl, str(info))
    assert any(t.startswith("runtime-versions.tsv: derived from README.md history") for t in result.tables)
    assert any(t.startswith("google-colab-requires.tsv: derived from setup.py history of") for t in result.tables)
    tables = load_tables(decl, source_dir(decl))
    assert [(v.name, v.python) for v in tables.runtime_versions] == [("2099.01", "3.12.12")]

    old = resolve_selector("colab:2099.01")
    assert old.python == "3.12.12" and old.by_name["pandas"].version == "2.2.3" and "tornado" not in old.by_name
    declared = _colab_requires(old)
    assert declared is not None and declared.requirements == ("google-auth==2.38.0", "pandas==2.2.2")
    latest = resolve_selector("colab")
    declared = _colab_requires(latest)
    assert declared is not None and "tornado==6.5.1" in declared.requirements
    first = _colab_requires(resolve_selector("colab:2099-01-05"))
    assert first is not None and first.requirements == ("google-auth==2.38.0", "pandas==2.2.2")


def test_sync_without_any_table_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFCONFLICT_COLABTOOLS_REPO", str(tmp_path / "missing"))
    info = _repo(tmp_path / "upstream" / "backend-info")
    _commit(info, {"pip-freeze.txt": "pandas==2.2.2\n", "os-info.txt": OS_INFO.format(python="3.11.13")},
            "2099-01-05T10:00:00+00:00")
    result = sync_source(load_source("colab"), str(info))
    assert any("not derived" in t and "it stays unknown" in t for t in result.tables)
    snapshot = resolve_selector("colab")
    assert snapshot.declared == ()
    assert "google-colab's requirements are unknown: no requirements table is synced" in snapshot.notes


def test_bundle_sync_copies_the_tables_beside_it(colab_cache: Path, bundle: Path) -> None:
    folder = colab_cache / "sources" / "colab" / "tables"
    for name in ("google-colab-requires.tsv", "runtime-versions.tsv"):
        assert (folder / name).read_bytes() == (bundle.parent / name).read_bytes()
    tables = load_tables(load_source("colab"), colab_cache / "sources" / "colab")
    row = tables.runtime_version("2025.07")
    assert row is not None and row.date == datetime.fromisoformat("2025-08-13T12:02:06-07:00")


def test_a_malformed_table_beside_the_origin_is_refused_at_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TFCONFLICT_COLABTOOLS_REPO", str(tmp_path / "missing"))
    info = _repo(tmp_path / "upstream" / "backend-info")
    _commit(info, {"pip-freeze.txt": "pandas==2.2.2\n", "os-info.txt": OS_INFO.format(python="3.11.13")},
            "2099-01-05T10:00:00+00:00")
    (tmp_path / "upstream" / "runtime-versions.tsv").write_text("name\tdate\n", encoding="utf-8")
    result = sync_source(load_source("colab"), str(info))
    assert any(t.startswith("runtime-versions.tsv: not read (") and "expected the header" in t for t in result.tables)
    assert "could not read runtime-versions.tsv" in caplog.text
    assert resolve_selector("colab").python == "3.11.13"
