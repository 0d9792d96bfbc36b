"""resolvelib's resolver with its per-round bookkeeping remembered: the same search, the same answers.

Every round resolvelib asks, for each of the ~240 requirement groups (criteria) of a kept image, whether the
current pin still satisfies all of its requirements, twice, and ranks the unpinned groups with ``get_preference``.
Between two rounds only the group just pinned and those its dependencies touched change. A criterion is immutable
(resolvelib builds a new one on every change), so both answers can be remembered per criterion object: the
satisfaction answer with the pin it was computed for, the preference as is (our provider's key reads only the
criterion's information). This was ~30% of a warm minimal-conflicting-set search.

It subclasses resolvelib's ``Resolution`` (a module of resolvelib's, not its public surface): the overridden
methods keep their signatures and meaning, and ``pyproject.toml`` bounds resolvelib below 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic

from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers.abstract import Result
from resolvelib.resolvers.criterion import Criterion
from resolvelib.resolvers.resolution import Resolution, _build_result
from resolvelib.structs import CT, KT, RT

__all__ = ["RememberingResolver"]


class _RememberingResolution(Resolution[RT, CT, KT], Generic[RT, CT, KT]):
    def __init__(self, provider: AbstractProvider[RT, CT, KT], reporter: BaseReporter[RT, CT, KT]) -> None:
        super().__init__(provider, reporter)
        # id(criterion) -> (criterion, pin, answer); the objects are held so that their ids stay theirs
        self._satisfying: dict[int, tuple[Criterion[RT, CT], CT, bool]] = {}
        self._preferences: dict[int, tuple[Criterion[RT, CT], Any]] = {}

    def _is_current_pin_satisfying(self, name: KT, criterion: Criterion[RT, CT]) -> bool:
        pin = self.state.mapping.get(name)
        if pin is None:
            return False
        hit = self._satisfying.get(id(criterion))
        if hit is not None and hit[0] is criterion and hit[1] is pin:
            return hit[2]
        answer = super()._is_current_pin_satisfying(name, criterion)
        self._satisfying[id(criterion)] = (criterion, pin, answer)
        return answer

    def _get_preference(self, name: KT) -> Any:
        criterion = self.state.criteria[name]
        hit = self._preferences.get(id(criterion))
        if hit is not None and hit[0] is criterion:
            return hit[1]
        answer = super()._get_preference(name)
        self._preferences[id(criterion)] = (criterion, answer)
        return answer


class RememberingResolver(Resolver[RT, CT, KT]):
    """``resolvelib.Resolver`` whose resolution remembers per-criterion answers (see the module's docstring).

    Only for providers whose ``get_preference`` depends on nothing but the identifier and its criterion's
    information (ours: ``analyzer.resolver.provider.Provider``)."""

    def resolve(  # type: ignore[override]  # as resolvelib's own Resolver.resolve
        self, requirements: Iterable[RT], max_rounds: int = 100
    ) -> Result[RT, CT, KT]:
        resolution: _RememberingResolution[RT, CT, KT] = _RememberingResolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        return _build_result(state)
