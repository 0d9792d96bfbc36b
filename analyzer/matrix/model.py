"""The result of ``tfconflict matrix``: one row per distinct release, the turning points between rows, and its
versioned JSON form (``tfconflict.matrix/1``). Plain frozen data: renderers read it and never recompute a verdict,
and a row says how its conflicting set was obtained, so no row claims more than was computed for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from analyzer.report import Report, Verdict
from analyzer.request import RequestItem

__all__ = ["SCHEMA", "Matrix", "MatrixRow", "PinMove", "SetMove", "SetStatus", "TurningPoint"]

SCHEMA = "tfconflict.matrix/1"
"""Version of the JSON form; bumped whenever a field changes meaning (fields are only ever added)."""

_VERDICT_WORDS: dict[Verdict | None, str] = {
    None: "error",
    Verdict.FITS: "fits",
    Verdict.NOT_INSTALLABLE: "not installable",
    Verdict.UNRESOLVABLE: "unresolvable",
    Verdict.BUILDS_FROM_SOURCE: "builds from source",
}
"""A row's verdict in words; pip's changes are counted instead."""


class SetStatus(str, Enum):
    """How a row's minimal conflicting set was obtained: what the row may claim about it."""

    MINIMAL = "minimal"
    """Searched for this row and verified minimal (freeing it fits; re-pinning any single member fails)."""
    NOT_MINIMAL = "not-minimal"
    """Searched for this row, but the search ran out of budget: the set is enough, not shown minimal."""
    REUSED = "reused"
    """Not searched again: an earlier row (``set_from``) has the same Python, platform and the same pins in the
    part of the image the request touches, so the search would ask the same questions and get the same answers."""
    NOT_COMPUTED = "not-computed"
    """No search ran for this row (skipped by the options or the row budget): the size and members are unknown."""
    NONE = "none"
    """No set applies: the request fits as it is, or is not installable or unresolvable whatever the image holds."""


@dataclass(frozen=True)
class SetMove:
    """One member of a row's conflicting set and what happens to it."""

    name: str
    installed: str | None
    moves_to: str | None
    removed: bool = False

    @property
    def text(self) -> str:
        """``numpy 2.0.2 -> 1.23.5``, ``treescope: remove``."""
        if self.removed or self.moves_to is None:
            return f"{self.name}: remove"
        return f"{self.name} {self.installed or '?'} -> {self.moves_to}"

    def to_json_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


@dataclass(frozen=True)
class MatrixRow:
    """The check of the request against one release (and the identical releases folded into it)."""

    release: str
    """The release's id, usable as ``--snapshot`` (``colab@1a2b3c4d5e``)."""
    date: datetime
    commit: str
    python: str
    kind: str
    folded: tuple[str, ...] = ()
    """Ids of later releases whose freeze, Python and platform are identical: the same answer, not re-checked."""
    verdict: Verdict | None = None
    """None only when the row failed (``error``)."""
    changes: int = 0
    """Preinstalled packages pip would upgrade, downgrade or reinstall."""
    newly_broken: int = 0
    """Preinstalled packages pip would leave newly broken."""
    preexisting: int = 0
    """Violations ``pip check`` already reports in the image before the install."""
    set_size: int | None = None
    """Members of the minimal conflicting set; None when no set applies or it was not computed."""
    set_members: tuple[SetMove, ...] = ()
    """The set's first members (at most ``FIRST_MEMBERS``), closest to the conflict first."""
    set_status: SetStatus = SetStatus.NOT_COMPUTED
    set_from: str | None = None
    """For a reused set, the release whose search it comes from."""
    summary: str = ""
    """The row in one line (the report's headline, or the error)."""
    error: str | None = None
    """Why this row has no verdict (metadata unavailable, a snapshot that cannot be read): a value, not a crash."""
    report: Report | None = None
    """The full check of this row, where one was computed (reused rows carry their own prediction's report)."""
    seconds: float = 0.0
    packages: int = 0
    same_as: str | None = None
    """The earlier release with an identical freeze, Python and platform whose answer this row copies."""
    name: str = ""
    """How people name the release (``colab 2025.07 (2025-08-11)``): what human-facing text shows."""
    version_name: str | None = None
    """The named runtime version in force at this release, if any."""
    set_from_name: str | None = None
    same_as_name: str | None = None

    @property
    def label(self) -> str:
        """The name, else the id and the day: every label says when."""
        return self.name or f"{self.release} ({self.day.isoformat()})"

    @property
    def fits(self) -> bool:
        return self.verdict is Verdict.FITS

    @property
    def day(self) -> dt.date:
        return self.date.date()

    @property
    def verdict_text(self) -> str:
        """``fits``, ``pip changes 3 and breaks 1``, ``not installable``, ``error``."""
        return _VERDICT_WORDS.get(self.verdict, f"pip changes {self.changes} and breaks {self.newly_broken}")

    def to_json_dict(self, *, with_report: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "release": self.release,
            "name": self.label,
            "version_name": self.version_name,
            "date": self.date.isoformat(),
            "commit": self.commit,
            "python": self.python,
            "kind": self.kind,
            "packages": self.packages,
            "folded": list(self.folded),
            "same_as": self.same_as,
            "verdict": self.verdict.value if self.verdict is not None else None,
            "verdict_text": self.verdict_text,
            "changes": self.changes,
            "newly_broken": self.newly_broken,
            "preexisting": self.preexisting,
            "conflict_set": {
                "status": self.set_status.value,
                "size": self.set_size,
                "from": self.set_from,
                "first_members": [m.to_json_dict() for m in self.set_members],
            },
            "summary": self.summary,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }
        if with_report:
            out["report"] = self.report.to_json_dict() if self.report is not None else None
        return out


@dataclass(frozen=True)
class PinMove:
    """A pin that changed between the two releases of a turning point and enters the reason chain."""

    name: str
    old: str | None
    """None: added in the later release."""
    new: str | None
    """None: removed in the later release."""

    @property
    def text(self) -> str:
        if self.old is None:
            return f"{self.name} added ({self.new})"
        if self.new is None:
            return f"{self.name} removed ({self.old})"
        return f"{self.name} {self.old} -> {self.new}"

    def to_json_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text}


@dataclass(frozen=True)
class TurningPoint:
    """Two neighbouring rows with different verdicts, and what changed in the later release that caused it."""

    before: MatrixRow
    after: MatrixRow
    change: str
    """The verdicts, ``fits -> breaks``."""
    python: tuple[str, str] | None = None
    """The Python change (old, new), when the interpreter moved."""
    pins: tuple[PinMove, ...] = ()
    """Pins from ``snapshots diff`` of the two releases that enter the reason chain of either row, where that row
    does not fit (what pip moves or leaves broken, a resolver conflict's causes, the set's members and chains)."""
    sentence: str = ""
    stopped_fitting: bool = False
    """True for the first release where the request stopped fitting (the first row that fits before it)."""
    other_changes: int = 0
    """Pins that changed between the two releases but enter no reason chain."""

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "before": self.before.release,
            "after": self.after.release,
            "before_name": self.before.label,
            "after_name": self.after.label,
            "before_date": self.before.date.isoformat(),
            "after_date": self.after.date.isoformat(),
            "change": self.change,
            "python": {"old": self.python[0], "new": self.python[1]} if self.python else None,
            "pins": [p.to_json_dict() for p in self.pins],
            "other_changes": self.other_changes,
            "sentence": self.sentence,
            "stopped_fitting": self.stopped_fitting,
        }


@dataclass(frozen=True)
class Matrix:
    """The request checked against every distinct release of one runtime kind in a date range."""

    request: tuple[RequestItem, ...]
    kind: str
    source: str
    since: date | None
    until: date | None
    rows: tuple[MatrixRow, ...]
    """Oldest first; one per distinct release."""
    turning_points: tuple[TurningPoint, ...] = ()
    releases: int = 0
    """Releases in the range before identical ones were folded."""
    timings: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    workers: int = 1

    def row(self, release: str) -> MatrixRow:
        """The row of a release id (a folded release's id finds the row it was folded into); KeyError if none."""
        for r in self.rows:
            if r.release == release or release in r.folded:
                return r
        for r in self.rows:
            if r.release.startswith(release) or any(f.startswith(release) for f in r.folded):
                return r
        raise KeyError(release)

    @property
    def stopped_fitting(self) -> TurningPoint | None:
        """The first release where the request stopped fitting."""
        return next((t for t in self.turning_points if t.stopped_fitting), None)

    def to_json_dict(self, *, with_reports: bool = False) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "request": [
                {"requirement": str(i.requirement), "origin": i.origin, "line": i.line} for i in self.request
            ],
            "source": self.source,
            "kind": self.kind,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "releases": self.releases,
            "rows": [r.to_json_dict(with_report=with_reports) for r in self.rows],
            "turning_points": [t.to_json_dict() for t in self.turning_points],
            "warnings": list(self.warnings),
            "workers": self.workers,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
