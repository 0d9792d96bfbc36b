"""``tfconflict check SPEC... [-r FILE] [-c FILE]``: parse the request and the options, ask
(``analyzer.ask``), print the answer and end with its exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack

from analyzer.ask import CheckOptions, apply_ignore, ask
from analyzer.cli.common import (
    add_policy_options,
    add_request_options,
    add_snapshot_options,
    request_from_args,
    seconds,
    settings_from_args,
    snapshot_from_settings,
)
from analyzer.cli.indexopts import add_index_options, add_table_option, engine_for, index_config, stage_lines
from analyzer.errors import ExitCode, Problem
from analyzer.metadata.cache import MetadataCache
from analyzer.render import FORMATS, render
from analyzer.request import constraint_requirements, file_notes

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="will pip install SPEC fit the runtime? what would it change and break?",
        description="Answer, before anything is installed: can the request install on the runtime's interpreter "
        "and platform; what pip would change; which preinstalled packages it would leave broken; and the "
        "minimal set of preinstalled packages that must change for the request to fit. Settings not given here "
        "come from [tool.tfconflict] in pyproject.toml or a tfconflict.toml (this folder or a parent).",
    )
    add_request_options(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS["report"],
        default="text",
        help="output format (default: text); github prints workflow annotations on the requirements' lines",
    )
    parser.add_argument(
        "--no-conflict-set", action="store_true", help="skip the minimal-conflicting-set search (faster)"
    )
    parser.add_argument("--no-suggestions", action="store_true", help="skip the search for versions that fit")
    parser.add_argument(
        "--full",
        action="store_true",
        help="list everything in text and markdown: every item of a cut list, the knock-on breakage by direct "
        "conflict, and the whole-image set (the JSON always has it all)",
    )
    parser.add_argument(
        "--budget",
        type=seconds,
        default=30.0,
        metavar="SECONDS",
        help="time limit of the minimal-conflicting-set search; past it the report shows a set that is enough "
        "but not shown minimal, and says so (default: 30; 0 = no limit)",
    )
    parser.add_argument(
        "--recompute",
        action="store_true",
        help="compute the answer even when the same question was answered before from metadata that is "
        "unchanged (such an answer is otherwise given again from the cache); the new answer is remembered",
    )
    add_policy_options(parser)
    add_snapshot_options(parser, default=None)
    add_index_options(parser)
    add_table_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    items, reqset = request_from_args(args)
    if reqset is not None and reqset.problems:
        return _bad_input(reqset.problems, args.format)
    settings = settings_from_args(args)
    snapshot = snapshot_from_settings(settings, args)
    for problem in snapshot.problems:
        print(f"tfconflict: warning: {problem}", file=sys.stderr)
    snapshot, items, notes = apply_ignore(snapshot, items, settings.ignore)
    if reqset is not None:
        notes = (*file_notes(reqset), *notes)
    if not items:
        print(
            "tfconflict: every requirement is ignored by the configuration; nothing to check", file=sys.stderr
        )
        return int(ExitCode.OK)
    from analyzer.catalog import alternative_releases

    verbose = bool(args.verbose)
    options = CheckOptions(
        conflict_set=not args.no_conflict_set,
        suggestions=not args.no_suggestions,
        budget=args.budget or None,
        releases=alternative_releases(snapshot, settings.colab_repo),
        requirements_table=not args.no_requirements_table,
    )
    config = index_config(settings, reqset)
    cache = MetadataCache()
    lines = stage_lines()
    with ExitStack() as stack:
        stack.callback(cache.close)
        if lines is not None:
            stack.callback(lines.close)
        answer = ask(
            "check",
            items,
            snapshot,
            constraint_requirements(reqset),
            settings,
            config,
            cache=cache,
            engine=lambda: stack.enter_context(
                engine_for(settings, config, progress=args.format != "github", cache=cache)
            ),
            render=lambda report: render(
                "report", args.format, report, verbose=verbose, full=args.full, fail_on=settings.fail_on
            ),
            options=options,
            notes=notes,
            asked={"format": args.format, "full": args.full},
            recall=not args.recompute,
            keep=not verbose,  # -v shows this run's timings: it is computed, and its rendering is not kept
            on_stage=lines,
        )
    sys.stdout.write(answer.output)
    return int(answer.exit_code(settings.fail_on))


def _bad_input(problems: Sequence[Problem], fmt: str) -> int:
    for problem in problems:
        if fmt == "github":
            from analyzer.render.github import workflow_command

            print(workflow_command("error", problem.message, file=problem.file, line=problem.line))
        else:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
    return int(ExitCode.BAD_INPUT)
