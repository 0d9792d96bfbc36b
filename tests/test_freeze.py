"""pip freeze parsing: each form of line, bad lines located, and every line of the real history accounted for."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.catalog import Catalog
from analyzer.freeze import parse_freeze, parse_freeze_line, version_from_url
from analyzer.git import git, read_blobs
from analyzer.sources import load_source

FREEZE = """\
# Do not modify this file directly
absl-py==1.4.0
Legacy_Name===1.0-custom

torch @ https://download.example.org/whl/cpu/torch-2.11.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
jupyter_kernel_gateway @ git+https://github.com/googlecolab/kernel_gateway@b134e99
-e git+https://github.com/example/tool.git@abc123#egg=my_tool
this is not a freeze line
numpy>=1.0
absl-py==2.0
numpy==2.0.2 ; python_version > "3"
"""


def test_every_form_of_line() -> None:
    result = parse_freeze(FREEZE, "pip-freeze.txt")
    pins = {p.name: p for p in result.pins}
    assert pins["absl-py"].version == "1.4.0" and pins["absl-py"].line == 2
    assert pins["legacy-name"].version == "1.0-custom" and pins["legacy-name"].display_name == "Legacy_Name"
    assert pins["torch"].version == "2.11.0+cpu" and pins["torch"].url is not None
    assert pins["google-colab"].version == "1.0.0"
    assert pins["jupyter-kernel-gateway"].version is None
    assert pins["my-tool"].editable and pins["my-tool"].url == "git+https://github.com/example/tool.git@abc123#egg=my_tool"
    assert [(p.file, p.line) for p in result.problems] == [("pip-freeze.txt", n) for n in (9, 10, 11, 12)]
    assert "not a freeze line" in result.problems[0].message
    assert "expected NAME==VERSION" in result.problems[1].message
    assert "listed twice (first on line 2)" in result.problems[2].message
    assert "no environment marker" in result.problems[3].message
    assert str(result.problems[0]).startswith("pip-freeze.txt:9: ")


@pytest.mark.parametrize(
    "line,message",
    [
        ("-r other.txt", "pip option lines"),
        ("-e /src/without/egg", "without a #egg= name"),
        ("pkg==1.*", "a wildcard is not an installed version"),
        ("pkg==1.0\x00", "binary data"),
    ],
)
def test_bad_lines(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_freeze_line(line)


def test_versions_from_urls() -> None:
    assert version_from_url("https://x/numpy-2.0.2-cp311-cp311-linux_x86_64.whl", "numpy") == "2.0.2"
    assert version_from_url("https://x/other-2.0.2-py3-none-any.whl", "numpy") is None
    assert version_from_url("file:///d/google-colab-1.0.0.tar.gz", "google_colab") == "1.0.0"
    assert version_from_url("git+https://x/repo@v1", "repo") is None


@pytest.mark.slow
def test_every_line_of_every_freeze_file_in_the_history_is_parsed_or_reported(colab_cache: Path) -> None:
    catalog = Catalog.open(load_source("colab"))
    names = []
    for files in catalog.decl.kinds:
        commits = git(["log", "--format=%H", "HEAD", "--", files.freeze], cwd=catalog.repo).decode().split()
        names += [f"{c}:{files.freeze}" for c in commits]
    assert len(names) == len(catalog.releases)
    totals = {"lines": 0, "comment_or_blank": 0, "parsed": 0, "reported": 0}
    for name, _, content in read_blobs(catalog.repo, names):
        assert content is not None, name
        text = content.decode("utf-8")
        result = parse_freeze(text, name)
        lines = text.splitlines()
        skipped = sum(1 for line in lines if not line.strip() or line.strip().startswith("#"))
        totals["lines"] += len(lines)
        totals["comment_or_blank"] += skipped
        totals["parsed"] += len(result.pins)
        totals["reported"] += len(result.problems)
        assert len(lines) == skipped + len(result.pins) + len(result.problems), name
        assert all(p.file == name and p.line is not None and 1 <= p.line <= len(lines) for p in result.problems)
        assert sorted(p.line for p in result.pins if p.line) == [
            n for n, line in enumerate(lines, 1) if line.strip() and not line.strip().startswith("#")
            and n not in {p.line for p in result.problems}
        ]
    assert totals["lines"] == totals["comment_or_blank"] + totals["parsed"] + totals["reported"]
    assert totals["parsed"] > 300_000  # 868 files of 400-700 pins
    print(f"freeze lines in the history: {totals}")
