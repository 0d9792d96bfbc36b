"""``tfconflict check SPEC... [-r FILE] [-c FILE]``: parse the request and the options, ask
(``analyzer.ask``), print the answer and end with its exit code.

The option plumbing ``hook`` and ``matrix`` share lives here too: the settings the command line overrides, the
snapshot they name, the request ``-r``/``-c`` make, and the one function that builds a metadata engine.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.ask import CheckOptions, apply_ignore, ask
from analyzer.cli.common import add_request_file_options, add_snapshot_options, seconds
from analyzer.cli.indexopts import add_index_options
from analyzer.config import FAIL_ON, ConfigError, Settings, load_settings
from analyzer.errors import ExitCode, InputError, Problem
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.render import FORMATS as RENDER_FORMATS
from analyzer.render import render
from analyzer.reqfile import RequirementsSet
from analyzer.request import (
    NOTHING,
    RequestItem,
    constraint_requirements,
    file_notes,
    parse_specs,
    request_from_files,
)
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.metadata.engine import MetadataEngine

__all__ = [
    "FORMATS",
    "add_policy_options",
    "engine_for",
    "index_config",
    "register",
    "request_from_args",
    "run",
    "settings_from_args",
    "snapshot_from_settings",
]

FORMATS = RENDER_FORMATS["report"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="will pip install SPEC fit the runtime? what would it change and break?",
        description="Answer, before anything is installed: can the request install on the runtime's interpreter "
        "and platform; what pip would change; which preinstalled packages it would leave broken; and the "
        "minimal set of preinstalled packages that must change for the request to fit. Settings not given here "
        "come from [tool.tfconflict] in pyproject.toml or a tfconflict.toml (this folder or a parent).",
    )
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="requirements, e.g. tensorflow==2.12.0")
    add_request_file_options(parser)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output format (default: text); github prints workflow annotations on the requirements' lines",
    )
    parser.add_argument(
        "--no-conflict-set", action="store_true", help="skip the minimal-conflicting-set search (faster)"
    )
    parser.add_argument("--no-suggestions", action="store_true", help="skip the search for versions that fit")
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
    parser.set_defaults(func=run)


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` and ``--ignore``: the configuration's keys of the same names, given on the command line."""
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=None,
        help="breakage: exit 1 unless the request fits as it is; not-installable: exit 1 only when pip could not "
        "install it at all (default: the configuration's fail-on, else breakage)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=None,
        metavar="NAME",
        help="leave this package out of the analysis (repeatable; replaces the configuration's ignore list)",
    )


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

    verbose = bool(getattr(args, "verbose", 0))
    options = CheckOptions(
        conflict_set=not args.no_conflict_set,
        suggestions=not args.no_suggestions,
        budget=args.budget or None,
        releases=alternative_releases(snapshot, settings.colab_repo),
    )
    config = index_config(settings, reqset)
    cache = MetadataCache()
    with ExitStack() as stack:
        stack.callback(cache.close)
        answer = ask(
            "check", items, snapshot, constraint_requirements(reqset), settings, config,
            cache=cache,
            engine=lambda: stack.enter_context(
                engine_for(settings, config, progress=args.format != "github", cache=cache)
            ),
            render=lambda report: render("report", args.format, report, verbose=verbose, fail_on=settings.fail_on),
            options=options,
            notes=notes,
            asked={"format": args.format},
            recall=not args.recompute,
            keep=not verbose,  # -v shows this run's timings: it is computed, and its rendering is not kept
        )
    sys.stdout.write(answer.output)
    return int(answer.exit_code(settings.fail_on))


def settings_from_args(args: argparse.Namespace, start: Path | None = None) -> Settings:
    """The project configuration (found from ``start``, default the working folder) under the command line.

    Every defect of the configuration is printed as ``FILE:LINE: message``, the last one raised: the command
    ends with exit code 2 rather than answering for a runtime nobody asked for.
    """
    overrides = {
        "snapshot": getattr(args, "snapshot", None),
        "index_url": getattr(args, "index_url", None),
        "extra_index_urls": getattr(args, "extra_index_url", None),
        "as_of": getattr(args, "as_of", None),
        # a store_true option is False when absent: only a given --offline overrides the file's offline
        "offline": True if getattr(args, "offline", False) else None,
        "ignore": getattr(args, "ignore", None),
        "fail_on": getattr(args, "fail_on", None),
        "colab_repo": getattr(args, "colab_repo", None),
    }
    try:
        return load_settings(start or Path.cwd(), overrides)
    except ConfigError as exc:
        for problem in exc.problems[:-1]:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
        raise


def snapshot_from_settings(settings: Settings, args: argparse.Namespace) -> Snapshot:
    """The snapshot ``--snapshot`` names, else the settings' (``analyzer.selectors.snapshot_for``)."""
    from analyzer.selectors import snapshot_for

    return snapshot_for(
        settings,
        getattr(args, "snapshot", None),
        python=getattr(args, "python", None),
        platform=getattr(args, "platform", None),
    )


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
    return tuple(items), reqset


def _bad_input(problems: Sequence[Problem], fmt: str) -> int:
    for problem in problems:
        if fmt == "github":
            from analyzer.render.github import workflow_command

            print(workflow_command("error", problem.message, file=problem.file, line=problem.line))
        else:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
    return int(ExitCode.BAD_INPUT)


# -- the metadata engine ---------------------------------------------------------------------------------------


def index_config(settings: Settings, parsed: RequirementsSet | None) -> IndexConfig:
    """The indexes pip would read for this command (``analyzer.metadata.config.index_config``): the settings
    and the command line, then the requirements files' own index lines."""
    from analyzer.metadata.config import index_config as pip_index_config

    if parsed is None:
        return pip_index_config(settings.index_url, settings.extra_index_urls)
    return pip_index_config(
        settings.index_url,
        settings.extra_index_urls,
        file_index_url=parsed.index_url,
        file_extra_index_urls=parsed.extra_index_urls,
        no_index=parsed.no_index,
    )


def engine_for(
    settings: Settings, config: IndexConfig, *, progress: bool = True, cache: MetadataCache | None = None
) -> MetadataEngine:
    """The one place ``check``, ``hook`` and ``matrix`` build a metadata engine: the indexes ``config`` names
    (:func:`index_config`), the settings' ``as-of`` and ``offline``; ``progress`` is drawn on stderr only."""
    from analyzer.cli.progress import progress_bar
    from analyzer.metadata.engine import MetadataEngine

    return MetadataEngine(
        config,
        cache=cache if cache is not None else MetadataCache(),
        offline=settings.offline,
        as_of=settings.as_of,
        progress=progress_bar() if progress else None,
    )
