"""``tfconflict check SPEC... [-r FILE]``: parse, run the pipeline, render, choose the exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from analyzer.check import run_check
from analyzer.cli.common import add_snapshot_options, snapshot_from_args
from analyzer.cli.indexopts import add_index_options, engine_from_args
from analyzer.errors import ExitCode, InputError
from analyzer.render import RENDERERS
from analyzer.render.markdown import render_markdown
from analyzer.render.text import render_text
from analyzer.request import RequestItem, parse_specs
from analyzer.snapshot import Snapshot

FORMATS = ("text", "json", "markdown")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="will pip install SPEC fit the runtime? what would it change and break?",
        description="Answer, before anything is installed: can the request install on the runtime's interpreter "
        "and platform; what pip would change; which preinstalled packages it would leave broken; and the "
        "minimal set of preinstalled packages that must change for the request to fit.",
    )
    parser.add_argument("specs", nargs="*", metavar="SPEC", help="requirements, e.g. tensorflow==2.12.0")
    parser.add_argument(
        "-r", "--requirement", action="append", default=[], metavar="FILE", help="a requirements file (repeatable)"
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--no-conflict-set", action="store_true", help="skip the minimal-conflicting-set search (faster)"
    )
    parser.add_argument("--no-suggestions", action="store_true", help="skip the search for versions that fit")
    add_snapshot_options(parser)
    add_index_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    items = _request(args)
    snapshot = snapshot_from_args(args)
    for problem in snapshot.problems:
        print(f"tfconflict: warning: {problem}", file=sys.stderr)
    with engine_from_args(args) as engine:
        report = run_check(
            items,
            snapshot,
            engine,
            releases=_releases(snapshot, args),
            conflict_set=not args.no_conflict_set,
            with_suggestions=not args.no_suggestions,
        )
    verbose = bool(getattr(args, "verbose", 0))
    if args.format == "text":
        out = render_text(report, verbose=verbose)
    elif args.format == "markdown":
        out = render_markdown(report, verbose=verbose)
    else:
        out = RENDERERS[args.format](report)
    sys.stdout.write(out)
    return int(report.exit_code)


def _request(args: argparse.Namespace) -> tuple[RequestItem, ...]:
    items: list[RequestItem] = list(parse_specs(args.specs)) if args.specs else []
    if args.requirement:
        items.extend(_from_files(args.requirement))
    if not items:
        raise InputError("nothing to check: give at least one requirement (e.g. tensorflow==2.12.0) or -r FILE")
    return tuple(items)


def _from_files(paths: Sequence[str]) -> list[RequestItem]:
    """Requirements files as pip reads them; any problem is bad input, reported as FILE:LINE."""
    from pathlib import Path

    from packaging.requirements import Requirement

    from analyzer.reqfile import parse_requirements_files

    parsed = parse_requirements_files([Path(p) for p in paths])
    if parsed.problems:
        for problem in parsed.problems[1:]:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
        first = parsed.problems[0]
        raise InputError(first.message, file=first.file, line=first.line)
    items = []
    for req in parsed.requirements:
        requirement = req.requirement
        if not isinstance(requirement, Requirement):
            requirement = Requirement(str(requirement))
        items.append(RequestItem(requirement, origin=req.file, line=req.line))
    return items


def _releases(snapshot: Snapshot, args: argparse.Namespace) -> tuple[tuple[str, str], ...]:
    """The latest release per Python version of the snapshot's source and kind: alternatives to offer."""
    if snapshot.source == "file" or snapshot.source == "current":
        return ()
    from analyzer.catalog import Catalog
    from analyzer.sources import load_source

    try:
        catalog = Catalog.open(load_source(snapshot.source), getattr(args, "colab_repo", None))
    except Exception:  # noqa: BLE001 - alternatives are a courtesy; the answer does not depend on them
        return ()
    seen: dict[str, str] = {}
    for release in reversed(catalog.releases_of(snapshot.kind if snapshot.kind in ("cpu", "gpu", "tpu") else None)):
        label = f"{release.selector}:{release.date.date().isoformat()} (Python {release.python})"
        seen.setdefault(release.python, label)
    return tuple((label, python) for python, label in seen.items())


__all__ = ["register", "run", "ExitCode"]
