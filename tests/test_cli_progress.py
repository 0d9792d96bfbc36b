"""Signs of life on a non-terminal stderr: one line per stage once a run has lasted a while, none for a quick one."""

from __future__ import annotations

import time

import pytest

from analyzer.check import run_check
from analyzer.cli.indexopts import StageLines
from analyzer.request import parse_specs
from tests.memsource import scenario_from_dict


def test_a_run_past_the_threshold_says_each_stage_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = scenario_from_dict(
        "tiny",
        {
            "image": {"pins": ["base==1.0"]},
            "package": [
                {"name": "base", "version": "1.0"},
                {"name": "app", "version": "1.0", "requires": ["base"]},
            ],
        },
    )
    lines = StageLines(after=0.0)
    run_check(parse_specs(["app"]), scenario.snapshot, scenario.source, on_stage=lines)
    lines.close()
    captured = capsys.readouterr()
    said = [line for line in captured.err.splitlines() if line.startswith("tfconflict: ")]
    assert said[0].startswith("tfconflict: installable... (") and any("pip prediction" in s for s in said)
    assert captured.out == ""


def test_a_quick_run_says_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    lines = StageLines(after=60.0)
    for stage in ("installable", "index pages", "pip prediction"):
        lines(stage)
    lines.close()
    assert capsys.readouterr().err == ""


def test_a_stage_that_outlasts_the_threshold_is_said_while_it_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = StageLines(after=0.1)
    lines("image metadata")
    deadline = time.monotonic() + 10
    err = ""
    while "image metadata" not in err and time.monotonic() < deadline:
        time.sleep(0.05)
        err += capsys.readouterr().err
    lines.close()
    assert "tfconflict: image metadata... (0 s)" in err
