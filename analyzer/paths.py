"""Where tfconflict keeps what it learns: one user cache folder, overridable for tests and CI."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "TFCONFLICT_CACHE_DIR"


def cache_dir() -> Path:
    """The cache root: ``$TFCONFLICT_CACHE_DIR`` or the platform's user cache folder (e.g. ~/.cache/tfconflict)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("tfconflict", appauthor=False))
