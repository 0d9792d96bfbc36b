"""``tfconflict snapshots ...`` through ``analyzer.cli.main``, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.catalog import Catalog
from analyzer.cli import main
from analyzer.colabtables import read_requires_tsv
from analyzer.snapshot import snapshot_from_json
from analyzer.sources import load_source


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_named_runtime_version(colab_cache: Path, bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "snapshots", "show", "colab:2025.07")
    assert code == 0, err
    assert "python:    3.11.13  (os-info.txt at " in out
    snapshot = Catalog.open(load_source("colab"))
    release = snapshot.at("cpu", snapshot.tables.runtime_version("2025.07").date)  # type: ignore[union-attr]
    assert release is not None and release.commit in out
    # named as a notebook selects it, the exact selector and commit kept
    assert out.startswith(f"colab 2025.07 ({release.date.date()})  (cpu runtime, source: colab)\n")
    assert f"\n  selector:  {release.id}\n" in out
    rows = read_requires_tsv((bundle.parent / "google-colab-requires.tsv").read_text(encoding="utf-8"))
    row = [r for r in rows if r.date <= release.date][-1]
    assert f"google-colab's declared requirements (google-colab-requires.tsv line {row.line}" in out
    for requirement in row.requirements:
        assert f"\n  {requirement}\n" in out
    assert "pandas==" in out and "ipython==" in out


def test_show_json_is_a_snapshot(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "snapshots", "show", "colab-tpu:2025-01-01", "--format", "json")
    assert code == 0
    snapshot = snapshot_from_json(out)
    assert snapshot.kind == "tpu" and snapshot.date is not None and snapshot.date.year <= 2025
    # before the first named runtime version: the date alone names it (the JSON form keeps it through a round trip)
    assert snapshot.name == f"colab-tpu {snapshot.date.date()}" and snapshot.version_name is None
    assert snapshot.id.startswith("colab-tpu@")


def test_list_text_and_filters(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "snapshots", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["DATE", "KIND", "PYTHON", "PACKAGES", "RUNTIME", "SELECTOR", "UPSTREAM"]
    catalog = Catalog.open(load_source("colab"))
    assert len(lines) == 1 + len(catalog.releases) + 3
    assert lines[-3].startswith(f"{len(catalog.releases)} releases (")
    assert lines[-2].startswith("RUNTIME: the named runtime version a notebook can select")
    assert "3.7*" in out and lines[-1].startswith("* Python not recorded")
    newest = lines[-4].split()
    assert newest[0] == "2026-08-19" and newest[2] == "3.13.15" and newest[4:6] == ["after", "2026.07"]
    # each named runtime version is the row of the release in force at its moment
    for version in catalog.tables.runtime_versions:
        release = catalog.at("cpu", version.date)
        assert release is not None
        (row,) = [line.split() for line in lines if release.id in line.split()]
        assert row[4] == version.name and row[0] == release.date.date().isoformat()

    code, out, _ = _run(capsys, "snapshots", "list", "--runtime", "gpu", "--since", "2026-08-01",
                        "--until", "2026-08-14")
    rows = out.splitlines()[1:-1]
    assert rows and all(r.split()[1] == "gpu" and "2026-08-01" <= r.split()[0] <= "2026-08-14" for r in rows)
    assert "*" not in out


def test_list_json(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "snapshots", "list", "--runtime", "cpu", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["source"] == "colab"
    assert {r["kind"] for r in data["releases"]} == {"cpu"}
    assert data["releases"][-1]["python"] == "3.13.15"
    # the name people use beside the exact commit
    named = [r for r in data["releases"] if r["version_name"] == "2025.07"]
    assert len(named) == 1 and named[0]["name"] == f"colab 2025.07 ({named[0]['date'][:10]})"
    assert len(named[0]["commit"]) == 40


def test_diff_text_and_json(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "snapshots", "diff", "colab:2025.07", "colab:2026.01")
    assert code == 0
    assert "Python: 3.11.13 -> 3.12.12" in out
    assert "upgraded (" in out and "[major]" in out and "major version changes (" in out
    code, out, _ = _run(capsys, "snapshots", "diff", "colab:2025.07", "colab:2026.01", "--format", "json")
    data = json.loads(out)
    assert data["python"] == {"old": "3.11.13", "new": "3.12.12"}
    assert data["major"]


def test_capture_to_stdout_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "snapshots", "capture")
    assert code == 0 and "pytest" in snapshot_from_json(out).by_name
    target = tmp_path / "here.json"
    code, _, err = _run(capsys, "snapshots", "capture", "-o", str(target))
    assert code == 0 and "wrote the current environment" in err
    assert snapshot_from_json(target.read_text(encoding="utf-8")).source == "current"
    code, _, err = _run(capsys, "snapshots", "capture", "-o", str(target))
    assert code == 2 and f"{target}: the file exists; give --force to overwrite it" in err
    code, _, _ = _run(capsys, "snapshots", "capture", "-o", str(target), "--force")
    assert code == 0


def test_errors_are_one_line_and_exit_2(colab_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "snapshots", "show", "colab:1999-01-01")
    assert code == 2 and out == ""
    assert err.startswith("tfconflict: error: 'colab:1999-01-01': 1999-01-01 is before the first cpu release")


def test_show_freeze_file_reports_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "freeze.txt"
    path.write_text("numpy==2.0.2\nnot a pin!\n", encoding="utf-8")
    code, out, _ = _run(capsys, "snapshots", "show", str(path), "--python", "3.12", "--pins")
    assert code == 0
    assert "python:    3.12  (given (--python))" in out
    assert f"  {path}:2: not a freeze line" in out
    assert "  numpy==2.0.2" in out


def test_sync_with_colab_repo(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path))
    code, out, _ = _run(capsys, "snapshots", "sync", "--colab-repo", str(bundle))
    assert code == 0
    assert out.startswith(f"cloned colab from {bundle.resolve()} (given)")
    assert "releases (526 cpu, 40 gpu, 302 tpu), 2022-09-13 to 2026-08-19" in out
    assert "google-colab-requires.tsv: copied from" in out
    code, out, _ = _run(capsys, "snapshots", "sync", "--colab-repo", str(bundle), "--format", "json")
    assert code == 0 and json.loads(out)["cloned"] is False


def test_env_variable_names_the_origin(tmp_path: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TFCONFLICT_COLAB_REPO", str(bundle))
    code, out, _ = _run(capsys, "snapshots", "list", "--runtime", "tpu")
    assert code == 0 and "no synced copy of the colab history yet" in caplog.text
    assert out.splitlines()[-2].startswith("302 releases (302 tpu)")


def test_snapshot_options_for_other_commands(colab_cache: Path, tmp_path: Path) -> None:
    import argparse

    from analyzer.cli.common import add_snapshot_options, snapshot_from_args

    parser = argparse.ArgumentParser()
    add_snapshot_options(parser)
    assert snapshot_from_args(parser.parse_args([])).kind == "cpu"
    assert snapshot_from_args(parser.parse_args(["--snapshot", "colab-gpu:2026-02-01"])).kind == "gpu"
    path = tmp_path / "f.txt"
    path.write_text("numpy==2.0.2\n", encoding="utf-8")
    args = parser.parse_args(["--snapshot", str(path), "--python", "3.10", "--platform", "manylinux2014_x86_64"])
    snapshot = snapshot_from_args(args)
    assert (snapshot.python, snapshot.platform.glibc) == ("3.10", "2.17")
