"""What the freeze does not say: google-colab's own requirements, and the named past runtime versions.

google-colab is installed from a local file, so its requirements are on no index: they come from the history of
colabtools' ``setup.py``, read with ``ast`` (never run). Named runtime versions (``colab:2025.07``) come from the
source's README. Both are small TSV files in the source's cache folder, copied from beside a local origin (a
bundle ships them) or derived from upstream history.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from analyzer.errors import InputError, SourceError
from analyzer.git import clone_or_fetch, git, is_local, normalize_origin, read_blobs
from analyzer.snapshot import DeclaredRequirements
from analyzer.sources import SourceDeclaration, TableDeclaration

__all__ = [
    "ColabTables", "RequiresRow", "RuntimeVersion", "derive_requires_history", "load_tables", "read_requires_tsv",
    "read_runtime_versions_tsv", "requirements_from_setup_py", "runtime_versions_from_readme", "sync_tables",
]

log = logging.getLogger(__name__)

REQUIRES_HEADER = ("date", "upstream_commit", "requires_dist")
VERSIONS_HEADER = ("name", "upstream_commit", "commit_date", "python")


@dataclass(frozen=True)
class RequiresRow:
    """google-colab's requirements as one upstream commit of ``setup.py`` declared them."""

    date: datetime
    upstream_commit: str
    requirements: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class RuntimeVersion:
    """A named past runtime version: the files in force at ``date`` (the last commit at or before it)."""

    name: str
    upstream_commit: str
    date: datetime
    python: str | None
    line: int


def split_requirements(text: str) -> tuple[str, ...]:
    """Split ``a; b>=1; c; python_version < "3.0"`` on ``; `` while keeping a marker with its requirement."""
    out: list[str] = []
    for part in (p.strip() for p in text.split("; ")):
        if part and out and _is_marker(part):
            out[-1] = f"{out[-1]}; {part}"
        elif part:
            out.append(part)
    return tuple(out)


def _is_marker(text: str) -> bool:
    try:
        Requirement(text)
        return False
    except InvalidRequirement:
        pass
    try:
        Marker(text)
        return True
    except InvalidMarker:
        return False


def _rows(text: str, file: str, header: Sequence[str]) -> Iterable[tuple[int, list[str]]]:
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != tuple(header):
        raise InputError(f"expected the header {' / '.join(header)}", file=file, line=1)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != len(header):
            raise InputError(f"expected {len(header)} tab-separated cells, found {len(cells)}", file=file, line=number)
        yield number, cells


def _date(text: str, file: str, line: int) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"not an ISO date: {text!r}", file=file, line=line) from exc
    if value.tzinfo is None:
        raise InputError(f"the date {text!r} has no time zone", file=file, line=line)
    return value


def read_requires_tsv(text: str, file: str = "google-colab-requires.tsv") -> tuple[RequiresRow, ...]:
    rows = [
        RequiresRow(_date(cells[0], file, n), cells[1], split_requirements(cells[2]), n)
        for n, cells in _rows(text, file, REQUIRES_HEADER)
    ]
    return tuple(sorted(rows, key=lambda r: r.date))


def read_runtime_versions_tsv(text: str, file: str = "runtime-versions.tsv") -> tuple[RuntimeVersion, ...]:
    rows = [
        RuntimeVersion(cells[0], cells[1], _date(cells[2], file, n), cells[3] or None, n)
        for n, cells in _rows(text, file, VERSIONS_HEADER)
    ]
    return tuple(sorted(rows, key=lambda r: r.date))


def _tsv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return "".join("\t".join(cells) + "\n" for cells in (header, *rows))


@dataclass(frozen=True)
class ColabTables:
    """The side tables of one source as synced into its cache folder."""

    declared: TableDeclaration | None
    requires: tuple[RequiresRow, ...] = ()
    runtime_versions: tuple[RuntimeVersion, ...] = ()

    def requires_at(self, when: datetime) -> RequiresRow | None:
        """The row in force at a moment: the last one dated at or before it."""
        found = [r for r in self.requires if r.date <= when]
        return found[-1] if found else None

    def declared_at(self, when: datetime | None) -> tuple[tuple[DeclaredRequirements, ...], tuple[str, ...]]:
        """Declared requirements to attach to a snapshot of that date, and notes on what is missing."""
        table = self.declared
        if table is None or table.package is None:
            return (), ()
        if not self.requires:
            return (), (f"{table.package}'s requirements are unknown: no requirements table is synced",)
        row = self.requires_at(when) if when is not None else self.requires[-1]
        if row is None:
            first = self.requires[0].date.date()
            return (), (f"{table.package}'s requirements are unknown before {first} (the table's first row)",)
        where = f" of {table.upstream}" if table.upstream else ""
        evidence = (
            f"{table.offline} line {row.line}: setup.py{where} at {row.upstream_commit} "
            f"({row.date.date()}), the row in force on {when.date() if when else 'the latest date'}"
        )
        return (DeclaredRequirements(canonicalize_name(table.package), row.requirements, evidence),), ()

    def runtime_version(self, name: str) -> RuntimeVersion | None:
        return next((row for row in self.runtime_versions if row.name == name), None)


def load_tables(decl: SourceDeclaration, root: Path) -> ColabTables:
    """Read the synced tables from the cache folder (offline); a missing table is an empty one."""
    folder = root / "tables"
    req, ver = decl.declared_requirements, decl.runtime_versions
    requires: tuple[RequiresRow, ...] = ()
    versions: tuple[RuntimeVersion, ...] = ()
    if req is not None and (folder / req.offline).is_file():
        requires = read_requires_tsv((folder / req.offline).read_text(encoding="utf-8"), req.offline)
    if ver is not None and (folder / ver.offline).is_file():
        versions = read_runtime_versions_tsv((folder / ver.offline).read_text(encoding="utf-8"), ver.offline)
    return ColabTables(req, requires, versions)


def sync_tables(decl: SourceDeclaration, root: Path, origin: str, repo: Path) -> tuple[str, ...]:
    """Refresh the tables in the cache, copied from beside a local origin, else derived from upstream history;
    one line per table says where it came from. A table that cannot be had keeps its cached copy."""
    folder = root / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    # a local origin's tables lie beside the bundle file, or beside or in the repository
    path = Path(origin)
    beside = ([path.parent] if path.is_file() else [path, path.parent]) if is_local(origin) else []
    said: list[str] = []
    readers = ((decl.runtime_versions, read_runtime_versions_tsv), (decl.declared_requirements, read_requires_tsv))
    for table, read in readers:
        if table is None:
            continue
        target = folder / table.offline
        found = next((d / table.offline for d in beside if (d / table.offline).is_file()), None)
        try:
            if found is not None:
                text, where = found.read_text(encoding="utf-8"), f"copied from {found}"
                read(text, str(found))  # refuse a malformed table now rather than at every later run
            elif table is decl.runtime_versions:
                text, where = _derive_versions(table, repo)
            else:
                text, where = _derive_requires(table, root)
        except (SourceError, InputError, OSError) as exc:
            state = "the cached copy is kept" if target.is_file() else "it stays unknown"
            log.warning("could not %s %s (%s); %s", "read" if found else "derive", table.offline, exc, state)
            said.append(f"{table.offline}: not {'read' if found else 'derived'} ({exc}); {state}")
            continue
        target.write_text(text, encoding="utf-8")
        said.append(f"{table.offline}: {where}")
    return tuple(said)


def _derive_versions(table: TableDeclaration, repo: Path) -> tuple[str, str]:
    """Named runtime versions from every version of the source's README (the newest mention of a name wins)."""
    log_text = git(["log", "--reverse", "--format=%H", "HEAD", "--", table.upstream_file], cwd=repo).decode()
    found: dict[str, tuple[str, str | None]] = {}
    for _, _, content in read_blobs(repo, [f"{c}:{table.upstream_file}" for c in log_text.split()]):
        if content is not None:
            for name, commit, python in runtime_versions_from_readme(content.decode("utf-8", "replace")):
                found[name] = (commit, python)
    if not found:
        raise SourceError(f"no runtime version is named in the history of {table.upstream_file}")
    rows = []
    for name, (commit, python) in sorted(found.items()):
        try:
            when = git(["log", "-1", "--format=%cI", commit], cwd=repo).decode().strip()
        except SourceError:
            log.warning("runtime version %s names commit %s, which the history does not hold", name, commit)
            continue
        rows.append(RuntimeVersion(name, commit[:12], datetime.fromisoformat(when), python, line=0))
    rows.sort(key=lambda r: r.date, reverse=True)
    text = _tsv(VERSIONS_HEADER, [(r.name, r.upstream_commit, r.date.isoformat(), r.python or "") for r in rows])
    return text, f"derived from {table.upstream_file} history"


_SECTION = re.compile(r"^#{2,4}\s.*?(\d{4}\.\d{2})\s*$")
_TREE = re.compile(r"/tree/([0-9a-f]{7,40})")
_PYTHON = re.compile(r"^\W*Python\s+(\d+\.\d+(?:\.\d+)?)\b")


def runtime_versions_from_readme(text: str) -> list[tuple[str, str, str | None]]:
    """``(name, commit, python)`` for each named runtime version a README links to a commit."""
    out: list[tuple[str, str, str | None]] = []
    name: str | None = None
    commit: str | None = None
    python: str | None = None
    for line in [*text.splitlines(), "## end"]:
        if line.startswith("#"):
            if name is not None and commit is not None:
                out.append((name, commit, python))
            match = _SECTION.match(line)
            name, commit, python = (match.group(1) if match else None), None, None
            continue
        if name is None:
            continue
        if commit is None and (tree := _TREE.search(line)):
            commit = tree.group(1)
        if python is None and (py := _PYTHON.match(line)):
            python = py.group(1)
    return out


def _derive_requires(table: TableDeclaration, root: Path) -> tuple[str, str]:
    origin = table.origin()
    if origin is None:
        raise SourceError(f"no upstream is declared for {table.offline}")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", origin.rstrip("/").rsplit("/", 1)[-1]) or "repo"
    rows = derive_requires_history(origin, table.upstream_file, root / "upstream" / slug)
    if not rows:
        raise SourceError(f"no install_requires found in the history of {table.upstream_file} at {origin}")
    text = _tsv(REQUIRES_HEADER, [(r.date.isoformat(), r.upstream_commit, "; ".join(r.requirements)) for r in rows])
    return text, f"derived from {table.upstream_file} history of {origin}"


def derive_requires_history(origin: str, file: str, mirror: Path) -> tuple[RequiresRow, ...]:
    """One row per commit that changed ``file``'s install_requires, from a mirror of ``origin`` kept in the cache."""
    clone_or_fetch(normalize_origin(origin), mirror)
    out = git(["log", "--reverse", "--format=%H %cI", "HEAD", "--", file], cwd=mirror).decode().split("\n")
    history = [line.split(" ", 1) for line in out if line]
    rows: list[RequiresRow] = []
    blobs = read_blobs(mirror, [f"{commit}:{file}" for commit, _ in history])
    for (commit, when), (_, _, content) in zip(history, blobs):
        if content is None:
            continue
        requirements = requirements_from_setup_py(content.decode("utf-8", "replace"))
        if requirements is None or (rows and rows[-1].requirements == requirements):
            continue
        rows.append(RequiresRow(datetime.fromisoformat(when), commit[:12], requirements, len(rows) + 2))
    return tuple(rows)


def requirements_from_setup_py(source: str, file: str = "setup.py") -> tuple[str, ...] | None:
    """``install_requires`` of a ``setup(...)`` call, read with ``ast`` and never executed: literal lists and
    tuples, module-level names bound to them and ``+`` of those; anything computed gives None, not a guess."""
    try:
        tree = ast.parse(source, filename=file)
    except SyntaxError:
        return None
    names: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names[node.target.id] = node.value
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called != "setup":
            continue
        for keyword in call.keywords:
            if keyword.arg == "install_requires":
                value = _strings(keyword.value, names, depth=0)
                return tuple(value) if value is not None else None
    return None


def _strings(node: ast.expr, names: dict[str, ast.expr], depth: int) -> list[str] | None:
    if depth > 10:
        return None
    if isinstance(node, (ast.List, ast.Tuple)):
        strings = [i.value for i in node.elts if isinstance(i, ast.Constant) and isinstance(i.value, str)]
        return [text.strip() for text in strings] if len(strings) == len(node.elts) else None
    if isinstance(node, ast.Name) and node.id in names:
        return _strings(names[node.id], names, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = _strings(node.left, names, depth + 1)
        right = _strings(node.right, names, depth + 1)
        return None if left is None or right is None else left + right
    return None
