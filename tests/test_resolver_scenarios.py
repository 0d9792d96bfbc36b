"""Scenario tests: each ``tests/scenarios/*.toml`` is a small index, an image and a request with the outcome pip has.

A scenario may hold variants (another request, keep/free/ignore_edges) over the same data. The expected outcome
names versions, origins, warning kinds, conflict causes and their chains, and for pip predictions the change set
and the post-install lines worded as pip words them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.pip_prediction import predict
from analyzer.resolver import Resolution, resolve
from analyzer.session import Session
from tests.memsource import Scenario, load_scenario, scenario_names


def _cases() -> list[Any]:
    out = []
    for name in scenario_names():
        scenario = load_scenario(name)
        out.append(pytest.param(scenario, scenario.data, id=name))
        for i, variant in enumerate(scenario.data.get("variant", [])):
            out.append(pytest.param(scenario, variant, id=f"{name}-variant{i + 1}"))
    return out


def _names(value: Any, scenario: Scenario) -> tuple[NormalizedName, ...]:
    if value == "*":
        return tuple(p.name for p in scenario.snapshot.pins)
    return tuple(canonicalize_name(n) for n in value or ())


def _run(scenario: Scenario, case: Mapping[str, Any]) -> Resolution:
    request = [Requirement(r) for r in case.get("request", scenario.data.get("request", []))]
    return resolve(
        request,
        Session.open(scenario.snapshot, scenario.source, scenario.env),
        keep=_names(case.get("keep"), scenario),
        free=_names(case.get("free"), scenario),
        ignore_edges=tuple(
            (canonicalize_name(a), canonicalize_name(b)) for a, b in case.get("ignore_edges", [])
        ),
    )


@pytest.mark.parametrize(("scenario", "case"), _cases())
def test_scenario(scenario: Scenario, case: Mapping[str, Any]) -> None:
    expected = case["expected"]
    result = _run(scenario, case)
    assert result.ok is expected["ok"], result.conflict.pip_message() if result.conflict else result.mapping
    got = {n: str(d.version) for n, d in result.mapping.items()}
    for name, version in expected.get("versions", {}).items():
        assert got.get(canonicalize_name(name)) == version, got
    for name, origin in expected.get("origins", {}).items():
        assert result.mapping[canonicalize_name(name)].origin.value == origin
    for name in expected.get("absent", []):
        assert canonicalize_name(name) not in result.mapping
    for name, extras in expected.get("extras", {}).items():
        assert result.mapping[canonicalize_name(name)].extras == frozenset(extras)
    kinds = {w.kind.value for w in result.warnings}
    assert set(expected.get("warnings", [])) <= kinds, result.warnings
    messages = {w.message for w in result.warnings}
    assert set(expected.get("warning_text", [])) <= messages, messages
    if not expected["ok"]:
        assert result.conflict is not None
        texts = [c.text for c in result.conflict.causes]
        assert set(expected.get("causes", [])) <= set(texts), texts
        by_text = {c.text: c for c in result.conflict.causes}
        for text, chain in expected.get("chains", {}).items():
            assert list(by_text[text].chain) == chain
        message = result.conflict.pip_message()
        for fragment in expected.get("pip_message_contains", []):
            assert fragment in message


@pytest.mark.parametrize(
    "name", [n for n in scenario_names() if {"changes", "pip_warning"} & set(load_scenario(n).expected)]
)
def test_scenario_pip_prediction(name: str) -> None:
    scenario = load_scenario(name)
    expected = scenario.expected
    prediction = predict(scenario.request, Session.open(scenario.snapshot, scenario.source, scenario.env))
    assert prediction.ok
    if "changes" in expected:
        assert sorted(str(c) for c in prediction.changes) == sorted(expected["changes"])
    if "pip_warning" in expected:
        assert [v.text() for v in prediction.pip_warning] == expected["pip_warning"]
    if "newly_broken" in expected:
        assert [v.future_text() for v in prediction.newly_broken] == expected["newly_broken"]
    if "already_broken" in expected:
        assert [v.future_text() for v in prediction.already_broken] == expected["already_broken"]
    if "severe" in expected:
        assert sorted({s.name for s in prediction.severe}) == expected["severe"]
