"""The image's pins as resolver candidates: what every question about one runtime starts from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packaging.utils import NormalizedName

from analyzer.resolver.candidates import InstalledCandidate, ResolverWarning, WarningKind
from analyzer.snapshot import Snapshot
from analyzer.versions import parse_version

if TYPE_CHECKING:
    from analyzer.resolver.factory import Factory

__all__ = ["installed_candidates"]


def installed_candidates(
    factory: Factory, snapshot: Snapshot
) -> tuple[dict[NormalizedName, InstalledCandidate], list[ResolverWarning]]:
    """The image's pins as candidates (requirements the snapshot carries, google-colab's or a capture's dist-info,
    count as their metadata)."""
    out: dict[NormalizedName, InstalledCandidate] = {}
    warnings: list[ResolverWarning] = []
    declared = {d.name: d for d in snapshot.declared}
    for pin in snapshot.pins:
        version = parse_version(pin.version)
        if version is None:
            message = f"{pin.name} {pin.version or '(no version)'} has no PEP 440 version; left out of the resolution"
            warnings.append(ResolverWarning(WarningKind.UNUSABLE_PIN, pin.name, pin.version, message))
            continue
        out[pin.name] = InstalledCandidate(factory, pin.name, version, url=pin.url, declared=declared.get(pin.name))
    return out, warnings
