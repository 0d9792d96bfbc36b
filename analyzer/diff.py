"""What changed between two snapshots: packages added, removed, upgraded, downgraded, re-pointed; the Python change.

A major-version change is called out because that is where breakage hides. Everything is sorted by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packaging.version import Version

from analyzer.snapshot import Pin, Snapshot

__all__ = ["PinChange", "SnapshotDiff", "diff", "is_major_change"]


@dataclass(frozen=True)
class PinChange:
    """One package present on both sides with a different version or source."""

    old: Pin
    new: Pin
    major: bool = False

    @property
    def name(self) -> str:
        return str(self.new.name)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "name": self.new.display_name,
            "old": self.old.version,
            "new": self.new.version,
            **({"old_url": self.old.url} if self.old.url else {}),
            **({"new_url": self.new.url} if self.new.url else {}),
            "major": self.major,
        }


@dataclass(frozen=True)
class SnapshotDiff:
    """The differences from snapshot ``a`` to snapshot ``b``."""

    a: str
    b: str
    added: tuple[Pin, ...]
    removed: tuple[Pin, ...]
    upgraded: tuple[PinChange, ...]
    downgraded: tuple[PinChange, ...]
    changed: tuple[PinChange, ...]
    """Same version (or versions that do not compare) but another direct reference or spelling of the version."""
    python: tuple[str, str] | None
    platform: tuple[str, str] | None = None
    a_name: str | None = None
    """How people name ``a`` (``colab 2025.07 (2025-08-11)``), where it has a name besides its id."""
    b_name: str | None = None

    @property
    def major_changes(self) -> tuple[PinChange, ...]:
        return tuple(sorted((c for c in self.upgraded + self.downgraded if c.major), key=lambda c: c.name))

    @property
    def changed_names(self) -> frozenset[str]:
        """Every package whose pin differs, whichever way."""
        return frozenset(
            [str(p.name) for p in self.added + self.removed]
            + [c.name for c in self.upgraded + self.downgraded + self.changed]
        )

    @property
    def empty(self) -> bool:
        return not self.changed_names and self.python is None and self.platform is None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "a_name": self.a_name or self.a,
            "b_name": self.b_name or self.b,
            "python": {"old": self.python[0], "new": self.python[1]} if self.python else None,
            "platform": {"old": self.platform[0], "new": self.platform[1]} if self.platform else None,
            "added": [{"name": p.display_name, "version": p.version} for p in self.added],
            "removed": [{"name": p.display_name, "version": p.version} for p in self.removed],
            "upgraded": [c.to_json_dict() for c in self.upgraded],
            "downgraded": [c.to_json_dict() for c in self.downgraded],
            "changed": [c.to_json_dict() for c in self.changed],
            "major": [c.new.display_name for c in self.major_changes],
        }


CALENDAR_YEAR = 1990
"""A first release number at least this large is a year (CalVer: certifi 2025.8.3), not a major version."""


def is_major_change(old: Version, new: Version) -> bool:
    """A change of the first release number, except between two calendar versions (a new year breaks nothing)."""
    a, b = old.release[0], new.release[0]
    return a != b and not (a >= CALENDAR_YEAR and b >= CALENDAR_YEAR)


def diff(a: Snapshot, b: Snapshot) -> SnapshotDiff:
    """Differences from ``a`` to ``b``, each list sorted by canonical name."""
    old, new = a.by_name, b.by_name
    added = tuple(new[n] for n in sorted(new.keys() - old.keys()))
    removed = tuple(old[n] for n in sorted(old.keys() - new.keys()))
    upgraded: list[PinChange] = []
    downgraded: list[PinChange] = []
    changed: list[PinChange] = []
    for name in sorted(old.keys() & new.keys()):
        before, after = old[name], new[name]
        if (before.version, before.url, before.editable) == (after.version, after.url, after.editable):
            continue
        v1, v2 = before.parsed_version, after.parsed_version
        if v1 is None or v2 is None or v1 == v2:
            changed.append(PinChange(before, after))
        else:
            (upgraded if v2 > v1 else downgraded).append(PinChange(before, after, is_major_change(v1, v2)))
    pa, pb = (
        f"{p.description or p.distro or p.os_name} {p.machine}{f', glibc {p.glibc}' if p.glibc else ''}"
        for p in (a.platform, b.platform)
    )
    return SnapshotDiff(
        a=a.id,
        b=b.id,
        added=added,
        removed=removed,
        upgraded=tuple(upgraded),
        downgraded=tuple(downgraded),
        changed=tuple(changed),
        python=(a.python, b.python) if a.python != b.python else None,
        platform=(pa, pb) if pa != pb else None,
        a_name=a.name,
        b_name=b.name,
    )
