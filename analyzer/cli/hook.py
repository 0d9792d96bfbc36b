"""``tfconflict hook FILE...``: the pre-commit entry point (``.pre-commit-hooks.yaml``).

Each file is checked on its own; every line in trouble is printed as linters print, ``FILE:LINE: message``,
with what its own requirement causes (``render.github.causes_by_line``): a line causing nothing prints nothing,
and a line that cannot be installed (a typo) is printed while the rest of the file is still checked. Exit codes:
0 fits (or only warns under ``fail-on``), 1 conflict, 2 bad file or configuration, 3 metadata unavailable.
Speed over detail: no suggestions, no minimal conflicting set unless
``--conflict-set`` (minutes on a full Colab image), and an answer from unchanged cache rows is given again
(``analyzer.answers``).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.ask import CheckOptions, apply_ignore, ask
from analyzer.cli.common import (
    add_policy_options,
    add_snapshot_options,
    settings_from_args,
    snapshot_from_settings,
)
from analyzer.cli.indexopts import StageLines, add_index_options, add_table_option, engine_for, index_config
from analyzer.errors import ExitCode, MetadataUnavailable
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.request import constraint_requirements, constraints_notes, request_from_files
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.report import Report

__all__ = ["register", "run"]

WORST_FIRST = (ExitCode.BAD_INPUT, ExitCode.METADATA_UNAVAILABLE, ExitCode.CONFLICT, ExitCode.OK)
"""Bad input first (the answer is incomplete), then unavailable metadata, then conflicts."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "hook",
        help="pre-commit hook: check requirements files against the configured runtime",
        description="Check each requirements file on its own against the runtime the project configuration names "
        "([tool.tfconflict] or tfconflict.toml; options here override it) and print FILE:LINE with what each "
        "line's requirement changes or breaks; a line that cannot be installed is reported and the rest of the "
        "file still checked. With no FILE, the configuration's requirements list is checked.",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="requirements files (pre-commit passes them)"
    )
    parser.add_argument(
        "--conflict-set",
        action="store_true",
        help="also search the minimal conflicting set, to name per line the preinstalled packages that must "
        "change (slower: minutes on a full Colab image)",
    )
    add_policy_options(parser)
    add_snapshot_options(parser, default=None)
    add_index_options(parser)
    add_table_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    files = [Path(f) for f in args.files] or [_shown(p) for p in settings.requirements]
    if not files:
        print(
            "tfconflict: no requirements files given and none configured (requirements = [...]); nothing to check",
            file=sys.stderr,
        )
        return int(ExitCode.OK)
    snapshot: Snapshot | None = None
    codes = [ExitCode.OK]
    options = CheckOptions(
        conflict_set=args.conflict_set, suggestions=False, requirements_table=not args.no_requirements_table
    )
    cache = MetadataCache()
    lines = StageLines()  # pre-commit shows no bar: a long hook says what it is doing on stderr
    with ExitStack() as stack:
        stack.callback(cache.close)
        stack.callback(lines.close)
        engines: dict[tuple[str, tuple[str, ...]], MetadataEngine] = {}

        def engine(config: IndexConfig) -> MetadataEngine:
            """One engine per set of indexes, shared by the files that name the same ones."""
            key = (config.index_url, config.extra_index_urls)
            if key not in engines:
                engines[key] = stack.enter_context(engine_for(settings, config, progress=False, cache=cache))
            return engines[key]

        for path in files:
            request = request_from_files([path])
            parsed = request.parsed
            if parsed.problems:
                for problem in parsed.problems:
                    print(problem)
                codes.append(ExitCode.BAD_INPUT)
                continue
            for note in constraints_notes(parsed):
                print(note, file=sys.stderr)
            if snapshot is None:  # loaded once, and only when a file has something to check
                snapshot = snapshot_from_settings(settings, args)
            target, items, _ = apply_ignore(snapshot, request.items, settings.ignore)
            if not items:
                continue
            config = index_config(settings, parsed)
            try:
                answer = ask(
                    "hook", items, target, constraint_requirements(parsed), settings, config,
                    cache=cache,
                    engine=partial(engine, config),
                    render=lambda report: _findings(report, settings.fail_on),
                    options=options,
                    on_stage=partial(_said, lines, path),
                )
            except MetadataUnavailable as exc:
                print(f"{path}: cannot check: {exc}")
                codes.append(ExitCode.METADATA_UNAVAILABLE)
                continue
            sys.stdout.write(answer.output)
            if answer.fails(settings.fail_on):
                codes.append(ExitCode.CONFLICT)
    failing = codes.count(ExitCode.CONFLICT)
    if failing:
        assert snapshot is not None
        where = f" (from {settings.origin.name})" if settings.origin is not None else ""
        print(
            f"tfconflict: {failing} file(s) conflict with the runtime {snapshot.label}{where}; "
            "for the details run: tfconflict check -r FILE",
            file=sys.stderr,
        )
    return int(min(codes, key=WORST_FIRST.index))


def _findings(report: Report, fail_on: str) -> str:
    """The report as linters print it: one ``FILE:LINE: message`` per requirement in trouble."""
    from analyzer.render.github import findings

    return "".join(f"{finding}\n" for finding in findings(report, fail_on=fail_on))


def _shown(path: Path) -> Path:
    """A configured file as linters name it: relative to the working folder when it is below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _said(lines: StageLines, path: Path, stage: str) -> None:
    lines(f"{path}: {stage}")
