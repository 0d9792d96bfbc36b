"""tfconflict: predict what ``pip install`` would do to a runtime, before anything is installed.

The pipeline reads top to bottom, one module per stage::

    snapshot text -> Snapshot -> target Environment -> metadata (index, cache)
      -> resolver -> diagnosis -> Report -> renderers -> cli
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
