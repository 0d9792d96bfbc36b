"""Declarations of snapshot sources (``snapshots/*.toml``): where a platform's runtime history lives.

A source is data, not code: adding a platform means adding a TOML file. Declarations are looked up in the
installed package first (the wheel carries ``snapshots/`` as ``analyzer/_sources``), then in the repository.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.errors import InputError

if TYPE_CHECKING:
    from importlib.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "RuntimeFiles", "SourceDeclaration", "TableDeclaration", "declaration_roots", "find_kind", "list_sources",
    "load_source",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class RuntimeFiles:
    """The files that describe one runtime kind of a source, and the selector prefix naming it."""

    kind: str
    freeze: str
    os_info: str | None
    selector: str


@dataclass(frozen=True)
class TableDeclaration:
    """A side table: its offline TSV (beside a local origin) and where to derive it from upstream."""

    offline: str
    upstream_file: str
    upstream: str | None = None
    origin_env: str | None = None
    package: str | None = None

    def origin(self) -> str | None:
        """Where to derive the table from: the environment override, else the declared upstream."""
        return (os.environ.get(self.origin_env) if self.origin_env else None) or self.upstream


@dataclass(frozen=True)
class SourceDeclaration:
    """One snapshot source, as declared in ``snapshots/<name>.toml``."""

    name: str
    upstream: str
    origin_env: str | None
    default_kind: str
    machine: str
    kinds: tuple[RuntimeFiles, ...]
    upstream_commit_pattern: str | None = None
    declared_requirements: TableDeclaration | None = None
    runtime_versions: TableDeclaration | None = None
    requirements_table: str | None = None
    """The file beside the declaration holding what the pins of every release require (``analyzer.pintable``)."""

    def kind(self, kind: str) -> RuntimeFiles:
        found = next((files for files in self.kinds if files.kind == kind), None)
        if found is None:
            known = ", ".join(self.kind_names)
            raise InputError(f"the {self.name} source has no runtime kind {kind!r} (known: {known})")
        return found

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.kind for k in self.kinds)

    def origin(self, override: str | None = None) -> tuple[str, str]:
        """Where the history comes from and why: the argument, else the environment variable, else upstream."""
        if override:
            return override, "given"
        if self.origin_env and os.environ.get(self.origin_env):
            return os.environ[self.origin_env], f"${self.origin_env}"
        return self.upstream, "the declared upstream"


def declaration_roots() -> Iterator[Traversable]:
    """Folders holding declarations: the installed package's data first, the repository's folder second."""
    try:
        packaged = resources.files("analyzer") / "_sources"
        if packaged.is_dir():
            yield packaged
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - odd installs
        pass
    repo = Path(__file__).resolve().parents[1] / "snapshots"
    if repo.is_dir():
        yield repo


def list_sources() -> tuple[str, ...]:
    """Names of every declared source, sorted."""
    names = {
        entry.name[: -len(".toml")]
        for root in declaration_roots()
        for entry in root.iterdir()
        if entry.name.endswith(".toml") and entry.is_file()
    }
    return tuple(sorted(names))


def load_source(name: str) -> SourceDeclaration:
    """Read the declaration of ``name``; an unknown or malformed one is an input error naming the file."""
    if not _NAME.match(name):
        raise InputError(f"not a source name: {name!r}")
    for root in declaration_roots():
        entry = root / f"{name}.toml"
        if entry.is_file():
            return _load(entry.read_text(encoding="utf-8"), str(entry))
    known = ", ".join(list_sources()) or "none"
    raise InputError(f"unknown snapshot source {name!r} (declared: {known})")


def find_kind(prefix: str) -> tuple[SourceDeclaration, RuntimeFiles] | None:
    """The source and runtime kind a selector prefix (``colab-gpu``) names, or None; a source's own name names
    its default kind unless a kind claims that prefix explicitly."""
    decls = [load_source(name) for name in list_sources()]
    found = [(decl, files) for decl in decls for files in decl.kinds if files.selector == prefix]
    found += [(decl, decl.kind(decl.default_kind)) for decl in decls if decl.name == prefix]
    return found[0] if found else None


def _load(text: str, file: str) -> SourceDeclaration:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=file) from exc
    try:
        if not isinstance(data.get("kinds"), dict):
            raise TypeError("[kinds] must be a table")
        kinds = tuple(
            RuntimeFiles(kind, _str(spec, "freeze"), spec.get("os_info"), _str(spec, "selector"))
            for kind, spec in data["kinds"].items()
        )
        if not kinds:
            raise ValueError("at least one runtime kind must be declared under [kinds]")
        tables = data.get("tables", {})
        decl = SourceDeclaration(
            name=_str(data, "name"),
            upstream=_str(data, "upstream"),
            origin_env=data.get("origin_env"),
            default_kind=_str(data, "default_kind"),
            machine=str(data.get("machine", "x86_64")),
            kinds=kinds,
            upstream_commit_pattern=data.get("upstream_commit_pattern"),
            declared_requirements=_table_decl(tables, "declared_requirements"),
            runtime_versions=_table_decl(tables, "runtime_versions"),
            requirements_table=_optional_file(data, "requirements_table"),
        )
        decl.kind(decl.default_kind)
    except (ValueError, TypeError, AttributeError, InputError) as exc:
        raise InputError(f"malformed source declaration: {exc}", file=file) from exc
    return decl


def _table_decl(tables: Mapping[str, Any], key: str) -> TableDeclaration | None:
    spec = tables.get(key)
    if spec is None:
        return None
    return TableDeclaration(
        offline=_str(spec, "offline"),
        upstream_file=_str(spec, "upstream_file"),
        upstream=spec.get("upstream"),
        origin_env=spec.get("origin_env"),
        package=spec.get("package"),
    )


def _optional_file(data: Mapping[str, Any], key: str) -> str | None:
    """A file name beside the declaration, or None when the key is absent."""
    if data.get(key) is None:
        return None
    value = _str(data, key)
    if "/" in value or "\\" in value or value.startswith("."):
        raise ValueError(f"{key!r} must be a file name beside the declaration, not a path")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key!r} must be a non-empty string")
    return value
