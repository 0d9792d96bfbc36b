"""Options shared by several commands: the snapshot (``--snapshot SEL`` and its companions), the request's files
(``-r``/``-c``), and the argument types for days and seconds, so every command words their errors alike."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

from analyzer.config import DEFAULT_SNAPSHOT
from analyzer.errors import InputError
from analyzer.snapshot import Snapshot

__all__ = [
    "COLAB_REPO_ENV",
    "DEFAULT_SNAPSHOT",
    "add_colab_repo_option",
    "add_python_platform_options",
    "add_request_file_options",
    "add_snapshot_options",
    "day",
    "levels",
    "seconds",
    "snapshot_from_args",
    "write_output",
]

N = TypeVar("N", int, float)

COLAB_REPO_ENV = "TFCONFLICT_COLAB_REPO"


def add_colab_repo_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--colab-repo",
        metavar="SRC",
        default=None,
        help=f"where the Colab history comes from: a git URL, a local repository or a bundle file "
        f"(default: ${COLAB_REPO_ENV}, else upstream); used when syncing",
    )


def add_snapshot_options(parser: argparse.ArgumentParser, *, default: str | None = DEFAULT_SNAPSHOT) -> None:
    """Add ``--snapshot``, ``--python``, ``--platform`` and ``--colab-repo`` to a command's parser.

    ``default=None`` leaves ``args.snapshot`` None when the option is not given, so a command that reads the
    project configuration can tell "not given" from "colab" (the configuration's ``snapshot`` applies first).
    """
    shown = default if default is not None else f"the configuration's snapshot, else {DEFAULT_SNAPSHOT}"
    group = parser.add_argument_group("snapshot")
    group.add_argument(
        "--snapshot",
        metavar="SEL",
        default=default,
        help="the runtime to analyse: colab, colab:latest, colab:YYYY-MM-DD, colab:YYYY.MM, colab@COMMIT, "
        f"colab-gpu:..., colab-tpu:..., current, or a freeze / snapshot JSON file (default: {shown})",
    )
    add_python_platform_options(group)
    add_colab_repo_option(parser)


def add_python_platform_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--python",
        metavar="X.Y[.Z]",
        default=None,
        help="Python version of a freeze file's runtime (default: the running interpreter's, stated in the output)",
    )
    parser.add_argument(
        "--platform",
        metavar="TAG",
        default=None,
        help="platform of a freeze file's runtime as a wheel platform tag, e.g. manylinux_2_35_x86_64 "
        "(default: Linux x86_64 with glibc 2.35, stated in the output)",
    )


def snapshot_from_args(args: argparse.Namespace, selector: str | None = None) -> Snapshot:
    """The snapshot the parsed options name (``selector`` overrides ``--snapshot``, for positional uses)."""
    from analyzer.selectors import resolve_selector

    return resolve_selector(
        selector if selector is not None else (args.snapshot or DEFAULT_SNAPSHOT),
        python=getattr(args, "python", None),
        platform=getattr(args, "platform", None),
        colab_repo=getattr(args, "colab_repo", None),
    )


def add_request_file_options(parser: argparse.ArgumentParser) -> None:
    """``-r FILE`` and ``-c FILE``, read as pip reads them (``analyzer.reqfile``)."""
    parser.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", help="a requirements file (repeatable)"
    )
    parser.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="a constraints file, as pip reads one (repeatable)",
    )


def day(text: str) -> date:
    """argparse type of ``--since`` / ``--until``."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def seconds(text: str) -> float:
    """argparse type of a time budget: a non-negative number (0 = no limit)."""
    return _non_negative(float, text, f"not a number of seconds: {text!r}", "the budget cannot be negative")


def levels(text: str) -> int:
    """argparse type of a depth: a non-negative whole number (0 = as deep as it goes)."""
    return _non_negative(
        int, text, f"not a number of levels: {text!r}", "the depth cannot be negative (0 = as deep as it goes)"
    )


def _non_negative(convert: Callable[[str], N], text: str, not_a_number: str, negative: str) -> N:
    try:
        value = convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(not_a_number) from None
    if value < 0:
        raise argparse.ArgumentTypeError(negative)
    return value


def write_output(text: str, output: str | Path | None) -> None:
    """The command's answer to ``-o FILE``, else to standard output; an unwritable file is bad input."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"tfconflict: wrote {output}", file=sys.stderr)
