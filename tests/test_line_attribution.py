"""Per-line findings of a requirements file (hook, ``--format github``): each line is blamed only for what its own
requirement causes in the predicted install, a change several lines cause names the others, a line causing
nothing gets nothing, and a line that cannot be installed is reported without hiding the rest of the file."""

from __future__ import annotations

from typing import Any

from packaging.requirements import Requirement

from analyzer.ask import without_bad_lines
from analyzer.check import run_check
from analyzer.render.github import causes_by_line, findings, render_github
from analyzer.render.sections import render_text
from analyzer.report import Report, Verdict
from analyzer.request import RequestItem
from tests.memsource import scenario_from_dict

WHEEL = ["cp311-cp311-manylinux_2_17_x86_64"]

IMAGE: dict[str, Any] = {
    "image": {
        "python": "3.11.13",
        "pins": [
            "tensorflow==2.18.0",
            "numpy==2.0.2",
            "keras==3.8.0",
            "scikit-learn==1.6.1",
            "albucore==0.0.24",  # needs numpy>=1.24.4: numpy<2 alone keeps it whole, tensorflow 2.12 does not
            "thinc==8.3.6",  # needs numpy>=2: both the numpy line and tensorflow's numpy<1.24 break it
            "imbalanced-learn==0.13.0",  # needs scikit-learn>=1.3.2: only the scikit-learn line breaks it
            "six==1.17.0",
        ],
    },
    "package": [
        {"name": "tensorflow", "version": "2.18.0", "requires": ["numpy>=1.26", "keras>=3.5"], "files": WHEEL},
        {
            "name": "tensorflow",
            "version": "2.12.0",
            "requires": ["numpy<1.24,>=1.22", "keras<2.13,>=2.12.0"],
            "files": WHEEL,
        },
        *({"name": "numpy", "version": v, "files": WHEEL} for v in ("1.23.5", "1.26.4", "2.0.2")),
        {"name": "keras", "version": "2.12.0"},
        {"name": "keras", "version": "3.8.0"},
        {"name": "scikit-learn", "version": "1.2.2", "requires": ["numpy>=1.17.3"], "files": WHEEL},
        {"name": "scikit-learn", "version": "1.6.1", "requires": ["numpy>=1.19.5"], "files": WHEEL},
        {"name": "albucore", "version": "0.0.24", "requires": ["numpy>=1.24.4"]},
        {"name": "thinc", "version": "8.3.6", "requires": ["numpy<3.0.0,>=2.0.0"]},
        {"name": "imbalanced-learn", "version": "0.13.0", "requires": ["scikit-learn<2,>=1.3.2"]},
        {"name": "six", "version": "1.17.0"},
    ],
}


def _lines(*specs: str) -> tuple[RequestItem, ...]:
    return tuple(RequestItem(Requirement(s), "requirements.txt", n) for n, s in enumerate(specs, start=1))


def _check(*specs: str) -> Report:
    scenario = scenario_from_dict("lines", IMAGE)
    return without_bad_lines(
        _lines(*specs),
        scenario.snapshot,
        lambda asked: run_check(asked, scenario.snapshot, scenario.source, conflict_set=False, with_suggestions=False),
    )


def _by_line(report: Report) -> dict[int, str]:
    out: dict[int, str] = {}
    for finding in findings(report):
        assert finding.file == "requirements.txt" and finding.line is not None
        assert finding.line not in out, "one finding per line"
        out[finding.line] = finding.message
    return out


FILE = ("tensorflow==2.12.0", "numpy<2", "scikit-learn==1.2.2", "six", "tensorflw==2.12")


def test_each_line_is_blamed_only_for_what_it_causes() -> None:
    report = _check(*FILE[:4])
    assert report.verdict is Verdict.BREAKS
    lines = _by_line(report)
    tf, np, sk = lines[1], lines[2], lines[3]
    assert "keras 3.8.0 -> 2.12.0" in tf and "tensorflow 2.18.0 -> 2.12.0" in tf
    assert "albucore" in tf and "imbalanced-learn" not in tf and "scikit-learn 1.6.1" not in tf
    # numpy<2 moves numpy, but numpy 1.26.4 would keep albucore whole: only tensorflow's numpy<1.24 breaks it
    assert "numpy 2.0.2 -> 1.23.5" in np and "keras" not in np and "tensorflow" not in np.split(":")[0]
    assert "thinc" in np and "albucore" not in np
    # scikit-learn 1.2.2 accepts numpy 2.0.2: the numpy move is not its doing
    assert "scikit-learn 1.6.1 -> 1.2.2" in sk and "imbalanced-learn" in sk
    assert "numpy" not in sk and "keras" not in sk and "thinc" not in sk


def test_a_change_several_lines_cause_names_the_others() -> None:
    lines = _by_line(_check(*FILE[:4]))
    assert "numpy 2.0.2 -> 1.23.5 (also line 2)" in lines[1]
    assert "numpy 2.0.2 -> 1.23.5 (also line 1)" in lines[2]
    assert "thinc 8.3.6 requires numpy<3.0.0,>=2.0.0 (also line 1)" in lines[2]
    assert "albucore 0.0.24 requires numpy>=1.24.4 (also" not in lines[1]


def test_a_line_that_causes_nothing_has_no_annotation() -> None:
    report = _check(*FILE[:4])
    assert 4 not in _by_line(report)  # six is installed and stays
    (six,) = (line for line in causes_by_line(report) if line.item.line == 4)
    assert not six.changes and not six.broken and six.text() == ""
    assert "line=4" not in render_github(report)


def test_a_typo_line_is_reported_and_the_rest_still_analysed() -> None:
    report = _check(*FILE)
    assert report.verdict is Verdict.NOT_INSTALLABLE  # the exit code still fails for the bad line
    assert [item.line for item in report.left_out] == [5]
    lines = _by_line(report)
    assert "no project named tensorflw" in lines[5] and "did you mean tensorflow (preinstalled)?" in lines[5]
    assert "keras 3.8.0 -> 2.12.0" in lines[1] and "imbalanced-learn" in lines[3]
    assert 4 not in lines
    assert [f.severity for f in findings(report)] == ["error"] * 4
    assert any("requirements.txt:5: tensorflw==2.12 cannot be installed" in w for w in report.warnings)
    # pip's part of the text was computed without the bad line, and says so in its heading
    heading = next(line for line in render_text(report).splitlines() if line.startswith("What pip would do"))
    assert "tensorflow==2.12.0" in heading and "tensorflw" not in heading
    # the rest's findings are the same as without the typo line
    assert {n: m for n, m in lines.items() if n != 5} == _by_line(_check(*FILE[:4]))


def test_a_version_that_does_not_exist_is_its_lines_own_finding() -> None:
    report = _check("tensorflow==9.9", "scikit-learn==1.2.2")
    assert report.verdict is Verdict.NOT_INSTALLABLE
    lines = _by_line(report)
    assert "no version of tensorflow matches tensorflow==9.9" in lines[1] and "did you mean" not in lines[1]
    assert "scikit-learn 1.6.1 -> 1.2.2" in lines[2]


def test_a_bad_line_with_a_fitting_rest_still_fails() -> None:
    report = _check("six", "tensorflw")
    assert report.verdict is Verdict.NOT_INSTALLABLE
    assert report.prediction is not None and report.prediction.ok  # the rest was analysed: six fits
    assert list(_by_line(report)) == [2]


def test_only_bad_lines_are_the_plain_not_installable_answer() -> None:
    report = _check("tensorflw")
    assert report.verdict is Verdict.NOT_INSTALLABLE and not report.left_out and report.prediction is None
    assert list(_by_line(report)) == [1]


def test_command_line_requirements_name_each_other_by_requirement() -> None:
    scenario = scenario_from_dict("lines", IMAGE)
    items = tuple(RequestItem(Requirement(s)) for s in ("tensorflow==2.12.0", "numpy<2"))
    report = run_check(items, scenario.snapshot, scenario.source, conflict_set=False, with_suggestions=False)
    tf, np = findings(report)
    assert tf.file is None and "numpy 2.0.2 -> 1.23.5 (also numpy<2)" in tf.message
    assert "numpy 2.0.2 -> 1.23.5 (also tensorflow==2.12.0)" in np.message


MOVED_TO_FIT: dict[str, Any] = {
    "image": {"python": "3.11.13", "pins": ["app==1.0", "lib==1.0"]},
    "package": [
        {"name": "app", "version": "1.0", "requires": ["lib<2"]},
        {"name": "app", "version": "2.0", "requires": ["lib>=2"]},
        {"name": "lib", "version": "1.0"},
        {"name": "lib", "version": "2.0"},
    ],
}


def test_a_move_no_requirement_forces_goes_to_the_lines_reaching_it() -> None:
    """app 1.0 is accepted by its line, but cannot stay beside lib 2: it moves to fit, within its own line."""
    scenario = scenario_from_dict("moved", MOVED_TO_FIT)
    items = _lines("app", "lib>=2")
    report = run_check(items, scenario.snapshot, scenario.source, conflict_set=False, with_suggestions=False)
    assert report.prediction is not None and {str(c) for c in report.prediction.changes} == {
        "app 1.0 -> 2.0",
        "lib 1.0 -> 2.0",
    }
    lines = _by_line(report)
    assert "app 1.0 -> 2.0" in lines[1] and "lib 1.0 -> 2.0 (also line 2)" in lines[1]
    assert "lib 1.0 -> 2.0 (also line 1)" in lines[2] and "app" not in lines[2].split(":", 1)[1]


def test_fail_on_not_installable_keeps_only_the_bad_line_an_error() -> None:
    report = _check(*FILE)
    severities = {f.line: f.severity for f in findings(report, fail_on="not-installable")}
    assert severities == {1: "warning", 2: "warning", 3: "warning", 5: "error"}
