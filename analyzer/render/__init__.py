"""Renderers: one table from (subject, format name) to the function that returns the text; they never print.

The table names functions rather than importing them: a command lists its formats when its parser is built, and a
remembered answer is printed without importing a renderer (they import the diagnosis, networkx, jinja2...).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from analyzer.redact import redact

__all__ = ["FORMATS", "Renderer", "render", "renderer"]


@dataclass(frozen=True)
class Renderer:
    """``analyzer.render.<module>.<function>(value, **options)``, given those of a command's options (``verbose``,
    ``fail_on``, ``with_reports``, ``release``) that the function declares."""

    module: str
    function: str

    def __call__(self, value: Any, **given: Any) -> str:
        function = getattr(import_module(f"analyzer.render.{self.module}"), self.function)
        declared = inspect.signature(function).parameters
        text: str = function(value, **{name: given[name] for name in given if name in declared})
        return redact(text)  # a direct reference's or an index's credentials are never part of an answer


RENDERERS: dict[str, dict[str, Renderer]] = {
    "report": {
        "text": Renderer("sections", "render_text"),
        "json": Renderer("json", "render_json"),
        "markdown": Renderer("sections", "render_markdown"),
        "github": Renderer("github", "render_github"),
    },
    "matrix": {
        "text": Renderer("matrix_text", "render_matrix_text"),
        "json": Renderer("matrix_json", "render_matrix_json"),
        "markdown": Renderer("matrix_markdown", "render_matrix_markdown"),
        "html": Renderer("matrix_html", "render_matrix_html"),
    },
    "why": {
        "text": Renderer("why", "render_why_text"),
        "json": Renderer("json", "render_json"),
        "dot": Renderer("why", "render_why_dot"),
        "graphml": Renderer("why", "render_why_graphml"),
    },
}
"""Subject (a check's ``Report``, a ``Matrix``, a ``WhyAnswer``) -> format name -> renderer."""

FORMATS: dict[str, tuple[str, ...]] = {subject: tuple(table) for subject, table in RENDERERS.items()}
"""The format names of each subject, in the order ``--help`` lists them."""


def renderer(subject: str, fmt: str) -> Renderer:
    """The renderer of ``fmt`` for ``subject``; an unknown name is a ValueError naming the known ones."""
    try:
        return RENDERERS[subject][fmt]
    except KeyError:
        known = ", ".join(FORMATS.get(subject, ()))
        raise ValueError(f"no {fmt!r} rendering of a {subject} (known: {known})") from None


def render(subject: str, fmt: str, value: Any, **options: Any) -> str:
    """``value`` in format ``fmt``; each renderer takes the ``options`` it knows and ignores the others."""
    return renderer(subject, fmt)(value, **options)
