"""Renderers: one table from (subject, format name) to the function that returns the text. They never print, so
the CLI, the hook and tests share them.

The table names modules rather than importing them: a command lists its formats when its parser is built, and a
remembered answer is printed without importing a renderer (the report renderers import the diagnosis, ``why``'s
networkx, the HTML page jinja2 and matplotlib).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

__all__ = ["FORMATS", "Renderer", "render", "renderer"]


@dataclass(frozen=True)
class Renderer:
    """``analyzer.render.<module>.<function>(value, **options)``, where ``options`` are the keyword arguments
    that function takes among those a command supplies (``verbose``, ``fail_on``, ``with_reports``, ``release``)."""

    module: str
    function: str
    options: tuple[str, ...] = ()

    def __call__(self, value: Any, **given: Any) -> str:
        function = getattr(import_module(f"analyzer.render.{self.module}"), self.function)
        text: str = function(value, **{name: given[name] for name in self.options if name in given})
        return text


RENDERERS: dict[str, dict[str, Renderer]] = {
    "report": {
        "text": Renderer("text", "render_text", ("verbose",)),
        "json": Renderer("json", "render_json"),
        "markdown": Renderer("markdown", "render_markdown", ("verbose",)),
        "github": Renderer("github", "render_github", ("fail_on",)),
    },
    "matrix": {
        "text": Renderer("matrix_text", "render_matrix_text", ("verbose",)),
        "json": Renderer("matrix_json", "render_matrix_json", ("with_reports",)),
        "markdown": Renderer("matrix_markdown", "render_matrix_markdown", ("verbose",)),
        "html": Renderer("matrix_html", "render_matrix_html", ("release",)),
    },
    "why": {
        "text": Renderer("why", "render_why_text", ("verbose",)),
        "json": Renderer("why", "render_why_json"),
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
