"""Pre-search propagation changes the work, never the answer: with and without it, ``resolve()`` gives the same
verdict and, on success, the same distributions (``analyzer/resolver/propagation.py``'s contract).

Every scenario and variant of ``tests/scenarios/*.toml`` is asked as written and again keeping or freeing every
pin, so that propagation has something to prove; the recorded real data (tensorflow 2.12.0's closure) is asked
the keep-the-image questions the minimal-conflicting-set search asks.
"""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.environment import TargetEnvironment
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import MetadataSource
from analyzer.resolver import Resolution, resolve
from analyzer.session import Session
from analyzer.snapshot import Snapshot
from tests.memsource import Scenario, load_scenario, scenario_names
from tests.test_resolver_recorded import IMAGE, TF212, _snapshot, engine, index_server  # noqa: F401 - fixtures


def _answer(result: Resolution) -> tuple[Any, ...]:
    """What must not change: the verdict, and on success every distribution's version, origin and extras."""
    too_deep = result.conflict.too_deep if result.conflict is not None else False
    mapping = {n: (str(d.version), d.origin.value, sorted(d.extras)) for n, d in result.mapping.items()}
    return (result.ok, too_deep, mapping)


def _both(
    request: Sequence[Requirement],
    snapshot: Snapshot,
    source: MetadataSource,
    env: TargetEnvironment,
    **options: Any,
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    # a session each, so that neither run starts from the other's memos
    with_it = resolve(request, Session.open(snapshot, source, env), propagate=True, **options)
    without = resolve(request, Session.open(snapshot, source, env), propagate=False, **options)
    return _answer(with_it), _answer(without)


def _questions(scenario: Scenario, case: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The case as written, then every pin kept, every pin freed, half of each, and half kept, half removed."""
    pins = [p.name for p in scenario.snapshot.pins]

    def names(value: Any) -> tuple[NormalizedName, ...]:
        return tuple(pins) if value == "*" else tuple(canonicalize_name(n) for n in value or ())

    edges = tuple((canonicalize_name(a), canonicalize_name(b)) for a, b in case.get("ignore_edges", []))
    written = {"keep": names(case.get("keep")), "free": names(case.get("free")), "ignore_edges": edges}
    half = len(pins) // 2
    return [
        written,
        {"keep": tuple(pins), "ignore_edges": edges},
        {"free": tuple(pins), "ignore_edges": edges},
        {"keep": tuple(pins[:half]), "free": tuple(pins[half:]), "ignore_edges": edges},
        {"keep": tuple(pins[half:]), "free": tuple(pins[:half]), "ignore_edges": edges},
        # removed pins leave the installed map: propagation must not lean on them either
        {"keep": tuple(pins[half:]), "removed": tuple(pins[:half]), "ignore_edges": edges},
    ]


def _cases() -> list[Any]:
    out = []
    for name in scenario_names():
        scenario = load_scenario(name)
        cases = [scenario.data, *scenario.data.get("variant", [])]
        for i, case in enumerate(cases):
            for j, question in enumerate(_questions(scenario, case)):
                out.append(pytest.param(scenario, case, question, id=f"{name}-{i}-{j}"))
    return out


@pytest.mark.parametrize(("scenario", "case", "question"), _cases())
def test_scenarios_answer_the_same_with_and_without_propagation(
    scenario: Scenario, case: Mapping[str, Any], question: dict[str, Any]
) -> None:
    request = [Requirement(r) for r in case.get("request", scenario.data.get("request", []))]
    with_it, without = _both(request, scenario.snapshot, scenario.source, scenario.env, **question)
    assert with_it == without


MOVABLE = ("numpy", "keras", "tensorboard", "gast", "ml-dtypes", "jax", "jaxlib", "protobuf", "h5py")


def test_recorded_data_answers_the_same_with_and_without_propagation(engine: MetadataEngine) -> None:
    snapshot = _snapshot()
    env = TargetEnvironment.from_snapshot(snapshot)
    others = [NormalizedName(n) for n in IMAGE if n != "tensorflow"]
    questions: list[dict[str, Any]] = [
        {},
        {"keep": others},  # fails: tf-keras 2.18.0 needs tensorflow 2.18
        {"free": others},
        {"keep": [n for n in others if n not in MOVABLE and n != "tf-keras"], "free": list(MOVABLE)},
        {"keep": ["tf-keras"], "free": [n for n in others if n != "tf-keras"]},
        {"keep": ["scipy", "absl-py", "opt-einsum"], "free": ["jax", "jaxlib", "numpy"]},
        {
            "keep": [n for n in others if n not in MOVABLE],
            "free": ["numpy", "jax"],
            "removed": ["jaxlib", "keras"],
        },
    ]
    verdicts = set()
    for question in questions:
        with_it, without = _both(TF212, snapshot, engine, env, **question)
        assert with_it == without, question
        verdicts.add(with_it[0])
    assert verdicts == {True, False}


def test_a_question_that_removes_a_pin_does_not_change_the_next_ones_answers() -> None:
    """Propagation's memos live on the factory across questions: one that removed a pin (no installed version
    to offer) must not leave its reading for a later question where the pin is installed. Here lib 1 is
    installed but not on the index (a local build), and only x 1 (which needs exactly it) can go with app."""
    from tests.memsource import scenario_from_dict

    scenario = scenario_from_dict(
        "local-pin",
        {
            "package": [
                {"name": "app", "version": "1", "requires": ["lib", "x"]},
                {"name": "x", "version": "1", "requires": ["lib==1"]},
                {"name": "x", "version": "2", "requires": ["lib==3"]},
                {"name": "lib", "version": "2"},
            ],
            "image": {"pins": ["lib==1"]},
        },
    )
    request = [Requirement("app")]
    session = Session.open(scenario.snapshot, scenario.source, scenario.env)
    lib = NormalizedName("lib")
    assert not resolve(request, session, removed=[lib]).ok
    again = resolve(request, session, free=[lib])
    fresh = resolve(request, Session.open(scenario.snapshot, scenario.source, scenario.env), free=[lib])
    assert again.ok and _answer(again) == _answer(fresh)
