"""Renderers: ``render_<format>(report) -> str``. They never print, so the CLI, the hook and tests share them."""

from __future__ import annotations

from collections.abc import Callable

from analyzer.render.github import render_github
from analyzer.render.json import render_json
from analyzer.render.markdown import render_markdown
from analyzer.render.text import render_text
from analyzer.report import Report

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
    "github": render_github,
}

__all__ = ["RENDERERS", "render_github", "render_json", "render_markdown", "render_text"]
