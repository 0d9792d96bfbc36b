"""Version and specifier text from outside (freezes, indexes, metadata) parsed in one place, the same way everywhere.

Parsed values are immutable and depend only on their text, so each spelling is parsed once per process: pages and
cached rows repeat the same versions file after file.
"""

from __future__ import annotations

import functools

from packaging.specifiers import SpecifierSet
from packaging.version import Version

__all__ = ["parse_version", "specifier_of", "version_of"]

version_of = functools.cache(Version)
"""``Version(text)``, raising ``InvalidVersion`` as it does."""
specifier_of = functools.cache(SpecifierSet)
"""``SpecifierSet(text)``, raising ``InvalidSpecifier`` as it does."""


def parse_version(text: str | None) -> Version | None:
    """A PEP 440 version, or None for text that is not one (a legacy or missing version is not an error here)."""
    if text is None:
        return None
    try:
        return version_of(text)
    except ValueError:  # InvalidVersion, or a release number longer than int() converts
        return None
