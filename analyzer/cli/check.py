"""``tfconflict check SPEC... [-r FILE] [-c FILE]``: read the request and the project configuration, run the
pipeline, render, choose the exit code.

The plumbing ``tfconflict hook`` shares lives here too: the effective settings (``[tool.tfconflict]`` /
``tfconflict.toml`` under the command line), the snapshot they name, ``ignore``, the request a requirements file
makes, and the metadata engine its index options describe.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName

from analyzer.cli.common import DEFAULT_SNAPSHOT, add_request_file_options, add_snapshot_options, seconds
from analyzer.cli.indexopts import add_index_options
from analyzer.config import FAIL_ON, Settings, fails, load_config, merge
from analyzer.errors import ExitCode, InputError, Problem
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.reqfile import RequirementsSet, parse_requirements_files
from analyzer.request import RequestItem, parse_specs
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.report import Report

# The pipeline, the network stack and the renderers are imported where they are used: a remembered answer
# (``analyzer.answers``) needs none of them.

__all__ = [
    "FORMATS",
    "FileRequest",
    "add_policy_options",
    "answer_question",
    "apply_ignore",
    "constraints_notes",
    "engine_for",
    "exit_code",
    "index_config",
    "register",
    "request_from_files",
    "run",
    "settings_from_args",
    "snapshot_from_settings",
    "timed_out",
    "with_warnings",
]

FORMATS = ("text", "json", "markdown", "github")
NOTHING = "nothing to check: give at least one requirement (e.g. tensorflow==2.12.0) or -r FILE"


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
    items, reqset = _request(args)
    if reqset is not None and reqset.problems:
        return _bad_input(reqset.problems, args.format)
    settings = settings_from_args(args)
    snapshot = snapshot_from_settings(settings, args)
    for problem in snapshot.problems:
        print(f"tfconflict: warning: {problem}", file=sys.stderr)
    snapshot, items, notes = apply_ignore(snapshot, items, settings.ignore)
    if reqset is not None:
        notes = (*_file_notes(reqset), *notes)
    if not items:
        print(
            "tfconflict: every requirement is ignored by the configuration; nothing to check", file=sys.stderr
        )
        return int(ExitCode.OK)
    from analyzer import answers

    verbose = bool(getattr(args, "verbose", 0))
    releases = _releases(snapshot, settings)
    constraints = constraint_requirements(reqset)
    config = index_config(settings, reqset)
    cache = MetadataCache()
    key = None
    if not verbose:  # -v shows this run's timings: it is computed, and its rendering is not kept
        question = answer_question(
            "check", snapshot, items, constraints, config, settings,
            conflict_set=not args.no_conflict_set,
            notes=notes,
            releases=releases,
            suggestions=not args.no_suggestions,
            budget=args.budget,
            format=args.format,
        )
        key = answers.question_key(cache, question)
        found = None if args.recompute else answers.recall(cache, key)
        if found is not None:
            cache.close()
            sys.stdout.write(found.output)
            return int(ExitCode.CONFLICT if fails(found.verdict, settings.fail_on) else ExitCode.OK)

    from analyzer.check import run_check
    from analyzer.metadata.engine import MetadataEngine

    engine = MetadataEngine(
        config, cache=cache, offline=settings.offline, as_of=settings.as_of, progress=args.format != "github"
    )
    with engine:
        report = run_check(
            items,
            snapshot,
            engine,
            releases=releases,
            conflict_set=not args.no_conflict_set,
            with_suggestions=not args.no_suggestions,
            budget=args.budget or None,
            constraints=constraints,
        )
        report = with_warnings(report, notes)
        out = render(report, args.format, settings, verbose=verbose)
        if key is not None and not timed_out(report):
            answers.remember(cache, key, engine.reads(), out, report.verdict.value)
    sys.stdout.write(out)
    return int(exit_code(report, settings))


def answer_question(
    command: str,
    snapshot: Snapshot,
    items: Sequence[RequestItem],
    constraints: Sequence[Requirement],
    config: IndexConfig,
    settings: Settings,
    **options: object,
) -> dict[str, object]:
    """What a command's answer depends on besides the code and the cache rows (``analyzer.answers``): the
    snapshot, the request, the constraints, the indexes and the settings that change an answer, and ``options``."""
    return {
        "command": command,
        "snapshot": snapshot,
        "items": items,
        "constraints": [str(c) for c in constraints],
        "indexes": config.urls,
        "as_of": settings.as_of,
        "offline": settings.offline,
        "fail_on": settings.fail_on,
        **options,
    }


def render(report: Report, fmt: str, settings: Settings, *, verbose: bool = False) -> str:
    """The report in one of ``FORMATS``."""
    from analyzer.render import RENDERERS
    from analyzer.render.github import render_github
    from analyzer.render.markdown import render_markdown
    from analyzer.render.text import render_text

    if fmt == "text":
        return render_text(report, verbose=verbose)
    if fmt == "markdown":
        return render_markdown(report, verbose=verbose)
    if fmt == "github":
        return render_github(report, fail_on=settings.fail_on)
    return RENDERERS[fmt](report)


def timed_out(report: Report) -> bool:
    """Whether a time budget cut a search short: another run could go further, so the answer is not remembered."""
    found = report.conflict_set
    # a set not shown minimal, or none found before the budget ran out
    cut = found is not None and found.verdict.value == "conflict" and not (found.sets and all(s.verified for s in found.sets))
    return cut or (report.suggestions is not None and report.suggestions.exhausted)


# -- settings and snapshot -------------------------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace, start: Path | None = None) -> Settings:
    """The project configuration (found from ``start``, default the working folder) under the command line.

    A defect in the configuration file is bad input: every problem is printed as ``FILE:LINE: message`` and the
    first raised, so the command ends with exit code 2 rather than answering for a runtime nobody asked for.
    """
    config = load_config(start or Path.cwd())
    if config.problems:
        for problem in config.problems[:-1]:
            print(f"tfconflict: error: {problem}", file=sys.stderr)
        last = config.problems[-1]
        raise InputError(last.message, file=last.file, line=last.line)
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
    return merge(config, overrides)


_PREFIX = re.compile(r"^(?P<prefix>[a-z][a-z0-9-]*)(?=[:@]|$)")


def snapshot_from_settings(settings: Settings, args: argparse.Namespace) -> Snapshot:
    """The snapshot the settings name; a file named by the configuration is relative to the configuration.

    The configuration's ``python`` and ``platform`` describe a freeze file's runtime; a Colab release or a snapshot
    JSON states its own, and then they are left aside with a note (the command line's are refused, as before).
    """
    from analyzer.selectors import resolve_selector

    selector = getattr(args, "snapshot", None)
    if selector is None:
        selector = settings.snapshot or DEFAULT_SNAPSHOT
        if settings.snapshot and settings.origin is not None and not Path(selector).is_absolute():
            beside = settings.origin.parent / selector
            if beside.is_file():
                selector = str(beside)
    python = getattr(args, "python", None)
    platform = getattr(args, "platform", None)
    unused: list[str] = []
    if (settings.python or settings.platform) and python is None and platform is None:
        if _is_freeze_file(selector):
            python, platform = settings.python, settings.platform
        else:
            where = settings.origin.name if settings.origin is not None else "the configuration"
            unused = [
                f"{key} = {value!r} in {where} not used: {selector} states its own interpreter and platform"
                for key, value in (("python", settings.python), ("platform", settings.platform))
                if value
            ]
    snapshot = resolve_selector(
        _with_runtime(selector, settings.runtime),
        python=python,
        platform=platform,
        colab_repo=settings.colab_repo,
    )
    return replace(snapshot, notes=(*snapshot.notes, *unused)) if unused else snapshot


def _is_freeze_file(selector: str) -> bool:
    """A file that is not snapshot JSON (the selectors' own test: a .json name or a leading brace)."""
    path = Path(selector).expanduser()
    if not path.is_file() or path.suffix == ".json":
        return False
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError:
        return True  # the selector reports the read error itself
    return not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _with_runtime(selector: str, runtime: str) -> str:
    """``runtime = "gpu"`` turns ``colab:2025-07-14`` into ``colab-gpu:2025-07-14``; a selector that names its
    kind (``colab-tpu``), a file and ``current`` are left as they are."""
    from analyzer.sources import find_kind

    match = _PREFIX.match(selector)
    found = find_kind(match.group("prefix")) if match else None
    if match is None or found is None:
        return selector
    decl, files = found
    if match.group("prefix") != decl.name or files.kind == runtime:
        return selector
    return decl.kind(runtime).selector + selector[match.end("prefix") :]


def apply_ignore(
    snapshot: Snapshot, items: Sequence[RequestItem], ignore: frozenset[NormalizedName]
) -> tuple[Snapshot, tuple[RequestItem, ...], tuple[str, ...]]:
    """Leave ignored packages out: their pins leave the snapshot and their lines leave the request, with a note
    each (an ignored package must never vanish silently from an answer)."""
    notes: list[str] = []
    if not ignore:
        return snapshot, tuple(items), ()
    dropped = sorted(p.name for p in snapshot.pins if p.name in ignore)
    if dropped:
        note = f"left out of the analysis (ignore): {', '.join(dropped)}; their pins are not checked or kept"
        snapshot = replace(
            snapshot.with_pins(p for p in snapshot.pins if p.name not in ignore),
            notes=(*snapshot.notes, note),
        )
    kept = tuple(item for item in items if item.name not in ignore)
    for item in items:
        if item.name in ignore:
            where = f"{item.origin}:{item.line}: " if item.line is not None else ""
            notes.append(f"{where}{item.requirement} is not checked (ignore)")
    return snapshot, kept, tuple(notes)


def with_warnings(report: Report, notes: Sequence[str]) -> Report:
    """The report with the command's own notes (requirements files, ignore) among its warnings."""
    if not notes:
        return report
    return replace(report, warnings=tuple(dict.fromkeys((*notes, *report.warnings))))


def exit_code(report: Report, settings: Settings) -> ExitCode:
    return ExitCode.CONFLICT if fails(report.verdict.value, settings.fail_on) else ExitCode.OK


# -- the request -----------------------------------------------------------------------------------------------




def _request(args: argparse.Namespace) -> tuple[tuple[RequestItem, ...], RequirementsSet | None]:
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


@dataclass(frozen=True)
class FileRequest:
    """What requirements files ask for: the items to check, and everything the parser read (index options,
    constraints, notes, problems)."""

    items: tuple[RequestItem, ...]
    parsed: RequirementsSet


def request_from_files(paths: Sequence[str | Path], constraints: Sequence[str | Path] = ()) -> FileRequest:
    """Requirements files as pip reads them; each requirement keeps its FILE and LINE for the report."""
    parsed = parse_requirements_files([Path(p) for p in paths], [Path(p) for p in constraints])
    items: list[RequestItem] = []
    notes = list(parsed.notes)
    for req in parsed.requirements:
        requirement = req.requirement
        if not isinstance(requirement, Requirement):
            try:
                requirement = Requirement(str(requirement))
            except InvalidRequirement:
                notes.append(
                    Problem(
                        req.file,
                        req.line,
                        f"{req} is not checked: a local path cannot be analysed "
                        "without building it (name a wheel, or use name @ file:///absolute/path)",
                    )
                )
                continue
        items.append(RequestItem(requirement, origin=req.file, line=req.line))
    return FileRequest(tuple(items), replace(parsed, notes=tuple(notes)))


def _file_notes(parsed: RequirementsSet) -> tuple[str, ...]:
    """The parser's notes, and the constraints that cannot be applied."""
    notes = [str(note) for note in parsed.notes]
    notes.extend(constraints_notes(parsed))
    if parsed.no_index:
        notes.append("--no-index in a requirements file: ignored here, the index is read for metadata")
    if parsed.find_links:
        notes.append("--find-links in a requirements file: those locations are not read; the index is")
    return tuple(notes)


def constraints_notes(parsed: RequirementsSet) -> tuple[str, ...]:
    """Constraints that cannot be applied (a URL or a path: its version is unknown without building) are named."""
    return tuple(
        f"{c.file}:{c.line}: NOTE: the constraint {c} is a URL or a path: not applied"
        for c in parsed.constraints
        if not isinstance(c.requirement, Requirement) or c.requirement.url
    )


def constraint_requirements(parsed: RequirementsSet | None) -> tuple[Requirement, ...]:
    """The ``-c`` lines the resolver applies: name, specifier and marker; URL constraints are noted instead."""
    if parsed is None:
        return ()
    return tuple(
        c.requirement
        for c in parsed.constraints
        if isinstance(c.requirement, Requirement) and not c.requirement.url
    )


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
    """Indexes as pip would use them: pip's configuration, then the project configuration and the command line
    (extras replace pip's, as pip's command line does), then the requirements files' own lines, which pip applies
    last (a file's ``--index-url`` replaces the indexes named before it; its ``--extra-index-url`` adds one)."""
    config = IndexConfig.from_pip().override(settings.index_url, settings.extra_index_urls or None)
    if parsed is None or parsed.no_index:
        return config
    origins = (*config.origins, "requirements file")
    if parsed.index_url:
        return IndexConfig(parsed.index_url, tuple(parsed.extra_index_urls), origins=origins)
    if parsed.extra_index_urls:
        extras = tuple(dict.fromkeys((*config.extra_index_urls, *parsed.extra_index_urls)))
        return IndexConfig(config.index_url, extras, origins=origins)
    return config


def engine_for(
    settings: Settings, parsed: RequirementsSet | None, *, progress: bool = True, cache: MetadataCache | None = None
) -> MetadataEngine:
    from analyzer.metadata.engine import MetadataEngine

    return MetadataEngine(
        index_config(settings, parsed),
        cache=cache if cache is not None else MetadataCache(),
        offline=settings.offline,
        as_of=settings.as_of,
        progress=progress,
    )


def _releases(snapshot: Snapshot, settings: Settings) -> tuple[tuple[str, str], ...]:
    """The latest release per Python version of the snapshot's source and kind: alternatives to offer."""
    if snapshot.source == "file" or snapshot.source == "current":
        return ()
    from analyzer.catalog import Catalog
    from analyzer.sources import load_source

    try:
        catalog = Catalog.open(load_source(snapshot.source), settings.colab_repo)
    except Exception:  # noqa: BLE001 - alternatives are a courtesy; the answer does not depend on them
        return ()
    seen: dict[str, str] = {}
    for release in reversed(
        catalog.releases_of(snapshot.kind if snapshot.kind in ("cpu", "gpu", "tpu") else None)
    ):
        label = f"{release.selector}:{release.date.date().isoformat()} (Python {release.python})"
        seen.setdefault(release.python, label)
    return tuple((label, python) for python, label in seen.items())
