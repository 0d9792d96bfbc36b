"""The command line: parses arguments, calls the pipeline, renders, and picks the exit code (nothing below
this package prints or exits). Each command group is a module with ``register(subparsers)``; its ``func``
returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from analyzer import __version__
from analyzer.errors import ExitCode, TfconflictError
from analyzer.metadata.heap import allow_heap_tuning
from analyzer.redact import redact

COMMAND_MODULES = ("check", "why", "matrix", "hook", "snapshots", "metadata", "cache")
"""Modules of ``analyzer.cli`` that register a command each, in the order ``--help`` lists them."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with ``only`` one command's part of it (the others' modules stay unimported:
    a command pays only for its own imports)."""
    parser = argparse.ArgumentParser(
        prog="tfconflict",
        description="Predict what pip would change and break in a runtime (Colab by default), "
        "before anything is installed.",
    )
    parser.add_argument("--version", action="version", version=f"tfconflict {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more detail on standard error")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(f"analyzer.cli.{module}").register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command named on the line (the first word that is not a global option), when it is one of ours."""
    for word in argv:
        if word in ("-v", "--verbose", "--debug") or (word.startswith("-v") and set(word[1:]) == {"v"}):
            continue
        return word if word in COMMAND_MODULES else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    streams = sys.stdout, sys.stderr
    # the edge where output is made: whatever any command prints or logs has its URLs' credentials hidden
    sys.stdout, sys.stderr = _Masked(sys.stdout), _Masked(sys.stderr)
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: list[str]) -> int:
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    allow_heap_tuning()  # this process is ours: the metadata engine may keep the C heap small
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskedFormatter("tfconflict: %(message)s"))
    logging.basicConfig(
        level=logging.DEBUG if args.verbose >= 2 else logging.INFO if args.verbose else logging.WARNING,
        handlers=[handler],
    )
    # urllib3 announces every retry at WARNING; the engine reports what finally failed, once, by package.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if args.verbose >= 2 else logging.ERROR)
    try:
        return int(args.func(args))
    except TfconflictError as exc:
        print(f"tfconflict: error: {_clipped(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("tfconflict: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"tfconflict: internal error: {type(exc).__name__}: {_clipped(str(exc))}\n"
            "tfconflict: run again with --debug for the traceback, and please report it.",
            file=sys.stderr,
        )
        return int(ExitCode.BAD_INPUT)


def _clipped(message: str, limit: int = 4000) -> str:
    """An error of sane length, whatever a value it quotes holds (a whole file, a megabyte-long name)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


class _Masked:
    """A text stream that hides URL credentials in everything written to it (``analyzer.redact``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding...: the stream's own
        return getattr(self._stream, name)


class _MaskedFormatter(logging.Formatter):
    """Log records are output too: their URLs' credentials are hidden wherever the handler writes."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
