"""Suggestions: the nearest versions of each requested package that fit the image as it is (or with the fewest
changes), e.g. "tensorflow 2.19.0 fits this runtime as it is". Every try is one "fits as is?" resolution, within
a bounded number of resolver calls, so a large image stays fast.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.conflict_set import ConflictSet, ConflictSetResult, Verdict, minimal_conflicting_set
from analyzer.diagnosis.graph import ImageGraph, image_graph
from analyzer.diagnosis.installable import specifier_versions, supported_versions
from analyzer.diagnosis.pipcheck import check_snapshot
from analyzer.resolver import Resolution
from analyzer.session import Session

if TYPE_CHECKING:
    from analyzer.diagnosis.options import Options

__all__ = ["Suggestion", "Suggestions", "candidate_versions", "pinned", "suggestions"]


@dataclass(frozen=True)
class Suggestion:
    """One version of a requested package and what it costs the image."""

    name: NormalizedName
    version: Version
    changes: int
    """0 when it fits the image as it is; else the size of its (smallest) minimal conflicting set."""
    installed: bool = False
    """The version the image already has."""
    conflict_set: ConflictSet | None = None

    @property
    def fits_as_is(self) -> bool:
        return self.changes == 0

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    def __str__(self) -> str:
        if self.fits_as_is:
            already = " (already installed)" if self.installed else ""
            return f"{self.name} {self.version} fits this runtime as it is{already}"
        return f"{self.name} {self.version} fits with {self.changes} change(s) to the image"


@dataclass(frozen=True)
class Suggestions:
    items: tuple[Suggestion, ...]
    """Best first: fits as is, nearest to the request first; then the fewest changes."""
    tried: tuple[tuple[NormalizedName, Version, bool], ...] = ()
    """Every version tried and whether it fit as is, in the order tried."""
    resolver_calls: int = 0
    seconds: float = 0.0
    exhausted: bool = False
    """The budget ran out before every candidate was tried."""
    options: Options | None = None
    """What to do: the requested projects' nearest versions with their cost, runtimes where the request fits."""
    unread: tuple[str, ...] = ()
    """Warnings of reads the searches rested on that failed (``ConflictSetResult.unread``)."""

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the report must say for the suggestions and options to be read right: the reads they rested on
        that failed (a version taken as requiring nothing because its metadata could not be read fits)."""
        return tuple(
            dict.fromkeys((*self.unread, *(self.options.unread if self.options is not None else ())))
        )


def pinned(original: Requirement, version: Version) -> Requirement:
    """``original`` pinned to ``version``, keeping its extras and marker (``tensorflow[and-cuda]==2.15.1; ...``)."""
    extras = f"[{','.join(sorted(original.extras))}]" if original.extras else ""
    marker = f"; {original.marker}" if original.marker else ""
    return Requirement(f"{canonicalize_name(original.name)}{extras}=={version}{marker}")


def candidate_versions(
    requirement: Requirement, session: Session, installed: Version | None
) -> list[Version]:
    """Versions worth trying for ``requirement``, nearest first: the installed one, then the newest patch of each
    ``major.minor`` (the version a user would pick) outwards from the requested version, newer first at equal
    distance. Finals with a distribution for the target only; the requested versions are the main answer's."""
    support = supported_versions(session, canonicalize_name(requirement.name))
    usable = sorted(v for v, s in support.items() if s.installable and not v.is_prerelease)
    matching = set(requirement.specifier.filter(usable)) if requirement.specifier else set()
    series: dict[tuple[int, ...], Version] = {}
    for v in usable:
        if v not in matching:
            series[v.release[:2]] = v  # ascending: the newest of each series wins
    picks = sorted(series.values())
    named = specifier_versions(requirement)
    anchor = max(named) if named else installed
    out: list[Version] = []
    if installed is not None and installed in support and installed not in matching:
        out.append(installed)
    if anchor is None:
        out.extend(reversed(picks))
    else:
        below = [v for v in picks if v < anchor][::-1]
        above = [v for v in picks if v >= anchor]
        out.extend(v for pair in itertools.zip_longest(above, below) for v in pair if v is not None)
    return list(dict.fromkeys(out))


def suggestions(
    request: Sequence[Requirement],
    session: Session,
    *,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
    resolver: Callable[..., Resolution] | None = None,
    graph: ImageGraph | None = None,
    ignore_edges: Collection[tuple[NormalizedName, NormalizedName]] | None = None,
    max_calls: int = 24,
    wanted: int = 2,
    fewest_changes: int = 2,
    budget: float | None = None,
) -> Suggestions:
    """Up to ``wanted`` versions per requested name that fit as is, within ``max_calls`` resolver calls; if none
    fits, the ``fewest_changes`` nearest versions ranked by the size of their minimal conflicting set.
    ``budget`` bounds the whole search in seconds (``exhausted`` says when it ran out)."""
    started = time.perf_counter()
    deadline = None if budget is None else started + budget
    base = graph if graph is not None else image_graph(session)
    ignored = check_snapshot(session).edges() if ignore_edges is None else tuple(ignore_edges)
    calls = 0
    exhausted = False

    def search(position: int, version: Version, fits_only: bool) -> ConflictSetResult | None:
        """The request with its ``position``-th item pinned to ``version``; None once out of calls or time."""
        nonlocal calls, exhausted
        if calls >= max_calls or (deadline is not None and time.perf_counter() > deadline):
            exhausted = True
            return None
        exact = pinned(request[position], version)
        result = minimal_conflicting_set(
            [exact if i == position else r for i, r in enumerate(request)], session,
            constraints=constraints, resolver=resolver, graph=base, ignore_edges=ignored, orders=1, verify=False,
            fits_only=fits_only, budget=None if deadline is None else max(0.0, deadline - time.perf_counter()),
        )  # fmt: skip
        calls += result.resolver_calls
        unread.update(dict.fromkeys(result.unread))
        return result

    tried: list[tuple[NormalizedName, Version, bool]] = []
    items: list[Suggestion] = []
    unread: dict[str, None] = {}
    for position, requirement in enumerate(request):
        if requirement.url:
            continue
        name = canonicalize_name(requirement.name)
        pin = session.snapshot.by_name.get(name)
        installed = pin.parsed_version if pin is not None else None
        fitting: list[Suggestion] = []
        misses: list[Version] = []
        for version in candidate_versions(requirement, session, installed):
            if len(fitting) >= wanted:
                break
            result = search(position, version, True)
            if result is None:
                break
            tried.append((name, version, result.verdict is Verdict.FITS))
            if result.verdict is Verdict.FITS:
                fitting.append(Suggestion(name, version, 0, installed=version == installed))
            elif result.verdict is Verdict.CONFLICT:
                misses.append(version)
        items.extend(fitting)
        if fitting:
            continue
        ranked: list[Suggestion] = []
        for version in misses[:fewest_changes]:
            result = search(position, version, False)
            if result is None:
                break
            if result.best is not None:
                ranked.append(Suggestion(name, version, len(result.best), version == installed, result.best))
        items.extend(sorted(ranked, key=lambda s: s.changes))
    seconds = time.perf_counter() - started
    return Suggestions(tuple(items), tuple(tried), calls, seconds, exhausted, unread=tuple(unread))
