"""Read pip requirements files (``-r``/``-c``) step by step as pip's ``req/req_file.py`` does, without pip and
without building anything, so a file means here what it means to ``pip install -r``.

Bad content never raises: every defect is a :class:`~analyzer.errors.Problem` (``FILE:LINE: message``) in the
result; options without effect on what gets installed, and unset ``${VAR}`` variables, are notes.
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit
from urllib.request import url2pathname

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from analyzer.errors import Problem
from analyzer.freeze import MAX_NAME, looks_like_a_requirement, version_from_url
from analyzer.redact import redact

__all__ = ["DirectURL", "ParsedRequirement", "RequirementsSet", "parse_requirements_files", "requirement_problem"]

# Bounds on mistaken or hostile input: a larger "requirements file" is a wheel or a log; deeper -r chains
# would exhaust Python's recursion limit; includes may form diamonds, so the files read are counted as well.
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 100
MAX_FILE_READS = 1000
MAX_SHOWN_PATH = 1024
"""A path given longer than this is no file's (the file system refuses it) and is cut where messages name it."""

# pip's patterns (req_file.py), kept identical so comments and variables are cut exactly where pip cuts them.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_REMOTE = re.compile(r"^(http|https):", re.IGNORECASE)
_CODING = re.compile(rb"coding[:=]\s*([-\w.]+)")
_EXTRAS = re.compile(r"^(.+)(\[[^\]]+\])$")
_EGG = re.compile(r"[#&]egg=([^&]*)")

_VCS_SCHEMES = frozenset(
    {
        "git+http", "git+https", "git+ssh", "git+git", "git+file",
        "hg+file", "hg+http", "hg+https", "hg+ssh", "hg+static-http",
        "svn+ssh", "svn+http", "svn+https", "svn+svn", "svn+file",
        "bzr+http", "bzr+https", "bzr+ssh", "bzr+sftp", "bzr+ftp", "bzr+lp", "bzr+file",
    }
)  # fmt: skip
_URL_SCHEMES = frozenset({"http", "https", "file", "ftp"}) | _VCS_SCHEMES
_VCS_NAMES = ("git", "hg", "svn", "bzr")
_ARCHIVES = (".zip", ".whl", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
             ".tar.gz", ".tgz", ".tar")
_STRONG_HASHES = ("sha256", "sha384", "sha512")

# The options pip accepts in a requirements file: long name -> (destination, takes a value).
_OPTIONS: dict[str, tuple[str, bool]] = {
    "--index-url": ("index_url", True),
    "--pypi-url": ("index_url", True),
    "--extra-index-url": ("extra_index_urls", True),
    "--no-index": ("no_index", False),
    "--constraint": ("constraints", True),
    "--requirement": ("requirements", True),
    "--editable": ("editables", True),
    "--find-links": ("find_links", True),
    "--no-binary": ("no_binary", True),
    "--only-binary": ("only_binary", True),
    "--prefer-binary": ("prefer_binary", False),
    "--require-hashes": ("require_hashes", False),
    "--pre": ("pre", False),
    "--trusted-host": ("trusted_hosts", True),
    "--use-feature": ("features_enabled", True),
    "--global-option": ("global_options", True),
    "--hash": ("hashes", True),
    "--config-settings": ("config_settings", True),
}
_SHORT = {"-i": "--index-url", "-c": "--constraint", "-r": "--requirement", "-e": "--editable",
          "-f": "--find-links", "-C": "--config-settings"}


@dataclass(frozen=True)
class DirectURL:
    """A requirement written as a bare URL, a local path or ``-e``: its name comes from a wheel file name or
    ``#egg=``, since knowing it otherwise would mean building the project."""

    name: str
    url: str
    version: str | None = None
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None

    @property
    def specifier(self) -> SpecifierSet:
        """``==version`` when the file name tells it (pip reads a wheel URL as ``name==version``), else empty;
        so callers can use ``requirement.specifier`` whatever the kind of requirement."""
        return SpecifierSet(f"=={self.version}" if self.version is not None else "")

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        marker = f" ; {self.marker}" if self.marker is not None else ""
        return f"{self.name}{extras} @ {self.url}{marker}"


@dataclass(frozen=True)
class ParsedRequirement:
    """One requirement (or constraint) and where it was written, so reports can say ``FILE:LINE``."""

    requirement: Requirement | DirectURL
    file: str
    line: int
    hashes: tuple[str, ...] = ()
    editable: bool = False

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    @property
    def url(self) -> str | None:
        """The direct reference (``name @ URL``, a bare URL or path, ``-e``), if any."""
        return self.requirement.url

    @property
    def marker(self) -> Marker | None:
        return self.requirement.marker

    @property
    def origin(self) -> str:
        return f"{self.file}:{self.line}"

    def __str__(self) -> str:
        return ("-e " if self.editable else "") + str(self.requirement)


@dataclass(frozen=True)
class RequirementsSet:
    """Everything the files say, in file order.

    Index options follow pip: ``index_url``, when set, replaces every index named before it (the command line's
    and pip's configuration included) and ``extra_index_urls`` are the ones added after it; ``no_index`` drops all
    of them. ``notes`` are warnings and options recorded without effect; ``problems`` make the input invalid.
    """

    requirements: tuple[ParsedRequirement, ...] = ()
    constraints: tuple[ParsedRequirement, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False
    pre: bool = False
    files: tuple[str, ...] = ()
    notes: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()


def parse_requirements_files(
    paths: Sequence[Path],
    constraints: Sequence[Path] = (),
    *,
    env_vars: Mapping[str, str] | None = None,
) -> RequirementsSet:
    """Parse ``-r`` files and ``-c`` files as ``pip install -r A -r B -c C`` would read them.

    ``env_vars`` replaces ``os.environ`` for ``${VAR}`` expansion (tests, or a hook that must not see secrets).
    Nested files are found relative to the including file; files are named in messages as the caller gave them.
    """
    parser = _Parser(os.environ if env_vars is None else env_vars)
    for path, constraint in [*((str(p), False) for p in paths), *((str(p), True) for p in constraints)]:
        display = _clip(path, MAX_SHOWN_PATH)
        text = parser.read(path, display, site=None)
        if text is not None:
            parser.parse_text(text, (_Frame(path, display, _key(path)),), constraint=constraint)
    return parser.result()


@dataclass(frozen=True)
class _Frame:
    """A file being read and the line read in it; the stack of them names each hop of an include loop."""

    path: str
    display: str
    key: str
    line: int = 0


_Options = list[tuple[str, str, "str | None"]]
"""(destination, option as written, value) in line order."""


class _LineError(Exception):
    """A defect in one line; turned into a Problem by the parser, never escapes the module."""


class _Parser:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.requirements: list[ParsedRequirement] = []
        self.constraints: list[ParsedRequirement] = []
        self.index_url: str | None = None
        self.extra_index_urls: list[str] = []
        self.find_links: list[str] = []
        self.no_index = False
        self.pre = False
        self.files: list[str] = []
        self.notes: list[Problem] = []
        self.problems: list[Problem] = []
        self.reads = 0
        self.expanded: dict[str, str] = {}
        self.cache: dict[str, str | Problem] = {}

    def result(self) -> RequirementsSet:
        """The attributes named as :class:`RequirementsSet`'s fields, lists frozen, each file named once."""
        values = {item.name: getattr(self, item.name) for item in fields(RequirementsSet)}
        frozen: dict[str, Any] = {name: tuple(v) if isinstance(v, list) else v for name, v in values.items()}
        return RequirementsSet(**{**frozen, "files": tuple(dict.fromkeys(self.files))})

    def read(self, path: str, display: str, site: tuple[_Frame, str] | None) -> str | None:
        """The file's text, or None after recording one problem (at the including line when there is one)."""
        self.reads += 1
        if self.reads > MAX_FILE_READS:
            if self.reads == MAX_FILE_READS + 1 and site is not None:
                message = f"more than {MAX_FILE_READS} files read through -r/-c includes; stopping here"
                self.problems.append(Problem(site[0].display, site[0].line, message))
            return None
        key = _key(path)
        if key not in self.cache:
            self.cache[key] = _load(path, display)
        loaded = self.cache[key]
        if isinstance(loaded, Problem):
            if site is None or loaded.line is not None:
                problem = Problem(display, loaded.line, loaded.message)
            else:
                at, label = site
                resolved = "" if label.endswith(" " + _clip(display)) else f" ({_clip(display)})"
                problem = Problem(at.display, at.line, f"{label}: {loaded.message}{resolved}")
            if problem not in self.problems:
                self.problems.append(problem)
            return None
        self.files.append(display)
        return loaded

    def parse_text(self, text: str, stack: tuple[_Frame, ...], *, constraint: bool) -> None:
        # pip's preprocess: continuations joined, comments and blank lines dropped, then ${VAR} expanded
        read = 0
        bad: list[Problem] = []
        alien: list[Problem] = []
        for number, raw in _join_lines(text.splitlines()):
            raw = _COMMENT.sub("", raw).strip()
            if not raw:
                continue
            read += 1
            problems = len(bad)
            frames = (*stack[:-1], replace(stack[-1], line=number))
            line, expansions = self.expand(raw, frames[-1])
            self.expanded = expansions
            try:
                self.parse_line(line, frames, constraint=constraint)
            except _LineError as exc:
                bad.append(Problem(frames[-1].display, number, _redact(str(exc), expansions)))
            except (ValueError, LookupError, RecursionError, UnicodeError) as exc:
                # a safety net: the cases we know are turned into _LineError; a new one must still not crash
                message = f"cannot read this line ({type(exc).__name__}: {_clip(_first_line(exc))})"
                bad.append(Problem(frames[-1].display, number, _redact(message, expansions)))
            self.expanded = {}
            if len(bad) > problems and not _looks_like_a_requirement(raw):
                alien.append(bad[-1])
        if len(alien) >= 2 and len(alien) > read - len(alien):
            # more lines unlike any requirement or option than lines like one: another kind of file (a log,
            # /etc/passwd), said once rather than echoed line by line
            kind = "constraints" if constraint else "requirements"
            message = (f"not a {kind} file: {len(alien)} of {read} lines are neither requirements nor pip "
                       f"options (line {alien[0].line}: {alien[0].message})")
            bad = [Problem(stack[-1].display, None, message)]
        self.problems.extend(bad)

    def expand(self, line: str, at: _Frame) -> tuple[str, dict[str, str]]:
        """The line with ``${VAR}`` replaced, and each value's variable (messages show ``${TOKEN}``, not a secret)."""
        expansions: dict[str, str] = {}

        def value(match: re.Match[str]) -> str:
            found = self.environ.get(match.group(1))
            if not found:
                message = f"environment variable ${{{match.group(1)}}} is not set (or empty); left as written"
                note = Problem(at.display, at.line, message)
                if note not in self.notes:
                    self.notes.append(note)
                return match.group(0)
            expansions[found] = match.group(0)
            return found

        return _ENV_VAR.sub(value, line), expansions

    def parse_line(self, line: str, frames: tuple[_Frame, ...], *, constraint: bool) -> None:
        at = frames[-1]
        # pip's split: words before the first one starting with "-" are the requirement (markers stay intact)
        words = line.split(" ")
        cut = next((index for index, word in enumerate(words) if word.startswith("-")), len(words))
        args, options_text = " ".join(words[:cut]), " ".join(words[cut:])
        try:
            tokens = shlex.split(options_text)
        except ValueError as exc:
            raise _LineError(f"cannot split the options ({exc}): {_clip(options_text)!r}") from exc
        options, leftovers = _parse_options(tokens)
        if leftovers:
            self.note(at, f"ignored (pip ignores words after the options): {_clip(' '.join(leftovers))}")

        if args:
            self.add_requirement(_parse_requirement(args), options, at, constraint=constraint)
        elif any(dest == "editables" for dest, _, _ in options):
            editables = [value for dest, _, value in options if dest == "editables"]
            for extra in editables[1:]:
                self.note(at, f"only the first -e of a line is read (as pip does); ignored: {extra}")
            rest = [item for item in options if item[0] != "editables"]
            editable = _parse_editable(editables[0] or "")
            self.add_requirement(editable, rest, at, constraint=constraint, editable=True)
        elif any(dest in ("requirements", "constraints") for dest, _, _ in options):
            self.include(options, frames)
        else:
            self.apply_options(options, at)

    def add_requirement(self, requirement: Requirement | DirectURL, options: _Options, at: _Frame, *,
                        constraint: bool, editable: bool = False) -> None:
        hashes: list[str] = []
        for dest, option, value in options:
            if dest == "hashes" and not editable:
                hashes.append(value or "")
            elif dest in ("global_options", "config_settings"):
                self.note(at, f"{option} {value} has no effect on the analysis (recorded, ignored)")
            else:
                self.note(at, f"{option} is ignored on a requirement line (pip ignores it too)")
        if constraint:
            if editable:
                raise _LineError(f"editable requirements are not allowed as constraints: {requirement}")
            if requirement.extras:
                raise _LineError(f"constraints cannot have extras: {requirement}")
        parsed = ParsedRequirement(requirement, at.display, at.line, tuple(hashes), editable)
        (self.constraints if constraint else self.requirements).append(parsed)

    def include(self, options: _Options, frames: tuple[_Frame, ...]) -> None:
        """A ``-r``/``-c`` line: pip reads only the first include of the line and ignores its other options."""
        at = frames[-1]
        # the first -r of the line, else its first -c, whatever their order
        dest, option, value = next(item for kind in ("requirements", "constraints") for item in options
                                   if item[0] == kind)
        for _, other, other_value in options:
            if (other, other_value) != (option, value):
                shown = other if other_value is None else f"{other} {other_value}"
                self.note(at, f"ignored on an include line (pip reads only its first -r/-c): {shown}")
        target = value or ""
        label = f"{'-r' if dest == 'requirements' else '-c'} {_clip(target)}"
        if _REMOTE.match(target):
            raise _LineError(f"{label}: remote requirements files are not read; download it and name the "
                             "local file")
        if target.lower().startswith("file:"):
            target = url2pathname(unquote(_split_url(target).path))
        path = os.path.join(os.path.dirname(at.path), target)
        folder = os.path.dirname(at.display)
        display = os.path.normpath(os.path.join(folder, target)) if target else at.display
        key = _key(path)
        for index, frame in enumerate(frames):
            if frame.key == key:
                loop = [*frames[index:], frame]
                hops = ", ".join(f"{a.display}:{a.line} includes {b.display}" for a, b in pairwise(loop))
                raise _LineError(f"{label}: include loop ({hops})")
        if len(frames) >= MAX_DEPTH:
            raise _LineError(f"{label}: includes nested more than {MAX_DEPTH} deep; not read")
        text = self.read(path, display, site=(at, label))
        if text is not None:
            # As in pip, -r inside a constraints file reads requirements and -c inside a requirements file
            # reads constraints: the flag decides, not the including file.
            self.parse_text(text, (*frames, _Frame(path, display, key)), constraint=dest == "constraints")

    def apply_options(self, options: _Options, at: _Frame) -> None:
        """An option line: pip's ``handle_option_line``, in pip's order (no-index, index, extras, find-links)."""
        given = {dest: [v for d, _, v in options if d == dest] for dest, _, _ in options}
        for dest, option, value in options:
            shown = option if value is None else f"{option} {value}"
            if dest == "hashes":
                self.note(at, f"{shown} has no requirement on its line; ignored (as pip does)")
            elif dest in ("global_options", "config_settings"):
                self.note(at, f"{shown} has no requirement on its line; ignored")
            elif dest in ("trusted_hosts", "prefer_binary", "only_binary", "no_binary", "require_hashes",
                          "features_enabled"):
                self.note(at, f"{shown} is recorded but has no effect on the analysis")
        if "no_index" in given:
            self.no_index = True
            self.index_url = None
            self.extra_index_urls.clear()
        if "index_url" in given or "extra_index_urls" in given:
            if self.no_index:
                self.note(at, "index options after --no-index have no effect (as in pip)")
            else:
                if "index_url" in given:
                    if self.extra_index_urls:
                        self.note(at, "--index-url replaces the extra indexes named before it (as in pip): "
                                  f"{', '.join(self.extra_index_urls)}")
                        self.extra_index_urls.clear()
                    self.index_url = given["index_url"][-1]
                self.extra_index_urls.extend(v for v in given.get("extra_index_urls", []) if v is not None)
        for value in given.get("find_links", []):
            if value is not None:
                local = os.path.join(os.path.dirname(os.path.abspath(at.path)), value)
                self.find_links.append(local if os.path.exists(local) else value)
        if "pre" in given:
            self.pre = True

    def note(self, at: _Frame, message: str) -> None:
        self.notes.append(Problem(at.display, at.line, _redact(message, self.expanded)))


def _key(path: str) -> str:
    """One identity per file, however it was reached (``sub/../a.txt``, symlinks)."""
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return os.path.abspath(path)


def _load(path: str, display: str) -> str | Problem:
    """The file's text; else a problem, without a line when the file cannot be read as a whole."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return Problem(display, None, "no such file")
    except (OSError, ValueError) as exc:
        return Problem(display, None, f"cannot open: {getattr(exc, 'strerror', None) or exc}")
    if stat.S_ISDIR(info.st_mode):
        return Problem(display, None, "is a directory, not a requirements file")
    if not stat.S_ISREG(info.st_mode):
        return Problem(display, None, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        return Problem(display, None, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a requirements file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return Problem(display, None, f"cannot read: {exc.strerror or exc}")
    # pip's auto_decode: a BOM, else a "# coding:" line among the first two, else UTF-8 (not the locale)
    encoding = "utf-8"
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32-le"),
                      (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                      (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            data, encoding = data[len(bom):], name
            break
    else:
        for number, line in enumerate(data.split(b"\n")[:2], start=1):
            match = _CODING.search(line) if line.startswith(b"#") else None
            if match:
                encoding = match.group(1).decode("ascii", "replace")
                try:
                    codecs.lookup(encoding)
                except LookupError:
                    return Problem(display, number, f"unknown encoding {encoding!r} in the coding declaration")
                break
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode(encoding, "replace")
        byte = data[exc.start: exc.start + 1].hex()
        return Problem(display, _line_at(prefix), f"not a text file: cannot decode byte 0x{byte} as {encoding}")
    nul = text.find("\x00")
    if nul >= 0:
        return Problem(display, _line_at(text[:nul]), "binary data (NUL byte): not a requirements file")
    return text


def _line_at(prefix: str) -> int:
    """The 1-based line a position falls on, counted as ``str.splitlines`` (the parser's own splitting) counts."""
    return len((prefix + "x").splitlines())


def _join_lines(lines: list[str]) -> list[tuple[int, str]]:
    """pip's ``join_lines``: a line ending in ``\\`` continues on the next; a comment line ends the run."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if not pending:
            first = number
        is_comment = _COMMENT.match(line) is not None
        if line.endswith("\\") and not is_comment:
            pending.append(line.strip("\\"))
            continue
        # a comment gets its leading space, so it is cut later even when glued to a continuation
        pending.append(" " + line if is_comment else line)
        out.append((first, "".join(pending)))
        pending = []
    if pending:
        out.append((first, "".join(pending)))
    return out


def _parse_options(tokens: list[str]) -> tuple[_Options, list[str]]:
    """optparse's rules for pip's options (long-name abbreviations, ``--opt=v``, ``-rFILE``), minus optparse.

    Returns (destination, option as named in messages, value) in line order, and the words left over.
    """
    found: _Options = []
    leftovers: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":
            leftovers.extend(tokens[index:])
            break
        if token.startswith("--"):
            name, equals, inline = token.partition("=")
            matches = [name] if name in _OPTIONS else sorted(o for o in _OPTIONS if o.startswith(name))
            if not matches:
                raise _LineError(f"unknown option {_clip(name)}")
            if len({_OPTIONS[match][0] for match in matches}) > 1:
                raise _LineError(f"ambiguous option {name} (could be {', '.join(matches)})")
            option = matches[0]
            dest, takes_value = _OPTIONS[option]
            if not takes_value:
                if equals:
                    raise _LineError(f"{option} takes no value: {_clip(token)!r}")
                found.append((dest, option, None))
                continue
            attached = inline if equals else None
        elif token.startswith("-") and token != "-":
            option = token[:2]
            if option not in _SHORT:
                within = f" (in {_clip(token)!r})" if len(token) > 2 else ""
                raise _LineError(f"unknown option {option}{within}")
            dest = _OPTIONS[_SHORT[option]][0]
            attached = token[2:] or None
        else:
            leftovers.append(token)
            continue
        if attached is not None:
            value = attached
        elif index < len(tokens):
            value, index = tokens[index], index + 1
        else:
            raise _LineError(f"{option} needs a value")
        found.append((dest, option, _check_value(dest, option, value)))
    return found, leftovers


def _check_value(dest: str, option: str, value: str) -> str:
    """The checks pip's option callbacks make, with pip's wording turned into a linter's."""
    if dest == "hashes":
        algorithm, colon, digest = value.partition(":")
        if not colon or not digest:
            raise _LineError(f"{option} needs ALGORITHM:DIGEST, like --hash=sha256:abcde…: {_clip(value)!r}")
        if algorithm not in _STRONG_HASHES:
            raise _LineError(f"{option} algorithm must be one of {', '.join(_STRONG_HASHES)}: {algorithm!r}")
    elif dest == "config_settings" and "=" not in value:
        raise _LineError(f"{option} needs KEY=VALUE: {_clip(value)!r}")
    return value


def _parse_requirement(text: str) -> Requirement | DirectURL:
    """pip's ``parse_req_from_line``: a URL, a local archive or directory, or a PEP 508 requirement."""
    if _scheme(text) in _URL_SCHEMES:
        url, _, marker_text = text.partition("; ")
        return _named_link(url.strip(), _marker(marker_text), frozenset(), text)
    body, _, marker_text = text.partition(";")
    body = body.strip()
    if _looks_like_local(body):
        path, extras = _strip_extras(body)
        return _named_link(path, _marker(marker_text), extras, text)
    combined = f"{body} ; {marker_text.strip()}" if marker_text.strip() else body
    try:
        requirement = Requirement(combined)
        if requirement.url is not None:
            _split_url(requirement.url)  # packaging accepts URLs that no client can open
        problem = requirement_problem(requirement)
        if problem is not None:
            raise _LineError(problem)
        return requirement
    except InvalidRequirement as exc:
        raise _LineError(f"invalid requirement {_clip(text)!r}: {_first_line(exc)}") from exc
    except RecursionError as exc:  # packaging's marker parser recurses once per parenthesis
        raise _LineError(f"invalid requirement {_clip(text)!r}: nested too deeply") from exc


def requirement_problem(requirement: Requirement) -> str | None:
    """What makes a requirement ``packaging`` parsed unusable all the same, in words; None when nothing does.

    ``packaging`` checks the grammar only: a version with more digits than ``int()`` converts is found when it is
    compared, and a marker that cannot be evaluated when it is evaluated, both deep inside the analysis.
    """
    name = requirement.name
    if len(name) > MAX_NAME:
        return (f"a project name of {len(name)} characters ({_clip(name, 40)!r}): no index can serve it "
                f"(at most {MAX_NAME})")
    for spec in requirement.specifier:
        if spec.operator == "===":
            continue  # compared as text, never parsed
        try:
            Version(spec.version.removesuffix(".*"))
        except ValueError as exc:
            return f"{name}: the version in {_clip(str(spec), 60)!r} cannot be used ({_clip(_first_line(exc), 80)})"
    if requirement.marker is not None:
        try:
            requirement.marker.evaluate({"extra": ""})
        except ValueError as exc:  # UndefinedComparison, or a version longer than int() converts
            marker = _clip(str(requirement.marker), 60)
            return f"{name}: the marker {marker!r} cannot be evaluated ({_clip(_first_line(exc), 80)})"
    return None


def _parse_editable(value: str) -> DirectURL:
    """pip's ``parse_editable``, except that the name must be given (``#egg=``): finding it means building."""
    path, extras = _strip_extras(value)
    egg = _egg_name(path)
    scheme = _scheme(path)
    if scheme is not None and scheme != "file" and scheme not in _VCS_SCHEMES and scheme not in _VCS_NAMES:
        raise _LineError(f"-e {_clip(value)}: not a valid editable requirement; give a local project path or a VCS "
                         "URL (git+https://…)")
    if egg is None:
        raise _LineError(f"-e {_clip(value)}: cannot know the project's name without building it; add "
                         "#egg=NAME to the URL or path")
    return DirectURL(name=egg, url=path, extras=extras)


def _named_link(url: str, marker: Marker | None, extras: frozenset[str], text: str) -> DirectURL:
    """A URL or path names its project only through a wheel file name or ``#egg=``."""
    filename = unquote(_split_url(url).path if _scheme(url) else url.replace("\\", "/")).rsplit("/", 1)[-1]
    if filename.endswith(".whl"):
        try:
            _, version, _, _ = parse_wheel_filename(filename)
        except ValueError as exc:  # InvalidWheelFilename, or a version longer than int() converts
            raise _LineError(f"not a valid wheel file name: {_clip(filename)!r} ({_clip(_first_line(exc))})") from exc
        return DirectURL(name=filename.split("-", 1)[0], url=url, version=str(version), extras=extras,
                         marker=marker)
    egg = _egg_name(url)
    if egg is None:
        raise _LineError(f"cannot know the name of {_clip(text)!r} without building it; write NAME @ URL "
                         "(or add #egg=NAME)")
    return DirectURL(name=egg, url=url, version=version_from_url(url, egg), extras=extras, marker=marker)


def _egg_name(url: str) -> str | None:
    match = _EGG.search(url)
    if match is None or not match.group(1):
        return None
    try:
        canonicalize_name(match.group(1), validate=True)
    except InvalidName as exc:
        raise _LineError(f"#egg={_clip(match.group(1))} is not a valid project name") from exc
    return match.group(1)


def _marker(text: str) -> Marker | None:
    text = text.strip()
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker as exc:
        raise _LineError(f"invalid environment marker {_clip(text)!r}: {_first_line(exc)}") from exc
    except RecursionError as exc:  # packaging's parser recurses once per parenthesis
        raise _LineError(f"invalid environment marker {_clip(text)!r}: nested too deeply") from exc


def _strip_extras(text: str) -> tuple[str, frozenset[str]]:
    match = _EXTRAS.match(text)
    if match is None:
        return text, frozenset()
    try:
        extras = Requirement("placeholder" + match.group(2)).extras
    except InvalidRequirement as exc:
        raise _LineError(f"invalid extras {match.group(2)!r}: {_first_line(exc)}") from exc
    return match.group(1), frozenset(extras)


def _split_url(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise _LineError(f"not a valid URL ({exc}): {_clip(url)!r}") from exc


def _scheme(text: str) -> str | None:
    """pip's ``get_url_scheme``; a one-letter scheme is a Windows drive, not a URL."""
    scheme, colon, _ = text.partition(":")
    return scheme.lower() if colon and len(scheme) > 1 else None


def _looks_like_a_requirement(line: str) -> bool:
    """A failed line that is still a requirement, an option, a URL or a path with a defect (``freeze.py``'s
    rule, and a URL of any scheme pip takes)."""
    return looks_like_a_requirement(line) or _scheme(line) in _URL_SCHEMES


def _looks_like_local(text: str) -> bool:
    """pip's ``_get_url_from_path`` without the file system: a path or archive, unless it is ``name @ URL``."""
    match = _EXTRAS.match(text)
    path = match.group(1) if match else text
    looks_like_path = "/" in path or "\\" in path or path.startswith(".")
    is_archive = path.lower().endswith(_ARCHIVES)
    if not (looks_like_path or is_archive):
        return False
    before_at, at, _ = text.partition("@")
    # ``name @ ./x.whl`` or ``name @ https://…`` is a PEP 508 requirement, not a path
    return not at or "/" in before_at or "\\" in before_at or before_at.startswith(".")


def _redact(message: str, expansions: Mapping[str, str]) -> str:
    """Messages are printed and logged: put back ``${VAR}`` for expanded values and hide URL credentials."""
    for found, variable in sorted(expansions.items(), key=lambda item: -len(item[0])):
        if len(found) >= 4:
            message = message.replace(found, variable)
    return redact(message)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
