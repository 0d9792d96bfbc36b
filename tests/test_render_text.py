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
    short, full = render_text(report), render_text(report, full=True)
    # the default text says how many and where the list is; --full (and -v) list every line
    assert "pip check of the image lists 7 violation(s)" in short and "(--full lists each)" in short
    assert not any(line in short for line in listed)
    assert all(line in full for line in listed) and "--full" not in full
    assert all(line in render_text(report, verbose=True) for line in listed)
