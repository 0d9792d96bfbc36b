"""What the user asked for: requirement strings from the command line, parsed by ``packaging``, and the
requirements and constraints files pip would read (``analyzer.reqfile``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.errors import InputError, Problem
from analyzer.reqfile import RequirementsSet, parse_requirements_files, requirement_problem
from analyzer.snapshot import clip

__all__ = [
    "FileRequest", "RequestItem", "constraint_requirements", "constraints_notes", "file_notes", "once", "parse_specs",
    "request_from_files",
]  # fmt: skip

NOTHING = "nothing to check: give at least one requirement (e.g. tensorflow==2.12.0) or -r FILE"


@dataclass(frozen=True)
class RequestItem:
    """One requested requirement and where it was written (a command-line argument or FILE:LINE)."""

    requirement: Requirement
    origin: str = "command line"
    line: int | None = None

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)

    def __str__(self) -> str:
        return str(self.requirement)


def parse_specs(specs: Sequence[str]) -> tuple[RequestItem, ...]:
    """Parse ``tensorflow==2.12.0``-style arguments; a bad one is an InputError naming it."""
    items: list[RequestItem] = []
    for spec in specs:
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            first = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
            raise InputError(f"not a requirement: {clip(spec)!r} ({first})") from exc
        except RecursionError as exc:  # packaging's marker parser recurses once per parenthesis
            raise InputError(f"not a requirement: {clip(spec)!r} (nested too deeply)") from exc
        problem = requirement_problem(req)
        if problem is not None:
            raise InputError(f"not a usable requirement: {problem}")
        items.append(RequestItem(req))
    if not items:
        raise InputError(NOTHING)
    return once(items)


def once(items: Sequence[RequestItem]) -> tuple[RequestItem, ...]:
    """Each requirement once, where it was first written: pip installs ``x`` listed twice as ``x`` once, and a
    request of ten thousand identical lines is one requirement. Different lines naming one project all stay (the
    resolver combines them, as pip does)."""
    seen: dict[str, RequestItem] = {}
    for item in items:
        seen.setdefault(str(item.requirement), item)
    return tuple(seen.values())


@dataclass(frozen=True)
class FileRequest:
    """What requirements files ask for: the items to check, and everything the parser read (index options,
    constraints, notes, problems)."""

    items: tuple[RequestItem, ...]
    parsed: RequirementsSet


def request_from_files(paths: Sequence[str | Path], constraints: Sequence[str | Path] = ()) -> FileRequest:
    """Requirements files as pip reads them; each requirement keeps its FILE and LINE for the report."""
    parsed = parse_requirements_files([Path(p) for p in paths], [Path(p) for p in constraints])
    items: list[RequestItem] = []
    notes = list(parsed.notes)
    for req in parsed.requirements:
        requirement = req.requirement
        if not isinstance(requirement, Requirement):
            try:
                requirement = Requirement(str(requirement))
            except InvalidRequirement:
                message = (f"{req} is not checked: a local path cannot be analysed without building it "
                           "(name a wheel, or use name @ file:///absolute/path)")
                notes.append(Problem(req.file, req.line, message))
                continue
        items.append(RequestItem(requirement, origin=req.file, line=req.line))
    kept = once(items)
    if len(kept) < len(items):
        first = {str(item.requirement): item for item in kept}
        repeat = next(item for item in items if first[str(item.requirement)] is not item)
        original = first[str(repeat.requirement)]
        others = len(items) - len(kept) - 1
        more = f", and {others} more lines repeat an earlier one" if others > 1 else ""
        more = ", and 1 more line repeats an earlier one" if others == 1 else more
        message = (f"{repeat.requirement} repeats {original.origin}:{original.line}; counted once (as pip "
                   f"does){more}")
        notes.append(Problem(repeat.origin, repeat.line, message))
    return FileRequest(kept, replace(parsed, notes=tuple(notes)))


def file_notes(parsed: RequirementsSet) -> tuple[str, ...]:
    """The parser's notes, the constraints that cannot be applied, and the index options not followed."""
    notes = [str(note) for note in parsed.notes]
    notes.extend(constraints_notes(parsed))
    if parsed.no_index:
        notes.append("--no-index in a requirements file: ignored here, the index is read for metadata")
    if parsed.find_links:
        notes.append("--find-links in a requirements file: those locations are not read; the index is")
    return tuple(notes)


def constraints_notes(parsed: RequirementsSet) -> tuple[str, ...]:
    """Constraints that cannot be applied (a URL or a path: its version is unknown without building) are named."""
    return tuple(
        f"{c.file}:{c.line}: NOTE: the constraint {c} is a URL or a path: not applied"
        for c in parsed.constraints
        if not isinstance(c.requirement, Requirement) or c.requirement.url
    )


def constraint_requirements(parsed: RequirementsSet | None) -> tuple[Requirement, ...]:
    """The ``-c`` lines the resolver applies: name, specifier and marker; URL constraints are noted instead."""
    if parsed is None:
        return ()
    found = {
        str(c.requirement): c.requirement
        for c in parsed.constraints
        if isinstance(c.requirement, Requirement) and not c.requirement.url
    }
    return tuple(found.values())  # a constraint repeated is the same constraint
