"""What the user asked for: requirement strings from the command line, parsed by ``packaging``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.errors import InputError


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
            raise InputError(f"not a requirement: {spec!r} ({first})") from exc
        items.append(RequestItem(req))
    if not items:
        raise InputError("nothing to check: give at least one requirement (e.g. tensorflow==2.12.0) or -r FILE")
    return tuple(items)
