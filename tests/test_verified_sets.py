"""A set marked verified is verified: checked on the whole image by a brute-force resolution written here.

The brute force enumerates every assignment of the world's projects (absent or one of their versions): the
image is consistent when every present package's requirements hold (the image's own pre-existing violations
aside), the request holds, every pin outside the set keeps its version, every freed pin is present and the
removed ones may go. A set is minimal when freeing it fits and weakening any single member (re-pinning a freed
one, keeping a removed one installed) does not. Nothing here shares code with the resolver or the search.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.conflict_set import ConflictSetResult, Verdict, minimal_conflicting_set
from analyzer.resolver import resolve
from analyzer.session import Session
from tests.test_conflict_set import RESOLVERS, env_of, snapshot_of, world_source

World = Mapping[str, Mapping[str, Sequence[str]]]


def whole_image_fits(
    world: World,
    pins: Mapping[str, str],
    request: Sequence[str],
    freed: Collection[str] = (),
    removed: Collection[str] = (),
    ignored: Collection[tuple[str, str]] = (),
) -> bool:
    """Some assignment of every project (absent or a version) satisfies the request and the whole image."""
    requested = {canonicalize_name(Requirement(r).name) for r in request}
    names = sorted({canonicalize_name(n) for n in [*world, *pins]})
    versions = {canonicalize_name(n): [Version(v) for v in vs] for n, vs in world.items()}
    requires = {
        (canonicalize_name(n), Version(v)): [Requirement(r) for r in reqs]
        for n, vs in world.items()
        for v, reqs in vs.items()
    }
    kept = {canonicalize_name(n): Version(v) for n, v in pins.items()}
    kept = {n: v for n, v in kept.items() if n not in {*freed, *removed, *requested}}
    options: dict[str, list[Version | None]] = {}
    for name in names:
        if name in kept:
            options[name] = [kept[name]]
        elif name in freed or name in requested:
            options[name] = list(versions.get(name, []))
        else:
            options[name] = [None, *versions.get(name, [])]
    skip = {(canonicalize_name(a), canonicalize_name(b)) for a, b in ignored}
    # an ignored edge is the installed version's own: a version the parent moves to has all its requirements
    gone = {canonicalize_name(n) for n in removed}
    installed = {canonicalize_name(n): Version(v) for n, v in pins.items() if canonicalize_name(n) not in gone}
    roots = [Requirement(r) for r in request]

    def holds(req: Requirement, chosen: Mapping[str, Version | None]) -> bool | None:
        """None while the requirement's project is not assigned yet."""
        dep = canonicalize_name(req.name)
        if dep not in chosen:
            return None
        version = chosen[dep]
        return version is not None and req.specifier.contains(version, prereleases=True)

    def consistent(chosen: Mapping[str, Version | None]) -> bool:
        if any(holds(r, chosen) is False for r in roots):
            return False
        for name, version in chosen.items():
            if version is None:
                continue
            for req in requires.get((name, version), []):
                ignored_here = installed.get(name) == version and (name, canonicalize_name(req.name)) in skip
                if not ignored_here and holds(req, chosen) is False:
                    return False
        return True

    def search(i: int, chosen: dict[str, Version | None]) -> bool:
        if not consistent(chosen):
            return False
        if i == len(names):
            return True
        return any(search(i + 1, {**chosen, names[i]: v}) for v in options[names[i]])

    return search(0, {})


def assert_sets_are_what_they_claim(
    result: ConflictSetResult, world: World, pins: Mapping[str, str], request: Sequence[str]
) -> None:
    """Every verified set fits the whole image and each single weakening fails; the verdicts hold too."""
    ignored = result.ignored

    def fits(freed: Collection[str], removed: Collection[str]) -> bool:
        return whole_image_fits(world, pins, request, freed, removed, ignored)

    if result.verdict is Verdict.FITS:
        assert fits((), ())
    if result.verdict is Verdict.UNRESOLVABLE and not result.warnings:
        assert not fits((), result.candidates)
    if result.verdict is Verdict.CONFLICT and not result.warnings:
        assert not fits((), ())
    for found in result.sets:
        assert found.verified == (not found.doubt)
        if not found.verified:
            assert any(found.doubt in w for w in result.warnings)
            continue
        # every member is explained: a member with no reason is a failed check, never shown as verified
        assert all(m.reasons for m in found.members), found
        removed = set(found.removed)
        freed = {m.name for m in found.members if not m.removed}
        assert fits(freed, removed), found
        for member in freed:
            assert not fits(freed - {member}, removed), (member, found)
        for member in removed:
            assert not fits(freed | {member}, removed - {member}), (member, found)


def search(
    world: World, pins: Mapping[str, str], request: Sequence[str], resolver: Any = None, **options: Any
) -> ConflictSetResult:
    snapshot = snapshot_of(pins)
    session = Session.open(snapshot, world_source(world), env_of(snapshot))
    return minimal_conflicting_set([Requirement(r) for r in request], session, resolver=resolver, **options)


# -- the property: random small images and requests ----------------------------------------------------------

SPECIFIERS = ("", ">=2", "<2", "==1", "==2", "==3", "!=2", ">=3", "<3")
BOUNDS = SPECIFIERS[1:]
"""A requirement between packages mostly bounds the version: that is where images conflict."""


@st.composite
def images(draw: st.DrawFn) -> tuple[dict[str, dict[str, list[str]]], dict[str, str], list[str]]:
    """A world of 2-5 projects with 2-3 versions, each version requiring up to three others with a bound; an
    image of most of them, consistent as a real image is (an installed version's requirements name pins and
    allow their versions); a request, mostly for a version that does not fit the image as it is."""
    names = [f"p{i}" for i in range(draw(st.integers(2, 5)))]
    versions = {
        n: draw(st.lists(st.sampled_from(["1", "2", "3"]), min_size=2, max_size=3, unique=True))
        for n in names
    }
    pins = {n: draw(st.sampled_from(sorted(versions[n]))) for n in names if draw(st.integers(0, 3))}
    world: dict[str, dict[str, list[str]]] = {}
    for name in names:
        world[name] = {}
        for version in versions[name]:
            installed = pins.get(name) == version
            others = [n for n in names if n != name and (n in pins or not installed)]
            deps = draw(st.lists(st.sampled_from(others), max_size=3, unique=True)) if others else []
            reqs = []
            for dep in deps:
                bounds = [
                    b for b in BOUNDS if not installed or Requirement(f"x{b}").specifier.contains(pins[dep])
                ]
                reqs.append(f"{dep}{draw(st.sampled_from(bounds))}")
            world[name][version] = reqs
    clashing = [
        f"{n}=={v}"
        for n in names
        for v in sorted(world[n])
        if whole_image_fits(world, {}, [f"{n}=={v}"]) and not whole_image_fits(world, pins, [f"{n}=={v}"])
    ]
    if clashing and draw(st.integers(0, 3)):
        return world, pins, [draw(st.sampled_from(clashing))]
    return world, pins, [f"{draw(st.sampled_from(names))}{draw(st.sampled_from(SPECIFIERS))}"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(images())
def test_every_verified_set_frees_the_whole_image_and_is_minimal(
    case: tuple[dict[str, dict[str, list[str]]], dict[str, str], list[str]],
) -> None:
    world, pins, request = case
    assert_sets_are_what_they_claim(search(world, pins, request), world, pins, request)


def test_the_brute_force_sees_what_a_removed_pin_leaves_behind() -> None:
    """The reference itself: a dependent of a removed pin that needs it keeps the image inconsistent."""
    local = {"a": {"1": ["b"]}, "c": {"1": []}}  # b 1 is installed but not on the index (a local build)
    assert whole_image_fits(local, {"a": "1", "b": "1"}, ["c"])
    assert not whole_image_fits(local, {"a": "1", "b": "1"}, ["c"], removed=["b"])
    assert whole_image_fits(local, {"a": "1", "b": "1"}, ["c"], removed=["a", "b"])
    # a removed pin may come back from the index when something needs it
    assert whole_image_fits({"a": {"1": ["b"]}, "b": {"1": []}}, {"a": "1", "b": "1"}, ["a"], removed=["b"])


# -- the removed-pin hole: a pin that must go takes its dependents with it -----------------------------------

# tensorflow-text needs tensorflow 1, which keras 3 rules out: it has no version that fits and must go;
# keras-hub needs tensorflow-text, so it cannot stay either (the image would be left broken by the set that
# claims to fix it)
TEXT_WORLD: dict[str, dict[str, list[str]]] = {
    "keras": {"2": [], "3": []},
    "tensorflow": {"1": ["keras<3"], "2": ["keras>=3"]},
    "tensorflow-text": {"1": ["tensorflow==1"]},
    "keras-hub": {"1": ["tensorflow-text", "keras"]},
}
TEXT_PINS = {"keras": "2", "tensorflow": "1", "tensorflow-text": "1", "keras-hub": "1"}


@RESOLVERS
def test_a_removed_pin_is_gone_for_its_dependents_too(resolver: Any) -> None:
    result = search(TEXT_WORLD, TEXT_PINS, ["keras==3"], resolver)
    assert result.verdict is Verdict.CONFLICT and result.best is not None
    best = result.best
    assert best.verified, result.warnings
    assert set(best.removed) == {"tensorflow-text", "keras-hub"}
    assert {m.name: m.moves_to for m in best.members if not m.removed} == {"tensorflow": "2"}
    # each chain ends at the request: keras-hub goes as tensorflow-text does, which goes with tensorflow 1
    assert all(str(m.reasons[-1]) == "the request requires keras==3" for m in best.members)
    hub = next(m for m in best.members if m.name == "keras-hub")
    assert [str(e) for e in hub.reasons][:2] == [
        "keras-hub 1 requires tensorflow-text",
        "tensorflow-text 1 requires tensorflow==1",
    ]
    assert_sets_are_what_they_claim(result, TEXT_WORLD, TEXT_PINS, ["keras==3"])


# -- a dependency cycle resolvelib cannot walk: an unanswered question, not a crash --------------------------

CYCLE_WORLD: dict[str, dict[str, list[str]]] = {
    "p0": {"2": ["p2!=2", "p1==3"], "3": ["p2!=2", "p1==3"]},
    "p1": {"1": ["p2>=2", "p3==1"], "2": ["p2>=2", "p3==1"], "3": ["p2>=2", "p3==1"]},
    "p2": {"1": ["p1>=2", "p3==1"], "2": [], "3": ["p1>=2", "p0==2"]},
    "p3": {"1": [], "2": [], "3": ["p1<3"]},
}
CYCLE_PINS = {"p2": "2"}


def test_a_cycle_the_resolver_cannot_walk_is_an_unanswered_question() -> None:
    snapshot = snapshot_of(CYCLE_PINS)
    session = Session.open(snapshot, world_source(CYCLE_WORLD), env_of(snapshot))
    answer = resolve([Requirement("p0")], session, free=[NormalizedName("p2")])
    # resolvelib's result walk follows p0 <-> p2 without end; should it learn to stop, the answer is checked
    if answer.ok:
        assert {n: str(d.version) for n, d in answer.mapping.items()}["p0"] == "2"
    else:
        assert answer.conflict is not None and "RecursionError" in answer.conflict.detail
    result = search(CYCLE_WORLD, CYCLE_PINS, ["p0"])
    assert_sets_are_what_they_claim(result, CYCLE_WORLD, CYCLE_PINS, ["p0"])


# -- a question cut by its round limit is unknown, never "does not fit" --------------------------------------

# freeing every pin fits (tensorflow and its dependents all move back), but only after backtracking through
# the newer versions: a resolution with a tiny round limit cannot show it
DEEP_WORLD: dict[str, dict[str, list[str]]] = {
    "keras": {"2": [], "3": []},
    "tensorflow": {"1": ["keras<3"], "2": ["keras>=3"]},
    "tf-keras": {"1": ["tensorflow==1"], "2": ["tensorflow==2"]},
    "tensorflow-text": {"1": ["tensorflow==1"], "2": ["tensorflow==2"]},
    "decision-forests": {"1": ["tensorflow==1", "tf-keras==1"], "2": ["tensorflow==2", "tf-keras==2"]},
}
DEEP_PINS = {
    "keras": "3",
    "tensorflow": "2",
    "tf-keras": "2",
    "tensorflow-text": "2",
    "decision-forests": "2",
}


def test_a_question_cut_by_its_round_limit_is_unknown_and_no_set_rests_on_it() -> None:
    request = ["keras==2"]
    cut = search(DEEP_WORLD, DEEP_PINS, request, max_rounds=2)
    assert cut.verdict is Verdict.CONFLICT
    # nothing is removed on the strength of a question that was not answered, and nothing is claimed verified
    assert not any(s.verified for s in cut.sets)
    assert any("not answered within 2 resolver rounds" in w for w in cut.warnings), cut.warnings
    assert_sets_are_what_they_claim(cut, DEEP_WORLD, DEEP_PINS, request)
    # with rounds enough the same search shows the set: every pin moves back, none is removed
    full = search(DEEP_WORLD, DEEP_PINS, request)
    assert full.best is not None and full.best.verified and full.best.removed == ()
    assert {m.name: m.moves_to for m in full.best.members} == {
        "tensorflow": "1", "tf-keras": "1", "tensorflow-text": "1", "decision-forests": "1",
    }  # fmt: skip
    assert_sets_are_what_they_claim(full, DEEP_WORLD, DEEP_PINS, request)


def test_a_question_cut_short_is_asked_again_with_more_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first round limit is small; the search asks again with more rather than settle for "unknown"."""
    from analyzer.diagnosis import conflict_set

    monkeypatch.setattr(conflict_set, "_FIRST_ROUNDS", 1)
    result = search(DEEP_WORLD, DEEP_PINS, ["keras==2"])
    assert result.best is not None and result.best.verified and result.best.removed == ()


def test_a_member_without_a_reason_is_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the explanation to find nothing for a member, the set is not shown as verified, and the warning
    says which member: a plain member with no reason is never what the user sees."""
    from analyzer.diagnosis import conflict_set

    real = conflict_set.explain_member

    def forgetful(name: NormalizedName, *args: Any, **kwargs: Any) -> Any:
        return () if name == "tensorflow" else real(name, *args, **kwargs)

    monkeypatch.setattr(conflict_set, "explain_member", forgetful)
    result = search(TEXT_WORLD, TEXT_PINS, ["keras==3"])
    assert result.best is not None and not result.best.verified
    assert result.best.doubt == "no reason was found why tensorflow cannot stay"
    assert any(result.best.doubt in w for w in result.warnings)
