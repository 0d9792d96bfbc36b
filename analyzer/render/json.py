"""The JSON form of a report (schema ``tfconflict.report/1``, documented in the README)."""

from __future__ import annotations

import json

from analyzer.report import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_json_dict(), indent=2) + "\n"
