"""tfconflict: predict what ``pip install`` would do to a runtime, before anything is installed (the pipeline:
DEVELOPERS.md)."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
