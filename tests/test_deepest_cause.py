"""A failed resolution names the project with no version here (``Conflict.unavailable``): which requirement, the
chain from the request to it and its nearest versions that install, instead of "the requirements conflict"."""

from __future__ import annotations

from typing import Any

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer.diagnosis.pip_prediction import PipPrediction, predict, with_unavailable
from analyzer.resolver import Conflict, ConflictCause, Role
from analyzer.session import Session
from tests.memsource import scenario_from_dict

PY313 = {"python": "3.13.5", "pins": ["numpy==2.1.3"]}
OLD_WHEELS = [f"cp3{m}-cp3{m}-manylinux_2_17_x86_64" for m in (9, 10, 11, 12)]
NEW_WHEELS = [*OLD_WHEELS, "cp313-cp313-manylinux_2_17_x86_64"]
BASE: list[dict[str, Any]] = [
    {"name": "numpy", "version": "2.1.3", "files": NEW_WHEELS},
    # a pure-Python project whose extra pins a compiled one (jax[cuda12] 0.4.30 and jaxlib 0.4.30)
    {
        "name": "jax",
        "version": "0.4.30",
        "requires": ["jaxlib<=0.4.30,>=0.4.27", "numpy>=1.22", "jaxlib==0.4.30; extra == 'cuda12'"],
    },
    *({"name": "jaxlib", "version": v, "files": OLD_WHEELS} for v in ("0.4.27", "0.4.30")),
    {"name": "jaxlib", "version": "0.4.34", "files": NEW_WHEELS},
    {"name": "jaxlib", "version": "0.5.0", "files": NEW_WHEELS},
]


def _predict(packages: list[dict[str, Any]], *specs: str, image: dict[str, Any] = PY313) -> PipPrediction:
    s = scenario_from_dict("deepest", {"image": image, "package": packages})
    return predict([Requirement(x) for x in specs], Session.open(s.snapshot, s.source, s.env))


def _conflict(packages: list[dict[str, Any]], *specs: str) -> Conflict:
    p = _predict(packages, *specs)
    assert not p.ok and p.conflict is not None
    return p.conflict


def test_a_dependency_with_wheels_for_other_interpreters_only_is_named() -> None:
    conflict = _conflict(BASE, "jax[cuda12]==0.4.30")
    [found] = conflict.unavailable
    assert found.name == "jaxlib"
    assert found.nearest == ("0.4.34",)
    assert "cp312" in found.evidence and "cp313" not in found.evidence
    assert found.chains[0][0].startswith("The user requested jax")
    assert found.chains[0][-1].startswith("jax 0.4.30 depends on jaxlib")
    reason = conflict.reason()
    assert "which has no distribution for Python 3.13 (linux x86_64)" in reason
    assert reason.endswith("nearest versions that install: 0.4.34")


def test_requires_python_that_excludes_this_python_is_named() -> None:
    packages: list[dict[str, Any]] = [
        {"name": "numpy", "version": "2.1.3", "files": NEW_WHEELS},
        {"name": "app", "version": "1.0", "requires": ["helper<2"]},
        {"name": "helper", "version": "1.5", "requires_python": "<3.13"},
        {"name": "helper", "version": "1.2", "requires_python": ">=3.8,<3.13"},
        {"name": "helper", "version": "1.0", "requires_python": ">=3.8"},
        {"name": "helper", "version": "2.0", "requires_python": ">=3.8"},
    ]
    # helper 1.0 still fits: no failure, nothing to name
    assert _predict(packages, "app").ok
    packages = [
        *packages[:1],
        {"name": "app", "version": "1.0", "requires": ["helper>1.1,<2"]},
        *packages[2:],
    ]
    [found] = _conflict(packages, "app").unavailable
    assert (found.name, found.requirement) == ("helper", "helper<2,>1.1")
    assert "Requires-Python" in found.evidence
    assert found.nearest == ("1.0", "2.0")


def test_each_alternative_a_backtracking_resolver_tried_is_named() -> None:
    packages = [
        *BASE,
        {"name": "tool", "version": "2.0", "requires": ["jaxlib==0.4.30"]},
        {"name": "tool", "version": "1.0", "requires": ["jaxlib==0.4.27"]},
    ]
    conflict = _conflict(packages, "tool")
    assert sorted(u.requirement for u in conflict.unavailable) == ["jaxlib==0.4.27", "jaxlib==0.4.30"]
    assert all(u.nearest == ("0.4.34",) for u in conflict.unavailable)


LIB: list[dict[str, Any]] = [
    {"name": "numpy", "version": "2.1.3", "files": NEW_WHEELS},
    {"name": "lib", "version": "1.0"},
    {"name": "lib", "version": "2.0", "files": OLD_WHEELS},
    {"name": "lib", "version": "3.0", "files": NEW_WHEELS},
]


def test_requirements_that_meet_only_on_versions_without_a_wheel_here_are_named_together() -> None:
    packages = [
        *LIB,
        {"name": "low", "version": "1.0", "requires": ["lib<=2.0"]},
        {"name": "high", "version": "1.0", "requires": ["lib>=2.0"]},
    ]
    # each alone is met here (1.0, 3.0); together only by 2.0, which has no cp313 wheel
    conflict = _conflict(packages, "low", "high")
    [found] = conflict.unavailable
    assert found.name == "lib"
    assert {c.parent for c in found.causes} == {"low", "high"}
    assert found.nearest == ("1.0", "3.0")
    assert "together lib<=2.0,>=2.0, which has no distribution" in found.reason()


def test_a_plain_conflict_names_nothing() -> None:
    packages = [
        *LIB,
        {"name": "low", "version": "1.0", "requires": ["lib<2.0"]},
        {"name": "high", "version": "1.0", "requires": ["lib>=3.0"]},
    ]
    conflict = _conflict(packages, "low", "high")
    assert conflict.unavailable == ()
    assert conflict.reason() == "the requirements conflict"


def test_a_dependency_that_exists_nowhere_is_named() -> None:
    packages = [*BASE, {"name": "app", "version": "1.0", "requires": ["jaxlib>=9"]}]
    [found] = _conflict(packages, "app").unavailable
    assert found.missing == "matches no version of jaxlib"
    assert found.nearest == ("0.5.0",)


def test_the_chain_runs_from_the_request_down_to_the_missing_project() -> None:
    packages = [
        *LIB,
        {"name": "app", "version": "1.0", "requires": ["mid>=1"]},
        {"name": "mid", "version": "1.0", "requires": ["lib==2.0"]},
        {"name": "mid", "version": "1.1", "requires": ["lib>=2.0,<3"]},
    ]
    conflict = _conflict(packages, "app")
    assert sorted(u.requirement for u in conflict.unavailable) == ["lib<3,>=2.0", "lib==2.0"]
    for found in conflict.unavailable:
        [chain] = found.chains
        assert chain[:2] == ("The user requested app", "app 1.0 depends on mid>=1")
        assert chain[2].startswith("mid 1.")
        assert found.nearest == ("1.0", "3.0")
    assert conflict.reason().count("which has no distribution for Python 3.13") == 2


def test_versions_that_are_only_yanked_are_said_to_be_yanked() -> None:
    packages = [
        *LIB,
        {"name": "lib", "version": "2.5", "files": NEW_WHEELS, "yanked": "broken"},
        {"name": "app", "version": "1.0", "requires": ["lib>2.0,<3"]},
    ]
    [found] = _conflict(packages, "app").unavailable
    assert found.missing.startswith("is met here only by yanked versions (2.5)")
    assert found.nearest == ("1.0", "3.0")


def test_an_interpreter_cause_is_worded_as_pip_words_it() -> None:
    packages = [
        *LIB,
        {"name": "app", "version": "1.0", "requires": ["old"]},
        {"name": "old", "version": "1.0", "metadata_requires_python": "<3.13"},
    ]
    conflict = _conflict(packages, "app")
    assert conflict.unavailable == ()
    assert conflict.reason() == "Package 'old' requires a different Python: 3.13.5 not in '<3.13'"


def test_two_requirements_of_one_parent_that_meet_only_without_a_wheel_here_are_named_together() -> None:
    conflict = _conflict(
        [*LIB, {"name": "app", "version": "1.0", "requires": ["lib<=2.0", "lib>=2.0"]}], "app"
    )
    [found] = conflict.unavailable
    assert (found.requirement, len(found.causes)) == ("lib<=2.0,>=2.0", 2)


def test_two_versions_of_one_parent_are_alternatives_not_a_joint_requirement() -> None:
    s = scenario_from_dict("deepest", {"image": PY313, "package": LIB})
    session = Session.open(s.snapshot, s.source, s.env)

    def cause(requirement: str, parent: str, version: str) -> ConflictCause:
        name = NormalizedName("lib")
        return ConflictCause(name, requirement, requirement, Role.DEPENDENCY, NormalizedName(parent), version)

    alternatives = Conflict(causes=(cause("lib<=2.0", "mid", "1.0"), cause("lib>=2.0", "mid", "1.1")))
    assert with_unavailable(alternatives, session).unavailable == ()
    joint = Conflict(causes=(cause("lib<=2.0", "mid", "1.0"), cause("lib>=2.0", "top", "1.0")))
    assert [u.requirement for u in with_unavailable(joint, session).unavailable] == ["lib<=2.0,>=2.0"]


def test_wheels_for_another_platform_only_are_named() -> None:
    packages = [
        *LIB,
        {"name": "maclib", "version": "1.0", "files": ["cp313-cp313-macosx_11_0_arm64"]},
        {"name": "app", "version": "1.0", "requires": ["maclib"]},
    ]
    [found] = _conflict(packages, "app").unavailable
    assert found.missing == "has no distribution for Python 3.13 (linux x86_64)"
    assert "macOS" in found.evidence
    assert found.nearest == ()
    assert found.reason().endswith("no version of it installs here")
