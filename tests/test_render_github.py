"""``--format github``: workflow commands escaped as GitHub's toolkit escapes them, one per finding, on the
requirement's file and line (none for a command-line requirement), severity from ``fail-on``."""

# ruff: noqa: F811 - fixtures are imported by name, then taken as parameters
from __future__ import annotations

from importlib import import_module
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.render import FORMATS, RENDERERS, renderer
from analyzer.render.github import Finding, escape_data, escape_property, workflow_command
from tests.indexserver import FixtureIndex
from tests.test_cli_check_files import CONFLICTING, project, shared_index, warm_cache  # noqa: F401 - fixtures


def test_data_escapes_percent_and_line_breaks_only() -> None:
    assert escape_data("50% of a\r\nb: c, d") == "50%25 of a%0D%0Ab: c, d"
    assert escape_data("%0A") == "%250A"  # the percent first, so an escape in the text is not read as one


def test_property_escapes_colon_and_comma_too() -> None:
    assert escape_property("dir,x/req:1.txt") == "dir%2Cx/req%3A1.txt"
    assert escape_property("a%b\nc") == "a%25b%0Ac"


def test_workflow_command_shapes() -> None:
    assert workflow_command("error", "m", file="requirements.txt", line=3) == (
        "::error file=requirements.txt,line=3,title=tfconflict::m"
    )
    assert workflow_command("warning", "two\nlines") == "::warning title=tfconflict::two%0Alines"
    assert workflow_command("error", "x: y, z", file="a,b.txt", line=1) == (
        "::error file=a%2Cb.txt,line=1,title=tfconflict::x: y, z"
    )


def test_finding_prints_as_a_linter_line() -> None:
    assert str(Finding("error", "numpy>=2 conflicts", "req.txt", 2)) == "req.txt:2: numpy>=2 conflicts"
    assert str(Finding("error", "numpy>=2 conflicts")) == "numpy>=2 conflicts"


def test_every_format_of_the_table_has_its_renderer() -> None:
    assert FORMATS["report"] == ("text", "json", "markdown", "github")
    for subject, table in RENDERERS.items():
        for fmt, entry in table.items():
            assert callable(getattr(import_module(f"analyzer.render.{entry.module}"), entry.function)), (subject, fmt)
    with pytest.raises(ValueError, match="known: text, json, markdown, github"):
        renderer("report", "html")


def test_annotations_land_on_the_conflicting_lines(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("# notebook deps\n" + CONFLICTING)
    code = main(["check", "-r", "requirements.txt", "--format", "github", "--no-suggestions"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    errors = [line for line in out if line.startswith("::error ")]
    assert [e.split("::")[1] for e in errors] == [
        "error file=requirements.txt,line=2,title=tfconflict",
        "error file=requirements.txt,line=3,title=tfconflict",
    ]
    assert errors[1].endswith(
        "::numpy>=2 conflicts with the runtime: pip cannot resolve it: the user requested numpy>=2; "
        "tensorflow 2.12.0 depends on numpy<1.24,>=1.22"
    )
    assert all(line.startswith(("::error ", "::warning ")) for line in out)


def test_command_line_requirements_have_no_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "tensorflow==2.12.0", "--format", "github", "--no-suggestions"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    error = next(line for line in out if line.startswith("::error "))
    assert error.startswith("::error title=tfconflict::tensorflow==2.12.0 conflicts with the runtime: ")
    assert "keras 3.8.0 -> 2.12.0" in error and "numpy 1.26.4 -> 1.23.5" in error


def test_fail_on_not_installable_turns_changes_into_warnings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.12.0\n")
    code = main(
        [
            "check",
            "-r",
            "requirements.txt",
            "--format",
            "github",
            "--no-suggestions",
            "--fail-on",
            "not-installable",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "::error" not in out
    assert "::warning file=requirements.txt,line=1,title=tfconflict::tensorflow==2.12.0 conflicts" in out


def test_a_request_that_fits_gives_a_notice(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("tensorflow==2.18.1\n")
    assert main(["check", "-r", "requirements.txt", "--format", "github", "--no-suggestions"]) == 0
    out = capsys.readouterr().out
    assert "::error" not in out
    assert "::notice title=tfconflict::tensorflow==2.18.1 fits freeze.txt" in out


def test_newly_broken_packages_are_named(
    project: Path, shared_index: FixtureIndex, capsys: pytest.CaptureFixture[str]
) -> None:
    shared_index.wheel("needs-numpy", "1.0", ["numpy>=1.24"])
    (project / "image.txt").write_text("numpy==1.26.4\nneeds-numpy==1.0\n")
    (project / "requirements.txt").write_text("numpy<1.24\n")
    argv = ["check", "-r", "requirements.txt", "--snapshot", "image.txt", "--python", "3.11"]
    assert main([*argv, "--format", "github", "--no-suggestions", "--no-conflict-set"]) == 1
    error = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("::error "))
    assert error == (
        "::error file=requirements.txt,line=1,title=tfconflict::numpy<1.24 conflicts with the runtime: pip would "
        "change preinstalled numpy 1.26.4 -> 1.23.5; pip would leave 1 newly broken: needs-numpy 1.0 requires "
        "numpy>=1.24"
    )


def test_a_typo_line_is_annotated_beside_the_others(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "requirements.txt").write_text("# deps\ntensorflw==2.12\ntensorflow==2.12.0\nsix\n")
    code = main(["check", "-r", "requirements.txt", "--format", "github", "--no-suggestions"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    errors = [line for line in out if line.startswith("::error ")]
    assert [e.split("::")[1] for e in errors] == [
        "error file=requirements.txt,line=2,title=tfconflict",
        "error file=requirements.txt,line=3,title=tfconflict",
    ]  # six (line 4) causes nothing
    assert "::tensorflw==2.12 cannot be installed: no project named tensorflw" in errors[0]
    assert "keras 3.8.0 -> 2.12.0" in errors[1]
