"""Which file of a version a target would install: pip's choice among wheels (best tag), else the sdist.

Used by the debugging view, the benchmark and the recording script; the resolver keeps its own candidate
ordering, but the rule here is the same (compatible tags, Requires-Python, yanked files last).
"""

from __future__ import annotations

from collections.abc import Iterable

from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import DistFile, DistKind

__all__ = ["best_file", "installable"]


def installable(file: DistFile, env: TargetEnvironment) -> bool:
    """Whether ``file`` can install on the target: a compatible wheel or an sdist, and Requires-Python fits."""
    if not env.python_allowed(file.requires_python):
        return False
    return file.kind is DistKind.SDIST or env.wheel_rank(file.filename) is not None


def best_file(files: Iterable[DistFile], env: TargetEnvironment) -> DistFile | None:
    """The file pip would pick among one version's files: best-ranked wheel, else the sdist; unyanked first."""
    best: tuple[int, int, int] | None = None
    chosen: DistFile | None = None
    for file in files:
        if not env.python_allowed(file.requires_python):
            continue
        if file.kind is DistKind.WHEEL:
            rank = env.wheel_rank(file.filename)
            if rank is None:
                continue
            key = (int(file.is_yanked), 0, rank)
        else:
            key = (int(file.is_yanked), 1, 0)
        if best is None or key < best:
            best, chosen = key, file
    return chosen
