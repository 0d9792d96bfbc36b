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
    RequiresPythonRequirement,
    ResolverRequirement,
    Role,
    SpecifierRequirement,
)
from analyzer.resolver.results import Conflict, ConflictCause, phrase

__all__ = ["conflict_from_causes", "plain", "with_kept_causes"]


def conflict_from_causes(causes: Collection[Any], provider: Provider) -> Conflict:
    """resolvelib's ``ResolutionImpossible`` causes as a ``Conflict``: pip's wording, each parent's chain."""
    out: list[ConflictCause] = []
    seen: set[tuple[str, str | None, str | None]] = set()
    for info in causes:
        req: ResolverRequirement = info.requirement
        parent: Candidate | None = info.parent
        if parent is None and req.parent is not None:
            parent = req.parent
        text = plain(req)
        key = (text, parent.key if parent else None, str(parent.version) if parent else None)
        if key in seen:
            continue
        seen.add(key)
        role = req.role if parent is None else Role.DEPENDENCY
        out.append(
            ConflictCause(
                name=NormalizedName(req.name),
                requirement=text,
                pip_requirement=req.format_for_error(),
                role=role,
                parent=parent.name if parent else None,
                parent_version=str(parent.version) if parent else None,
                parent_origin=parent.origin if parent else None,
                chain=_chain(parent, provider) if parent is not None else (),
            )
        )
    # the interpreter first (pip reports it alone), then root causes, then the rest in resolvelib's order
    out.sort(key=lambda c: (c.name != REQUIRES_PYTHON_KEY, c.parent is not None))
    versions: tuple[str, ...] = ()
    yanked: tuple[str, ...] = ()
    if len(out) == 1 and out[0].name != REQUIRES_PYTHON_KEY:
        entries = provider.factory.versions(out[0].name)
        versions = tuple(str(e.version) for e in reversed(entries) if not e.yanked)
        yanked = tuple(str(e.version) for e in reversed(entries) if e.yanked)
    return Conflict(
        causes=tuple(out), python=str(provider.factory.python.version), versions=versions, yanked=yanked
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
                    return tuple(
                        phrase(
                            x.role,
                            x.parent.name if x.parent is not None else None,
                            str(x.parent.version) if x.parent is not None else None,
                            plain(x),
                        )
                        for x in reversed(step)
                    )
                if id(r.parent) not in visited:
                    visited.add(id(r.parent))
                    frontier.append((r.parent, step))
    return ()


def with_kept_causes(
    conflict: Conflict,
    kept: Mapping[NormalizedName, InstalledCandidate],
) -> Conflict:
    """Name the kept pins that constrained a conflicting project (pip's "The user requested (constraint)")."""
    extra = []
    present = {(c.role, c.name) for c in conflict.causes}
    for name in sorted({c.name for c in conflict.causes}):
        cand = kept.get(name)
        if cand is None or (Role.KEEP, name) in present:
            continue
        text = f"{name}=={cand.version}"
        extra.append(
            ConflictCause(
                name=name, requirement=text, pip_requirement=cand.format_for_error(), role=Role.KEEP
            )
        )
    if not extra:
        return conflict
    return replace(conflict, causes=conflict.causes + tuple(extra), versions=(), yanked=())
