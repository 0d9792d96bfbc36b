"""The one rule for which file of a version pip installs on a target: the best-tagged wheel, else the sdist;
Requires-Python must admit the target, yanked files come last."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import DistFile, DistKind

__all__ = ["VersionSupport", "best_file", "version_support"]


def _rank(file: DistFile, env: TargetEnvironment) -> tuple[int, int, int] | None:
    """pip's preference among one version's files, lowest first; None when ``file`` cannot install on ``env``."""
    if not env.python_allowed(file.requires_python):
        return None
    if file.kind is DistKind.SDIST:
        return (int(file.is_yanked), 1, 0)
    rank = env.wheel_rank(file.filename)
    return None if rank is None else (int(file.is_yanked), 0, rank)


def best_file(files: Iterable[DistFile], env: TargetEnvironment) -> DistFile | None:
    """The file pip would pick among one version's files: best-ranked wheel, else the sdist; unyanked first."""
    ranked = [(key, file) for file in files if (key := _rank(file, env)) is not None]
    return min(ranked, key=lambda pair: pair[0])[1] if ranked else None


@dataclass(frozen=True)
class VersionSupport:
    """How one version of a project can install on the target: its best wheel, its sdist, or only yanked files
    (PEP 592: usable only when the request pins this exact version)."""

    version: Version
    wheel: str | None
    sdist: str | None
    yanked_only: bool = False

    @property
    def installable(self) -> bool:
        return self.wheel is not None or self.sdist is not None

    @property
    def sdist_only(self) -> bool:
        return self.wheel is None and self.sdist is not None


def version_support(files: Iterable[DistFile], env: TargetEnvironment) -> dict[Version, VersionSupport]:
    """Which versions install on ``env`` and with which file; yanked files count only when nothing else does."""
    by_version: dict[Version, list[DistFile]] = {}
    for file in files:
        by_version.setdefault(file.version, []).append(file)
    out: dict[Version, VersionSupport] = {}
    for version, group in by_version.items():
        usable = [f for f in group if _rank(f, env) is not None]
        kept = [f for f in usable if not f.is_yanked]
        wheel = best_file((f for f in kept if f.kind is DistKind.WHEEL), env)
        sdist = next((f.filename for f in kept if f.kind is DistKind.SDIST), None)
        out[version] = VersionSupport(
            version, wheel.filename if wheel else None, sdist, yanked_only=bool(usable) and not kept
        )
    return out
