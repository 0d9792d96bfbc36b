"""Version and specifier text from outside (freezes, indexes, metadata) parsed once, the same way everywhere."""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["parse_specifier", "parse_version"]


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for text that is not one (a legacy or missing version is not an error here)."""
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def parse_specifier(text: str) -> SpecifierSet | None:
    """A PEP 440 specifier set, or None for text that is not one."""
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None
