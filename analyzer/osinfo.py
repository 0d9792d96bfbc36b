"""Parse ``os-info.txt`` (``lsb_release -ds; python --version`` and more) into a platform and a Python version.

glibc decides which manylinux wheels install, and lsb_release names a distribution: the table maps one to the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import Version

from analyzer.errors import Problem
from analyzer.freeze import content_lines
from analyzer.snapshot import Platform

GLIBC_BY_DISTRO: dict[tuple[str, str], str] = {
    ("ubuntu", "18.04"): "2.27",
    ("ubuntu", "20.04"): "2.31",
    ("ubuntu", "22.04"): "2.35",
    ("ubuntu", "24.04"): "2.39",
    ("ubuntu", "26.04"): "2.43",
    ("debian", "10"): "2.28",
    ("debian", "11"): "2.31",
    ("debian", "12"): "2.36",
    ("debian", "13"): "2.41",
}

_DISTRO = re.compile(r"^(Ubuntu|Debian GNU/Linux|Debian)\s+(\d+(?:\.\d+)*)", re.IGNORECASE)
_PYTHON = re.compile(r"^Python\s+(\S+)$")


@dataclass(frozen=True)
class OsInfo:
    """What one os-info file says; fields it does not mention stay None."""

    platform: Platform
    python: str | None
    problems: tuple[Problem, ...] = ()


def glibc_for(distro: str, version: str) -> str | None:
    """glibc of a distribution release, matched on its major.minor (``22.04.5`` -> ``22.04``)."""
    parts = version.split(".")
    found = (GLIBC_BY_DISTRO.get((distro.lower(), v)) for v in (".".join(parts[:2]), parts[0]))
    return next((glibc for glibc in found if glibc), None)


def parse_os_info(text: str, file: str = "os-info.txt", machine: str = "x86_64") -> OsInfo:
    """Read the distribution line and the ``Python X.Y.Z`` line; other lines (R, Julia...) are ignored."""
    distro = distro_version = description = glibc = None
    python: str | None = None
    problems: list[Problem] = []
    for number, line in content_lines(text):
        if distro is None and (match := _DISTRO.match(line)):
            name = match.group(1).split()[0].lower()
            distro, distro_version, description = name, match.group(2), line
            glibc = glibc_for(name, distro_version)
            if glibc is None:
                problems.append(Problem(file, number, f"unknown glibc for {line!r}; manylinux wheels limited"))
            continue
        if python is None and (match := _PYTHON.match(line)):
            try:
                python = str(Version(match.group(1)))
            except ValueError:  # InvalidVersion, or a release number longer than int() converts
                problems.append(Problem(file, number, f"not a Python version: {match.group(1)!r}"))
    if python is None:
        problems.append(Problem(file, None, "no 'Python X.Y.Z' line"))
    return OsInfo(Platform("Linux", distro, distro_version, glibc, machine, description), python, tuple(problems))
