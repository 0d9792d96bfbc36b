"""Core metadata bytes -> ``CoreMetadata``; PKG-INFO out of an sdist without extracting or running anything.

``packaging.metadata.parse_email``, then field by field: one bad Requires-Dist line from the wild is skipped and
named (``CoreMetadata.skipped``) instead of losing the whole distribution.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Sequence
from zlib import error as zlib_error

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from analyzer.metadata.models import CoreMetadata, MetadataStatus

__all__ = ["SdistError", "find_metadata_member", "parse_core_metadata", "read_pkg_info", "read_pkg_info_stream"]

MAX_METADATA_BYTES = 8 * 1024 * 1024
"""A METADATA larger than this is not metadata: refuse it rather than hold it in memory."""


class SdistError(Exception):
    """The sdist could not be read (not an archive, no PKG-INFO)."""


def parse_core_metadata(
    data: bytes, *, name: NormalizedName, version: Version, source: str, sdist: bool = False
) -> CoreMetadata:
    """Parse METADATA / PKG-INFO bytes; for sdists, trust Requires-Dist only when it is declared static."""
    raw, unparsed = parse_email(data)
    if not raw.get("name") and not raw.get("metadata_version"):
        raise ValueError("not core metadata (no Metadata-Version, no Name)")
    skipped: list[str] = []
    requires: dict[str, Requirement] = {}
    for line in dict.fromkeys(raw.get("requires_dist", [])):
        # a repeated line says nothing new, and each copy would cost the resolver a pass over all the others
        try:
            requires[line] = Requirement(line)
        except InvalidRequirement as exc:
            skipped.append(f"Requires-Dist: {line} ({_first_line(exc)})")
    skipped.extend(f"Requires-Dist: {line}" for line in unparsed.get("requires-dist", []))
    requires_python: SpecifierSet | None = None
    rp = raw.get("requires_python")
    if rp:
        try:
            requires_python = SpecifierSet(rp)
        except InvalidSpecifier as exc:
            skipped.append(f"Requires-Python: {rp} ({_first_line(exc)}); any Python accepted")
    extras = frozenset(canonicalize_name(e) for e in raw.get("provides_extra", []))
    status = MetadataStatus.OK
    note = ""
    if sdist:
        mv_text = raw.get("metadata_version", "1.0")
        try:
            mv = Version(mv_text)
        except InvalidVersion:
            mv = Version("1.0")
        dynamic = {d.lower() for d in raw.get("dynamic", [])}
        if mv < Version("2.2"):
            status = MetadataStatus.REQUIREMENTS_UNKNOWN
            note = (
                f"sdist PKG-INFO has Metadata-Version {mv_text} (< 2.2): its Requires-Dist cannot be trusted"
            )
        elif "requires-dist" in dynamic:
            status = MetadataStatus.REQUIREMENTS_UNKNOWN
            note = "sdist declares Requires-Dist as dynamic: known only by building it, which tfconflict never does"
    requires_dist = tuple(requires.values()) if status is MetadataStatus.OK else ()
    return CoreMetadata(name, version, requires_dist, requires_python, extras, status, source, note, tuple(skipped))


def _first_line(exc: Exception) -> str:
    """packaging's parse errors draw a caret under the bad spot on further lines; a warning needs the first."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def find_metadata_member(names: Sequence[str], name: NormalizedName) -> str | None:
    """The ``*.dist-info/METADATA`` member of a wheel, top-level only, preferring the project's own dist-info."""
    candidates = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
    for member in candidates:
        folder = member.split("/", 1)[0][: -len(".dist-info")]
        if canonicalize_name(folder.rsplit("-", 1)[0]) == name:
            return member
    return candidates[0] if len(candidates) == 1 else None


def read_pkg_info(data: bytes, filename: str) -> bytes:
    """The top-level PKG-INFO of an sdist archive (``.tar.gz`` or ``.zip``), read in memory, never extracted."""
    buffer = io.BytesIO(data)
    try:
        if filename.lower().endswith(".zip"):
            with zipfile.ZipFile(buffer) as zf:
                members = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
                if not members:
                    raise SdistError(f"{filename}: no PKG-INFO at the top of the archive")
                info = zf.getinfo(members[0])
                if info.file_size > MAX_METADATA_BYTES:
                    raise SdistError(f"{filename}: PKG-INFO is too large")
                return zf.read(info)
        return read_pkg_info_stream(buffer, filename)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SdistError(f"{filename}: not a readable archive ({exc})") from exc


def read_pkg_info_stream(stream: io.RawIOBase | io.BufferedIOBase | object, filename: str) -> bytes:
    """PKG-INFO of a ``.tar.gz`` read as a stream, stopping at the member: a 400 MB sdist whose PKG-INFO
    comes first costs a few KB. Nothing is extracted to disk."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:  # type: ignore[call-overload]
            for member in tf:
                if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    if member.size > MAX_METADATA_BYTES:
                        raise SdistError(f"{filename}: PKG-INFO is too large")
                    handle = tf.extractfile(member)
                    if handle is None:
                        break
                    data: bytes = handle.read()
                    return data
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        raise SdistError(f"{filename}: not a readable archive ({exc})") from exc
    raise SdistError(f"{filename}: no PKG-INFO at the top of the archive")
