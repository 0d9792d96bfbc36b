"""``tfconflict why NAME``: who in the runtime requires NAME, with which specifier, and is each one satisfied."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from packaging.utils import canonicalize_name

from analyzer.cli.common import add_snapshot_options, levels, snapshot_from_args, write_output
from analyzer.cli.indexopts import add_index_options, add_table_option, engine_from_args
from analyzer.errors import ExitCode, InputError
from analyzer.freeze import MAX_NAME
from analyzer.render import FORMATS, render
from analyzer.snapshot import clip

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    from analyzer.diagnosis.why import DEFAULT_DEPTH

    parser = subparsers.add_parser(
        "why",
        help="who in the runtime requires NAME, with which specifier, and is it satisfied",
        description="The reverse dependency tree of one installed package: every installed package that requires "
        "it (and who requires those, up to --depth), the specifier each one asks for, and whether the installed "
        "version satisfies it. dot and graphml export that subgraph, unsatisfied edges marked.",
    )
    parser.add_argument("name", metavar="NAME", help="an installed package, e.g. numpy")
    parser.add_argument(
        "--depth", type=levels, default=DEFAULT_DEPTH, metavar="N",
        help=f"levels of requirers to show (default: {DEFAULT_DEPTH}; 0 = as deep as it goes)",
    )
    parser.add_argument(
        "--format", choices=FORMATS["why"], default="text",
        help="text (default), json, dot (Graphviz; unsatisfied edges red) or graphml",
    )
    parser.add_argument(
        "--broken", action="store_true",
        help="only the branches that hold a requirement the installed versions do not satisfy",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    add_snapshot_options(parser)
    add_index_options(parser)
    add_table_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analyzer.ask import requirements_table
    from analyzer.diagnosis.graph import image_graph
    from analyzer.diagnosis.why import why
    from analyzer.environment import TargetEnvironment
    from analyzer.session import Session

    name = canonicalize_name(args.name)
    if not name or any(c.isspace() for c in args.name) or len(name) > MAX_NAME:
        raise InputError(f"{clip(args.name)!r} is not a package name")
    snapshot = snapshot_from_args(args)
    for problem in snapshot.problems:
        print(f"tfconflict: warning: {problem}", file=sys.stderr)
    env = TargetEnvironment.from_snapshot(snapshot)
    with engine_from_args(args, progress=args.format == "text" and args.output is None) as engine:
        table, note = (None, "")
        if not args.no_requirements_table:
            table, note = requirements_table(snapshot, engine.config.urls)
        if note:
            print(f"tfconflict: warning: {note}", file=sys.stderr)
        session = Session.open(snapshot, engine, env, table)
        # the pages of the pins the table does not hold, at once (in parallel on a cold cache), before the graph
        engine.prefetch_projects([n for n, pin in session.installed.items() if session.factory.needs_index(pin)])
        graph = image_graph(session)
    answer = why(graph, snapshot, name, depth=args.depth)
    if answer.installed is None:
        print(f"tfconflict: error: {_not_installed(answer)}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    if args.broken:
        answer = answer.only_broken()
    write_output(render("why", args.format, answer, verbose=bool(args.verbose)), args.output)
    return int(ExitCode.OK)


def _not_installed(answer: Any) -> str:
    """NAME is not in the runtime: say so, and whether anything installed requires it anyway."""
    text = f"{answer.name} is not installed in {answer.runtime}"
    if answer.requirers:
        who = "; ".join(
            f"{r.name} {r.version or ''} requires {r.requirement}".replace("  ", " ")
            for r in answer.requirers
        )
        text += f", yet installed packages require it (pip check reports it missing): {who}"
    elif answer.unknown:
        text += (
            f"; no installed package whose requirements could be read requires it ({len(answer.unknown)} could not "
            "be read)"
        )
    else:
        text += "; nothing installed requires it"
    if answer.close_names:
        text += f" (did you mean {' or '.join(answer.close_names)}?)"
    return text
