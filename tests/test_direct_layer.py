"""The two layers of the conflicting set: the direct conflicts (pip's view: an installed version binds only where the
resolution reaches it) checked by a brute force written here, the knock-on breakage grouped by direct member, the
report's JSON (schema /2) and a default text that stays short while ``--full`` lists everything."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from analyzer.check import run_check
from analyzer.diagnosis.conflict_set import Verdict
from analyzer.render.sections import render_markdown, render_text
from analyzer.report import SCHEMA
from analyzer.request import parse_specs
from tests.memsource import scenario_from_dict
from tests.test_verified_sets import World, images, search


def reached_fits(
    world: World, pins: Mapping[str, str], request: Sequence[str], freed: Collection[str] = ()
) -> bool:
    """pip's view, by brute force: some choice of projects (each absent or one of its versions) satisfies the
    request and the requirements of every project chosen, a pin outside ``freed`` being absent or at its
    installed version (absent: the resolution does not reach it, so it stays as it is and binds nothing)."""
    requested = {canonicalize_name(Requirement(r).name) for r in request}
    names = sorted({canonicalize_name(n) for n in [*world, *pins]})
    versions = {canonicalize_name(n): [Version(v) for v in vs] for n, vs in world.items()}
    requires = {
        (canonicalize_name(n), Version(v)): [Requirement(r) for r in reqs]
        for n, vs in world.items()
        for v, reqs in vs.items()
    }
    kept = {canonicalize_name(n): Version(v) for n, v in pins.items()}
    options = {
        n: [None, kept[n]]
        if n in kept and n not in freed and n not in requested
        else [None, *versions.get(n, [])]
        for n in names
    }
    roots = [Requirement(r) for r in request]

    def holds(req: Requirement, chosen: Mapping[str, Version | None]) -> bool | None:
        dep = canonicalize_name(req.name)
        if dep not in chosen:
            return None
        version = chosen[dep]
        return version is not None and req.specifier.contains(version, prereleases=True)

    def consistent(chosen: Mapping[str, Version | None]) -> bool:
        if any(holds(r, chosen) is False for r in roots):
            return False
        return not any(
            holds(req, chosen) is False
            for name, version in chosen.items()
            if version is not None
            for req in requires.get((canonicalize_name(name), version), [])
        )

    def walk(i: int, chosen: dict[str, Version | None]) -> bool:
        if not consistent(chosen):
            return False
        if i == len(names):
            return True
        return any(walk(i + 1, {**chosen, names[i]: v}) for v in options[names[i]])

    return walk(0, {})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_a_verified_direct_set_is_minimal_in_pips_view(
    case: tuple[dict[str, dict[str, list[str]]], dict[str, str], list[str]],
) -> None:
    world, pins, request = case
    result = search(world, pins, request)
    direct = result.direct
    assert direct is not None
    if direct.fits:
        assert reached_fits(world, pins, request)
        return
    if direct.unresolvable:
        assert not reached_fits(world, pins, request, freed=pins)
        return
    if not direct.verified:
        assert direct.doubt
        return
    freed = set(direct.names)
    assert freed and reached_fits(world, pins, request, freed)
    for member in freed:
        assert not reached_fits(world, pins, request, freed - {member}), (member, direct)
    for alternative in direct.alternatives:
        assert reached_fits(world, pins, request, alternative)


# The image: "plot" and "cache" were built against lib 2, and the request needs lib below 2. Only lib is in the
# way of the request (pip would just downgrade it); restoring a consistent image moves plot and cache too.
LAYERS: dict[str, Any] = {
    "image": {"pins": ["lib==2.0", "plot==2.0", "cache==2.0", "other==1.0"]},
    "package": [
        {"name": "lib", "version": "1.0"},
        {"name": "lib", "version": "2.0"},
        {"name": "plot", "version": "1.0", "requires": ["lib<2"]},
        {"name": "plot", "version": "2.0", "requires": ["lib>=2"]},
        {"name": "cache", "version": "1.0", "requires": ["lib<2"]},
        {"name": "cache", "version": "2.0", "requires": ["lib>=2"]},
        {"name": "other", "version": "1.0"},
        {"name": "app", "version": "1.0", "requires": ["lib<2", "other"]},
    ],
}


def _layers_report() -> Any:
    scenario = scenario_from_dict("layers", LAYERS)
    return run_check(parse_specs(["app==1.0"]), scenario.snapshot, scenario.source, with_suggestions=False)


def test_direct_and_whole_image_sets_differ_and_knock_on_groups_by_member() -> None:
    cs = _layers_report().conflict_set
    assert cs is not None and cs.verdict is Verdict.CONFLICT and cs.direct is not None
    direct = cs.direct
    assert direct.verified and direct.names == ("lib",) and not direct.several
    (lib,) = direct.members
    assert (lib.installed, lib.moves_to) == ("2.0", "1.0")
    # the chain runs from the request down to the specifier that excludes lib 2.0
    assert [str(e) for e in lib.reasons] == ["app 1.0 requires lib<2", "the request requires app==1.0"]
    # the knock-on: both packages built against lib 2, under lib
    (group,) = direct.knock_on
    assert group.cause == "lib" and (group.installed, group.moves_to) == ("2.0", "1.0")
    assert sorted(v.name for v in group.broken) == ["cache", "plot"]
    assert direct.broken == 2
    # the whole-image set is the larger one, and it contains the direct set
    assert cs.best is not None and set(cs.best.names) == {"lib", "plot", "cache"} and cs.best.verified


def test_the_json_has_both_layers_under_schema_2() -> None:
    data = json.loads(json.dumps(_layers_report().to_json_dict()))
    assert data["schema"] == SCHEMA == "tfconflict.report/2"
    cs = data["conflict_set"]
    direct, knock_on = cs["direct"], cs["knock_on"]
    assert {"members", "verified", "doubt", "several"} <= set(direct)
    assert [m["name"] for m in direct["members"]] == ["lib"] and direct["verified"] and not direct["several"]
    assert [r["text"] for r in direct["members"][0]["reasons"]] == [
        "app 1.0 requires lib<2",
        "the request requires app==1.0",
    ]
    assert [g["cause"] for g in knock_on["groups"]] == ["lib"]
    assert sorted(v["name"] for v in knock_on["groups"][0]["broken"]) == ["cache", "plot"]
    # the whole-image layer is today's sets, which stay where they were too
    assert knock_on["whole_image"] == cs["sets"]
    assert {m["name"] for m in cs["sets"][0]["members"]} == {"lib", "plot", "cache"}


# Twelve tools need lib 2; the request needs lib below 2: one cause, a long list.
MANY: dict[str, Any] = {
    "image": {"pins": ["lib==2.0", *(f"tool{i:02}==1.0" for i in range(12))]},
    "package": [
        {"name": "lib", "version": "1.0"},
        {"name": "lib", "version": "2.0"},
        *({"name": f"tool{i:02}", "version": "1.0", "requires": ["lib>=2"]} for i in range(12)),
        {"name": "app", "version": "1.0", "requires": ["lib<2"]},
    ],
}


def test_the_default_text_cuts_lists_and_full_shows_everything() -> None:
    scenario = scenario_from_dict("many", MANY)
    report = run_check(parse_specs(["app==1.0"]), scenario.snapshot, scenario.source, with_suggestions=False)
    short, full = render_text(report), render_text(report, full=True)
    # the direct conflict leads, with its chain to the request, in at most three lines
    head = short.split("Direct conflicts:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert head[1:] == ["  lib 2.0 -> 1.0: the request -> app 1.0 requires lib<2"]
    # newly broken grouped by cause, cut with "and N more"
    assert (
        "lib 2.0 -> 1.0 breaks 12: tool00 needs >=2, tool01 needs >=2, tool02 needs >=2, and 9 more" in short
    )
    assert "tool11" not in short
    assert "Knock-on: moving the direct conflicts leaves 12 preinstalled package(s) broken" in short
    assert len(short.splitlines()) < len(full.splitlines())
    # --full lists every broken package, the knock-on groups and the whole-image set
    assert all(f"tool{i:02} 1.0 needs >=2" in full for i in range(12))
    assert "Whole-image set" in full and "and 9 more" not in full
    # markdown follows the same order
    markdown = render_markdown(report)
    assert (
        markdown.index("Direct conflicts")
        < markdown.index("What pip would do")
        < markdown.index("Newly broken")
    )


# "r" 2.0 needs x below 2, "r" 1.0 needs y below 2: moving x or moving y lets the request in, and both are reached.
EITHER: dict[str, Any] = {
    "x": {"1.0": [], "2.0": []},
    "y": {"1.0": [], "2.0": []},
    "r": {"1.0": ["y<2", "x"], "2.0": ["x<2", "y"]},
}


def test_several_minimal_sets_are_said_and_each_is_one() -> None:
    pins = {"x": "2.0", "y": "2.0"}
    direct = search(EITHER, pins, ["r"]).direct
    assert direct is not None and direct.verified and direct.several
    found = [set(direct.names), *(set(a) for a in direct.alternatives)]
    assert sorted(map(sorted, found)) == [["x"], ["y"]]
    for freed in found:
        assert reached_fits(EITHER, pins, ["r"], freed) and not reached_fits(EITHER, pins, ["r"])


def test_a_question_cut_by_its_round_limit_leaves_the_layer_unverified() -> None:
    world: dict[str, dict[str, list[str]]] = {
        "x": {"1.0": [], "2.0": []},
        "y": {"1.0": [], "2.0": []},
        "r": {"1.0": ["x<2", "y<2"]},
    }
    direct = search(world, {"x": "2.0", "y": "2.0"}, ["r"], max_rounds=1).direct
    # nothing was answered: not "fails", not verified, and the doubt says why
    assert direct is not None and not direct.verified and not direct.unresolvable
    assert "not answered" in direct.doubt
    # with the rounds it needs, the same question is answered and verified
    answered = search(world, {"x": "2.0", "y": "2.0"}, ["r"]).direct
    assert answered is not None and answered.verified and set(answered.names) == {"x", "y"}
