"""What several commands share: the snapshot options, the request (SPECs, ``-r``/``-c``), the project settings
under the command line, and the argument types, so every command words its errors alike."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from analyzer.config import DEFAULT_SNAPSHOT, FAIL_ON, ConfigError, Settings, load_settings
from analyzer.errors import InputError
from analyzer.request import NOTHING, RequestItem, once, parse_specs, request_from_files
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.reqfile import RequirementsSet

N = TypeVar("N", int, float)

COLAB_REPO_ENV = "TFCONFLICT_COLAB_REPO"


def add_colab_repo_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--colab-repo",
        metavar="SRC",
        help=f"where the Colab history comes from: a git URL, a local repository or a bundle file "
        f"(default: ${COLAB_REPO_ENV}, else upstream); used when syncing",
    )


def add_snapshot_options(parser: argparse.ArgumentParser, *, default: str | None = DEFAULT_SNAPSHOT) -> None:
    """``--snapshot``, ``--python``, ``--platform`` and ``--colab-repo``; ``default=None`` tells "not given"
    from "colab", for the commands where the configuration's ``snapshot`` applies first."""
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
        help="Python version of a freeze file's runtime (default: the running interpreter's, stated in the output)",
    )
    parser.add_argument(
        "--platform",
        metavar="TAG",
        help="platform of a freeze file's runtime as a wheel platform tag, e.g. manylinux_2_35_x86_64 "
        "(default: Linux x86_64 with glibc 2.35, stated in the output)",
    )


def add_request_options(parser: argparse.ArgumentParser) -> None:
    """SPEC arguments, then ``-r FILE`` and ``-c FILE``, read as pip reads them (``analyzer.reqfile``)."""
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="requirements, e.g. tensorflow==2.12.0")
    parser.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", help="a requirements file (repeatable)"
    )
    parser.add_argument(
        "-c", "--constraint", action="append", default=[], metavar="FILE",
        help="a constraints file, as pip reads one (repeatable)",
    )


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` and ``--ignore``: the configuration's keys of the same names, given on the command line."""
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        help="breakage: exit 1 unless the request fits as it is; not-installable: exit 1 only when pip could not "
        "install it at all (default: the configuration's fail-on, else breakage)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        metavar="NAME",
        help="leave this package out of the analysis (repeatable; replaces the configuration's ignore list)",
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


def snapshot_from_args(args: argparse.Namespace, selector: str | None = None) -> Snapshot:
    """The snapshot the parsed options name (``selector`` overrides ``--snapshot``, for positional uses)."""
    from analyzer.selectors import resolve_selector

    selector = selector if selector is not None else (args.snapshot or DEFAULT_SNAPSHOT)
    return resolve_selector(selector, python=args.python, platform=args.platform, colab_repo=args.colab_repo)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The project configuration (found from the working folder) under the command line.

    Every defect of the configuration is printed as ``FILE:LINE: message``, the last one raised: the command
    ends with exit code 2 rather than answering for a runtime nobody asked for.
    """
    # --python and --platform describe the runtime of a freeze file the command line names, not a setting
    given = {**vars(args), "python": None, "platform": None}
    try:
        return load_settings(Path.cwd(), given)
    except ConfigError as exc:
        for problem in exc.problems[:-1]:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
        raise


def snapshot_from_settings(settings: Settings, args: argparse.Namespace) -> Snapshot:
    """The snapshot ``--snapshot`` names, else the settings' (``analyzer.selectors.snapshot_for``)."""
    from analyzer.selectors import snapshot_for

    return snapshot_for(settings, args.snapshot, python=args.python, platform=args.platform)


def request_from_args(args: argparse.Namespace) -> tuple[tuple[RequestItem, ...], RequirementsSet | None]:
    """The SPEC arguments and the ``-r``/``-c`` files; the files' parse, when any, says their problems."""
    items: list[RequestItem] = list(parse_specs(args.specs)) if args.specs else []
    reqset = None
    if args.requirement or args.constraint:
        request = request_from_files(args.requirement, args.constraint)
        reqset = request.parsed
        if reqset.problems:
            return (), reqset
        items.extend(request.items)
    if not items:
        raise InputError(NOTHING)
    return once(items), reqset  # a SPEC also written in a file is asked once, where it was first written


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
