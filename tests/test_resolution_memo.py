"""``RememberingResolver`` answers as resolvelib's own resolver does, with fewer questions to the provider.

A tiny index in memory (name -> version -> dependencies) whose newest versions clash, so the search backtracks;
the provider counts what resolvelib asks. Counted, never timed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers import ResolutionImpossible

from analyzer.resolver.resolution import RememberingResolver

Req = tuple[str, frozenset[int]]  # a name and the versions it allows
Cand = tuple[str, int]

INDEX: dict[str, dict[int, list[Req]]] = {
    # the newest app needs lib 3, which needs base 1, which the newest tool forbids: backtracking to app 2
    "app": {
        3: [("lib", frozenset({3})), ("tool", frozenset({1, 2}))],
        2: [("lib", frozenset({1, 2}))],
        1: [],
    },
    "lib": {3: [("base", frozenset({1}))], 2: [("base", frozenset({2, 3}))], 1: []},
    "tool": {2: [("base", frozenset({2, 3}))], 1: [("base", frozenset({2}))]},
    "base": {3: [], 2: [], 1: []},
    "extra": {1: [("base", frozenset({3}))]},
}


class CountingProvider(AbstractProvider[Req, Cand, str]):
    def __init__(self) -> None:
        self.satisfied_calls = 0
        self.preference_calls = 0

    def identify(self, requirement_or_candidate: Req | Cand) -> str:
        return requirement_or_candidate[0]

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Cand],
        candidates: Mapping[str, Iterator[Cand]],
        information: Mapping[str, Iterator[Any]],
        backtrack_causes: Sequence[Any],
    ) -> Any:
        self.preference_calls += 1
        return (-sum(1 for _ in information[identifier]), identifier)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Cand]],
    ) -> Iterable[Cand]:
        bad = {c[1] for c in incompatibilities[identifier]}
        allowed = set(INDEX[identifier])
        for _, versions in requirements[identifier]:
            allowed &= versions
        return [(identifier, v) for v in sorted(allowed - bad, reverse=True)]

    def is_satisfied_by(self, requirement: Req, candidate: Cand) -> bool:
        self.satisfied_calls += 1
        return candidate[1] in requirement[1]

    def get_dependencies(self, candidate: Cand) -> list[Req]:
        return list(INDEX[candidate[0]][candidate[1]])


def _solve(
    kind: type[Resolver[Req, Cand, str]], roots: list[Req]
) -> tuple[dict[str, int] | str, CountingProvider]:
    provider = CountingProvider()
    try:
        result = kind(provider, BaseReporter()).resolve(roots, max_rounds=100)
    except ResolutionImpossible as exc:
        return "impossible: " + ", ".join(sorted(f"{r[0]}{sorted(r[1])}" for r, _ in exc.causes)), provider
    return {k: v[1] for k, v in result.mapping.items()}, provider


CASES = [
    [("app", frozenset({1, 2, 3}))],
    [("app", frozenset({1, 2, 3})), ("tool", frozenset({1, 2}))],
    [("app", frozenset({3})), ("extra", frozenset({1}))],  # impossible
    [("app", frozenset({2, 3})), ("extra", frozenset({1})), ("tool", frozenset({2}))],
]


@pytest.mark.parametrize("roots", CASES)
def test_same_answers_as_resolvelib(roots: list[Req]) -> None:
    plain, plain_provider = _solve(Resolver, roots)
    remembering, provider = _solve(RememberingResolver, roots)
    assert remembering == plain
    assert provider.satisfied_calls <= plain_provider.satisfied_calls
    assert provider.preference_calls <= plain_provider.preference_calls


def test_backtracking_case_is_answered_and_asks_less() -> None:
    plain, plain_provider = _solve(Resolver, CASES[1])
    remembering, provider = _solve(RememberingResolver, CASES[1])
    assert remembering == plain == {"app": 2, "lib": 2, "tool": 2, "base": 3}
    assert provider.satisfied_calls < plain_provider.satisfied_calls
    assert _solve(RememberingResolver, CASES[2])[0] == _solve(Resolver, CASES[2])[0]
    assert str(_solve(RememberingResolver, CASES[2])[0]).startswith("impossible")


class RecordingReporter(BaseReporter):  # type: ignore[type-arg]
    """Every decision resolvelib reports, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def starting_round(self, index: int) -> None:
        self.events.append(("round", index))

    def pinning(self, candidate: Any) -> None:
        self.events.append(("pin", candidate))

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        self.events.append(("reject", candidate))

    def resolving_conflicts(self, causes: Any) -> None:
        self.events.append(("conflict", sorted(str(c.requirement) for c in causes)))


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("roots", CASES)
def test_the_copied_loop_takes_resolvelibs_decisions_in_resolvelibs_order(
    roots: list[Req], fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resolvelib

    from analyzer.resolver import resolution

    assert resolution._FAST_LOOP is (resolvelib.__version__ in resolution.LOOP_READ_FROM)
    monkeypatch.setattr(resolution, "_FAST_LOOP", fast)
    logs = []
    for kind in (Resolver, RememberingResolver):
        reporter = RecordingReporter()
        try:
            kind(CountingProvider(), reporter).resolve(roots, max_rounds=100)
        except ResolutionImpossible:
            reporter.events.append(("impossible", None))
        logs.append(reporter.events)
    assert logs[0] == logs[1]
    assert any(e[0] == "pin" for e in logs[0])
