"""The resolver: ``resolve()`` (``resolve.py``) answers what pip would pick, as plain data (``results.py``).

The provider, factory, candidates and requirements follow pip's split; ``explain.py`` turns resolvelib's causes
into a ``Conflict``; ``propagation.py`` proves, before a search, what kept and freed pins leave."""

from analyzer.resolver.candidates import (
    Origin,
    RequirementsRoute,
    ResolverWarning,
    WarningKind,
    origin_counts,
    route_counts,
)
from analyzer.resolver.requirements import Role
from analyzer.resolver.resolve import resolve
from analyzer.resolver.results import Conflict, ConflictCause, Resolution, ResolvedDist

__all__ = [
    "Conflict",
    "ConflictCause",
    "Origin",
    "RequirementsRoute",
    "Resolution",
    "ResolvedDist",
    "ResolverWarning",
    "Role",
    "WarningKind",
    "origin_counts",
    "resolve",
    "route_counts",
]
