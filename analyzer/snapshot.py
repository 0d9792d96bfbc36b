"""The snapshot model: one Python runtime's interpreter, platform and installed distributions.

A Colab release, a freeze file and the running interpreter all look the same to the resolver.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.errors import InputError, Problem
from analyzer.versions import parse_version

SCHEMA = "tfconflict.snapshot/2"
"""Version of the JSON form; bumped whenever a field changes meaning. /2 added the requirements a capture reads
from each dist-info (an older tfconflict would take them for google-colab's kind and drop their extras)."""
READABLE_SCHEMAS = ("tfconflict.snapshot/1", SCHEMA)
"""Every form this tfconflict reads: /1 is /2 without dist-info requirements."""

DECLARED = "declared"
"""Requirements known from outside the index, e.g. google-colab's setup.py."""
DIST_INFO = "dist-info"
"""Requirements read from an installed distribution's own metadata by ``snapshots capture``."""
ORIGINS = (DECLARED, DIST_INFO)


@dataclass(frozen=True)
class Pin:
    """One installed distribution as the runtime lists it. ``version`` stays a string: freeze files may hold
    versions PEP 440 refuses (``===`` pins); ``url`` is set for direct references (``name @ URL``)."""

    name: NormalizedName
    version: str | None
    display_name: str = ""
    url: str | None = None
    editable: bool = False
    line: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(self.name))
        if not self.display_name:
            object.__setattr__(self, "display_name", str(self.name))

    @property
    def parsed_version(self) -> Version | None:
        """The PEP 440 version, or None when the pin has none or a legacy one."""
        return parse_version(self.version)

    @property
    def is_direct(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        if self.url is not None:
            return f"{self.display_name} @ {self.url}"
        return f"{self.display_name}=={self.version}"


@dataclass(frozen=True)
class Platform:
    """Operating system and machine of a runtime: what decides which wheels can install there."""

    os_name: str = "Linux"
    distro: str | None = None
    distro_version: str | None = None
    glibc: str | None = None
    machine: str = "x86_64"
    description: str | None = None

    @property
    def sys_platform(self) -> str:
        return {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(self.os_name, self.os_name.lower())


@dataclass(frozen=True)
class DeclaredRequirements:
    """Requirements of an installed distribution known without its index, counted as its own metadata:
    ``origin`` is ``declared`` for a table kept outside the image (google-colab's setup.py) and ``dist-info`` for
    what a capture read from the distribution's own metadata file, with its Requires-Python and Provides-Extra
    as written there. Lines stay as written (a malformed one included); ``evidence`` says where they come from."""

    name: NormalizedName
    requirements: tuple[str, ...]
    evidence: str
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()
    origin: str = DECLARED

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(self.name))
        if self.origin not in ORIGINS:
            raise ValueError(f"field 'origin' must be one of {', '.join(map(repr, ORIGINS))}, "
                             f"not {clip(repr(self.origin))}")

    def to_json_dict(self) -> dict[str, Any]:
        """Defaults left out: a capture holds hundreds of these."""
        return {
            "name": str(self.name),
            **({"origin": self.origin} if self.origin != DECLARED else {}),
            "evidence": self.evidence,
            **({"requires_python": self.requires_python} if self.requires_python is not None else {}),
            **({"provides_extra": list(self.provides_extra)} if self.provides_extra else {}),
            "requirements": list(self.requirements),
        }

    def parsed(self) -> tuple[Requirement, ...]:
        out = []
        for text in self.requirements:
            try:
                out.append(Requirement(text))
            except InvalidRequirement:
                continue
        return tuple(out)


@dataclass(frozen=True)
class Snapshot:
    """One runtime and where that knowledge came from. ``python_evidence`` says how the Python version is known,
    because a guessed interpreter changes every answer and must never be silent."""

    id: str
    python: str
    pins: tuple[Pin, ...] = ()
    kind: str = "custom"
    date: datetime | None = None
    python_evidence: str = "given"
    platform: Platform = field(default_factory=Platform)
    source: str = "file"
    commit: str | None = None
    upstream_commit: str | None = None
    declared: tuple[DeclaredRequirements, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()
    name: str | None = None
    """How people name this runtime (``colab 2025.07 (2025-08-11)``), where it differs from ``id``."""
    version_name: str | None = None
    """The named runtime version a notebook selects to get this release (``2025.07``), if any."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", tuple(sorted(self.pins, key=lambda p: p.name)))
        object.__setattr__(self, "declared", tuple(sorted(self.declared, key=lambda d: d.name)))

    @property
    def label(self) -> str:
        """The name human-facing text uses; ``id`` stays the exact selector (commit and all)."""
        return self.name or self.id

    @cached_property
    def by_name(self) -> Mapping[NormalizedName, Pin]:
        return {p.name: p for p in self.pins}

    def with_pins(self, pins: Iterable[Pin]) -> Snapshot:
        return replace(self, pins=tuple(pins))

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.id,
            "name": self.name,
            "version_name": self.version_name,
            "kind": self.kind,
            "date": self.date.isoformat() if self.date else None,
            "source": self.source,
            "commit": self.commit,
            "upstream_commit": self.upstream_commit,
            "python": self.python,
            "python_evidence": self.python_evidence,
            "platform": asdict(self.platform),
            "pins": [
                {
                    "name": p.display_name,
                    "version": p.version,
                    **({"url": p.url} if p.url is not None else {}),
                    **({"editable": True} if p.editable else {}),
                    **({"line": p.line} if p.line is not None else {}),
                }
                for p in self.pins
            ],
            "declared_requirements": [d.to_json_dict() for d in self.declared],
            "problems": [{"file": p.file, "line": p.line, "message": p.message} for p in self.problems],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """One line per field, and per entry of a list of objects (pins, requirements, problems): a capture of
        hundreds of distributions stays small and a line-wise diff of two snapshots stays readable."""
        lines = []
        for key, value in self.to_json_dict().items():
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                entries = ",\n".join(f"    {json.dumps(item)}" for item in value)
                lines.append(f"  {json.dumps(key)}: [\n{entries}\n  ]")
            else:
                lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
        return "{\n" + ",\n".join(lines) + "\n}\n"


def snapshot_from_json(text: str, *, file: str = "<json>") -> Snapshot:
    """Read the JSON form back; every problem names the file and the field."""
    try:
        data = json.loads(text)
        # json.loads keeps unpaired surrogate escapes ("\ud800"), which no output stream can encode later
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=file, line=exc.lineno) from exc
    except RecursionError as exc:
        raise InputError("not a snapshot: the JSON is nested too deeply", file=file) from exc
    except UnicodeEncodeError as exc:
        raise InputError("not a snapshot: a string holds an unpaired surrogate escape (\\ud800-\\udfff)",
                         file=file) from exc
    except ValueError as exc:  # an integer longer than int() converts (sys.get_int_max_str_digits)
        raise InputError("not a snapshot: the JSON holds a number with too many digits", file=file) from exc
    if not isinstance(data, dict):
        raise InputError("a snapshot must be a JSON object", file=file)
    schema = data.get("schema")
    if schema not in READABLE_SCHEMAS:
        if schema is not None and not isinstance(schema, str):
            raise InputError(f"field 'schema' must be {SCHEMA!r}, not {_kind(schema)}", file=file)
        readable = " or ".join(map(repr, READABLE_SCHEMAS))
        raise InputError(f"unknown snapshot schema {clip(repr(schema))} (this tfconflict reads {readable})",
                         file=file)
    try:
        platform = _get(data, "platform", _OBJECT) or {}
        pins = tuple(
            Pin(
                name=_get(p, "name", _TEXT),
                display_name=_get(p, "name", _TEXT),
                version=_get(p, "version", _OPTIONAL),
                url=_get(p, "url", _OPTIONAL),
                editable=_get(p, "editable", _FLAG, False),
                line=_get(p, "line", _LINE),
            )
            for p in _entries(data, "pins")
        )
        declared = _declared_from_json(_entries(data, "declared_requirements"))
        date = _get(data, "date", _OPTIONAL)
        snapshot_id = _get(data, "id", _TEXT)
        python = _get(data, "python", _TEXT)
        try:
            Version(python)
        except ValueError as exc:  # InvalidVersion, or a release number longer than int() converts
            raise ValueError(f"field 'python' is not a version: {clip(repr(python))}") from exc
        return Snapshot(
            id=snapshot_id,
            python=python,
            pins=pins,
            kind=_get(data, "kind", _STR, "custom"),
            date=datetime.fromisoformat(date) if date else None,
            python_evidence=_get(data, "python_evidence", _STR, "given"),
            platform=Platform(**{
                f.name: _get(platform, f.name, _OPTIONAL if f.default is None else _STR, f.default)
                for f in fields(Platform)
            }),
            source=_get(data, "source", _STR, "file"),
            commit=_get(data, "commit", _OPTIONAL),
            upstream_commit=_get(data, "upstream_commit", _OPTIONAL),
            declared=declared,
            problems=tuple(
                Problem(file=_get(p, "file", _TEXT), line=_get(p, "line", _LINE), message=_get(p, "message", _TEXT))
                for p in _entries(data, "problems")
            ),
            notes=tuple(_get(data, "notes", _STRINGS, [])),
            name=_get(data, "name", _OPTIONAL),
            version_name=_get(data, "version_name", _OPTIONAL),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed snapshot: {exc}", file=file) from exc


def _declared_from_json(entries: list[dict[str, Any]]) -> tuple[DeclaredRequirements, ...]:
    """Each entry checked on its own, so a message names the one that is wrong among hundreds."""
    out: dict[NormalizedName, DeclaredRequirements] = {}
    for index, entry in enumerate(entries):
        try:
            declared = DeclaredRequirements(
                name=_get(entry, "name", _TEXT),
                requirements=tuple(_get(entry, "requirements", _STRINGS, [])),
                evidence=_get(entry, "evidence", _STR, ""),
                requires_python=_get(entry, "requires_python", _OPTIONAL),
                provides_extra=tuple(_get(entry, "provides_extra", _STRINGS, [])),
                origin=_get(entry, "origin", _STR, DECLARED),
            )
            if declared.name in out:
                raise ValueError(f"{declared.name} has requirements already (entry {list(out).index(declared.name)})")
        except (TypeError, ValueError) as exc:
            name = entry.get("name")
            which = f" ({clip(repr(name), 60)})" if isinstance(name, str) else ""
            raise ValueError(f"declared_requirements entry {index}{which}: {exc}") from exc
        out[declared.name] = declared
    return tuple(out.values())


# What a field must hold: a test, and the words a message says it in ("{}" becomes the kind found instead)
_Check = tuple[Callable[[Any], bool], str]
_TEXT: _Check = (lambda v: isinstance(v, str) and v != "", "a non-empty string")
_STR: _Check = (lambda v: isinstance(v, str), "a string, not {}")
_OPTIONAL: _Check = (lambda v: v is None or isinstance(v, str), "a string or null, not {}")
_FLAG: _Check = (lambda v: isinstance(v, bool), "true or false, not {}")
_LINE: _Check = (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer, not {}")
_STRINGS: _Check = (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of strings")
_OBJECT: _Check = (lambda v: v is None or isinstance(v, dict), "an object, not {}")


def _get(obj: dict[str, Any], key: str, check: _Check, default: Any = None) -> Any:
    value = obj.get(key, default)
    if not check[0](value):
        raise ValueError(f"field {key!r} must be " + check[1].format(_kind(value)))
    return value


def _entries(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"field {key!r} must be a list")
    if not all(isinstance(item, dict) for item in value):
        raise TypeError(f"every entry of {key!r} must be an object")
    return value


def clip(text: str, limit: int = 120) -> str:
    """A value as messages quote it: a 5000-character value is not worth 5000 characters of error."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_JSON_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"), (bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "an array")
)


def _kind(value: Any) -> str:
    """A JSON value's type in JSON's words, for messages."""
    return next((words for types, words in _JSON_KINDS if isinstance(value, types)), "an object")
