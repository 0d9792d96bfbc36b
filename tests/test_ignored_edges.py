"""The image's own breakage (``pip check`` before any install) is ignored by the keep-the-image questions, but only
for the parent's installed version: a version a question moves the parent to has every requirement enforced, so a
set cannot be called a fit while it leaves a new break behind (``resolver/factory.py``'s ``edge_ignored``)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer.diagnosis.conflict_set import Verdict
from analyzer.diagnosis.pip_prediction import predict
from analyzer.resolver import resolve
from analyzer.session import Session
from tests.test_conflict_set import RESOLVERS, env_of, snapshot_of, world_source
from tests.test_verified_sets import BOUNDS, SPECIFIERS, assert_sets_are_what_they_claim, search

# torch 2.6 as installed wants cublas 12.4 but the image has 12.5 (a pre-existing break, as on Colab); the torch
# the request asks for wants cublas 12.6
WORLD: dict[str, dict[str, list[str]]] = {
    "torch": {"2.6": ["cublas==12.4"], "2.7": ["cublas==12.6"]},
    "cublas": {"12.4": [], "12.5": [], "12.6": []},
    "app": {"1.0": ["torch>=2.6"]},
}
PINS = {"torch": "2.6", "cublas": "12.5", "app": "1.0"}
TORCH, CUBLAS = NormalizedName("torch"), NormalizedName("cublas")
EDGE = [(TORCH, CUBLAS)]


def _session() -> Session:
    snapshot = snapshot_of(PINS)
    return Session.open(snapshot, world_source(WORLD), env_of(snapshot))


@RESOLVERS
def test_a_moved_parent_takes_its_child_along_in_the_conflicting_set(resolver: Any) -> None:
    result = search(WORLD, PINS, ["torch==2.7"], resolver)
    assert (TORCH, CUBLAS) in result.ignored
    assert result.verdict is Verdict.CONFLICT
    assert [set(s.names) for s in result.sets] == [{CUBLAS}]
    assert_sets_are_what_they_claim(result, WORLD, PINS, ["torch==2.7"])


@RESOLVERS
def test_the_installed_parent_keeps_its_own_breakage_ignored(resolver: Any) -> None:
    result = search(WORLD, PINS, ["app"], resolver)
    assert (TORCH, CUBLAS) in result.ignored
    assert result.verdict is Verdict.FITS


def test_a_removed_parent_that_comes_back_is_not_the_installed_one() -> None:
    """Uninstalled, torch 2.6 comes back from the index: a new install, held to all its requirements."""
    request = [Requirement("torch==2.6")]
    gone = resolve(request, _session(), keep=[CUBLAS], removed=[TORCH], ignore_edges=EDGE)
    assert not gone.ok
    assert resolve(request, _session(), keep=[CUBLAS], ignore_edges=EDGE).ok


def test_questions_in_one_session_answer_as_fresh_ones() -> None:
    """Propagation's memos live on the factory: a question that moves torch and one that keeps it must not
    answer from each other's readings."""
    questions: list[tuple[str, dict[str, Any]]] = [
        ("torch==2.7", {"keep": [CUBLAS]}),
        ("app", {"keep": [TORCH, CUBLAS]}),
        ("torch==2.6", {"keep": [CUBLAS], "removed": [TORCH]}),
        ("torch==2.7", {"free": [CUBLAS], "keep": [NormalizedName("app")]}),
        ("app", {"free": [TORCH], "keep": [CUBLAS]}),
    ]
    shared = _session()
    for request, options in [*questions, *reversed(questions)]:
        reqs = [Requirement(request)]
        again = resolve(reqs, shared, ignore_edges=EDGE, **options)
        fresh = resolve(reqs, _session(), ignore_edges=EDGE, **options)
        plain = resolve(reqs, _session(), ignore_edges=EDGE, propagate=False, **options)
        versions = {n: str(d.version) for n, d in fresh.mapping.items()}
        assert again.ok == fresh.ok == plain.ok, (request, options)
        assert {n: str(d.version) for n, d in again.mapping.items()} == versions
        assert {n: str(d.version) for n, d in plain.mapping.items()} == versions
    assert not resolve([Requirement("torch==2.7")], _session(), keep=[CUBLAS], ignore_edges=EDGE).ok


def test_pip_prediction_ignores_nothing() -> None:
    """pip itself never skips a requirement: asked for torch 2.7 it moves cublas to 12.6."""
    prediction = predict([Requirement("torch==2.7")], _session())
    assert prediction.ok
    assert {str(c) for c in prediction.changes} >= {"torch 2.6 -> 2.7", "cublas 12.5 -> 12.6"}


# -- the property: random small images that are broken before any install ------------------------------------


@st.composite
def broken_images(draw: st.DrawFn) -> tuple[dict[str, dict[str, list[str]]], dict[str, str], list[str]]:
    """A world of 2-4 projects with 2-3 versions, each requiring up to two others with a bound; an image of most
    of them whose installed versions may break their own requirements (what ``pip check`` reports on Colab); a
    request, mostly for another version of a pin that breaks one."""
    names = [f"p{i}" for i in range(draw(st.integers(2, 4)))]
    world: dict[str, dict[str, list[str]]] = {}
    for name in names:
        others = [n for n in names if n != name]
        world[name] = {}
        for version in draw(st.lists(st.sampled_from(["1", "2", "3"]), min_size=2, max_size=3, unique=True)):
            deps = draw(st.lists(st.sampled_from(others), max_size=2, unique=True))
            world[name][version] = [f"{dep}{draw(st.sampled_from(BOUNDS))}" for dep in deps]
    pins = {n: draw(st.sampled_from(sorted(world[n]))) for n in names if draw(st.integers(0, 3))}
    movers = [f"{n}=={v}" for n in pins for v in sorted(world[n]) if v != pins[n]]
    if movers and draw(st.integers(0, 3)) > 0:
        return world, pins, [draw(st.sampled_from(movers))]
    return world, pins, [f"{draw(st.sampled_from(names))}{draw(st.sampled_from(SPECIFIERS))}"]


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(broken_images())
def test_sets_on_a_broken_image_are_what_they_claim(
    case: tuple[dict[str, dict[str, list[str]]], dict[str, str], list[str]],
) -> None:
    """Checked by the brute force of ``test_verified_sets`` (which skips an ignored edge for the installed version
    of its parent only): a verified set leaves no new break, whatever moved."""
    world, pins, request = case
    assert_sets_are_what_they_claim(search(world, pins, request), world, pins, request)
