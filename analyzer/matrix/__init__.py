"""``tfconflict matrix``: the check of one request against every distinct release of a runtime kind."""

from analyzer.matrix.model import SCHEMA, Matrix, MatrixRow, PinMove, SetMove, SetStatus, TurningPoint

__all__ = ["SCHEMA", "Matrix", "MatrixRow", "PinMove", "SetMove", "SetStatus", "TurningPoint"]
