"""The snapshot model: an immutable description of one Python runtime.

A snapshot is what every later stage starts from: which interpreter and platform the runtime has, and which
distributions are installed there at which version. It knows nothing about where it came from beyond a few
descriptive fields (``source``, ``commit``), so a Colab release, a freeze file and the running interpreter all
look the same to the resolver.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.errors import InputError, Problem
from analyzer.versions import parse_version

SCHEMA = "tfconflict.snapshot/1"
"""Version of the JSON form; bumped whenever a field changes meaning."""

RUNTIME_KINDS = ("cpu", "gpu", "tpu", "custom")


@dataclass(frozen=True)
class Pin:
    """One installed distribution as the runtime lists it.

    ``version`` stays a string because freeze files may hold versions that PEP 440 refuses (``===`` pins);
    ``url`` is set for direct references (``name @ URL``), whose version may only be known from a wheel name.
    """

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
    """Requirements of an installed distribution known from outside the index (e.g. google-colab's setup.py).

    They count like the distribution's own metadata; ``evidence`` says where they come from.
    """

    name: NormalizedName
    requirements: tuple[str, ...]
    evidence: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", canonicalize_name(self.name))

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
    """One runtime: interpreter, platform, installed distributions, and where that knowledge came from.

    ``python_evidence`` says how the Python version is known (``os-info.txt``, or the wheel tag it was inferred
    from), because a guessed interpreter changes every answer and must never be silent.
    """

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", tuple(sorted(self.pins, key=lambda p: p.name)))
        object.__setattr__(self, "declared", tuple(sorted(self.declared, key=lambda d: d.name)))

    @cached_property
    def by_name(self) -> Mapping[NormalizedName, Pin]:
        return {p.name: p for p in self.pins}

    @property
    def python_version(self) -> Version:
        return Version(self.python)

    @property
    def python_is_full(self) -> bool:
        """True when the micro version is known (``3.12.12``), not just ``3.12``."""
        return len(self.python_version.release) >= 3

    def declared_for(self, name: str) -> DeclaredRequirements | None:
        key = canonicalize_name(name)
        for item in self.declared:
            if item.name == key:
                return item
        return None

    def with_pins(self, pins: Iterable[Pin]) -> Snapshot:
        return replace(self, pins=tuple(pins))

    # -- JSON form ---------------------------------------------------------------------------------------------

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "id": self.id,
            "kind": self.kind,
            "date": self.date.isoformat() if self.date else None,
            "source": self.source,
            "commit": self.commit,
            "upstream_commit": self.upstream_commit,
            "python": self.python,
            "python_evidence": self.python_evidence,
            "platform": {
                "os_name": self.platform.os_name,
                "distro": self.platform.distro,
                "distro_version": self.platform.distro_version,
                "glibc": self.platform.glibc,
                "machine": self.platform.machine,
                "description": self.platform.description,
            },
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
            "declared_requirements": [
                {"name": str(d.name), "requirements": list(d.requirements), "evidence": d.evidence}
                for d in self.declared
            ],
            "problems": [{"file": p.file, "line": p.line, "message": p.message} for p in self.problems],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=2, sort_keys=False) + "\n"


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
    if schema != SCHEMA:
        if schema is not None and not isinstance(schema, str):
            raise InputError(f"field 'schema' must be {SCHEMA!r}, not {_kind(schema)}", file=file)
        raise InputError(f"unknown snapshot schema {_clip(repr(schema))} (this tfconflict reads {SCHEMA!r})",
                         file=file)
    try:
        platform = _object(data, "platform")
        pins = tuple(
            Pin(
                name=canonicalize_name(_text(p, "name")),
                display_name=_text(p, "name"),
                version=_optional_text(p, "version"),
                url=_optional_text(p, "url"),
                editable=_flag(p, "editable"),
                line=_line(p),
            )
            for p in _list(data, "pins")
        )
        declared = tuple(
            DeclaredRequirements(
                name=canonicalize_name(_text(d, "name")),
                requirements=_strings(d, "requirements"),
                evidence=_text_or(d, "evidence", ""),
            )
            for d in _list(data, "declared_requirements")
        )
        date = _optional_text(data, "date")
        return Snapshot(
            id=_text(data, "id"),
            python=_python(data),
            pins=pins,
            kind=_text_or(data, "kind", "custom"),
            date=datetime.fromisoformat(date) if date else None,
            python_evidence=_text_or(data, "python_evidence", "given"),
            platform=Platform(
                os_name=_text_or(platform, "os_name", "Linux"),
                distro=_optional_text(platform, "distro"),
                distro_version=_optional_text(platform, "distro_version"),
                glibc=_optional_text(platform, "glibc"),
                machine=_text_or(platform, "machine", "x86_64"),
                description=_optional_text(platform, "description"),
            ),
            source=_text_or(data, "source", "file"),
            commit=_optional_text(data, "commit"),
            upstream_commit=_optional_text(data, "upstream_commit"),
            declared=declared,
            problems=tuple(
                Problem(file=_text(p, "file"), line=_line(p), message=_text(p, "message"))
                for p in _list(data, "problems")
            ),
            notes=_strings(data, "notes"),
        )
    except (TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"malformed snapshot: {exc}", file=file) from exc


def _text(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"field {key!r} must be a non-empty string")
    return value


def _line(obj: dict[str, Any]) -> int | None:
    value = obj.get("line")
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ValueError(f"field 'line' must be an integer, not {_kind(value)}")
    return value


def _optional_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"field {key!r} must be a string or null, not {_kind(value)}")
    return value


def _text_or(obj: dict[str, Any], key: str, default: str) -> str:
    value = obj.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"field {key!r} must be a string, not {_kind(value)}")
    return value


def _flag(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"field {key!r} must be true or false, not {_kind(value)}")
    return value


def _strings(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"field {key!r} must be a list of strings")
    return tuple(value)


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"field {key!r} must be an object, not {_kind(value)}")
    return value


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    """A JSON value's type in JSON's words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"field {key!r} must be a list")
    for item in value:
        if not isinstance(item, dict):
            raise TypeError(f"every entry of {key!r} must be an object")
    return value


def _python(data: dict[str, Any]) -> str:
    text = _text(data, "python")
    try:
        Version(text)
    except ValueError as exc:  # InvalidVersion, or a release number longer than int() converts
        raise ValueError(f"field 'python' is not a version: {_clip(repr(text))}") from exc
    return text
