"""The running interpreter's own environment as a snapshot (selector ``current``, ``snapshots capture``).

Each distribution is read from its own files as ``importlib.metadata`` finds them (never by importing it): the
name and version, its direct reference from ``direct_url.json`` (PEP 610) as pip freeze does, and its
Requires-Dist, Requires-Python and Provides-Extra, so the snapshot carries the requirements it was installed
with (local versions and packages on no index included). Values are kept as written: a malformed line is named
by the resolver when it skips it, as for any metadata, rather than parsed twice here. An egg-info without
Requires-Dist is read from its ``requires.txt`` as pip reads it. A distribution whose metadata cannot be read
keeps its pin (from its folder's name) and a problem; its requirements then come from the index.
"""

from __future__ import annotations

import json
import platform as _platform
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

from analyzer.errors import Problem
from analyzer.osinfo import glibc_for
from analyzer.snapshot import DIST_INFO, DeclaredRequirements, Pin, Platform, Snapshot, clip

__all__ = ["InstalledDistribution", "current_platform", "current_snapshot", "direct_url_of", "read_distribution"]


@dataclass(frozen=True)
class InstalledDistribution:
    """One distribution as its files say: its pin, its requirements (None when its metadata cannot be read,
    or it has no name) and what was wrong with them."""

    pin: Pin | None
    requirements: DeclaredRequirements | None
    problems: tuple[Problem, ...] = ()


def current_snapshot(distributions: Iterable[metadata.Distribution] | None = None) -> Snapshot:
    """Every distribution visible to this interpreter; the first one on ``sys.path`` wins, as for imports."""
    pins: dict[str, Pin] = {}
    declared: list[DeclaredRequirements] = []
    problems: list[Problem] = []
    for dist in distributions if distributions is not None else metadata.distributions():
        found = read_distribution(dist)
        if found.pin is not None and found.pin.name in pins:
            continue  # shadowed by one earlier on the path: neither installed nor worth a problem
        problems += found.problems
        if found.pin is None:
            continue
        pins[found.pin.name] = found.pin
        if found.requirements is not None:
            declared.append(found.requirements)
    return Snapshot(
        id="current",
        python=".".join(str(part) for part in sys.version_info[:3]),
        pins=tuple(pins.values()),
        date=datetime.now(timezone.utc).replace(microsecond=0),
        python_evidence=f"the running interpreter ({sys.executable})",
        platform=current_platform(),
        source="current",
        declared=tuple(declared),
        problems=tuple(problems),
    )


def read_distribution(dist: metadata.Distribution) -> InstalledDistribution:
    """One distribution's pin and requirements, read from its metadata file (METADATA, else PKG-INFO) as text."""
    folder = _info_folder(dist)
    where = str(folder) if folder is not None else "<distribution>"
    text, filename, failure = _metadata_text(dist)
    file = f"{where}/{filename}" if filename else where
    if text is not None:
        try:
            raw, unparsed = parse_email(text)
        except ValueError as exc:  # one unreadable file must not end the capture of the others
            failure = f"cannot be parsed ({exc})"
        else:
            name = raw.get("name")
            if isinstance(name, str) and name.strip():
                return _from_metadata(dist, folder, filename, file, text, raw, unparsed)
            failure = "has no Name field"
    # the metadata cannot be read: the folder's name still says which distribution this is
    from_folder = _name_version_of(folder)
    if from_folder is None:
        return InstalledDistribution(None, None, (Problem(file, None, f"{failure}; left out of the snapshot"),))
    name, version = from_folder
    url, editable = direct_url_of(dist)
    pin = Pin(name=canonicalize_name(name), display_name=name, version=version, url=url, editable=editable)
    message = f"{failure}; {name} {version} is pinned from its folder's name, its requirements come from the index"
    return InstalledDistribution(pin, None, (Problem(file, None, message),))


def _from_metadata(
    dist: metadata.Distribution, folder: Path | None, filename: str, file: str, text: str,
    raw: Mapping[str, object], unparsed: Mapping[str, list[str]],
) -> InstalledDistribution:
    name = str(raw["name"])
    version = raw.get("version")
    url, editable = direct_url_of(dist)
    pin = Pin(name=canonicalize_name(name), display_name=name, version=version if isinstance(version, str) else None,
              url=url, editable=editable)
    problems = [Problem(file, _line_of(text, field), f"{field}: packaging cannot read {clip(repr(values))}; left out")
                for field, values in unparsed.items() if field in ("requires-dist", "requires-python", "provides-extra")]
    requirements = list(_strings(raw.get("requires_dist")))
    extras = list(_strings(raw.get("provides_extra")))
    evidence = (f"{folder.name}/{filename}" if filename else folder.name) if folder is not None else file
    if not requirements or not extras:
        egg_requirements, egg_extras = _requires_txt(dist)
        if not requirements and egg_requirements:
            requirements, evidence = egg_requirements, f"{evidence} + requires.txt"
        if not extras and egg_extras:
            extras = egg_extras
    requires_python = raw.get("requires_python")
    declared = DeclaredRequirements(
        name=pin.name,
        requirements=tuple(requirements),
        evidence=evidence,
        requires_python=requires_python if isinstance(requires_python, str) else None,
        provides_extra=tuple(extras),
        origin=DIST_INFO,
    )
    return InstalledDistribution(pin, declared, tuple(problems))


def _metadata_text(dist: metadata.Distribution) -> tuple[str | None, str, str]:
    """The metadata text as importlib.metadata looks for it (METADATA, PKG-INFO, an egg-info file itself), the
    file it came from, and why there is none."""
    for filename in ("METADATA", "PKG-INFO", ""):
        try:
            text = dist.read_text(filename)
        except UnicodeDecodeError:
            return None, filename, "not UTF-8 text"
        except OSError as exc:
            return None, filename, f"cannot be read ({exc.strerror or exc})"
        if text:
            return text, filename, ""
    return None, "", "no METADATA file"


def _requires_txt(dist: metadata.Distribution) -> tuple[list[str], list[str]]:
    """An egg-info's ``requires.txt`` as PEP 508 lines and its extras, converted as pip converts them."""
    try:
        content = dist.read_text("requires.txt")
    except (OSError, UnicodeDecodeError):
        return [], []
    requirements: list[str] = []
    extras: list[str] = []
    extra = marker = ""
    for line in (content or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line.strip("[]").partition(":")
            if extra and extra not in extras:
                extras.append(extra)
            continue
        condition = f'extra == "{canonicalize_name(extra)}"' if extra else ""
        if marker:
            condition = f"({marker}) and {condition}" if condition else marker
        requirements.append(f"{line} ; {condition}" if condition else line)
    return requirements, extras


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, str))


def _line_of(text: str, field: str) -> int | None:
    """The first line of ``text`` that holds ``field``: problems say where, as linters do."""
    prefix = field.lower() + ":"
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            return None  # the headers end at the first blank line
        if line.lower().startswith(prefix):
            return number
    return None


def _info_folder(dist: metadata.Distribution) -> Path | None:
    """The ``.dist-info`` / ``.egg-info`` path of a distribution found on the file system (pip reads the same
    attribute: importlib.metadata has no public one)."""
    path = getattr(dist, "_path", None)
    return Path(str(path)) if path is not None else None


def _name_version_of(folder: Path | None) -> tuple[str, str] | None:
    """``name-version.dist-info`` (or ``name-version[-pyX.Y].egg-info``) as its name and version."""
    if folder is None or folder.suffix not in (".dist-info", ".egg-info"):
        return None
    parts = folder.name[: -len(folder.suffix)].split("-")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def direct_url_of(dist: metadata.Distribution) -> tuple[str | None, bool]:
    """The URL a distribution was installed from (PEP 610), in pip freeze's form, and whether it is editable."""
    try:
        data = json.loads(dist.read_text("direct_url.json") or "null")
    except (OSError, ValueError):
        return None, False
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str):
        return None, False
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        return f"{vcs['vcs']}+{url}@{vcs['commit_id']}", False
    dir_info = data.get("dir_info")
    editable = isinstance(dir_info, dict) and bool(dir_info.get("editable"))
    return url, editable


def current_platform() -> Platform:
    """OS, distribution, glibc and machine of this machine (the distribution from os-release when there is one)."""
    system = _platform.system() or sys.platform
    release: dict[str, str] = {}
    glibc: str | None = None
    if system == "Linux":
        libc, version = _platform.libc_ver()
        if libc == "glibc" and version:
            glibc = ".".join(version.split(".")[:2])
        try:
            release = _platform.freedesktop_os_release()
        except OSError:
            pass
    distro = release.get("ID") or None
    distro_version = release.get("VERSION_ID") or None
    description = release.get("PRETTY_NAME") or None
    if glibc is None and distro and distro_version:
        glibc = glibc_for(distro, distro_version)
    return Platform(system, distro, distro_version, glibc, _platform.machine() or "unknown", description)
