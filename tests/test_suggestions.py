"""Suggestions: nearest versions that fit the image as it is, each checked again by an independent resolution."""

from __future__ import annotations

from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version

from analyzer.diagnosis.suggestions import candidate_versions, suggestions
from analyzer.session import Session
from tests.test_conflict_set import (
    RESOLVERS,
    TF_PINS,
    TF_WORLD,
    env_of,
    fits,
    snapshot_of,
    world_source,
)

WORLD = {
    **TF_WORLD,
    "tensorflow": {
        **TF_WORLD["tensorflow"],
        "2.11.1": ["numpy>=1.20,<1.24"],
        "2.13.0": ["numpy<=1.24.3,>=1.22"],
        "2.13.1": ["numpy<=1.24.3,>=1.22"],
        "2.16.2": ["numpy<2.0.0,>=1.26.0", "protobuf>=3.20"],
        "2.19.0": ["numpy<2.2.0,>=1.26.0", "protobuf>=3.20"],
        "2.20.0rc0": ["numpy>=1.26"],
    },
}


def test_candidates_one_per_series_nearest_first_installed_first() -> None:
    snapshot = snapshot_of(TF_PINS)
    session = Session.open(snapshot, world_source(WORLD), env_of(snapshot))
    got = candidate_versions(Requirement("tensorflow==2.12.0"), session, Version("2.18.0"))
    assert got == [Version(v) for v in ("2.18.0", "2.13.1", "2.11.1", "2.16.2", "2.19.0")]


@RESOLVERS
def test_nearest_versions_that_fit_as_is_are_suggested_and_really_fit(resolver: Any) -> None:
    source = world_source(WORLD)
    snapshot = snapshot_of(TF_PINS)
    env = env_of(snapshot)
    result = suggestions([Requirement("tensorflow==2.12.0")], Session.open(snapshot, source, env), resolver=resolver)
    assert [(s.version, s.installed) for s in result.items] == [
        (Version("2.18.0"), True),
        (Version("2.16.2"), False),
    ]
    assert str(result.items[1]) == "tensorflow 2.16.2 fits this runtime as it is"
    for item in result.items:
        assert item.fits_as_is
        assert fits([Requirement(item.requirement)], snapshot, env, source, freed=())
    # 2.13.1 and 2.11.1 were tried on the way and do not fit as is.
    assert (("tensorflow", Version("2.13.1"), False)) in result.tried
    assert not fits([Requirement("tensorflow==2.13.1")], snapshot, env, source, freed=())
    assert result.resolver_calls > 0 and not result.exhausted


@RESOLVERS
def test_budget_bounds_the_resolver_calls(resolver: Any) -> None:
    source = world_source(WORLD)
    snapshot = snapshot_of({k: v for k, v in TF_PINS.items() if k != "tensorflow"})
    env = env_of(snapshot)
    result = suggestions(
        [Requirement("tensorflow==2.12.0")], Session.open(snapshot, source, env), resolver=resolver, max_calls=1
    )
    assert result.exhausted and len(result.tried) == 1


@RESOLVERS
def test_fewest_changes_when_nothing_fits_as_is(resolver: Any) -> None:
    world = {
        **TF_WORLD,
        "tensorflow": {k: v for k, v in WORLD["tensorflow"].items() if k in ("2.12.0", "2.13.1")},
    }
    pins = {k: v for k, v in TF_PINS.items() if k != "tensorflow"}
    source = world_source(world)
    snapshot = snapshot_of(pins)
    env = env_of(snapshot)
    result = suggestions([Requirement("tensorflow==2.12.0")], Session.open(snapshot, source, env), resolver=resolver)
    assert len(result.items) == 1
    item = result.items[0]
    assert item.version == Version("2.13.1") and not item.fits_as_is
    assert item.conflict_set is not None and item.changes == len(item.conflict_set) == 2
    freed = set(item.conflict_set.names)
    assert fits([Requirement(item.requirement)], snapshot, env, source, freed=freed)
    for member in freed:
        assert not fits([Requirement(item.requirement)], snapshot, env, source, freed=freed - {member})
