"""The text report keeps long lists short: a cut list says how many lines it left out, and ``-v`` shows them."""

from __future__ import annotations

from analyzer.check import run_check
from analyzer.render.sections import render_text
from analyzer.request import parse_specs
from tests.memsource import scenario_from_dict

# seven preinstalled tools each need a newer "base" than the image has: pip check lists seven lines before any install
IMAGE = {
    "image": {"pins": ["base==1.0", "extra==1.0", *(f"tool{i}==1.0" for i in range(7))]},
    "package": [
        {"name": "base", "version": "1.0"},
        {"name": "extra", "version": "1.0"},
        {"name": "extra", "version": "2.0"},
        *({"name": f"tool{i}", "version": "1.0", "requires": ["base>=2"]} for i in range(7)),
    ],
}


def test_a_long_pip_check_list_is_cut_and_says_how_many_more() -> None:
    scenario = scenario_from_dict("long-lists", IMAGE)
    report = run_check(parse_specs(["extra==2.0"]), scenario.snapshot, scenario.source)
    listed = [v.text() for v in report.preexisting]
    assert len(listed) == 7
    short, full = render_text(report), render_text(report, verbose=True)
    assert "... and 2 more (-v lists them all)" in short
    assert sum(line in short for line in listed) == 5
    assert all(line in full for line in listed) and "more (-v" not in full
