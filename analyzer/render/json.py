"""The JSON form of a check's report (schema ``tfconflict.report/1``, in the README) or of a ``why`` answer."""

from __future__ import annotations

import json
from typing import Any


def render_json(value: Any) -> str:
    return json.dumps(value.to_json_dict(), indent=2) + "\n"
