"""The matrix as JSON (schema ``tfconflict.matrix/1``); ``with_reports`` embeds every row's full report."""

from __future__ import annotations

import json

from analyzer.matrix.model import Matrix

__all__ = ["render_matrix_json"]


def render_matrix_json(matrix: Matrix, *, with_reports: bool = False) -> str:
    return json.dumps(matrix.to_json_dict(with_reports=with_reports), indent=2) + "\n"
