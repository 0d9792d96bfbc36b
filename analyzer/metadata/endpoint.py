"""The default index, ``pypi_simple.PYPI_SIMPLE_ENDPOINT``, read from that package's source without importing it.

Kept by the 20% rule: importing ``pypi_simple`` loads bs4 and pydantic, longer than a remembered answer's run.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

__all__ = ["PYPI_SIMPLE_ENDPOINT"]


def _read_endpoint() -> str:
    try:
        spec = importlib.util.find_spec("pypi_simple")
        if spec is not None and spec.origin:
            for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
                targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
                value = getattr(node, "value", None)
                if (
                    any(isinstance(t, ast.Name) and t.id == "PYPI_SIMPLE_ENDPOINT" for t in targets)
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    return value.value
    except (OSError, SyntaxError, ValueError, ImportError):
        pass
    from pypi_simple import PYPI_SIMPLE_ENDPOINT as endpoint

    return str(endpoint)


PYPI_SIMPLE_ENDPOINT = _read_endpoint()
