"""Turning points: neighbouring rows whose verdicts differ, and what changed in between that caused it.

The cause is read from the two releases' diff (``analyzer.diff``) filtered by the reason chains of the rows that do
not fit: the pins pip would move, the pins it would leave broken and what they require, the causes of a resolver
conflict, the conflicting set's members and their chains. A changed pin outside all of these is counted, not
blamed. A change of the interpreter's X.Y is named first when it is there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace

from packaging.utils import NormalizedName

from analyzer.diff import diff
from analyzer.matrix.model import MatrixRow, PinMove, TurningPoint
from analyzer.report import Report, Verdict
from analyzer.snapshot import Snapshot

__all__ = ["chain_names", "turning_points"]


def chain_names(report: Report) -> frozenset[str]:
    """Every package name the report's explanation goes through."""
    names: set[str] = set()
    p = report.prediction
    if p is not None:
        names.update(str(c.name) for c in (*p.upgrades, *p.downgrades, *p.reinstalls))
        for v in p.newly_broken:
            names.update((str(v.name), str(v.dependency)))
        if p.conflict is not None:
            for cause in p.conflict.causes:
                names.add(str(cause.name))
                if cause.parent:
                    names.add(str(cause.parent))
    cs = report.conflict_set
    if cs is not None:
        for s in cs.sets:
            for m in s.members:
                names.add(str(m.name))
                for edge in m.reasons:
                    names.update((str(edge.parent), str(edge.child)))
    return frozenset(names)


def _minor(python: str) -> str:
    return ".".join(python.split(".")[:2])


def turning_points(
    rows: Sequence[MatrixRow], snapshot_of: Callable[[MatrixRow], Snapshot]
) -> tuple[TurningPoint, ...]:
    """The verdict changes between neighbouring rows (rows without a verdict are stepped over), oldest first."""
    out: list[TurningPoint] = []
    answered = [r for r in rows if r.verdict is not None]
    for before, after in itertools.pairwise(answered):
        if after.verdict is not before.verdict:
            point = explain(before, after, snapshot_of(before), snapshot_of(after))
            first_stop = before.fits and not after.fits and not any(p.stopped_fitting for p in out)
            out.append(replace(point, stopped_fitting=first_stop))
    return tuple(out)


def explain(before: MatrixRow, after: MatrixRow, a: Snapshot, b: Snapshot) -> TurningPoint:
    """Why ``after`` answers differently from ``before``: the Python change, and the changed pins in the chain."""
    d = diff(a, b)
    installability = Verdict.NOT_INSTALLABLE in (before.verdict, after.verdict)
    moved_python = _minor(before.python) != _minor(after.python) or (
        installability and before.python != after.python
    )
    python = (before.python, after.python) if moved_python else None
    # the chains of the rows that do not fit: what pip moves or breaks on either side of the change; when either
    # side is not installable, the interpreter and platform decide (installability reads no pin), so none is blamed
    explained = [] if installability else [r for r in (before, after) if not r.fits and r.report is not None]
    chain = frozenset().union(*(chain_names(r.report) for r in explained if r.report is not None))
    old, new = a.by_name, b.by_name
    moved = [NormalizedName(n) for n in sorted(d.changed_names & chain)]
    pins = tuple(
        PinMove(
            new[n].display_name if n in new else old[n].display_name,
            old[n].version if n in old else None,
            new[n].version if n in new else None,
        )
        for n in moved
    )
    change = f"{before.verdict_text} -> {after.verdict_text}"
    causes: list[str] = []
    if python is not None:
        causes.append(f"Python {python[0]} -> {python[1]}")
    if installability and d.platform is not None:
        causes.append(f"platform {d.platform[0]} -> {d.platform[1]}")
    if pins:
        causes.append("changed pins in the reason chain: " + ", ".join(p.text for p in pins))
    if not causes and installability:
        causes.append("whether it installs depends on the interpreter and platform, not on the pins")
    elif not causes:
        causes.append(f"none of the {len(d.changed_names)} changed pin(s) is in the reason chain")
    sentence = f"{after.label}: {change}; " + "; ".join(causes)
    return TurningPoint(
        before=before, after=after, change=change, python=python, pins=pins, sentence=sentence,
        other_changes=len(d.changed_names) - len(pins),
    )
