"""os-info files: the distribution line gives glibc, the Python line the interpreter; all of the real history."""

from __future__ import annotations

from pathlib import Path

from analyzer.catalog import Catalog
from analyzer.git import git, read_blobs
from analyzer.osinfo import glibc_for, parse_os_info
from analyzer.sources import load_source


def test_colab_os_info() -> None:
    text = "# generated\nUbuntu 22.04.5 LTS\nPython 3.13.15\nR version 4.6.1 (2026-06-24)\njulia version 1.12.6\n"
    info = parse_os_info(text, "os-info.txt")
    assert info.python == "3.13.15"
    assert info.platform.glibc == "2.35" and info.platform.distro == "ubuntu"
    assert info.platform.description == "Ubuntu 22.04.5 LTS" and info.platform.machine == "x86_64"
    assert info.problems == ()


def test_problems_are_located() -> None:
    info = parse_os_info("Ubuntu 31.04 LTS\nPython three\n", "os-info-x.txt")
    assert [str(p) for p in info.problems] == [
        "os-info-x.txt:1: unknown glibc for 'Ubuntu 31.04 LTS'; manylinux wheels limited",
        "os-info-x.txt:2: not a Python version: 'three'",
        "os-info-x.txt: no 'Python X.Y.Z' line",
    ]


def test_glibc_table() -> None:
    assert glibc_for("ubuntu", "22.04.4") == "2.35"
    assert glibc_for("debian", "12") == "2.36"
    assert glibc_for("ubuntu", "9.10") is None


def test_every_os_info_file_of_the_history_parses(colab_cache: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    names = []
    for files in catalog.decl.kinds:
        assert files.os_info
        commits = git(["log", "--format=%H", "HEAD", "--", files.os_info], cwd=catalog.repo).decode().split()
        names += [f"{c}:{files.os_info}" for c in commits]
    assert len(names) > 40
    for name, _, content in read_blobs(catalog.repo, names):
        assert content is not None, name
        info = parse_os_info(content.decode(), name)
        assert info.problems == (), name
        assert info.python is not None and info.python.count(".") == 2
        assert info.platform.glibc == "2.35"
