"""From resolvelib's causes to a ``Conflict``: each cause with pip's wording and the chain that brought it in."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from packaging.utils import NormalizedName

from analyzer.resolver.candidates import Candidate, InstalledCandidate, Origin
from analyzer.resolver.provider import Provider
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    RequiresPythonRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)
from analyzer.resolver.results import Conflict, ConflictCause

__all__ = ["cause", "conflict_from_causes", "plain", "with_kept_causes"]


def cause(
    req: ResolverRequirement, parent: Candidate | None = None, chain: tuple[str, ...] = ()
) -> ConflictCause:
    """One requirement of a conflict: pip's wording, and who asked for it (a root's role when nobody did)."""
    return ConflictCause(
        name=NormalizedName(req.name),
        requirement=plain(req),
        pip_requirement=req.format_for_error(),
        role=req.role if parent is None else Role.DEPENDENCY,
        parent=parent.name if parent else None,
        parent_version=str(parent.version) if parent else None,
        chain=chain,
    )


def conflict_from_causes(causes: Collection[Any], provider: Provider) -> Conflict:
    """resolvelib's ``ResolutionImpossible`` causes as a ``Conflict``: pip's wording, each parent's chain."""
    out: dict[tuple[str, str | None, str | None], ConflictCause] = {}
    for info in causes:
        req: ResolverRequirement = info.requirement
        parent: Candidate | None = info.parent if info.parent is not None else req.parent
        key = (plain(req), parent.key if parent else None, str(parent.version) if parent else None)
        if key not in out:
            out[key] = cause(req, parent, _chain(parent, provider) if parent is not None else ())
    # the interpreter first (pip reports it alone), then root causes, then the rest in resolvelib's order
    found = sorted(out.values(), key=lambda c: (c.name != REQUIRES_PYTHON_KEY, c.parent is not None))
    # a single unsatisfiable requirement: pip lists the versions it saw, oldest first
    single = len(found) == 1 and found[0].name != REQUIRES_PYTHON_KEY
    files = provider.factory.versions(found[0].name)[::-1] if single else ()
    return Conflict(
        causes=tuple(found),
        python=str(provider.factory.python.version),
        versions=tuple(str(f.version) for f in files if not f.is_yanked),
        yanked=tuple(str(f.version) for f in files if f.is_yanked),
    )


def plain(req: ResolverRequirement) -> str:
    """A requirement as PEP 508 text: ``numpy<1.24,>=1.22``, ``jax @ URL``, ``numpy==1.26.4`` (a kept pin)."""
    if isinstance(req, SpecifierRequirement):
        return req.text
    if isinstance(req, RequiresPythonRequirement):
        return f"Python{req.specifier}"
    cand = req.candidate
    if cand.url is not None and cand.origin is not Origin.INSTALLED:
        return f"{cand.name} @ {cand.url}"
    return f"{cand.name}=={cand.version}"


def _chain(start: Candidate, provider: Provider) -> tuple[str, ...]:
    """The shortest recorded path from a root requirement down to ``start``, phrased line by line."""
    frontier: deque[tuple[Candidate, tuple[ResolverRequirement, ...]]] = deque([(start, ())])
    visited = {id(start)}
    while frontier:
        cand, path = frontier.popleft()
        keys = [cand.key] if cand.key == cand.name else [cand.key, cand.name]
        for key in keys:
            for r in provider.seen.get(key, {}).values():
                if not r.is_satisfied_by(cand):
                    continue
                step = (*path, r)
                if r.parent is None:
                    return tuple(cause(x, x.parent).text for x in reversed(step))
                if id(r.parent) not in visited:
                    visited.add(id(r.parent))
                    frontier.append((r.parent, step))
    return ()


def with_kept_causes(conflict: Conflict, kept: Mapping[NormalizedName, InstalledCandidate]) -> Conflict:
    """Name the kept pins that constrained a conflicting project (pip's "The user requested (constraint)")."""
    present = {(c.role, c.name) for c in conflict.causes}
    extra = tuple(
        cause(ExplicitRequirement(kept[name], role=Role.KEEP))
        for name in sorted({c.name for c in conflict.causes})
        if name in kept and (Role.KEEP, name) not in present
    )
    if not extra:
        return conflict
    return replace(conflict, causes=conflict.causes + extra, versions=(), yanked=())
