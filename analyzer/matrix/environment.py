"""One target environment per interpreter and platform, shared by every row of a matrix, that remembers markers.

A warm check of one release evaluates some 30,000 markers (the image graph and ``pip check``, twice), and
neighbouring releases share nearly all of them: the same requirement objects from the metadata memo. Evaluating
each marker once per interpreter halves the cost of a row. The answers are ``TargetEnvironment``'s own.
"""

from __future__ import annotations

from functools import cached_property

from packaging.markers import Marker

from analyzer.environment import TargetEnvironment
from analyzer.snapshot import Snapshot

__all__ = ["SharedEnvironment", "shared_environment"]


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


_SHARED: dict[TargetEnvironment, SharedEnvironment] = {}


def shared_environment(snapshot: Snapshot) -> SharedEnvironment:
    """The shared environment of the snapshot's interpreter and platform (one per process)."""
    plain = TargetEnvironment.from_snapshot(snapshot)
    found = _SHARED.get(plain)
    if found is None:
        found = _SHARED[plain] = SharedEnvironment(**{f: getattr(plain, f) for f in plain.__dataclass_fields__})
    return found
