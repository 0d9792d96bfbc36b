"""One target environment per interpreter and platform, shared by every row of a matrix, that remembers markers.

Neighbouring releases evaluate nearly the same markers (the same requirement objects from the metadata memo), so
each marker is evaluated once per interpreter for the whole run. The answers are ``TargetEnvironment``'s own.
"""

from __future__ import annotations

from functools import cached_property

from packaging.markers import Marker

from analyzer.environment import TargetEnvironment
from analyzer.snapshot import Snapshot

__all__ = ["SharedEnvironment", "SharedEnvironments"]


class SharedEnvironment(TargetEnvironment):
    """``TargetEnvironment`` with a second memo of marker answers, keyed by the marker's text and the extras.

    The text, not the object: requirement objects are parsed afresh by some stages, and two markers with the same
    text are the same marker (``packaging`` compares them so).
    """

    @cached_property
    def _marker_memo(self) -> dict[tuple[str, frozenset[str] | tuple[str, ...]], bool]:
        return {}

    def _answer(self, marker: Marker, extras: frozenset[str] | tuple[str, ...]) -> bool:
        # reached when this marker object is new to ``evaluate``'s memo: its text may still be known
        key = (str(marker), extras)
        hit = self._marker_memo.get(key)
        if hit is None:
            hit = self._marker_memo[key] = super()._answer(marker, extras)
        return hit


class SharedEnvironments:
    """The shared environment of each interpreter and platform met by the rows of one matrix run."""

    def __init__(self) -> None:
        self._by_target: dict[TargetEnvironment, SharedEnvironment] = {}

    def of(self, snapshot: Snapshot) -> SharedEnvironment:
        plain = TargetEnvironment.from_snapshot(snapshot)
        found = self._by_target.get(plain)
        if found is None:
            fields = {f: getattr(plain, f) for f in plain.__dataclass_fields__}
            found = self._by_target[plain] = SharedEnvironment(**fields)
        return found
