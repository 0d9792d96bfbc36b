"""A snapshot source's requirements table: what the metadata engine read for every pin of every release of the
source, shipped beside its declaration, so a check needs the index only for what may move.

Installed packages' requirements are a property of the runtime, the same for every request asked of a release.
The table holds, for each pinned (name, version) per target (``env_key``: what decides which file pip picks), the
record ``Factory.info_for_installed`` made from the index; for direct references, the record read from their own
URL; and the core metadata of every file read for them, so a resolution trying that same file as an index
candidate needs no range read. Only permanent answers are held: a reading that met a network failure is left out
and asked of the index at run time, as before (``analyzer.pintable_build``).

Besides the pins' own files, the table holds the file pip would pick on each target for the other versions of a
pinned project (``analyzer.pintable_build`` says which): what a minimal-set search reads when it frees a pin and
the resolver tries that project's other versions, newest first.

The file: a line naming the format, a JSON header line (source, the indexes read as a digest, the targets,
counts, and where each section lies), then zlib-compressed sections of UTF-8 lines: ``S``, requirement texts and
``R``, lists of them by number (each written once, however many versions and targets repeat it); ``P``, one line
per pinned version (``name<TAB>version<TAB>[[record, [target numbers]], ...]``); ``U``, direct references
(``url<TAB>record``); ``I``, the files' index (``group<TAB>offset<TAB>size``), and ``F``, one compressed block per
group (the project a file name names): a first line of the group's requirement lists, then its files
(``filename<TAB>sha256<TAB>core metadata``). A section is decompressed when first asked for and a line decoded
when its entry is: loading reads the header alone, a check's first lookup the lists and the projects, and a file
lookup the index and its own project's block only.

A user's update (``tfconflict snapshots requirements``) writes an overlay of the same form in the cache, on top of
the shipped file it was made against; an overlay made against another shipped file is left aside.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.errors import InputError
from analyzer.metadata.models import CoreMetadata, MetadataStatus
from analyzer.versions import parse_version, specifier_of, version_of

if TYPE_CHECKING:
    from importlib.abc import Traversable

    from analyzer.environment import TargetEnvironment
    from analyzer.sources import SourceDeclaration

__all__ = [
    "FORMAT",
    "PinRecord",
    "RequirementsTable",
    "TableData",
    "env_key",
    "file_group",
    "index_digest",
    "load_overlay",
    "load_table",
    "overlay_path",
    "pin_key",
    "read_table_file",
    "shipped_digest",
    "shipped_file",
    "table_bytes",
    "write_table_file",
]

FORMAT = "tfconflict.requirements-table/2"


def env_key(env: TargetEnvironment) -> str:
    """What decides which file pip picks for a version: the interpreter's full version (a Requires-Python may
    name a micro version, ``>=3.7.1``), sys_platform, machine and glibc, e.g. ``3.11.13-linux-x86_64-glibc2.35``."""
    glibc = f"glibc{env.glibc[0]}.{env.glibc[1]}" if env.glibc is not None else "noglibc"
    return f"{env.python_full}-{env.sys_platform}-{env.machine}-{glibc}"


def file_group(filename: str) -> str:
    """The group a file's entry is kept in: the project its name names (canonical), "" when it names none. The
    writer and the reader ask this same function, so a lookup decompresses that project's block alone."""
    from analyzer.metadata.index import split_dist_filename

    try:
        parsed = split_dist_filename(filename)
    except ValueError:  # InvalidWheelFilename, InvalidSdistFilename, InvalidVersion
        return ""
    return parsed[0] if parsed is not None else ""


def pin_key(version: str) -> str:
    """A pin's version as the table keys it: PEP 440's normal form (``2.6.0+cu124``), the text itself if none."""
    parsed = parse_version(version)
    return str(parsed) if parsed is not None else version


def index_digest(index_urls: Sequence[str]) -> str:
    """What names the index a table was read from without writing it: a digest of the primary index's redacted
    URL (the first). A table is used only under the same primary index; extra indexes do not change what it
    says: a pin is what the runtime installed from the primary index, a file entry is keyed by its content."""
    from analyzer.metadata.config import redact_url

    text = redact_url(index_urls[0]).rstrip("/") if index_urls else ""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PinRecord:
    """An installed pin's requirements exactly as ``Factory.info_for_installed`` made them, in plain strings."""

    requires_dist: tuple[str, ...]
    requires_python: str | None
    provides_extra: tuple[str, ...]
    known: bool
    route: str
    """A ``RequirementsRoute`` value."""
    filename: str | None
    """The file read (None when the pin is opaque)."""
    warnings: tuple[tuple[str, str], ...]
    """(``WarningKind`` value, message), in order."""


@dataclass
class TableData:
    """A table's entries, decoded: what the builder fills and ``write_table_file`` writes."""

    source: str
    index: str
    """``index_digest`` of the indexes read."""
    pins: dict[tuple[NormalizedName, str, str], PinRecord] = field(default_factory=dict)
    """(name, ``pin_key`` version, ``env_key``) -> record."""
    urls: dict[str, PinRecord] = field(default_factory=dict)
    files: dict[str, tuple[str, CoreMetadata]] = field(default_factory=dict)
    """filename -> (sha256, core metadata)."""
    base: str | None = None
    """For an overlay, the digest of the shipped file it was made against."""
    as_of: str | None = None
    """The ``--as-of`` moment the index was read at (ISO 8601), None for the index of its day."""

    def update(self, other: TableData) -> None:
        self.pins.update(other.pins)
        self.urls.update(other.urls)
        self.files.update(other.files)


class _Part:
    """One table file: its header read, each section decompressed and split when first asked for, each line
    decoded when its entry is."""

    def __init__(self, data: bytes, label: str) -> None:
        self.label = label
        self._data = data
        self.parse: Callable[[str], Requirement] = Requirement
        """How a requirement text becomes one: the table's memo once the part belongs to a table."""
        magic, _, rest = data.partition(b"\n")
        head, _, self._blobs = rest.partition(b"\n")
        if magic.decode("utf-8", "replace") != FORMAT:
            raise InputError(f"not a requirements table of format {FORMAT}", file=label)
        try:
            header = json.loads(head)
            sections = {tag: (int(at), int(size)) for tag, (at, size) in header["sections"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"not a requirements table: bad header ({exc})", file=label) from exc
        self.header: dict[str, Any] = header
        self._sections = sections
        self.envs: tuple[str, ...] = tuple(header.get("envs", ()))
        self._env_numbers = {key: i for i, key in enumerate(self.envs)}
        self._lists: dict[int, tuple[str, ...]] = {}
        self._keyed: dict[str, dict[str, str]] = {}
        self._list_lines: list[str] | None = None
        self._strings: list[str] = []
        self._groups: dict[str, tuple[list[list[str]], dict[str, str]]] = {}
        self._group_index: dict[str, tuple[int, int]] | None = None

    @functools.cached_property
    def digest(self) -> str:
        """What an overlay names as its base, and part of the table's identity (computed when first asked)."""
        return hashlib.sha256(self._data).hexdigest()[:16]

    def _lines(self, tag: str, within: tuple[int, int] | None = None) -> list[str]:
        """A section's lines (``within``: one block of it, offset and size); a damaged one is an InputError
        naming the file."""
        at, size = self._sections.get(tag, (0, 0))
        if within is not None:
            at, size = at + within[0], within[1]
        if not size:
            return []
        try:
            text = zlib.decompress(self._blobs[at : at + size]).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as exc:
            raise InputError(f"damaged requirements table (section {tag}): {exc}", file=self.label) from exc
        return text.split("\n")

    def _group(self, group: str) -> tuple[list[list[str]], dict[str, str]]:
        """One group's requirement lists and file lines (filename -> the rest), its block decompressed once."""
        found = self._groups.get(group)
        if found is None:
            if self._group_index is None:
                self._group_index = {}
                for line in self._lines("I"):
                    try:
                        name, at, size = line.split("\t")
                        self._group_index[name] = (int(at), int(size))
                    except ValueError as exc:
                        raise InputError(f"damaged requirements table (section I): {exc}", file=self.label) from exc
            where = self._group_index.get(group)
            lines = self._lines("F", where) if where is not None else []
            try:
                lists = json.loads(lines[0]) if lines else []
                found = self._groups[group] = (lists, dict(line.split("\t", 1) for line in lines[1:]))
            except ValueError as exc:
                raise InputError(f"damaged requirements table (section F, {group}): {exc}", file=self.label) from exc
        return found

    def groups(self) -> list[str]:
        self._group("")  # reads the index
        assert self._group_index is not None
        return sorted(self._group_index)

    def _section(self, tag: str) -> dict[str, str]:
        """A keyed section: each line's key (``name<TAB>version`` for ``P``, else its first field) -> the rest."""
        found = self._keyed.get(tag)
        if found is None:
            lines = self._lines(tag)
            try:
                if tag == "P":
                    found = self._keyed[tag] = dict(line.rsplit("\t", 1) for line in lines)
                else:
                    found = self._keyed[tag] = dict(line.split("\t", 1) for line in lines)
            except ValueError as exc:  # a line without its key
                raise InputError(f"damaged requirements table (section {tag}): {exc}", file=self.label) from exc
        return found

    @property
    def projects(self) -> dict[str, str]:
        return self._section("P")

    @property
    def url_lines(self) -> dict[str, str]:
        return self._section("U")

    @property
    def pin_count(self) -> int:
        return int(self.header.get("pins", 0))

    def requirement_list(self, number: int) -> tuple[str, ...]:
        found = self._lists.get(number)
        if found is None:
            if self._list_lines is None:
                self._list_lines = self._lines("R")
                self._strings = self._lines("S")
            found = self._lists[number] = tuple(self._strings[i] for i in json.loads(self._list_lines[number]))
        return found

    def record(self, raw: Sequence[Any]) -> PinRecord:
        reqs, python, extras, known, route, filename, warnings = raw
        return PinRecord(
            self.requirement_list(reqs), python, tuple(extras), bool(known), route, filename,
            tuple((kind, message) for kind, message in warnings),
        )

    def pin(self, name: str, version: str, env: str) -> PinRecord | None:
        number = self._env_numbers.get(env)
        if number is None:
            return None
        body = self.projects.get(f"{name}\t{version}")
        if body is None:
            return None
        for raw, envs in json.loads(body):
            if number in envs:
                return self.record(raw)
        return None

    def url(self, url: str) -> PinRecord | None:
        body = self.url_lines.get(url)
        return self.record(json.loads(body)) if body is not None else None

    def file(self, filename: str) -> tuple[str, CoreMetadata] | None:
        lists, lines = self._group(file_group(filename))
        body = lines.get(filename)
        if body is None:
            return None
        sha, _, meta = body.partition("\t")
        try:
            name, version, reqs, python, extras, status, source, note, skipped = json.loads(meta)
            requires = lists[reqs]
        except (ValueError, TypeError, IndexError) as exc:
            raise InputError(f"damaged requirements table (file {filename}): {exc}", file=self.label) from exc
        return sha, CoreMetadata(
            NormalizedName(name),
            version_of(version),
            tuple(self.parse(r) for r in requires),
            specifier_of(python) if python is not None else None,
            frozenset(NormalizedName(e) for e in extras),
            MetadataStatus(status),
            source,
            note,
            tuple(skipped),
        )

    def data(self) -> TableData:
        """Every entry, decoded (for an update, which writes them again)."""
        out = TableData(str(self.header.get("source", "")), str(self.header.get("index", "")))
        out.base = self.header.get("base")
        out.as_of = self.header.get("as_of")
        for key, body in self.projects.items():
            name, version = key.split("\t")
            for raw, envs in json.loads(body):
                record = self.record(raw)
                for number in envs:
                    out.pins[(NormalizedName(name), version, self.envs[number])] = record
        for url in self.url_lines:
            found = self.url(url)
            assert found is not None
            out.urls[url] = found
        for group in self.groups():
            for filename in self._group(group)[1]:
                entry = self.file(filename)
                assert entry is not None
                out.files[filename] = entry
        return out


class RequirementsTable:
    """The shipped table of a source with the user's overlay on top; lookups decode only what they touch."""

    def __init__(self, parts: Sequence[_Part], label: str) -> None:
        self._parts = tuple(parts)
        self.label = label
        self.index = self._parts[-1].header.get("index", "") if self._parts else ""
        """``index_digest`` of the indexes the table was read from: use it only when it equals the run's."""
        self.read_at = self._parts[0].header.get("read_at") if self._parts else None
        """The day (UTC, ISO) its newest part was read from the index."""
        self.as_of = self._parts[-1].header.get("as_of") if self._parts else None
        """The ``--as-of`` moment it was read at (ISO 8601), None when read as the index was that day."""
        self._parsed: dict[str, Requirement | None] = {}
        for part in self._parts:
            part.parse = self.requirement

    def requirement(self, text: str) -> Requirement:
        """A requirement text parsed once per table: a matrix, and the other runtimes of ``options``, meet the
        same lists check after check."""
        found = self._parsed.get(text)
        if found is None:
            found = self._parsed[text] = Requirement(text)
        return found

    def requirements(self, texts: Sequence[str]) -> tuple[Requirement, ...]:
        """A record's requirement texts parsed (once per table); a text that does not parse is left out, as the
        reading the record stands for left it out with a warning."""
        out = []
        for text in texts:
            try:
                out.append(self.requirement(text))
            except InvalidRequirement:
                continue
        return tuple(out)

    def pin(self, name: NormalizedName, version: str, env_key: str) -> PinRecord | None:
        """The record of an installed pin read from the index (version as the freeze writes it)."""
        key = pin_key(version)
        canonical = canonicalize_name(name)
        for part in self._parts:
            found = part.pin(canonical, key, env_key)
            if found is not None:
                return found
        return None

    def url(self, url: str) -> PinRecord | None:
        """The record of a direct reference read from its own URL."""
        for part in self._parts:
            found = part.url(url)
            if found is not None:
                return found
        return None

    def file(self, filename: str, sha256: str | None = None) -> CoreMetadata | None:
        """One file's core metadata (for an index candidate); None when unknown or its sha256 differs."""
        for part in self._parts:
            entry = part.file(filename)
            if entry is not None:
                sha, meta = entry
                return meta if sha256 is None or sha256.lower() == sha else None
        return None

    @property
    def identity(self) -> str:
        """What changes whenever what the table says does: the digests of its files (shipped, overlay); a
        remembered answer keyed by it is not given again after either is rewritten."""
        return "+".join(part.digest for part in self._parts)

    def uses_indexes(self, index_urls: Sequence[str]) -> bool:
        """Whether the table was read from the primary index of these (``index_digest``): what it says holds
        for runs on that index, whatever extra indexes they add."""
        return bool(self._parts) and index_digest(index_urls) == self.index

    def envs(self) -> tuple[str, ...]:
        return tuple(sorted({env for part in self._parts for env in part.envs}))

    def data(self) -> TableData:
        """Every entry of every part, decoded (the overlay's win)."""
        source = self._parts[0].header.get("source", "") if self._parts else ""
        out = TableData(source, self.index, as_of=self.as_of)
        for part in reversed(self._parts):
            out.update(part.data())
        return out

    def __len__(self) -> int:
        return sum(part.pin_count for part in self._parts)


def read_table_file(path: Path | Traversable, label: str | None = None) -> RequirementsTable:
    """One table file alone; a file that is not one is an InputError naming it."""
    where = label or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=where) from exc
    part = _Part(data, where)
    return RequirementsTable([part], _label(part.header.get("source", ""), part.pin_count))


def overlay_path(source_name: str, cache_root: Path | None = None) -> Path:
    """Where the user's update of a source's table lives (beside the synced history)."""
    from analyzer.paths import cache_dir

    root = cache_root if cache_root is not None else cache_dir()
    return root / "sources" / source_name / "requirements-overlay.pintable"


def shipped_file(decl: SourceDeclaration) -> Traversable | None:
    """The table file a source declares, from the installed package first, then the repository."""
    from analyzer.sources import declaration_roots

    if not decl.requirements_table:
        return None
    for root in declaration_roots():
        entry = root / decl.requirements_table
        if entry.is_file():
            return entry
    return None


def load_table(
    source: SourceDeclaration | str | None = None,
    *,
    cache_root: Path | None = None,
    index_urls: Sequence[str] | None = None,
) -> RequirementsTable | None:
    """A source's table (shipped file + the user's overlay from ``snapshots requirements``); None when the source
    ships none and no overlay exists, or, given ``index_urls``, when it was read from another primary index
    (what it says holds only for that one). An overlay made against another shipped file is left aside (the
    shipped file is newer: run the update again)."""
    decl = _declaration(source)
    shipped = shipped_file(decl)
    base = _Part(shipped.read_bytes(), str(shipped)) if shipped is not None else None
    overlay = _overlay_part(decl, cache_root, base)
    parts = [part for part in (overlay, base) if part is not None]
    if not parts:
        return None
    table = RequirementsTable(parts, _label(decl.name, sum(p.pin_count for p in parts)))
    return table if index_urls is None or table.uses_indexes(index_urls) else None


def load_overlay(source: SourceDeclaration | str, *, cache_root: Path | None = None) -> TableData | None:
    """The user's overlay alone, decoded, when it sits on the shipped file of today (what an update extends)."""
    decl = _declaration(source)
    overlay = _overlay_part(decl, cache_root, shipped_digest(decl))
    return overlay.data() if overlay is not None else None


def _declaration(source: SourceDeclaration | str | None) -> SourceDeclaration:
    from analyzer.sources import load_source

    return load_source(source or "colab") if source is None or isinstance(source, str) else source


def _overlay_part(decl: SourceDeclaration, cache_root: Path | None, base: _Part | str | None) -> _Part | None:
    """The user's overlay when it names ``base`` (the shipped file, or its digest) as the file it was made on."""
    path = overlay_path(decl.name, cache_root)
    try:
        part = _Part(path.read_bytes(), str(path))
    except (OSError, InputError):
        return None  # none yet, or damaged: the user's cache, which the next update writes again
    digest = base.digest if isinstance(base, _Part) else base
    return part if part.header.get("base") == digest else None


def _label(source: str, pins: int) -> str:
    return f"{source} requirements table ({pins:,} pins)"


# -- writing ---------------------------------------------------------------------------------------------------


class _Lists:
    """Requirement lists numbered in order of first use, each written once, as numbers of its requirements
    (each requirement text written once too)."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[int, ...], int] = {}
        self.strings: dict[str, int] = {}

    def number(self, items: Iterable[str]) -> int:
        key = tuple(self._string(item) for item in items)
        return self.numbers.setdefault(key, len(self.numbers))

    def _string(self, text: str) -> int:
        if "\n" in text:
            raise ValueError(f"a requirement text with a line break: {text!r}")
        return self.strings.setdefault(text, len(self.strings))


def _record_row(record: PinRecord, lists: _Lists) -> list[Any]:
    return [
        lists.number(record.requires_dist), record.requires_python, list(record.provides_extra),
        int(record.known), record.route, record.filename, [list(w) for w in record.warnings],
    ]


def _meta_row(meta: CoreMetadata, lists: dict[tuple[str, ...], int]) -> list[Any]:
    requires = tuple(str(r) for r in meta.requires_dist)
    return [
        meta.name, str(meta.version), lists.setdefault(requires, len(lists)),
        str(meta.requires_python) if meta.requires_python is not None else None,
        sorted(meta.provides_extra), meta.status.value, meta.source, meta.note, list(meta.skipped),
    ]


def _file_blocks(files: dict[str, tuple[str, CoreMetadata]]) -> tuple[list[str], bytes]:
    """The files' index lines and their blocks, one per group: its requirement lists (each written once: the
    versions of a project mostly repeat them), then its files, sorted."""
    grouped: dict[str, list[str]] = {}
    for filename in sorted(files):
        grouped.setdefault(file_group(filename), []).append(filename)
    index: list[str] = []
    blocks: list[bytes] = []
    at = 0
    for group in sorted(grouped):
        lists: dict[tuple[str, ...], int] = {}
        lines = []
        for filename in grouped[group]:
            sha, meta = files[filename]
            if "\n" in filename or "\t" in filename:
                raise ValueError(f"a file name with a tab or line break: {filename!r}")
            lines.append(f"{filename}\t{sha}\t{_dumps(_meta_row(meta, lists))}")
        block = zlib.compress("\n".join([_dumps([list(items) for items in lists]), *lines]).encode("utf-8"), 9)
        index.append(f"{group}\t{at}\t{len(block)}")
        blocks.append(block)
        at += len(block)
    return index, b"".join(blocks)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def table_bytes(data: TableData, *, read_at: str) -> bytes:
    """The file form of ``data``: sorted, so the same entries always give the same bytes."""
    lists = _Lists()
    envs = sorted({env for _, _, env in data.pins})
    env_numbers = {env: i for i, env in enumerate(envs)}
    projects: dict[NormalizedName, dict[str, list[tuple[PinRecord, list[int]]]]] = {}
    for (name, version, env) in sorted(data.pins):
        record = data.pins[(name, version, env)]
        entries = projects.setdefault(name, {}).setdefault(version, [])
        for existing, numbers in entries:
            if existing == record:
                numbers.append(env_numbers[env])
                break
        else:
            entries.append((record, [env_numbers[env]]))
    pin_lines = [
        f"{project}\t{version}\t" + _dumps([[_record_row(r, lists), numbers] for r, numbers in entries])
        for project in sorted(projects)
        for version, entries in sorted(projects[project].items())
    ]
    url_lines = [f"{url}\t{_dumps(_record_row(data.urls[url], lists))}" for url in sorted(data.urls)]
    file_index, file_blocks = _file_blocks(data.files)
    list_lines = [_dumps(list(items)) for items in lists.numbers]
    string_lines = list(lists.strings)
    header: dict[str, Any] = {
        "source": data.source,
        "index": data.index,
        "read_at": read_at,
        "envs": envs,
        "pins": len(data.pins),
        "urls": len(data.urls),
        "files": len(data.files),
        "sections": {},
    }
    if data.base is not None:
        header["base"] = data.base
    if data.as_of is not None:
        header["as_of"] = data.as_of
    blobs: list[bytes] = []
    at = 0
    sections = (("S", string_lines), ("R", list_lines), ("P", pin_lines), ("U", url_lines), ("I", file_index))
    for tag, lines in sections:
        blob = zlib.compress("\n".join(lines).encode("utf-8"), 9) if lines else b""
        header["sections"][tag] = [at, len(blob)]
        blobs.append(blob)
        at += len(blob)
    header["sections"]["F"] = [at, len(file_blocks)]
    blobs.append(file_blocks)
    return b"".join([FORMAT.encode(), b"\n", _dumps(header).encode(), b"\n", *blobs])


def write_table_file(path: Path, data: TableData, *, read_at: str) -> int:
    """Write ``data`` to ``path`` atomically; its size in bytes. A path that cannot be written is an InputError."""
    blob = table_bytes(data, read_at=read_at)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write: {exc.strerror or exc}", file=str(path)) from exc
    return len(blob)


def shipped_digest(decl: SourceDeclaration) -> str | None:
    """The digest an overlay names as its base: the shipped file's (None when the source ships none)."""
    shipped = shipped_file(decl)
    return hashlib.sha256(shipped.read_bytes()).hexdigest()[:16] if shipped is not None else None

