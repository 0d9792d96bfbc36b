"""Project configuration: ``[tool.tfconflict]`` in pyproject.toml, or the top level of a ``tfconflict.toml``.

A team states its target runtime once, beside its requirements files, so the hook and CI need no options. The
keys, their types and defaults are the README's "Configuration" table. A bad key or value is a
:class:`~analyzer.errors.Problem` at its ``FILE:LINE`` and is left out; the rest still applies.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from analyzer.errors import InputError, Problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "CONFIG_FILE", "DEFAULT_SNAPSHOT", "FAIL_ON", "KEYS", "RUNTIMES", "Config", "ConfigError", "Settings",
    "fails", "load_config", "load_settings", "merge", "parse_as_of",
]  # fmt: skip

CONFIG_FILE = "tfconflict.toml"
DEFAULT_SNAPSHOT = "colab"
"""The runtime a command checks against when neither the command line nor the configuration names one."""
RUNTIMES = ("cpu", "gpu", "tpu")
FAIL_ON = ("breakage", "not-installable")


@dataclass(frozen=True)
class Config:
    """What one configuration file says; ``None`` means the key is absent (the command's default applies)."""

    snapshot: str | None = None
    runtime: str | None = None
    python: str | None = None
    platform: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] | None = None
    as_of: datetime | None = None
    offline: bool | None = None
    ignore: tuple[NormalizedName, ...] | None = None
    fail_on: str | None = None
    requirements: tuple[Path, ...] | None = None
    colab_repo: str | None = None
    origin: Path | None = None
    """The file the settings came from; None when no configuration was found."""
    problems: tuple[Problem, ...] = ()


KEYS: dict[str, str] = {
    item.name.replace("_", "-"): item.name for item in fields(Config)
    if item.name not in ("origin", "problems")
}
"""File key -> attribute of :class:`Config` and :class:`Settings`."""


@dataclass(frozen=True)
class Settings:
    """The effective settings: command line over configuration file over defaults.

    ``snapshot``, ``python``, ``platform``, ``index_url`` and ``colab_repo`` stay None when nobody set them,
    so the command keeps its own default (and pip's configured index).
    """

    snapshot: str | None = None
    runtime: str = "cpu"
    python: str | None = None
    platform: str | None = None
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    as_of: datetime | None = None
    offline: bool = False
    ignore: frozenset[NormalizedName] = frozenset()
    fail_on: str = "breakage"
    requirements: tuple[Path, ...] = ()
    colab_repo: str | None = None
    origin: Path | None = None


def load_config(start: Path) -> Config:
    """The configuration that applies to ``start`` (a folder or a file in it): the first folder upwards, up to
    the top of a git repository, holding a ``tfconflict.toml`` (preferred) or a ``pyproject.toml``. Never
    raises."""
    folder = start if start.is_dir() else start.parent
    folder = Path(os.path.abspath(folder))
    for candidate in (folder, *folder.parents):
        own = candidate / CONFIG_FILE
        pyproject = candidate / "pyproject.toml"
        if own.is_file():
            return _load_file(own, table=None)
        if pyproject.is_file():
            return _load_file(pyproject, table=("tool", "tfconflict"))
        if (candidate / ".git").exists():
            break
    return Config()


class ConfigError(InputError):
    """The configuration file has defects: the last is the error's message, ``problems`` lists them all."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        last = problems[-1]
        super().__init__(last.message, file=last.file, line=last.line)


def load_settings(start: Path, cli_overrides: Mapping[str, Any]) -> Settings:
    """The configuration that applies to ``start`` under the command line's values (:func:`merge`).

    A defect in the file is bad input (:class:`ConfigError`): a command must not answer for a runtime nobody
    asked for because a key was misspelled.
    """
    config = load_config(start)
    if config.problems:
        raise ConfigError(config.problems)
    return merge(config, cli_overrides)


def merge(config: Config, cli_overrides: Mapping[str, Any] | argparse.Namespace) -> Settings:
    """Command-line values over the file's; a value of None means "not given on the command line".

    ``cli_overrides`` may be ``vars(args)`` or the namespace itself: keys that are not settings are ignored, and
    argparse's ``extra_index_url`` (from ``action="append"``) is taken as ``extra_index_urls``. Declare boolean
    options with ``default=None`` so that an absent ``--offline`` does not override ``offline = true``.
    Bad command-line values raise :class:`InputError` (they come from the user, not from a file).
    """
    given = dict(vars(cli_overrides) if isinstance(cli_overrides, argparse.Namespace) else cli_overrides)
    if given.get("extra_index_urls") is None and given.get("extra_index_url") is not None:
        given["extra_index_urls"] = given["extra_index_url"]
    values: dict[str, Any] = {}
    for item in fields(Settings):
        if item.name == "origin":
            continue
        from_file = getattr(config, item.name)
        if from_file is not None:
            values[item.name] = frozenset(from_file) if item.name == "ignore" else from_file
        from_cli = given.get(item.name)
        if from_cli is not None:
            values[item.name] = _cli_value(item.name, from_cli)
    return Settings(origin=config.origin, **values)


def fails(verdict: str, fail_on: str) -> bool:
    """Whether a report's verdict (``Report.verdict.value``) ends in exit code 1 under ``fail-on``.

    ``breakage``: anything but ``fits``; ``not-installable``: only when pip could not install the request at all.
    """
    if fail_on == "not-installable":
        return verdict in ("not-installable", "unresolvable")
    return verdict != "fits"


def parse_as_of(value: str | date | datetime) -> datetime:
    """A moment in UTC: a date means the end of that day (everything uploaded that day counts)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"expected a date (YYYY-MM-DD) or a date-time, got {_clip(repr(value))}") from exc
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return datetime.combine(value, time.max, tzinfo=timezone.utc)


# -- reading a file --------------------------------------------------------------------------------------------


def _load_file(path: Path, table: tuple[str, ...] | None) -> Config:
    shown = _display(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        return Config(origin=path, problems=(Problem(shown, None, f"cannot read: {exc.strerror or exc}"),))
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Config(origin=path, problems=(Problem(shown, line, "not UTF-8 text: not a TOML file"),))
    except tomllib.TOMLDecodeError as exc:
        return Config(origin=path, problems=(_toml_problem(shown, text, exc),))
    except RecursionError:  # the TOML parser recurses once per nested array or inline table
        return Config(origin=path, problems=(Problem(shown, None, "invalid TOML: nested too deeply"),))
    section = "[tool.tfconflict]" if table else "the top level"
    settings: Any = data
    for part in table or ():
        settings = settings.get(part) if isinstance(settings, dict) else None
    if settings is None:
        return Config()  # a pyproject.toml without our table: no configuration, and nothing wrong
    if not isinstance(settings, dict):
        return Config(origin=path, problems=(Problem(shown, _find_line(text, "tfconflict", None),
                                                     "tool.tfconflict must be a table"),))
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in settings.items():
        where = _find_line(text, key, table)
        if key not in KEYS:
            hint = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(KEYS)}"
            problems.append(Problem(shown, where, f"unknown key {_clip(repr(key))} in {section}{suggestion}"))
            continue
        try:
            values[KEYS[key]] = _convert(KEYS[key], value, path.parent)
        except ValueError as exc:
            problems.append(Problem(shown, where, f"{key}: {exc}"))
    return Config(**values, origin=path, problems=tuple(problems))


def _convert(name: str, value: Any, base: Path | None) -> Any:
    """One setting checked and normalised; ValueError says what was expected."""
    if name in ("snapshot", "index_url", "colab_repo", "python", "platform"):
        text = _string(value)
        if name == "colab_repo" and base is not None and not _looks_remote(text) and not Path(text).is_absolute():
            return str(base / text)
        return text
    if name == "runtime":
        return _choice(value, RUNTIMES)
    if name == "fail_on":
        return _choice(value, FAIL_ON)
    if name == "offline":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {_shown(value)}")
        return value
    if name == "as_of":
        if isinstance(value, (str, date)):
            return parse_as_of(value)
        raise ValueError(f"expected a date (YYYY-MM-DD) or a date-time, got {_shown(value)}")
    items = _string_list(value)
    if name == "extra_index_urls":
        return items
    if name == "ignore":
        names: list[NormalizedName] = []
        for item in items:
            try:
                names.append(canonicalize_name(item, validate=True))
            except InvalidName as exc:
                raise ValueError(f"not a package name: {_clip(repr(item))}") from exc
        return tuple(names)
    if name == "requirements":
        return tuple(base / item if base is not None else Path(item) for item in items)
    raise AssertionError(name)  # pragma: no cover - KEYS and this function list the same names


def _cli_value(name: str, value: Any) -> Any:
    try:
        if name in ("extra_index_urls", "ignore", "requirements") and isinstance(value, (str, Path)):
            value = [value]
        if name == "requirements":
            return tuple(Path(item) for item in value)
        if name in ("extra_index_urls", "ignore"):
            converted = _convert(name, [str(item) for item in value], None)
            return frozenset(converted) if name == "ignore" else converted
        return _convert(name, value, None)
    except ValueError as exc:
        option = "--" + name.replace("_", "-")
        raise InputError(f"{option}: {exc}") from exc


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {_shown(value)}")
    return value.strip()


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"expected a list of strings, got {_shown(value)}")
    return tuple(item.strip() for item in value)


def _choice(value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {_shown(value)}")
    return str(value)


def _shown(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
             dict: "a table"}
    kind = kinds.get(type(value), type(value).__name__)
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    return f"{kind} ({text if len(text) <= 60 else text[:59] + '…'})"


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _looks_remote(text: str) -> bool:
    return "://" in text or re.match(r"^[\w.-]+@[\w.-]+:", text) is not None


def _find_line(text: str, key: str, table: tuple[str, ...] | None) -> int | None:
    """The line defining ``key``, searched inside our table first (TOML parsers keep no positions)."""
    pattern = re.compile(rf"""^\s*(?:"{re.escape(key)}"|'{re.escape(key)}'|{re.escape(key)})\s*=""")
    lines = text.splitlines()
    start, end = 0, len(lines)
    if table is not None:
        header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(re.escape(part) for part in table) + r"\s*\]")
        for number, line in enumerate(lines):
            if header.match(line):
                start = number + 1
                end = next((n for n in range(start, len(lines)) if lines[n].lstrip().startswith("[")), len(lines))
                break
    for number in range(start, end):
        if pattern.match(lines[number]):
            return number + 1
    dotted = re.compile(rf"""^\s*(?:tool\s*\.\s*)?tfconflict\s*\.\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(lines, start=1):
        if dotted.match(line) or pattern.match(line):
            return number
    return None


def _toml_problem(shown: str, text: str, exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
    if match:
        return Problem(shown, int(match.group(1)), "invalid TOML: " + message[: match.start()])
    match = re.search(r"\s*\(at end of document\)$", message)
    if match:
        return Problem(shown, max(1, len(text.splitlines())), "invalid TOML: " + message[: match.start()])
    return Problem(shown, None, "invalid TOML: " + message)


def _display(path: Path) -> str:
    """Relative to the working folder when below it, as linters name files."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative
