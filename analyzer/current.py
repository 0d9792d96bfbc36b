"""The running interpreter's own environment as a snapshot (selector ``current``, ``snapshots capture``).

Read with ``importlib.metadata`` (never by importing the packages), direct references from ``direct_url.json``
(PEP 610) as pip freeze does.
"""

from __future__ import annotations

import json
import platform as _platform
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata

from packaging.utils import canonicalize_name

from analyzer.osinfo import glibc_for
from analyzer.snapshot import Pin, Platform, Snapshot

__all__ = ["current_platform", "current_snapshot", "direct_url_of"]


def current_snapshot(distributions: Iterable[metadata.Distribution] | None = None) -> Snapshot:
    """Every distribution visible to this interpreter; the first one on ``sys.path`` wins, as for imports."""
    pins: dict[str, Pin] = {}
    for dist in distributions if distributions is not None else metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if not name or canonicalize_name(name) in pins:
            continue
        url, editable = direct_url_of(dist)
        pins[canonicalize_name(name)] = Pin(
            name=canonicalize_name(name), display_name=name, version=dist.version, url=url, editable=editable
        )
    return Snapshot(
        id="current",
        python=".".join(str(part) for part in sys.version_info[:3]),
        pins=tuple(pins.values()),
        date=datetime.now(timezone.utc).replace(microsecond=0),
        python_evidence=f"the running interpreter ({sys.executable})",
        platform=current_platform(),
        source="current",
    )


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
