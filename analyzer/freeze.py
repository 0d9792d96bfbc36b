"""Parse ``pip freeze`` output into pins, each line by ``packaging`` (PEP 508 with one ``==``/``===`` or a URL).

A line that does not fit is reported with its file and line number and skipped: one bad line never loses the rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from analyzer.errors import Problem
from analyzer.snapshot import Pin, clip

MAX_NAME = 255
"""The longest project name: an index serves each project as a folder (PEP 503), and file names stop at 255."""

_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class FreezeResult:
    """Pins read from one freeze file, and what was skipped."""

    pins: tuple[Pin, ...]
    problems: tuple[Problem, ...]
    unreadable: tuple[Problem, ...] = ()
    """The problems of lines not even shaped like a pin (``looks_like_a_requirement``): many of them say the file
    is no freeze (a log, /etc/passwd), where a freeze with defective pins still goes on around them."""


def parse_freeze(text: str, file: str = "<freeze>") -> FreezeResult:
    """Read ``pip freeze`` text; comments, blank lines and pip's own notes are ignored."""
    pins: dict[str, Pin] = {}
    problems: list[Problem] = []
    unreadable: list[Problem] = []
    for number, line in content_lines(text):
        parsed = _parse_cached(line)
        if isinstance(parsed, str):
            problems.append(Problem(file, number, parsed))
            if not looks_like_a_requirement(line):
                unreadable.append(problems[-1])
            continue
        if parsed.name in pins:
            first = pins[parsed.name].line
            problems.append(Problem(file, number, f"{parsed.display_name} is listed twice (first on line {first}); "
                                    "the first is kept"))
        else:
            pins[parsed.name] = replace(parsed, line=number)
    return FreezeResult(tuple(pins.values()), tuple(problems), tuple(unreadable))


def looks_like_a_requirement(line: str) -> bool:
    """Whether a line that failed to parse is still shaped like a pin or requirement with a defect (``numpy==``,
    ``torch @``, ``scipy==1.*``), an option, a URL or a path, rather than a line of another kind of file
    (``root:x:0:0:...``, ``2024-01-01 12:00 INFO``): a project name followed by what may follow one in PEP 508."""
    first = line.split(None, 1)[0] if line.split() else ""
    if line.startswith(("-", ".", "/", "~")) or "://" in first:
        return True
    end = 0
    while end < len(line) and (line[end].isascii() and (line[end].isalnum() or line[end] in "._-")):
        end += 1
    rest = line[end:].lstrip()
    return end > 0 and (not rest or rest[0] in "[(<>=!~@;")


def content_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered stripped lines, blank and ``#`` ones left out, numbered as editors and ``grep -n`` count:
    str.splitlines also breaks at form feeds and U+2028, which would put every later FILE:LINE off by one."""
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


@lru_cache(maxsize=1 << 15)
def _parse_cached(line: str) -> Pin | str:
    """A line's pin (without its number) or the problem's message: histories repeat most lines many times."""
    try:
        return parse_freeze_line(line)
    except ValueError as exc:
        return str(exc)


def parse_freeze_line(line: str) -> Pin:
    """One freeze line to a pin; raises ValueError with a message fit for users."""
    if "\x00" in line:
        raise ValueError("binary data in a freeze line")
    if line.startswith(("-e ", "--editable")):
        target = line.split(None, 1)[1].strip() if " " in line else line.partition("=")[2].strip()
        match = _EGG.search(target)
        if match is None:
            raise ValueError(f"editable install without a #egg= name: {clip(line)!r}")
        name = match.group(1)
        return Pin(name=canonicalize_name(name), display_name=name, version=None, url=target, editable=True)
    if line.startswith("-"):
        raise ValueError(f"pip option lines are not part of a freeze: {clip(line)!r}")
    try:
        req = Requirement(line)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a freeze line ({first}{_non_ascii(line)}): {clip(line)!r}") from exc
    except RecursionError as exc:  # packaging's marker parser recurses once per parenthesis
        raise ValueError(f"not a freeze line (nested too deeply): {clip(line)!r}") from exc
    if req.marker is not None:
        raise ValueError(f"a freeze line has no environment marker: {clip(line)!r}")
    if len(req.name) > MAX_NAME:
        raise ValueError(f"a project name of {len(req.name)} characters: {clip(line)!r}")
    if req.url is not None:
        try:
            version = version_from_url(req.url, req.name)
        except ValueError as exc:  # urlsplit refuses e.g. an unclosed IPv6 bracket
            raise ValueError(f"not a valid URL ({exc}): {clip(line)!r}") from exc
        return Pin(name=canonicalize_name(req.name), display_name=req.name, version=version, url=req.url)
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "==="):
        raise ValueError(f"expected NAME==VERSION, NAME===VERSION or NAME @ URL: {clip(line)!r}")
    version = specs[0].version
    if specs[0].operator == "==" and "*" in version:
        raise ValueError(f"a wildcard is not an installed version: {clip(line)!r}")
    if specs[0].operator == "==":
        try:
            Version(version)
        except ValueError as exc:  # packaging checks the grammar only: a number longer than int() converts
            raise ValueError(f"the version cannot be compared ({clip(str(exc), 60)}): {clip(line)!r}") from exc
    return Pin(name=canonicalize_name(req.name), display_name=req.name, version=version)


def version_from_url(url: str, name: str) -> str | None:
    """The version a direct reference installs, when its URL names a wheel or an sdist of ``name``."""
    filename = url_filename(url)
    if filename.endswith(".whl"):
        try:
            wheel_name, version, _, _ = parse_wheel_filename(filename)
        except (InvalidWheelFilename, ValueError):  # ValueError: a version number longer than int() converts
            return None
        return str(version) if wheel_name == canonicalize_name(name) else None
    for suffix in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            prefix, _, sdist_version = stem.rpartition("-")
            if prefix and canonicalize_name(prefix) == canonicalize_name(name) and sdist_version[:1].isdigit():
                return sdist_version
    return None


def url_filename(url: str) -> str:
    """The file name a URL ends with, unquoted (``torch-2.11.0%2Bcpu-...whl`` -> ``torch-2.11.0+cpu-...whl``)."""
    return unquote(urlsplit(url).path).rsplit("/", 1)[-1]


def _non_ascii(line: str) -> str:
    """Names a look-alike (Cyrillic, fullwidth, Kelvin sign) that repr() shows as if it were ASCII."""
    for char in line:
        if ord(char) > 127:
            return f"; it holds U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}, not ASCII"
    return ""
