"""The minimal conflicting set: FastDiag on its own, then scenarios whose minimality is verified by re-resolving."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.conflict_set import Verdict, minimal_conflicting_set
from analyzer.diagnosis.fastdiag import fastdiag, only_minimal
from analyzer.diagnosis.graph import REQUEST, image_graph
from analyzer.diagnosis.pipcheck import check_snapshot
from analyzer.diagnosis.search import CachedOracle
from analyzer.environment import TargetEnvironment
from analyzer.resolver import Conflict, resolve
from analyzer.session import Session
from analyzer.snapshot import Pin, Platform, Snapshot
from tests.memsource import MemorySource, build_source
from tests.test_resolver_recorded import _snapshot, engine, index_server  # noqa: F401 - pytest fixtures

# -- FastDiag alone: consistency = "the relaxed set hits every conflict" -----------------------------------------


def hitting(conflicts: Sequence[frozenset[int]]) -> Any:
    return lambda relaxed: all(c & relaxed for c in conflicts)


def is_minimal(diagnosis: Collection[int], consistent: Callable[[frozenset[int]], bool]) -> bool:
    """Relaxing the whole set is consistent, and re-keeping any single member makes it inconsistent."""
    full = frozenset(diagnosis)
    return consistent(full) and all(not consistent(full - {member}) for member in full)


def test_fastdiag_finds_a_minimal_hitting_set_and_depends_on_the_order() -> None:
    conflicts = [frozenset({1, 2}), frozenset({2, 3}), frozenset({4})]
    consistent = hitting(conflicts)
    found = fastdiag([2, 1, 3, 4, 5], consistent)
    assert found is not None and is_minimal(found, consistent)
    assert set(found) == {2, 4}
    # The front is relaxed in preference: with 2 last, the other minimal diagnosis comes out.
    other = fastdiag([1, 3, 4, 5, 2], consistent)
    assert other is not None and set(other) == {1, 3, 4} and is_minimal(other, consistent)


def test_fastdiag_edge_cases() -> None:
    assert fastdiag([1, 2], hitting([])) == ()
    assert fastdiag([1, 2], hitting([frozenset({1, 2})])) == (1,)
    assert fastdiag([2, 1], hitting([frozenset({1, 2})])) == (2,)
    assert fastdiag([1, 2], hitting([frozenset({9})])) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.frozensets(st.integers(0, 11), min_size=1, max_size=4), max_size=6),
    st.permutations(range(12)),
)
def test_fastdiag_result_is_always_minimal(conflicts: list[frozenset[int]], order: list[int]) -> None:
    consistent = hitting(conflicts)
    found = fastdiag(order, consistent)
    assert found is not None
    assert len(set(found)) == len(found)
    assert is_minimal(found, consistent) if found else consistent(frozenset())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.frozensets(st.integers(0, 9), min_size=1, max_size=3), max_size=6),
    st.permutations(range(10)),
)
def test_the_needed_movers_are_fastdiags_answer_from_any_order(
    conflicts: list[frozenset[int]], order: list[int]
) -> None:
    """When freeing just the movers whose re-pinning alone fails fits, FastDiag returns exactly them whatever the
    order, so the search may skip it; otherwise the shortcut declines."""
    consistent = hitting(conflicts)
    unique = only_minimal(order, consistent)
    if unique is None:
        return
    assert set(unique) == set(fastdiag(order, consistent) or ())
    assert set(unique) == set(fastdiag(list(reversed(order)), consistent) or ())
    assert is_minimal(unique, consistent)


def test_the_needed_movers_shortcut_declines_when_an_unneeded_mover_matters() -> None:
    """Relaxing 1 or 2 fits: neither is needed alone, and freeing neither does not fit."""
    consistent = hitting([frozenset({1, 2}), frozenset({3})])
    assert only_minimal([1, 2, 3], consistent) is None
    assert only_minimal([3], hitting([frozenset({3})])) == (3,)
    assert only_minimal([1, 3, 5], hitting([frozenset({1}), frozenset({3})])) == (1, 3)


# -- a tiny in-memory index and an exhaustive resolver with resolve()'s signature --------------------------------


def world_source(world: Mapping[str, Mapping[str, Sequence[str]]]) -> MemorySource:
    """A scenario world ``{name: {version: [requirement, ...]}}`` as R1's in-memory source (pure wheels)."""
    return build_source(
        {"name": name, "version": version, "requires": list(reqs)}
        for name, versions in world.items()
        for version, reqs in versions.items()
    )


@dataclass(frozen=True)
class Dist:
    name: NormalizedName
    version: Version
    requirements: tuple[Requirement, ...]


@dataclass(frozen=True)
class Resolution:
    ok: bool
    mapping: Mapping[NormalizedName, Dist] = field(default_factory=dict)
    conflict: Conflict | None = None


def exhaustive_resolve(
    request: Sequence[Requirement],
    session: Session,
    *,
    keep: Collection[NormalizedName] = (),
    free: Collection[NormalizedName] = (),
    removed: Collection[NormalizedName] = (),
    ignore_edges: Collection[tuple[NormalizedName, NormalizedName]] = (),
    prefer_installed: bool = True,
) -> Resolution:
    """Backtracking over every version (tiny scenarios only): the reference the search is checked against.
    A removed pin is uninstalled: a version of it comes back (from the index) only when something requires it."""
    snapshot, env, source = session.snapshot, session.env, session.source
    pins = snapshot.by_name
    ignored = set(ignore_edges)
    roots: list[tuple[str | None, Requirement]] = [(None, r) for r in request]
    roots += [(None, Requirement(f"{n}=={pins[n].version}")) for n in keep]
    roots += [(None, Requirement(str(n))) for n in free]

    files = {}

    def versions_of(name: NormalizedName) -> list[Version]:
        if name not in files:
            files[name] = {f.version: f for f in source.project(name).files}
        return list(files[name])

    def requires(name: NormalizedName, version: Version) -> tuple[Requirement, ...]:
        versions_of(name)
        return source.metadata(files[name][version]).requires_dist

    def reqs(name: NormalizedName, version: Version) -> list[tuple[str, Requirement]]:
        # an ignored edge is the installed version's own: a version the parent moves to has all its requirements
        installed = name in pins and name not in removed and pins[name].parsed_version == version
        return [
            (name, r)
            for r in requires(name, version)
            if env.evaluate(r.marker) and not (installed and (name, canonicalize_name(r.name)) in ignored)
        ]

    def solve(
        assigned: dict[NormalizedName, Version], constraints: list[tuple[str | None, Requirement]]
    ) -> Any:
        for _, r in constraints:
            n = canonicalize_name(r.name)
            if n in assigned and not r.specifier.contains(assigned[n], prereleases=True):
                return None
        open_names = [
            canonicalize_name(r.name) for _, r in constraints if canonicalize_name(r.name) not in assigned
        ]
        if not open_names:
            return assigned
        name = open_names[0]
        specs = [r.specifier for _, r in constraints if canonicalize_name(r.name) == name]
        versions = sorted(versions_of(name), reverse=True)
        installed = pins[name].parsed_version if name in pins and name not in removed else None
        if prefer_installed and installed in versions:
            versions.remove(installed)  # type: ignore[arg-type]
            versions.insert(0, installed)  # type: ignore[arg-type]
        for v in versions:
            if all(s.contains(v, prereleases=True) for s in specs):
                done = solve({**assigned, name: v}, constraints + reqs(name, v))
                if done is not None:
                    return done
        return None

    found = solve({}, roots)
    if found is None:
        return Resolution(False, conflict=Conflict(()))
    return Resolution(True, {n: Dist(n, v, requires(n, v)) for n, v in found.items()})


def snapshot_of(pins: Mapping[str, str], python: str = "3.11.13") -> Snapshot:
    return Snapshot(
        id="scenario",
        python=python,
        pins=tuple(Pin(canonicalize_name(n), v) for n, v in pins.items()),
        platform=Platform(glibc="2.35"),
    )


def env_of(snapshot: Snapshot) -> TargetEnvironment:
    return TargetEnvironment.from_snapshot(snapshot)


def run(
    request: Sequence[str],
    projects: Mapping[str, Mapping[str, Sequence[str]]],
    pins: Mapping[str, str],
    resolver: Any = exhaustive_resolve,
) -> Any:
    source = world_source(projects)
    snapshot = snapshot_of(pins)
    env = env_of(snapshot)
    reqs = [Requirement(r) for r in request]
    result = minimal_conflicting_set(reqs, Session.open(snapshot, source, env), resolver=resolver)
    return result, reqs, snapshot, env, source


def fits(
    reqs: Sequence[Requirement],
    snapshot: Snapshot,
    env: TargetEnvironment,
    source: MemorySource,
    freed: Collection[str],
    removed: Collection[str] = (),
    ignored: Collection[tuple[str, str]] = (),
) -> bool:
    """Re-resolve with every other pin (not requested) kept: the independent minimality check."""
    requested = {canonicalize_name(r.name) for r in reqs}
    others = {p.name for p in snapshot.pins} - requested - set(freed) - set(removed)
    return exhaustive_resolve(
        reqs,
        Session.open(snapshot, source, env),
        keep=others,
        free=set(freed),
        ignore_edges=[(canonicalize_name(a), canonicalize_name(b)) for a, b in ignored],
    ).ok


def assert_minimal(
    result: Any, reqs: Sequence[Requirement], snapshot: Snapshot, env: TargetEnvironment, source: MemorySource
) -> None:
    for found in result.sets:
        freed = {m.name for m in found.members if not m.removed}
        removed = set(found.removed)
        assert found.verified
        assert fits(reqs, snapshot, env, source, freed, removed, result.ignored)
        for member in freed:
            assert not fits(reqs, snapshot, env, source, freed - {member}, removed, result.ignored)


# The search runs on the product resolver and on the exhaustive reference; minimality is always re-checked
# with the exhaustive one, so the two check each other.
RESOLVERS = pytest.mark.parametrize("resolver", [exhaustive_resolve, None], ids=["exhaustive", "resolver"])

# -- scenarios ---------------------------------------------------------------------------------------------------

TF_WORLD: dict[str, dict[str, list[str]]] = {
    "tensorflow": {
        "2.12.0": ["numpy<1.24,>=1.22", "protobuf<5,>=3.20"],
        "2.18.0": ["numpy>=1.26", "protobuf>=3.20"],
    },
    "numpy": {"1.22.4": [], "1.23.5": [], "1.26.4": [], "2.0.2": []},
    "protobuf": {"3.20.3": [], "4.25.3": [], "5.29.0": []},
    "jax": {"0.4.10": ["numpy>=1.22"], "0.5.2": ["numpy>=1.25", "ml-dtypes>=0.4"]},
    "ml-dtypes": {"0.4.1": ["numpy>=1.21"]},
    "requests": {"2.32.3": ["idna"]},
    "idna": {"3.10": []},
    "pandas": {"2.2.2": ["numpy>=1.22.4"]},
}
TF_PINS = {
    "tensorflow": "2.18.0",
    "numpy": "1.26.4",
    "protobuf": "4.25.3",
    "jax": "0.5.2",
    "ml-dtypes": "0.4.1",
    "requests": "2.32.3",
    "idna": "3.10",
    "pandas": "2.2.2",
}


@RESOLVERS
def test_jax_like_pin_conflict_is_numpy_and_jax_with_versions_and_reasons(resolver: Any) -> None:
    result, reqs, snapshot, env, source = run(["tensorflow==2.12.0"], TF_WORLD, TF_PINS, resolver)
    assert result.verdict is Verdict.CONFLICT
    best = result.best
    assert best is not None and set(best.names) == {"numpy", "jax"}
    assert_minimal(result, reqs, snapshot, env, source)
    moves = {m.name: m.moves_to for m in best.members}
    assert moves == {"numpy": "1.23.5", "jax": "0.4.10"}
    # Unrelated pins are not even candidates.
    assert "requests" not in result.candidates and "idna" not in result.candidates
    assert result.resolver_calls > 0
    jax = next(m for m in best.members if m.name == "jax")
    texts = [str(e) for e in jax.reasons]
    assert "jax 0.5.2 requires numpy>=1.25" in texts
    assert "tensorflow 2.12.0 requires numpy<1.24,>=1.22" in texts
    assert texts[-1] == "the request requires tensorflow==2.12.0"
    numpy = next(m for m in best.members if m.name == "numpy")
    assert next(str(e) for e in numpy.reasons) == "tensorflow 2.12.0 requires numpy<1.24,>=1.22"


@RESOLVERS
def test_fits_as_is_when_the_request_matches_the_image(resolver: Any) -> None:
    result, *_ = run(["tensorflow==2.18.0"], TF_WORLD, TF_PINS, resolver)
    assert result.verdict is Verdict.FITS and result.sets == ()


@RESOLVERS
def test_two_independent_conflicting_pins_make_a_set_of_two(resolver: Any) -> None:
    world = {
        "app": {"1.0": ["alpha>=2", "beta>=2"]},
        "alpha": {"1.0": [], "2.0": []},
        "beta": {"1.0": [], "2.0": []},
        "gamma": {"1.0": ["alpha"]},
    }
    result, reqs, snapshot, env, source = run(
        ["app"], world, {"alpha": "1.0", "beta": "1.0", "gamma": "1.0"}, resolver
    )
    assert result.verdict is Verdict.CONFLICT and len(result.sets) == 1
    assert set(result.best.names) == {"alpha", "beta"}
    assert_minimal(result, reqs, snapshot, env, source)


@RESOLVERS
def test_two_alternative_minimal_sets_are_both_reported(resolver: Any) -> None:
    # app 1.1 needs y==1, app 1.0 needs x==1: freeing x or freeing y each suffices.
    world = {"app": {"1.0": ["x==1"], "1.1": ["y==1"]}, "x": {"1": [], "2": []}, "y": {"1": [], "2": []}}
    result, reqs, snapshot, env, source = run(["app"], world, {"x": "2", "y": "2"}, resolver)
    assert result.verdict is Verdict.CONFLICT and result.several
    assert {frozenset(s.names) for s in result.sets} == {frozenset({"x"}), frozenset({"y"})}
    assert_minimal(result, reqs, snapshot, env, source)


@RESOLVERS
def test_preexisting_violation_is_ignored_not_blamed_on_the_request(resolver: Any) -> None:
    world = {**TF_WORLD, "oldlib": {"1.0": ["numpy<1.20"]}}
    pins = {**TF_PINS, "oldlib": "1.0"}
    source = world_source(world)
    snapshot = snapshot_of(pins)
    env = env_of(snapshot)
    assert ("oldlib", "numpy") in check_snapshot(Session.open(snapshot, source, env)).edges()
    result, reqs, snapshot, env, source = run(["tensorflow==2.18.0"], world, pins, resolver)
    assert result.verdict is Verdict.FITS
    assert ("oldlib", "numpy") in result.ignored
    # The same search without the ignored edge would blame the image's own breakage.
    blamed = minimal_conflicting_set(
        reqs, Session.open(snapshot, source, env), resolver=resolver, ignore_edges=()
    )
    assert blamed.verdict is not Verdict.FITS


@RESOLVERS
def test_a_pin_that_no_version_can_keep_must_be_removed(resolver: Any) -> None:
    world = {
        "app": {"1.0": ["numpy>=1.25"]},
        "numpy": {"1.19.5": [], "1.26.4": []},
        "legacy": {"0.9": ["numpy<1.20"], "1.0": ["numpy<1.20"]},
    }
    result, reqs, snapshot, env, source = run(["app"], world, {"numpy": "1.19.5", "legacy": "1.0"}, resolver)
    assert result.verdict is Verdict.CONFLICT
    best = result.best
    assert best is not None and best.removed == ("legacy",)
    legacy = next(m for m in best.members if m.name == "legacy")
    assert legacy.moves_to is None
    assert {m.name: m.moves_to for m in best.members if not m.removed} == {"numpy": "1.26.4"}
    assert_minimal(result, reqs, snapshot, env, source)


@RESOLVERS
def test_unresolvable_request_is_not_blamed_on_the_image(resolver: Any) -> None:
    world = {"app": {"1.0": ["missing-dep>=1"]}, "numpy": {"1.26.4": []}}
    result, *_ = run(["app"], world, {"numpy": "1.26.4"}, resolver)
    assert result.verdict is Verdict.UNRESOLVABLE and result.sets == ()


def test_request_root_is_not_a_pin() -> None:
    source = world_source(TF_WORLD)
    snapshot = snapshot_of(TF_PINS)
    graph = image_graph(Session.open(snapshot, source))
    assert REQUEST not in graph.pins


# -- recorded real metadata (tensorflow 2.12.0's closure as of 2025-06-01, served by the fixture index) ---------


def test_recorded_tensorflow_2_12_on_a_mid_2025_image_minimal_set_verified_by_the_resolver(
    engine: Any,  # noqa: F811 - the recorded-data MetadataEngine fixture of tests/test_resolver_recorded.py
) -> None:
    snapshot = _snapshot()
    env = env_of(snapshot)
    reqs = [Requirement("tensorflow==2.12.0")]
    result = minimal_conflicting_set(reqs, Session.open(snapshot, engine, env))
    assert result.verdict is Verdict.CONFLICT and result.best is not None and result.best.verified
    assert result.resolver_calls > 0 and result.seconds > 0
    pins = {p.name for p in snapshot.pins} - {"tensorflow"}

    def real_fits(freed: set[str], removed: set[str]) -> bool:
        keep = {canonicalize_name(n) for n in pins - freed - removed}
        free = {canonicalize_name(n) for n in freed}
        return resolve(
            reqs, Session.open(snapshot, engine, env), keep=keep, free=free, ignore_edges=result.ignored
        ).ok

    for found in result.sets:
        freed = {m.name for m in found.members if not m.removed}
        removed = set(found.removed)
        assert real_fits(freed, removed)
        for member in freed:
            assert not real_fits(freed - {member}, removed)
    best = {m.name: m for m in result.best.members}
    # tensorflow 2.12.0 requires numpy<1.24,>=1.22: the image's numpy 2.0.2 cannot stay.
    assert "numpy" in best and best["numpy"].moves_to is not None
    assert Version("1.22") <= Version(best["numpy"].moves_to) < Version("1.24")
    assert any("tensorflow 2.12.0 requires numpy" in str(e) for e in best["numpy"].reasons)


# -- the oracle's cache: a proven conflict answers every question that asks more of each pin ----------------------


@dataclass(frozen=True)
class _FakeAnswer:
    ok: bool
    conflict: Conflict | None = None
    mapping: Mapping[NormalizedName, Any] = field(default_factory=dict)


def _names(*names: str) -> frozenset[NormalizedName]:
    return frozenset(NormalizedName(n) for n in names)


def test_a_proven_conflict_answers_questions_that_ask_more_and_only_those() -> None:
    asked: list[tuple[frozenset[NormalizedName], ...]] = []

    def oracle(
        keep: frozenset[NormalizedName], free: frozenset[NormalizedName], gone: frozenset[NormalizedName]
    ) -> Any:
        asked.append((keep, free, gone))
        if "deep" in keep:
            return _FakeAnswer(False, Conflict((), too_deep=True))
        return _FakeAnswer(False, Conflict(()))

    check = CachedOracle(oracle)
    first = check(_names("a"), _names("b"))
    # more kept pins, or the freed one kept: at least as constrained, so it fails too, without a resolution
    assert check(_names("a", "c"), _names("b")) is first
    assert check(_names("a", "b"), frozenset()) is first
    assert check(_names("a"), _names("b", "c")) is first
    assert len(asked) == 1 and check.calls == 1
    # less constrained somewhere (a freed instead of kept, b left out): asked for real
    check(frozenset(), _names("a", "b"))
    check(_names("a", "c"), frozenset())
    assert len(asked) == 3
    # a question that ran out of rounds proves nothing
    check(_names("deep"), frozenset())
    check(_names("deep", "x"), frozenset())
    assert len(asked) == 5
    # a removed pin's installed version is not offered: removing is not weaker than freeing, nor the reverse
    removing = check(_names("p"), frozenset(), _names("r"))
    assert check(_names("p", "q"), frozenset(), _names("r")) is removing
    assert len(asked) == 6
    check(_names("p", "r"), frozenset())
    check(_names("p"), _names("r"))
    assert len(asked) == 8
    # a pin left as it is may stay installed or not: removing it asks more
    assert check(_names("p", "q"), frozenset(), _names("r", "s")) is removing


def test_a_success_answers_nothing_else() -> None:
    asked: list[frozenset[NormalizedName]] = []

    def oracle(
        keep: frozenset[NormalizedName], free: frozenset[NormalizedName], gone: frozenset[NormalizedName]
    ) -> Any:
        asked.append(keep)
        return _FakeAnswer(True)

    check = CachedOracle(oracle)
    assert check(_names("a"), frozenset()).ok
    assert check(_names("a", "b"), frozenset()).ok
    assert len(asked) == 2
