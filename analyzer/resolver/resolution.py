"""resolvelib's resolver with its per-round bookkeeping remembered: the same search, the same answers.

Every round resolvelib asks, for each of the ~240 requirement groups (criteria) of a kept image, whether the
current pin still satisfies all of its requirements, twice, and ranks the unpinned groups with ``get_preference``.
Between two rounds only the group just pinned and those its dependencies touched change. A criterion is immutable
(resolvelib builds a new one on every change), so both answers can be remembered per criterion object: the
satisfaction answer with the pin it was computed for, the preference as is (our provider's key reads only the
criterion's information). This was ~30% of a warm minimal-conflicting-set search.

It subclasses resolvelib's ``Resolution`` (a module of resolvelib's, not its public surface): the overridden
methods keep their signatures and meaning, and ``pyproject.toml`` bounds resolvelib below 2.

With resolvelib 1.2.1 (the release whose loop it was read from) ``resolve`` itself is this module's copy of
resolvelib's, with two differences: its two scans of every criterion per round look again only at the criteria
and pins written since the previous scan (2,200 rounds over ~250 criteria in a warm ``check``: half a million
calls before), and the pins are a plain dict, which each round copies 25 times faster than an OrderedDict. The
same decisions in the same order; any other release runs resolvelib's own loop.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterable
from typing import Any, Generic

import resolvelib
from resolvelib import BaseReporter, Resolver
from resolvelib.providers import AbstractProvider
from resolvelib.resolvers.abstract import Result
from resolvelib.resolvers.criterion import Criterion
from resolvelib.resolvers.exceptions import RequirementsConflicted, ResolutionImpossible, ResolutionTooDeep
from resolvelib.resolvers.resolution import Resolution, _build_result
from resolvelib.structs import CT, KT, RT, IteratorMapping, RequirementInformation, State

__all__ = ["RememberingResolver"]


class _RememberingResolution(Resolution[RT, CT, KT], Generic[RT, CT, KT]):
    def __init__(self, provider: AbstractProvider[RT, CT, KT], reporter: BaseReporter[RT, CT, KT]) -> None:
        super().__init__(provider, reporter)
        # id(criterion) -> (criterion, pin, answer); the objects are held so that their ids stay theirs
        self._satisfying: dict[int, tuple[Criterion[RT, CT], CT, bool]] = {}
        self._preferences: dict[int, tuple[Criterion[RT, CT], Any]] = {}
        # the unsatisfied names of the current state, and what was written since they were computed
        self._unsat: set[KT] = set()
        self._dirty: set[KT] = set()
        self._rescan = True

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

    # -- what changed since the last scan: every write to the criteria or the pins goes through one of these --

    def _add_to_criteria(self, criteria: dict[KT, Criterion[RT, CT]], requirement: RT, parent: CT | None) -> None:
        self._dirty.add(self._p.identify(requirement_or_candidate=requirement))
        super()._add_to_criteria(criteria, requirement, parent)

    def _attempt_to_pin_criterion(self, name: KT) -> list[Criterion[RT, CT]]:
        self._dirty.add(name)  # its pin (when it takes one)
        return super()._attempt_to_pin_criterion(name)

    def _remove_information_from_criteria(
        self, criteria: dict[KT, Criterion[RT, CT]], parents: Collection[KT]
    ) -> None:
        if parents:
            self._rescan = True  # every criterion is rebuilt
        super()._remove_information_from_criteria(criteria, parents)

    def _backjump(self, causes: list[RequirementInformation[RT, CT]]) -> bool:
        self._rescan = True  # states popped, pins undone, criteria patched
        return super()._backjump(causes)

    def _rollback_states(self) -> None:
        self._rescan = True
        super()._rollback_states()

    def _unsatisfied(self) -> set[KT]:
        """The names whose current pin misses a requirement of their criterion (or that have no pin): resolvelib's
        ``_is_current_pin_satisfying`` over every criterion, looked at again only where something changed.

        Between two rounds the criteria of the pinned candidate's dependencies and one pin change; every such
        write is noted (``_dirty``), and anything larger (a backjump, information removed from every criterion)
        asks for a whole scan.
        """
        criteria = self.state.criteria
        mapping = self.state.mapping
        if self._rescan:
            self._unsat.clear()
            names: Iterable[KT] = list(criteria)
        else:
            names = self._dirty
        memo = self._satisfying
        satisfied_by = self._p.is_satisfied_by
        unsat = self._unsat
        for key in names:
            criterion = criteria.get(key)
            if criterion is None:
                unsat.discard(key)
                continue
            pin = mapping.get(key)
            if pin is None:
                unsat.add(key)
                continue
            hit = memo.get(id(criterion))
            if hit is not None and hit[0] is criterion and hit[1] is pin:
                answer = hit[2]
            else:
                answer = all(satisfied_by(requirement=r, candidate=pin) for r in criterion.iter_requirement())
                memo[id(criterion)] = (criterion, pin, answer)
            if answer:
                unsat.discard(key)
            else:
                unsat.add(key)
        self._dirty = set()
        self._rescan = False
        return unsat

    def resolve(self, requirements: Iterable[RT], max_rounds: int) -> State[RT, CT, KT]:
        """resolvelib 1.2.1's ``Resolution.resolve``, line for line but for the scans and the dict (see the module)."""
        if not _FAST_LOOP:
            return super().resolve(requirements, max_rounds)
        if self._states:
            raise RuntimeError("already resolved")

        self._r.starting()

        # a plain dict where resolvelib has an OrderedDict: it is only read, popped from the end and appended to,
        # which a dict does in the same order, and each round copies it (0.4 instead of 10 us for 250 pins)
        self._states = [State(mapping={}, criteria={}, backtrack_causes=[])]
        for r in requirements:
            try:
                self._add_to_criteria(self.state.criteria, r, parent=None)
            except RequirementsConflicted as e:
                raise ResolutionImpossible(e.criterion.information) from e

        self._push_new_state()

        optimistic_rounds_cutoff: int | None = None
        optimistic_backjumping_start_round: int | None = None

        for round_index in range(max_rounds):
            self._r.starting_round(index=round_index)

            if self._optimistic_backjumping_ratio and self._save_states is not None:
                if optimistic_backjumping_start_round is None:
                    optimistic_backjumping_start_round = round_index
                    optimistic_rounds_cutoff = int((max_rounds - round_index) * self._optimistic_backjumping_ratio)

                    if optimistic_rounds_cutoff <= 0:
                        self._rollback_states()
                        continue
                elif (
                    optimistic_rounds_cutoff is not None
                    and round_index - optimistic_backjumping_start_round >= optimistic_rounds_cutoff
                ):
                    self._rollback_states()
                    continue

            unsatisfied = self._unsatisfied()
            unsatisfied_names = [key for key in self.state.criteria if key in unsatisfied]  # resolvelib's order

            if not unsatisfied_names:
                self._r.ending(state=self.state)
                return self.state

            satisfied_names = set(self.state.criteria.keys()) - set(unsatisfied_names)

            if len(unsatisfied_names) > 1:
                narrowed_unstatisfied_names = list(
                    self._p.narrow_requirement_selection(
                        identifiers=unsatisfied_names,
                        resolutions=self.state.mapping,
                        candidates=IteratorMapping(self.state.criteria, operator.attrgetter("candidates")),
                        information=IteratorMapping(self.state.criteria, operator.attrgetter("information")),
                        backtrack_causes=self.state.backtrack_causes,
                    )
                )
            else:
                narrowed_unstatisfied_names = unsatisfied_names

            if not narrowed_unstatisfied_names:
                raise RuntimeError("narrow_requirement_selection returned 0 names")

            if len(narrowed_unstatisfied_names) > 1:
                name = min(narrowed_unstatisfied_names, key=self._get_preference)
            else:
                name = narrowed_unstatisfied_names[0]

            failure_criterion = self._attempt_to_pin_criterion(name)

            if failure_criterion:
                causes = self._extract_causes(failure_criterion)
                self._r.resolving_conflicts(causes=causes)

                try:
                    success = self._backjump(causes)
                except ResolutionImpossible:
                    if self._optimistic_backjumping_ratio and self._save_states:
                        failed_optimistic_backjumping = True
                    else:
                        raise
                else:
                    failed_optimistic_backjumping = bool(
                        not success and self._optimistic_backjumping_ratio and self._save_states
                    )

                if failed_optimistic_backjumping and self._save_states:
                    self._rollback_states()
                else:
                    self.state.backtrack_causes[:] = causes

                    if not success:
                        raise ResolutionImpossible(self.state.backtrack_causes)
            else:
                # resolvelib's set of the previously satisfied names no longer satisfied (only membership and
                # iteration of it are used, so the order of the scan does not matter)
                newly_unsatisfied_names = set(self._unsatisfied() & satisfied_names)
                self._remove_information_from_criteria(self.state.criteria, newly_unsatisfied_names)
                self._push_new_state()

            self._r.ending_round(index=round_index, state=self.state)

        raise ResolutionTooDeep(max_rounds)

    def _get_preference(self, name: KT) -> Any:
        criterion = self.state.criteria[name]
        hit = self._preferences.get(id(criterion))
        if hit is not None and hit[0] is criterion:
            return hit[1]
        answer = super()._get_preference(name)
        self._preferences[id(criterion)] = (criterion, answer)
        return answer


LOOP_READ_FROM = ("1.2.1",)
"""The resolvelib releases whose ``Resolution.resolve`` the copied loop was read from and checked against."""
_FAST_LOOP = resolvelib.__version__ in LOOP_READ_FROM
"""Any other release (pyproject allows 1.1 and later 1.x) runs its own loop, with the remembered answers only."""


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
