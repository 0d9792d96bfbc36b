"""``--snapshot SEL`` -> ``Snapshot``: every way a user names a runtime.

- ``colab`` / ``colab:latest``: the latest CPU release; ``colab-gpu``, ``colab-tpu`` name the other kinds
  (prefixes are declared in ``snapshots/*.toml``; a source's name alone names its default kind);
- ``colab:2025-07-14``: the release in force on that day; ``colab:2025.07``: a named past runtime version;
- ``colab@<commit>``: the release in force at a commit (history commit or upstream short id, any unique prefix);
- a path to a freeze file (Python and platform from ``--python`` / ``--platform``, else stated defaults),
  or to a snapshot JSON file; ``current``: the running interpreter. Selectors win over a file of the same name
  (``./colab`` names the file).
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

from packaging.version import Version

from analyzer.catalog import Catalog, Release
from analyzer.config import DEFAULT_SNAPSHOT, Settings
from analyzer.environment import TargetEnvironment
from analyzer.errors import InputError
from analyzer.freeze import parse_freeze
from analyzer.snapshot import Platform, Snapshot, clip, snapshot_from_json
from analyzer.sources import RuntimeFiles, find_kind, list_sources, load_source

__all__ = ["DEFAULT_GLIBC", "parse_platform", "resolve_selector", "snapshot_for", "with_runtime"]

DEFAULT_GLIBC = "2.35"
"""glibc assumed for a freeze file without ``--platform``: Ubuntu 22.04's, as on Colab and most CI images."""

_SELECTOR = re.compile(r"^(?P<prefix>[a-z][a-z0-9-]*)(?:(?P<sep>[:@])(?P<rest>.*))?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NAMED = re.compile(r"^\d{4}\.\d{2}$")
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY = {"manylinux1": "2.5", "manylinux2010": "2.12", "manylinux2014": "2.17"}
_WINDOWS = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}

EXAMPLES = (
    "colab, colab:latest, colab:2025-07-14, colab:2025.07, colab@<commit>, colab-gpu:..., colab-tpu:..., "
    "current, or a path to a freeze or snapshot JSON file"
)


def resolve_selector(
    text: str, *, python: str | None = None, platform: str | None = None, colab_repo: str | None = None
) -> Snapshot:
    """The snapshot a selector names; any mistake is an InputError that says what would have worked."""
    text = text.strip()
    if not text:
        raise InputError(f"empty snapshot selector; use one of: {EXAMPLES}")
    if text == "current":
        _refuse_overrides(text, python, platform)
        from analyzer.current import current_snapshot

        return current_snapshot()
    match = _SELECTOR.match(text)
    found = find_kind(match.group("prefix")) if match else None
    if match is None or found is None:
        path = Path(text).expanduser()
        if _is_file(path):
            return _from_file(path, python, platform)
        if match is not None and (match.group("sep") or "-" in match.group("prefix")):
            known = ", ".join(files.selector for name in list_sources() for files in load_source(name).kinds)
            raise InputError(f"unknown snapshot source or runtime kind {match.group('prefix')!r} (known: {known})")
        raise InputError(f"no such file, and not a snapshot selector: {clip(text)!r}; use one of: {EXAMPLES}")
    _refuse_overrides(text, python, platform)
    decl, files = found
    catalog = Catalog.open(decl, colab_repo)
    release, notes = _release(catalog, files, match.group("sep"), match.group("rest"), text)
    snapshot = catalog.snapshot(release)
    return replace(snapshot, notes=snapshot.notes + notes) if notes else snapshot


def snapshot_for(
    settings: Settings, selector: str | None = None, *, python: str | None = None, platform: str | None = None
) -> Snapshot:
    """The snapshot a command names (``selector``, else the settings', relative to the configuration file).

    The configuration's ``python`` and ``platform`` describe a freeze file's runtime; a Colab release or a snapshot
    JSON states its own, and then they are left aside with a note (the command line's are refused, as ever)."""
    if selector is None:
        selector = settings.snapshot or DEFAULT_SNAPSHOT
        if settings.snapshot and settings.origin is not None and not Path(selector).is_absolute():
            beside = settings.origin.parent / selector
            if _is_file(beside):
                selector = str(beside)
    unused: list[str] = []
    if (settings.python or settings.platform) and python is None and platform is None:
        if _is_freeze_file(selector):
            python, platform = settings.python, settings.platform
        else:
            where = settings.origin.name if settings.origin is not None else "the configuration"
            unused = [
                f"{key} = {value!r} in {where} not used: {selector} states its own interpreter and platform"
                for key, value in (("python", settings.python), ("platform", settings.platform))
                if value
            ]
    snapshot = resolve_selector(
        with_runtime(selector, settings.runtime), python=python, platform=platform, colab_repo=settings.colab_repo
    )
    return replace(snapshot, notes=(*snapshot.notes, *unused)) if unused else snapshot


def with_runtime(selector: str, runtime: str) -> str:
    """``runtime = "gpu"`` turns ``colab:2025-07-14`` into ``colab-gpu:2025-07-14``; a selector that names its
    kind (``colab-tpu``), a file and ``current`` are left as they are."""
    match = _SELECTOR.match(selector)
    found = find_kind(match.group("prefix")) if match else None
    if match is None or found is None:
        return selector
    decl, files = found
    if match.group("prefix") != decl.name or files.kind == runtime:
        return selector
    return decl.kind(runtime).selector + selector[match.end("prefix") :]


def _is_freeze_file(selector: str) -> bool:
    """A file :func:`_from_file` reads as a freeze rather than as snapshot JSON."""
    path = Path(selector).expanduser()
    if not _is_file(path) or path.suffix == ".json":
        return False
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return True  # resolving the selector reports the read error itself
    return not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _is_file(path: Path) -> bool:
    """Whether ``path`` names a file; a name the file system refuses (too long, a NUL byte) names none."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _release(
    catalog: Catalog, files: RuntimeFiles, sep: str | None, rest: str | None, text: str
) -> tuple[Release, tuple[str, ...]]:
    kind, name = files.kind, catalog.decl.name
    latest = catalog.latest(kind)  # an InputError when the kind has no release
    if sep is None or (sep == ":" and rest == "latest"):
        return latest, ()
    first = catalog.releases_of(kind)[0].date.date()
    if not rest:
        raise InputError(f"{text!r} ends after {sep!r}; use one of: {EXAMPLES}")
    if sep == "@":
        return _at_commit(catalog, files, rest, text)
    if _DAY.match(rest):
        try:
            day = date.fromisoformat(rest)
        except ValueError as exc:
            raise InputError(f"{text!r}: {rest!r} is not a calendar date") from exc
        found = catalog.at(kind, day)
        if found is None:
            raise InputError(f"{text!r}: {day} is before the first {kind} release of {name} ({first})")
        return found, ()
    if _NAMED.match(rest):
        version = catalog.tables.runtime_version(rest)
        if version is None:
            names = ", ".join(v.name for v in catalog.tables.runtime_versions) or "none synced"
            raise InputError(f"{text!r}: {name} has no runtime version named {rest!r} (known: {names})")
        found = catalog.at(kind, version.date)
        if found is None:
            raise InputError(
                f"{text!r}: runtime version {rest} ({version.date.date()}) predates the first {kind} release "
                f"({first})"
            )
        note = (
            f"runtime version {rest}: the files in force at upstream {version.upstream_commit} "
            f"({version.date.isoformat()})"
        )
        return found, (note,)
    raise InputError(
        f"{text!r}: after ':' expected 'latest', a date (YYYY-MM-DD) or a runtime version (YYYY.MM), not {rest!r}"
    )


def _at_commit(catalog: Catalog, files: RuntimeFiles, prefix: str, text: str) -> tuple[Release, tuple[str, ...]]:
    if not _HEX.match(prefix):
        raise InputError(f"{text!r}: {prefix!r} is not a commit id (4 to 40 hexadecimal digits)")
    commits = catalog.find_commits(prefix)
    if not commits:
        raise InputError(f"{text!r}: no commit of the {catalog.decl.name} history starts with {prefix!r}")
    if len(commits) > 1:
        listed = ", ".join(c.commit[:12] for c in commits[:5])
        raise InputError(f"{text!r}: {prefix!r} is ambiguous ({len(commits)} commits: {listed}...); give more digits")
    commit = commits[0]
    release = catalog.at_commit(files.kind, commit)
    if release is None:
        raise InputError(f"{text!r}: there is no {files.kind} release at or before commit {commit.commit[:12]}")
    if release.commit != commit.commit:
        note = (
            f"commit {commit.commit[:12]} did not change {files.freeze}; the {files.kind} release in force there "
            f"is {catalog.name_of(release).label}, commit {release.commit[:12]}"
        )
        return release, (note,)
    return release, ()


def _refuse_overrides(text: str, python: str | None, platform: str | None) -> None:
    if python is not None or platform is not None:
        given = "--python" if python is not None else "--platform"
        raise InputError(f"{given} applies to freeze files only; {text!r} knows its own interpreter and platform")


def _from_file(path: Path, python: str | None, platform: str | None) -> Snapshot:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors, PowerShell) is not content
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file: {exc}", file=str(path)) from exc
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        _refuse_overrides(str(path), python, platform)
        snapshot = snapshot_from_json(text, file=str(path))
        TargetEnvironment.from_snapshot(snapshot, file=str(path))  # its Python and glibc read where the file is known
        return snapshot
    return freeze_snapshot(text, str(path), python=python, platform=platform)


def freeze_snapshot(text: str, file: str, *, python: str | None = None, platform: str | None = None) -> Snapshot:
    """A freeze file as a snapshot; whatever the file cannot say (Python, platform) is a stated assumption."""
    result = parse_freeze(text, file)
    alien, lines = len(result.unreadable), len(result.pins) + len(result.problems)
    if alien >= 2 and alien > lines - alien:
        # more lines unlike any pin than lines like one: some other file (a log, /etc/passwd), not a freeze
        # with defective lines (those are each said where they are, and the run goes on)
        first = result.unreadable[0]
        raise InputError(
            f"not a pip freeze: {alien} of {lines} lines are not NAME==VERSION pins "
            f"(line {first.line}: {first.message})",
            file=file,
        )
    notes: list[str] = []
    if python is None:
        version = ".".join(str(p) for p in sys.version_info[:3])
        evidence = "assumed: the running interpreter's version (no --python given)"
        notes.append(f"Python {version} assumed (the running interpreter's); give --python to change it")
    else:
        try:
            version = str(Version(python))
        except ValueError as exc:  # InvalidVersion, or a release number longer than int() converts
            raise InputError(f"--python {clip(python, 60)!r} is not a version (expected e.g. 3.12 or 3.12.12)") from exc
        if len(Version(version).release) < 2:
            raise InputError(f"--python {clip(python, 60)!r} needs at least a minor version (e.g. 3.12)")
        evidence = "given (--python)"
    if platform is None:
        chosen = Platform(distro="ubuntu", distro_version="22.04", glibc=DEFAULT_GLIBC)
        notes.append(
            f"platform assumed: Linux x86_64 with glibc {DEFAULT_GLIBC} (Ubuntu 22.04); give --platform to change it"
        )
    else:
        chosen = parse_platform(platform)
    return Snapshot(
        id=Path(file).name,
        python=version,
        pins=result.pins,
        python_evidence=evidence,
        platform=chosen,
        problems=result.problems,
        notes=tuple(notes),
    )


def parse_platform(text: str) -> Platform:
    """A ``--platform`` value: a wheel platform tag (``manylinux_2_31_x86_64``, ``manylinux2014_x86_64``,
    ``linux_aarch64``, ``win_amd64``, ``macosx_11_0_arm64``)."""
    value = text.strip().lower().replace("-", "_").replace(".", "_")
    if match := _MANYLINUX.match(value):
        return Platform(os_name="Linux", glibc=f"{match.group(1)}.{match.group(2)}", machine=match.group(3))
    legacy, _, arch = value.partition("_")
    if legacy in _LEGACY and arch:
        return Platform(os_name="Linux", glibc=_LEGACY[legacy], machine=arch)
    if value.startswith("linux_") and len(value) > 6:
        return Platform(machine=value[6:])
    if value in _WINDOWS:
        return Platform(os_name="Windows", machine=_WINDOWS[value])
    parts = value.split("_")
    if parts[0] == "macosx" and len(parts) >= 4:
        return Platform(os_name="Darwin", distro_version=f"{parts[1]}.{parts[2]}", machine="_".join(parts[3:]))
    raise InputError(
        f"--platform {clip(text, 60)!r} is not a platform tag; use e.g. manylinux_2_35_x86_64, manylinux2014_x86_64, "
        "linux_aarch64, win_amd64 or macosx_11_0_arm64"
    )
