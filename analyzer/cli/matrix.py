"""``tfconflict matrix SPEC... [--runtime cpu|gpu|tpu] [--since DATE] [--until DATE]``: ``check`` against
every distinct release of a Colab runtime kind, one row per release, the turning points named. Settings not
given here come from the project configuration, as for ``check``; the latest release decides the exit code."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from analyzer.ask import requirements_table
from analyzer.catalog import Catalog
from analyzer.cli.common import (
    COLAB_REPO_ENV,
    add_colab_repo_option,
    add_policy_options,
    add_request_options,
    day,
    request_from_args,
    seconds,
    settings_from_args,
    write_output,
)
from analyzer.cli.indexopts import add_index_options, add_table_option, engine_for, index_config
from analyzer.config import Settings, fails
from analyzer.errors import ExitCode, InputError
from analyzer.matrix.model import Matrix
from analyzer.matrix.run import SET_MODES, MatrixOptions, run_matrix
from analyzer.render import FORMATS, render
from analyzer.request import constraint_requirements

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "matrix",
        help="check SPEC against every Colab release: when did it stop fitting, and why?",
        description="Run the check of 'tfconflict check' against every release of a Colab runtime kind in a date "
        "range (releases whose freeze is identical to the one before are folded into one row). Each row shows the "
        "date, Python, the verdict and the minimal conflicting set; the turning points name the first release "
        "where the request stopped fitting and the changed pins (or the Python change) that caused it.",
    )
    add_request_options(parser)
    parser.add_argument(
        "--runtime", choices=("cpu", "gpu", "tpu"),
        help="the runtime kind (default: the configuration's runtime, else cpu)",
    )
    parser.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="first release day")
    parser.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="last release day")
    parser.add_argument(
        "--sets", choices=SET_MODES, default="turning",
        help="which rows get the minimal-conflicting-set search: turning (the rows on both sides of each turning "
        "point and the latest row; default), all (every row pip would change, reusing a set where the pins it "
        "read are identical), none",
    )
    parser.add_argument(
        "--row-budget", type=seconds, default=30.0, metavar="SECONDS",
        help="time limit of one row's set search; past it the row's set is shown as not minimal "
        "(default: 30; 0 = no limit)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, metavar="N",
        help="processes checking releases (default: one per CPU, at most 4; 1 = this process only)",
    )
    parser.add_argument(
        "--format", choices=FORMATS["matrix"], default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE",
        help="write the output to FILE instead of standard output (html needs it)",
    )
    parser.add_argument(
        "--release", metavar="ID",
        help="html: the release whose reason chains are shown (default: the turning point the page leads with)",
    )
    parser.add_argument(
        "--with-reports", action="store_true", help="json: embed every row's full check report"
    )
    add_policy_options(parser)
    add_colab_repo_option(parser)
    add_index_options(parser)
    add_table_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since > args.until:
        raise InputError(f"--since {args.since} is after --until {args.until}")
    if args.workers < 0:
        raise InputError("--workers cannot be negative")
    if args.format == "html":
        if not args.output:
            raise InputError("--format html writes a file: give -o FILE")
        from analyzer.render.matrix_html import require_html_libraries

        require_html_libraries()  # before the matrix is computed, not after
    items, reqset = request_from_args(args)
    if reqset is not None and reqset.problems:
        for problem in reqset.problems:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    settings = settings_from_args(args)
    output = Path(args.output) if args.output else None
    if output is not None:
        _refuse_input_as_output(output, args, settings)
    for item in items:
        if item.name in settings.ignore:
            print(f"tfconflict: warning: {item.requirement} is not checked (ignore)", file=sys.stderr)
    items = tuple(i for i in items if i.name not in settings.ignore)
    if not items:
        print("tfconflict: every requirement is ignored by the configuration; nothing to check", file=sys.stderr)
        return int(ExitCode.OK)

    from analyzer.sources import load_source

    catalog = Catalog.open(load_source("colab"), settings.colab_repo)
    kind = args.runtime or settings.runtime
    if args.release:
        # a --release outside the range is said before the matrix is computed, not after
        ids = [r.id for r in catalog.releases_of(kind, args.since, args.until)]
        if not any(i == args.release or i.startswith(args.release) for i in ids):
            shown = ", ".join(ids[:4]) + (", ..." if len(ids) > 4 else "")
            raise InputError(
                f"--release {args.release}: no {kind} release of the range has this id "
                f"(its releases: {shown})"
            )
    options = MatrixOptions(
        kind=kind,
        since=args.since,
        until=args.until,
        sets=args.sets,
        row_budget=args.row_budget or None,
        workers=args.workers,
        constraints=constraint_requirements(reqset),
        ignore=settings.ignore,
    )
    verbose = bool(args.verbose)

    def progress(message: str) -> None:
        if verbose:
            print(f"tfconflict: {message}", file=sys.stderr)

    config = index_config(settings, reqset)
    table, note = (None, "") if args.no_requirements_table else requirements_table(catalog.decl, config.urls)
    if note:
        print(f"tfconflict: warning: {note}", file=sys.stderr)
    matrix = run_matrix(
        items, catalog, lambda: engine_for(settings, config, progress=False), options, progress=progress,
        table=table,
    )  # fmt: skip
    text = render(
        "matrix", args.format, matrix, verbose=verbose, with_reports=args.with_reports, release=args.release
    )
    write_output(text, output)
    return int(_exit_code(matrix, settings.fail_on))


def _exit_code(matrix: Matrix, fail_on: str) -> ExitCode:
    """The latest release in the range decides, as ``check`` against it would; no answer at all is exit 3."""
    answered = [r.verdict for r in matrix.rows if r.verdict is not None]
    if not answered:
        return ExitCode.METADATA_UNAVAILABLE if matrix.rows else ExitCode.OK
    return ExitCode.CONFLICT if fails(answered[-1].value, fail_on) else ExitCode.OK


def _refuse_input_as_output(output: Path, args: argparse.Namespace, settings: Settings) -> None:
    """``-o`` never overwrites a file the user gave as input (requirements, constraints, configuration, history)."""
    inputs = [*args.requirement, *args.constraint]
    if settings.origin is not None:
        inputs.append(str(settings.origin))
    for repo in (settings.colab_repo, os.environ.get(COLAB_REPO_ENV)):
        if repo and "://" not in repo:
            inputs.append(repo)
    target = output.expanduser().resolve()
    for name in inputs:
        if Path(name).expanduser().resolve() == target:
            raise InputError(f"-o {output} would overwrite an input file ({name}); choose another output file")
