"""Core metadata bytes -> ``CoreMetadata``; PKG-INFO (and setuptools' egg-info) out of an sdist without
extracting or running anything.

``packaging.metadata.parse_email``, then field by field: one bad Requires-Dist line from the wild is skipped and
named (``CoreMetadata.skipped``) instead of losing the whole distribution.

An sdist's requirements are taken in an order of trust, and the route is named in ``CoreMetadata.source`` after a
``+`` (``sdist+pkg-info-not-guaranteed``; see ``SdistRoute``): a PKG-INFO whose Requires-Dist is static (PEP 643:
Metadata-Version 2.2 or later, not listed in ``Dynamic``); a PKG-INFO that lists Requires-Dist without that
promise (what the uploader's build said: not guaranteed); setuptools' ``*.egg-info/requires.txt`` read from the
same archive (not guaranteed either); else requirements unknown, and the resolver looks at the same version's
wheels for other interpreters (``resolver/factory.py``).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import IO
from zlib import error as zlib_error

from packaging.markers import InvalidMarker, Marker
from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from analyzer.metadata.models import CoreMetadata, MetadataStatus

__all__ = [
    "EggInfo",
    "PkgInfo",
    "SdistError",
    "SdistRoute",
    "find_metadata_member",
    "parse_core_metadata",
    "read_pkg_info",
    "read_pkg_info_stream",
    "requires_txt_lines",
    "sdist_route",
]

MAX_METADATA_BYTES = 8 * 1024 * 1024
"""A METADATA larger than this is not metadata: refuse it rather than hold it in memory."""
MAX_PKG_INFO_SCAN = 1024 * 1024 * 1024
"""How far into an unpacked tar the reader looks for PKG-INFO: every byte before a member has to be inflated, and a
small archive can inflate without bound."""
MAX_EGG_INFO_SCAN = 32 * 1024 * 1024
"""How far into an unpacked archive the reader looks for ``requires.txt`` once PKG-INFO has said nothing:
past it the egg-info is not looked for (every byte of a tar before a member has to be read)."""


NOT_GUARANTEED = "not guaranteed to be what a build declares"


class SdistError(Exception):
    """The sdist could not be read (not an archive, no PKG-INFO)."""


class SdistRoute(str, Enum):
    """Where an sdist's requirements were read when its PKG-INFO does not promise them (the suffix of ``source``
    after ``+``); a static PKG-INFO has no suffix."""

    PKG_INFO_NOT_GUARANTEED = "pkg-info-not-guaranteed"
    """Requires-Dist lines of a PKG-INFO before Metadata-Version 2.2, or listed in ``Dynamic``."""
    EGG_INFO = "egg-info"
    """setuptools' ``*.egg-info/requires.txt`` (or its absence, which means none) in the archive."""


def sdist_route(source: str) -> SdistRoute | None:
    """The route named in a ``CoreMetadata.source`` (None: a wheel's, a static PKG-INFO's, or unknown)."""
    _, _, suffix = source.partition("+")
    try:
        return SdistRoute(suffix) if suffix else None
    except ValueError:
        return None


@dataclass(frozen=True)
class EggInfo:
    """The ``*.egg-info`` folder of an sdist, as setuptools wrote it when the sdist was made."""

    folder: str
    """Its path inside the archive, without the archive's root folder (``numba.egg-info``, ``src/x.egg-info``)."""
    requires_txt: bytes | None
    """``requires.txt``; None when the folder has none, which setuptools writes whenever there are requirements."""


class PkgInfo(bytes):
    """PKG-INFO's bytes, with what the same archive holds of setuptools' egg-info when PKG-INFO alone does not say
    what the sdist requires; ``bytes``, so a caller that only parses PKG-INFO is unchanged."""

    egg_info: EggInfo | None
    note: str
    """Why the egg-info is not known when it was looked for and not found (the archive was too large to scan)."""

    def __new__(cls, data: bytes, egg_info: EggInfo | None = None, note: str = "") -> PkgInfo:  # noqa: PYI034
        made = super().__new__(cls, data)
        made.egg_info = egg_info
        made.note = note
        return made


def parse_core_metadata(
    data: bytes,
    *,
    name: NormalizedName,
    version: Version,
    source: str,
    sdist: bool = False,
    egg_info: EggInfo | None = None,
) -> CoreMetadata:
    """Parse METADATA / PKG-INFO bytes; for an sdist, take its requirements by the module's order of trust.
    ``egg_info`` defaults to what the archive reader found next to PKG-INFO (``PkgInfo``)."""
    raw, unparsed = parse_email(data)
    if not raw.get("name") and not raw.get("metadata_version"):
        raise ValueError("not core metadata (no Metadata-Version, no Name)")
    skipped: list[str] = []
    requires = _requirements(raw.get("requires_dist", []), "Requires-Dist: ", skipped)
    skipped.extend(f"Requires-Dist: {line}" for line in unparsed.get("requires-dist", []))
    requires_python: SpecifierSet | None = None
    rp = raw.get("requires_python")
    if rp:
        try:
            requires_python = SpecifierSet(rp)
        except InvalidSpecifier as exc:
            skipped.append(f"Requires-Python: {rp} ({_first_line(exc)}); any Python accepted")
    extras = frozenset(canonicalize_name(e) for e in raw.get("provides_extra", []))
    meta = CoreMetadata(name, version, requires, requires_python, extras, MetadataStatus.OK, source)
    if sdist and not (claim := _Claim.of(raw)).static:
        if raw.get("requires_dist") or unparsed.get("requires-dist"):
            route = SdistRoute.PKG_INFO_NOT_GUARANTEED.value
            note = f"requirements from the sdist's PKG-INFO ({claim.why}): {NOT_GUARANTEED}"
            meta = replace(meta, source=f"{source}+{route}", note=note)
        else:
            if egg_info is None and isinstance(data, PkgInfo):
                egg_info = data.egg_info
            meta = _from_egg_info(meta, claim, egg_info, skipped, data)
    return replace(meta, skipped=tuple(skipped))


@dataclass(frozen=True)
class _Claim:
    """What a PKG-INFO promises of its own Requires-Dist (PEP 643)."""

    metadata_version: str
    dynamic: bool
    """2.2 or later and Requires-Dist listed in ``Dynamic``."""
    static: bool

    @classmethod
    def of(cls, raw: RawMetadata) -> _Claim:
        text = raw.get("metadata_version", "1.0")
        try:
            recent = Version(text) >= Version("2.2")
        except InvalidVersion:
            recent = False
        dynamic = recent and "requires-dist" in {d.lower() for d in raw.get("dynamic", [])}
        return cls(text, dynamic, recent and not dynamic)

    @property
    def why(self) -> str:
        if self.dynamic:
            return f"Metadata-Version {self.metadata_version}, Requires-Dist listed in Dynamic"
        return f"Metadata-Version {self.metadata_version}, before 2.2"


def _from_egg_info(
    meta: CoreMetadata, claim: _Claim, egg_info: EggInfo | None, skipped: list[str], data: bytes
) -> CoreMetadata:
    """The requirements setuptools wrote into the archive's egg-info, when PKG-INFO names none; unknown when the
    archive has no egg-info (or was not read for it)."""
    if egg_info is None:
        if isinstance(data, PkgInfo):
            looked = data.note or "no *.egg-info/requires.txt in the archive"
        else:
            looked = "the archive was not read for its egg-info"
        note = f"sdist PKG-INFO ({claim.why}) names no Requires-Dist; {looked}"
        return replace(meta, status=MetadataStatus.REQUIREMENTS_UNKNOWN, note=note)
    source = f"{meta.source}+{SdistRoute.EGG_INFO.value}"
    if egg_info.requires_txt is None:
        note = (
            f"no requirements: the sdist's {egg_info.folder} has no requires.txt (setuptools writes one whenever "
            f"there are requirements) and its PKG-INFO ({claim.why}) names none: {NOT_GUARANTEED}"
        )
        return replace(meta, source=source, note=note)
    where = f"{egg_info.folder}/requires.txt"
    lines, extras = requires_txt_lines(
        egg_info.requires_txt.decode("utf-8", "replace"), skipped, label=f"{where}: "
    )
    requires = _requirements(lines, f"{where}: ", skipped)
    note = (
        f"requirements from the sdist's {where}, as its PKG-INFO ({claim.why}) names none: {NOT_GUARANTEED}"
    )
    return replace(
        meta, requires_dist=requires, provides_extra=meta.provides_extra | extras, source=source, note=note
    )


def _requirements(lines: Iterable[str], label: str, skipped: list[str]) -> tuple[Requirement, ...]:
    """Each distinct line parsed once; one that does not parse is named in ``skipped``, not fatal."""
    requires: dict[str, Requirement] = {}
    for line in dict.fromkeys(lines):
        # a repeated line says nothing new, and each copy would cost the resolver a pass over all the others
        try:
            requires[line] = Requirement(line)
        except InvalidRequirement as exc:
            skipped.append(f"{label}{line} ({_first_line(exc)})")
    return tuple(requires.values())


def requires_txt_lines(
    text: str, skipped: list[str], *, label: str = "requires.txt: "
) -> tuple[list[str], frozenset[NormalizedName]]:
    """setuptools' ``requires.txt`` as Requires-Dist lines and the extras its sections name: plain requirement
    lines, then ``[extra]``, ``[:marker]`` and ``[extra:marker]`` sections whose lines take the section's marker
    (and ``extra == ...``), as ``pkg_resources`` reads it (comments after `` #``, ``\\`` continuations). A line or
    section that does not parse is named in ``skipped``."""
    out: list[str] = []
    extras: set[NormalizedName] = set()
    section: list[str] | None = []
    """The marker clauses of the current section; None inside a section that did not parse."""
    for line in _logical_lines(text):
        if line.startswith("["):
            section = _section_clauses(line, skipped, label, extras)
            continue
        if section is None:
            skipped.append(f"{label}{line} (in a section that did not parse)")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            skipped.append(f"{label}{line} ({_first_line(exc)})")
            continue
        clauses = ([f"({req.marker})"] if req.marker is not None else []) + section
        req.marker = Marker(" and ".join(clauses)) if clauses else None
        out.append(str(req))
    return out, frozenset(extras)


def _logical_lines(text: str) -> Iterable[str]:
    pending = ""
    for physical in text.splitlines():
        line = physical.strip()
        if " #" in line:
            line = line[: line.find(" #")].rstrip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line and not line.startswith("#"):
            yield line
    if pending.strip():
        yield pending.strip()


def _section_clauses(
    line: str, skipped: list[str], label: str, extras: set[NormalizedName]
) -> list[str] | None:
    """``[extra:marker]`` -> the marker clauses its lines take (its extra added to ``extras``); None when it
    does not parse."""
    if not line.endswith("]"):
        skipped.append(f"{label}{line} (not a section header)")
        return None
    extra, _, marker_text = line[1:-1].strip().partition(":")
    clauses = []
    if marker_text.strip():
        try:
            clauses.append(f"({Marker(marker_text.strip())})")
        except InvalidMarker as exc:
            skipped.append(f"{label}{line} ({_first_line(exc)}); its lines are skipped")
            return None
    if extra.strip():
        extras.add(canonicalize_name(extra.strip()))
        clauses.append(f'extra == "{canonicalize_name(extra.strip())}"')
    return clauses


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


def _wants_egg_info(pkg_info: bytes) -> bool:
    """Whether PKG-INFO leaves the requirements to the egg-info: no promise (PEP 643) and no Requires-Dist line."""
    try:
        raw, unparsed = parse_email(pkg_info)
    except (ValueError, UnicodeDecodeError):
        return False  # parse_core_metadata says what is wrong with it
    return not _Claim.of(raw).static and not raw.get("requires_dist") and not unparsed.get("requires-dist")


def _is_pkg_info(name: str) -> bool:
    return name.count("/") == 1 and name.endswith("/PKG-INFO")


def _egg_folder(name: str) -> tuple[str, str] | None:
    """(the egg-info folder below the archive's root, the member's name inside it) of a member, if it is in one
    (``root/x.egg-info/requires.txt`` or ``root/src/x.egg-info/requires.txt``)."""
    parts = name.split("/")
    for depth in (1, 2):
        if len(parts) > depth + 1 and parts[depth].endswith(".egg-info"):
            return "/".join(parts[1 : depth + 1]), "/".join(parts[depth + 1 :])
    return None


class _EggFolders:
    """The egg-info folders seen in an archive, and which one is the project's."""

    def __init__(self) -> None:
        self.folders: dict[str, bytes | None] = {}

    def see(self, folder: str) -> None:
        self.folders.setdefault(folder, None)

    def chosen(self, pkg_info: bytes) -> EggInfo | None:
        """The project's own folder (its name as PKG-INFO's ``Name``, the shallowest first), else the only one."""
        try:
            project = canonicalize_name(parse_email(pkg_info)[0].get("name", ""))
        except (ValueError, UnicodeDecodeError):
            project = NormalizedName("")
        own = sorted(
            (f for f in self.folders if canonicalize_name(_egg_stem(f)) == project),
            key=lambda f: (f.count("/"), f),
        )
        if own:
            return EggInfo(own[0], self.folders[own[0]])
        if len(self.folders) == 1:
            folder = next(iter(self.folders))
            return EggInfo(folder, self.folders[folder])
        return None

    def done(self, pkg_info: bytes | None) -> bool:
        """Whether reading further can change the answer: PKG-INFO is known and the chosen folder's
        requires.txt is read."""
        if pkg_info is None:
            return False
        chosen = self.chosen(pkg_info)
        return chosen is not None and chosen.requires_txt is not None


def _egg_stem(folder: str) -> str:
    """``x`` of ``src/x.egg-info`` or ``x-1.0-py3.8.egg-info``."""
    return folder.rsplit("/", 1)[-1][: -len(".egg-info")].split("-", 1)[0]


def read_pkg_info(data: bytes | IO[bytes], filename: str) -> PkgInfo:
    """The top-level PKG-INFO of an sdist archive (``.tar.gz`` or ``.zip``; its bytes or a seekable file), never
    extracted; with the archive's egg-info when PKG-INFO does not state the requirements."""
    buffer = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        if filename.lower().endswith(".zip"):
            with zipfile.ZipFile(buffer) as zf:
                members = [n for n in zf.namelist() if _is_pkg_info(n)]
                if not members:
                    raise SdistError(f"{filename}: no PKG-INFO at the top of the archive")
                pkg_info = _read_zip_member(zf, members[0], filename)
                if not _wants_egg_info(pkg_info):
                    return PkgInfo(pkg_info)
                eggs = _EggFolders()
                for member in zf.namelist():
                    found = _egg_folder(member)
                    if found is not None:
                        eggs.see(found[0])
                        if found[1] == "requires.txt":
                            eggs.folders[found[0]] = _read_zip_member(zf, member, filename)
                return PkgInfo(pkg_info, eggs.chosen(pkg_info))
        return read_pkg_info_stream(buffer, filename)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise SdistError(f"{filename}: not a readable archive ({exc})") from exc


def _read_zip_member(zf: zipfile.ZipFile, member: str, filename: str) -> bytes:
    """A small member, inflated in bounded steps whatever its entry claims (``zf.read`` would inflate the
    whole compressed data in one call)."""
    info = zf.getinfo(member)
    if max(info.file_size, info.compress_size) > MAX_METADATA_BYTES:
        raise SdistError(f"{filename}: {member.split('/', 1)[-1]} is too large")
    with zf.open(info) as handle:
        data = handle.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise SdistError(f"{filename}: {member.split('/', 1)[-1]} is too large")
    return data


def read_pkg_info_stream(stream: io.RawIOBase | io.BufferedIOBase | object, filename: str) -> PkgInfo:
    """PKG-INFO of a ``.tar.gz`` read as a stream, stopping at the member: a 400 MB sdist whose PKG-INFO comes
    first costs a few KB. Only when PKG-INFO leaves the requirements to setuptools' egg-info is the stream read
    further, to its ``requires.txt`` (at most ``MAX_EGG_INFO_SCAN`` unpacked). Nothing is extracted to disk."""
    pkg_info: bytes | None = None
    eggs = _EggFolders()
    note = ""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:  # type: ignore[call-overload]
            for member in tf:
                if pkg_info is None and member.offset_data + member.size > MAX_PKG_INFO_SCAN:
                    gigabytes = MAX_PKG_INFO_SCAN // (1024 * 1024 * 1024)
                    raise SdistError(f"{filename}: no PKG-INFO in its first {gigabytes} GB unpacked; not read further")
                if pkg_info is not None and member.offset_data + member.size > MAX_EGG_INFO_SCAN:
                    megabytes = MAX_EGG_INFO_SCAN // (1024 * 1024)
                    note = f"the archive was not read past {megabytes} MB for its egg-info"
                    break
                egg = _egg_folder(member.name)
                if egg is not None:
                    eggs.see(egg[0])
                if not member.isfile():
                    continue
                if pkg_info is None and _is_pkg_info(member.name):
                    pkg_info = _read_tar_member(tf, member, filename)
                    if not _wants_egg_info(pkg_info):
                        return PkgInfo(pkg_info)
                elif egg is not None and egg[1] == "requires.txt":
                    eggs.folders[egg[0]] = _read_tar_member(tf, member, filename)
                if eggs.done(pkg_info):
                    break
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        # pip could not unpack it either; and a part read is no answer to keep
        raise SdistError(f"{filename}: not a readable archive ({exc})") from exc
    if pkg_info is None:
        raise SdistError(f"{filename}: no PKG-INFO at the top of the archive")
    return PkgInfo(pkg_info, None if note else eggs.chosen(pkg_info), note)


def _read_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, filename: str) -> bytes:
    if member.size > MAX_METADATA_BYTES:
        raise SdistError(f"{filename}: {member.name.split('/', 1)[-1]} is too large")
    handle = tf.extractfile(member)
    return handle.read() if handle is not None else b""
