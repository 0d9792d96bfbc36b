"""One analysis session: what every stage of one check shares. Every memo of an analysis (on its factory,
and the versions that install, here) lives on it and ends with it: no module global, so two sessions never
see each other's answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataSource
from analyzer.metadata.select import VersionSupport
from analyzer.resolver.candidates import InstalledCandidate, ResolverWarning
from analyzer.resolver.factory import Factory
from analyzer.resolver.installed import installed_candidates
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.pintable import RequirementsTable

__all__ = ["Session"]


@dataclass(frozen=True, eq=False)
class Session:
    """What the stages of one analysis share; built by ``Session.open``."""

    snapshot: Snapshot
    env: TargetEnvironment
    source: MetadataSource
    factory: Factory
    """Candidates, version lists and evaluated requirements, memoized for this session only."""
    installed: Mapping[NormalizedName, InstalledCandidate]
    """The image's pins as resolver candidates (their metadata read on first use)."""
    pin_warnings: tuple[ResolverWarning, ...] = ()
    """Pins left out of every resolution (no PEP 440 version)."""
    support: dict[NormalizedName, Mapping[Version, VersionSupport]] = field(default_factory=dict)
    """How each version of a project installs on the target (``installable.supported_versions``): the searches
    ask it again for the same projects in every question."""

    @classmethod
    def open(
        cls,
        snapshot: Snapshot,
        source: MetadataSource,
        env: TargetEnvironment | None = None,
        table: RequirementsTable | None = None,
    ) -> Session:
        """``table``: the snapshot source's requirements table, read for installed pins instead of the index."""
        env = env if env is not None else TargetEnvironment.from_snapshot(snapshot)
        factory = Factory(source, env, table)
        installed, warnings = installed_candidates(factory, snapshot)
        return cls(snapshot, env, source, factory, installed, tuple(warnings))
