"""The one orchestration ``check`` and ``hook`` call: the remembered answer when it still holds
(``analyzer.answers``), else ``run_check``, rendered and remembered. The pipeline and the network stack are
imported only when an answer is computed: a remembered answer needs neither.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer import answers
from analyzer.config import Settings, fails
from analyzer.errors import ExitCode
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.request import RequestItem
from analyzer.snapshot import Snapshot

if TYPE_CHECKING:
    from analyzer.diagnosis.installable import ProjectInstallability
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.pintable import RequirementsTable
    from analyzer.report import Report
    from analyzer.sources import SourceDeclaration

__all__ = ["Answer", "CheckOptions", "apply_ignore", "ask", "requirements_table", "without_bad_lines"]


@dataclass(frozen=True)
class CheckOptions:
    """The stages a check runs and their bounds (``run_check``'s keyword arguments)."""

    conflict_set: bool = True
    suggestions: bool = True
    budget: float | None = 30.0
    """Seconds for the minimal-conflicting-set search; None: no bound."""
    releases: tuple[tuple[str, str], ...] = ()
    """(release, Python) pairs offered as alternatives when the request does not install on this interpreter."""
    requirements_table: bool = True
    """Installed pins' requirements from the snapshot source's requirements table (False: from the index)."""


@dataclass(frozen=True)
class Answer:
    """A rendered answer and the verdict its exit code comes from; ``report`` is None when it was remembered."""

    output: str
    verdict: str
    report: Report | None = None

    def fails(self, fail_on: str) -> bool:
        return fails(self.verdict, fail_on)

    def exit_code(self, fail_on: str) -> ExitCode:
        return ExitCode.CONFLICT if self.fails(fail_on) else ExitCode.OK


def ask(
    command: str,
    items: Sequence[RequestItem],
    snapshot: Snapshot,
    constraints: Sequence[Requirement],
    settings: Settings,
    config: IndexConfig,
    *,
    cache: MetadataCache,
    engine: Callable[[], MetadataEngine],
    render: Callable[[Report], str],
    options: CheckOptions,
    notes: Sequence[str] = (),
    asked: Mapping[str, object] | None = None,
    recall: bool = True,
    keep: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> Answer:
    """Answer ``pip install ITEMS`` on ``snapshot`` as ``render`` phrases it.

    ``engine`` is called only when the answer is computed (the caller owns its lifetime, and may share one
    engine between questions); ``asked`` holds what else changes the rendered text (the output format).
    ``recall=False`` computes even when a remembered answer holds; ``keep=False`` neither recalls nor remembers
    (a rendering that shows this run's own timings); ``on_stage`` goes to ``run_check``. Raises
    ``MetadataUnavailable`` as ``run_check`` does.
    """
    table, table_note = (None, "")
    if options.requirements_table:
        table, table_note = requirements_table(snapshot, config.urls)
    notes = (*notes, table_note) if table_note else tuple(notes)
    key = None
    if keep:
        # what the answer depends on besides the code and the cache rows: the settings that change an answer
        question = {
            "command": command,
            "snapshot": snapshot,
            "items": items,
            "constraints": [str(c) for c in constraints],
            "indexes": config.urls,
            "as_of": settings.as_of,
            "offline": settings.offline,
            "fail_on": settings.fail_on,
            "notes": tuple(notes),
            "requirements_table": None if table is None else table.identity,
            **asdict(options),
            **(asked or {}),
        }
        key = answers.question_key(cache, question)
        found = answers.recall(cache, key) if recall else None
        if found is not None:
            return Answer(found.output, found.verdict)

    from analyzer.check import run_check

    source = engine()
    report = without_bad_lines(
        items,
        snapshot,
        lambda asked: run_check(
            asked,
            snapshot,
            source,
            releases=options.releases,
            conflict_set=options.conflict_set,
            with_suggestions=options.suggestions,
            budget=options.budget,
            constraints=constraints,
            on_stage=on_stage,
            table=table,
        ),
    )
    # hosts that failed so that they were not asked again: what they serve is missing from this answer
    hosts = [f"{host}: given up for the rest of the run ({why}); what it serves was not read"
             for host, why in sorted(source.hosts_given_up().items())]
    if notes or hosts:  # the command's own notes (requirements files, ignore) among the report's warnings
        report = replace(report, warnings=tuple(dict.fromkeys((*notes, *report.warnings, *hosts))))
    output = render(report)
    # a search cut by its budget (a set not shown minimal, suggestions exhausted) may go further next time
    sets = report.conflict_set
    cut = sets is not None and sets.verdict.value == "conflict" and not (
        sets.sets and all(s.verified for s in sets.sets)
    )
    if key is not None and not cut and not (report.suggestions is not None and report.suggestions.exhausted):
        # an engine shared between questions read a superset of this answer's rows, never fewer
        answers.remember(cache, key, source.reads(), output, report.verdict.value)
    return Answer(output, report.verdict.value, report)


def requirements_table(
    runtime: Snapshot | SourceDeclaration, index_urls: Sequence[str]
) -> tuple[RequirementsTable | None, str]:
    """The requirements table for a snapshot (or a source's releases) on these indexes: its source's, else
    Colab's (a freeze file's pins are looked up by interpreter and platform too, so a table holds only what is
    true of them); None when it was read from another primary index; with a note when it cannot be read (the
    run goes on, reading installed packages' requirements from the index)."""
    from analyzer.errors import InputError, SourceError
    from analyzer.pintable import load_table

    source: str | SourceDeclaration | None = runtime if not isinstance(runtime, Snapshot) else runtime.source
    try:
        return load_table(None if source in ("file", "current") else source, index_urls=index_urls), ""
    except (InputError, SourceError, OSError) as exc:
        return None, f"requirements table not used ({exc}); installed packages' requirements read from the index"


def without_bad_lines(
    items: Sequence[RequestItem], snapshot: Snapshot, check: Callable[[Sequence[RequestItem]], Report]
) -> Report:
    """``check`` the request; when some of its lines cannot be installed at all (an unknown project, a version
    that does not exist, no distribution for this Python), check the rest again without them, so one bad line
    hides nothing else.

    The answer keeps the whole request's installability, so its verdict (and exit code) still fails for the
    bad lines; everything after it is the rest's, and ``left_out`` and a warning each say so.
    """
    from analyzer.report import blocking_reason

    report = check(items)
    blocked = {b.requirement: b for b in report.installability.blocking}
    bad = tuple(item for item in items if str(item.requirement) in blocked)
    rest = tuple(item for item in items if str(item.requirement) not in blocked)
    if not bad or not rest:
        return report  # nothing to split (a dependency's failing build belongs to no line)
    hints = {text: _did_you_mean(b, snapshot, rest) for text, b in blocked.items()}
    installability = replace(
        report.installability,
        items=tuple(
            replace(b, message=b.message + hints[b.requirement]) if b.requirement in hints else b
            for b in report.installability.items
        ),
    )
    notes = []
    for item in bad:
        text = str(item.requirement)
        where = f"{item.origin}:{item.line}: " if item.line is not None else ""
        why = f"{blocking_reason(blocked[text])}{hints[text]}"
        notes.append(f"{where}{text} cannot be installed ({why}); the rest of the request is analysed without it")
    partial = check(rest)
    return replace(
        partial,
        request=tuple(items),
        installability=installability,
        left_out=bad,
        warnings=tuple(dict.fromkeys((*notes, *partial.warnings))),
    )


def _did_you_mean(blocked: ProjectInstallability, snapshot: Snapshot, rest: Sequence[RequestItem]) -> str:
    """For a project no index knows (a typo, mostly): the closest name among the image's packages and the other
    requested lines. The index's own name list is not read (it is the size of the whole index)."""
    from analyzer.diagnosis.installable import Status

    if blocked.status is not Status.UNKNOWN_PROJECT:
        return ""
    preinstalled = {pin.name for pin in snapshot.pins}
    names = sorted((preinstalled | {item.name for item in rest}) - {blocked.name})
    close = difflib.get_close_matches(blocked.name, names, n=1, cutoff=0.8)
    if not close:
        return ""
    where = " (preinstalled)" if close[0] in preinstalled else ""
    return f"; did you mean {close[0]}{where}?"


def apply_ignore(
    snapshot: Snapshot, items: Sequence[RequestItem], ignore: frozenset[NormalizedName]
) -> tuple[Snapshot, tuple[RequestItem, ...], tuple[str, ...]]:
    """Leave ignored packages out: their pins leave the snapshot and their lines leave the request, with a note
    each (an ignored package must never vanish silently from an answer)."""
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
    notes = tuple(
        (f"{item.origin}:{item.line}: " if item.line is not None else "") + f"{item.requirement} is not checked (ignore)"
        for item in items
        if item.name in ignore
    )
    return snapshot, kept, notes
