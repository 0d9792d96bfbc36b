"""Run the check of one request against every distinct release of a runtime kind, as cheaply as stays honest.

- Consecutive releases with identical inputs (freeze, Python, platform, declared requirements) make one
  row; a freeze reverted to copies the earlier row's answer.
- Each row's verdict is ``run_check`` without the minimal-conflicting-set search, in contiguous chunks on
  forked workers, so a worker's metadata memo serves neighbouring releases whose pins mostly repeat.
- The set is searched where it adds information (``sets``): ``turning`` (default) for both sides of each
  turning point and the latest row, ``all`` for every row pip would change (reused where the pins the search
  reads are identical), ``none`` for no row. A row says which.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from multiprocessing.pool import Pool
from typing import Any, Protocol

from packaging.requirements import Requirement
from packaging.utils import NormalizedName

from analyzer.ask import apply_ignore
from analyzer.catalog import Catalog, Release
from analyzer.check import run_check
from analyzer.diagnosis.conflict_set import Verdict as SetVerdict
from analyzer.diagnosis.graph import image_graph
from analyzer.environment import TargetEnvironment
from analyzer.errors import TfconflictError
from analyzer.matrix.model import Matrix, MatrixRow, SetMove, SetStatus
from analyzer.matrix.turning import turning_points
from analyzer.metadata.models import MetadataSource
from analyzer.pintable import RequirementsTable
from analyzer.report import Report, Verdict
from analyzer.request import RequestItem
from analyzer.session import Session
from analyzer.snapshot import Snapshot

__all__ = ["FIRST_MEMBERS", "SET_MODES", "MatrixOptions", "fold_releases", "run_matrix"]

FIRST_MEMBERS = 3
"""Members of a row's set shown in the row (the renderers show the rest from the row's report)."""

SET_MODES = ("turning", "all", "none")

CHUNKS_PER_WORKER = 3
"""The rows are cut into this many runs of consecutive releases per worker: a worker's memo serves the
neighbours of a release (their pins mostly repeat), and a few runs each still balance the load."""


class ClosableSource(MetadataSource, Protocol):
    """A metadata source a worker makes for itself, and closes when the matrix is done (the engine is one)."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class MatrixOptions:
    kind: str = "cpu"
    since: date | None = None
    until: date | None = None
    sets: str = "turning"
    """Which rows get the minimal-conflicting-set search: ``turning``, ``all`` or ``none``."""
    row_budget: float | None = 30.0
    """Seconds for one row's set search; past it the row's set is shown as not minimal."""
    workers: int = 0
    """Processes checking rows; 0 picks one per CPU (at most 4), 1 checks in this process."""
    constraints: tuple[Requirement, ...] = ()
    ignore: frozenset[NormalizedName] = frozenset()
    """Packages left out of every release (the configuration's ``ignore``), each row saying so."""


@dataclass(frozen=True)
class _Group:
    """One row to compute: the first release and the identical releases that follow it."""

    release: Release
    folded: tuple[Release, ...] = ()
    identity: tuple[Any, ...] = ()
    """What the answer depends on in the history: the freeze blob, Python, platform, declared requirements."""
    name: str = ""
    """How people name the first release (``Catalog.name_of``)."""
    version_name: str | None = None


def fold_releases(catalog: Catalog, releases: Sequence[Release]) -> list[_Group]:
    """Consecutive releases with identical inputs make one row (only the history's index is read)."""
    groups: list[_Group] = []
    for release in releases:
        declared, _notes = catalog.tables.declared_at(release.date)
        identity = (release.freeze_blob, release.python, release.platform, declared)
        if groups and identity == groups[-1].identity:
            groups[-1] = replace(groups[-1], folded=(*groups[-1].folded, release))
        else:
            name = catalog.name_of(release)
            groups.append(_Group(release, identity=identity, name=name.label, version_name=name.version_name))
    return groups


def twins(groups: Sequence[_Group]) -> dict[int, int]:
    """Rows whose inputs are identical to an earlier, non-neighbouring row's (a freeze reverted to): row -> that
    earlier row. Their answer is copied, not recomputed, and the row says which release it is the same as."""
    first: dict[tuple[Any, ...], int] = {}
    return {i: j for i, group in enumerate(groups) if (j := first.setdefault(group.identity, i)) != i}


def _describes(group: _Group) -> dict[str, Any]:
    """The fields of a row that say which release it is (the same for a computed row and a copied one)."""
    r = group.release
    return {
        "release": r.id, "date": r.date, "commit": r.commit, "python": r.python, "kind": r.kind,
        "folded": tuple(f.id for f in group.folded), "name": group.name, "version_name": group.version_name,
    }


def twin_row(row: MatrixRow, group: _Group) -> MatrixRow:
    fresh = MatrixRow(**_describes(group))
    summary = row.summary.replace(row.label, fresh.label).replace(row.release, fresh.release)
    return replace(
        row, **_describes(group), summary=summary, same_as=row.release, same_as_name=row.label, seconds=0.0
    )


def load_snapshot(catalog: Catalog, release: Release, ignore: frozenset[NormalizedName]) -> Snapshot:
    """A release's snapshot without the ignored packages (named in its notes, as ``check`` does)."""
    return apply_ignore(catalog.snapshot(release), (), ignore)[0]


def needs_set(verdict: Verdict | None) -> bool:
    """A set says something only where pip would change the image."""
    return verdict in (Verdict.CHANGES, Verdict.BREAKS)


def build_row(group: _Group, report: Report | None, error: str | None, seconds: float) -> MatrixRow:
    base = MatrixRow(**_describes(group), packages=group.release.packages, seconds=seconds)
    if report is None:
        return replace(base, error=error or "no answer", summary=f"error: {error}", set_status=SetStatus.NONE)
    p, cs = report.prediction, report.conflict_set
    best = cs.best if cs is not None and cs.verdict is SetVerdict.CONFLICT else None
    members = () if best is None else best.members[:FIRST_MEMBERS]
    if best is not None:
        status = SetStatus.MINIMAL if best.verified else SetStatus.NOT_MINIMAL
    elif cs is None and needs_set(report.verdict):
        status = SetStatus.NOT_COMPUTED
    else:
        status = SetStatus.NONE
    return replace(
        base,
        verdict=report.verdict,
        changes=0 if p is None else len(p.upgrades) + len(p.downgrades) + len(p.reinstalls),
        newly_broken=0 if p is None else len({v.name for v in p.newly_broken}),
        preexisting=len(report.preexisting),
        set_size=None if best is None else len(best),
        set_members=tuple(SetMove(str(m.name), m.installed, m.moves_to, m.removed) for m in members),
        set_status=status,
        summary=report.headline(),
        report=report,
    )


# -- workers -----------------------------------------------------------------------------------------------------

_JOB: dict[str, Any] = {}
"""What forked workers inherit: the request, the groups, the engine factory, the run's environments (set before
the pool forks). Not a memo: the one way a ``fork`` pool's worker gets its job; ``run_matrix`` clears it."""


@dataclass(frozen=True)
class _Done:
    """One row's answer from a worker; ``reused_from`` names the row whose set it shares (no report then)."""

    index: int
    report: Report | None
    error: str | None
    seconds: float
    reused_from: int | None = None


def _source() -> ClosableSource:
    source: ClosableSource | None = _JOB.get("source")
    if source is None:
        source = _JOB["source"] = _JOB["factory"]()
    return source


def _snapshot(i: int) -> Snapshot | str:
    """The row's snapshot, or why it cannot be read (a value for the row, not an exception out of the worker)."""
    group: _Group = _JOB["groups"][i]
    try:
        return load_snapshot(_JOB["catalog"], group.release, _JOB["ignore"])
    except TfconflictError as exc:
        return f"cannot read {group.name or group.release.id}: {exc}"


def _env(snapshot: Snapshot) -> TargetEnvironment:
    """One environment per interpreter and platform for the whole run, so its marker memo serves every row."""
    plain = TargetEnvironment.from_snapshot(snapshot)
    envs: dict[TargetEnvironment, TargetEnvironment] = _JOB["envs"]
    return envs.setdefault(plain, plain)


def _check(i: int, snapshot: Snapshot | str, conflict_set: bool) -> _Done:
    """One row's check; a failure is a message for the row, never an exception out of the matrix."""
    if isinstance(snapshot, str):
        return _Done(i, None, snapshot, 0.0)
    started = time.perf_counter()
    try:
        report = run_check(
            _JOB["items"], snapshot, _source(), conflict_set=conflict_set, with_suggestions=False,
            budget=_JOB["budget"], constraints=_JOB["constraints"], env=_env(snapshot), table=_JOB["table"],
        )
    except TfconflictError as exc:
        return _Done(i, None, str(exc), time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - one release's failure must not lose the other rows
        return _Done(i, None, f"internal error: {type(exc).__name__}: {exc}", time.perf_counter() - started)
    return _Done(i, report, None, time.perf_counter() - started)


def _work(task: tuple[tuple[int, ...], str]) -> list[_Done]:
    """A run of rows: ``verdict`` (no set), ``set`` (the full check), ``sweep`` (sets, reused along the run)."""
    indexes, mode = task
    if mode == "sweep":
        return _sweep(indexes)
    return [_check(i, _snapshot(i), conflict_set=mode == "set") for i in indexes]


def _sweep(indexes: Sequence[int]) -> list[_Done]:
    """Sets for a run of rows, oldest first: reused from the last searched row when the pins its search read are
    identical here (and nothing else enters the relevant part), searched afresh otherwise."""
    out: list[_Done] = []
    last: tuple[int, tuple[str, ...], _SetKey] | None = None
    for j in indexes:
        snapshot = _snapshot(j)
        started = time.perf_counter()
        if last is not None and not isinstance(snapshot, str) and _search_key(snapshot, last[1]) == last[2]:
            out.append(_Done(j, None, None, time.perf_counter() - started, reused_from=last[0]))
            continue
        done = _check(j, snapshot, conflict_set=True)
        out.append(done)
        cs = done.report.conflict_set if done.report is not None else None
        last = None
        if cs is not None and cs.verdict is SetVerdict.CONFLICT and cs.best is not None and cs.best.verified:
            assert not isinstance(snapshot, str)
            candidates = tuple(str(n) for n in cs.candidates)
            found = _search_key(snapshot, candidates)
            if found is not None:
                last = (j, candidates, found)
    return out


_SetKey = tuple[TargetEnvironment, frozenset[tuple[str, str | None, str]]]
"""What a set search reads: the interpreter, and the pins it searched (with their versions and URLs)."""


def _search_key(snapshot: Snapshot, candidates: Sequence[str]) -> _SetKey | None:
    """The pins the search over ``candidates`` would read in ``snapshot``; None when the relevant part of its image
    is not exactly the candidates (then the search could differ and must run)."""
    items: Sequence[RequestItem] = _JOB["items"]
    requested = {i.name for i in items}
    env = _env(snapshot)
    session = Session.open(snapshot, _source(), env, _JOB["table"])
    full = image_graph(session).with_request([i.requirement for i in items], session)
    reached = set(full.reachable_from_request()) | set(candidates)
    relevant = {n for n in full.relevant_pins(reached) if n not in requested}
    if relevant != set(candidates):
        return None
    pins = snapshot.by_name
    return env, frozenset((str(n), pins[n].version, pins[n].url or "") for n in relevant)


def _child_init() -> None:
    # the parent's engine (HTTP pool, SQLite connection) must not be used across a fork: each child makes its own
    # (the inherited one is kept unused, so no finalizer of the child touches the parent's connections)
    _JOB["inherited"] = _JOB.pop("source", None)


def _run_rows(indexes: Sequence[int], mode: str, pool: Pool | None, workers: int) -> Iterator[_Done]:
    """The rows' answers, in any order: runs of consecutive rows (one row per task for ``set``)."""
    size = 1 if mode == "set" else max(1, -(-len(indexes) // (workers * CHUNKS_PER_WORKER)))
    tasks = [(tuple(indexes[i : i + size]), mode) for i in range(0, len(indexes), size)]
    results = map(_work, tasks) if pool is None or len(tasks) <= 1 else pool.imap_unordered(_work, tasks)
    return itertools.chain.from_iterable(results)


@contextmanager
def _pool(workers: int) -> Iterator[Pool | None]:
    """One pool for every stage, so each worker learns its metadata memo and which hosts are down once."""
    if workers <= 1:
        yield None
        return
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_child_init)
    try:
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _cpu() -> float:
    """CPU seconds of this process and its finished children: the work, whatever else the machine runs."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def default_workers() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


# -- the matrix --------------------------------------------------------------------------------------------------


def run_matrix(
    items: Sequence[RequestItem],
    catalog: Catalog,
    factory: Callable[[], ClosableSource],
    options: MatrixOptions,
    *,
    progress: Callable[[str], None] | None = None,
    table: RequirementsTable | None = None,
) -> Matrix:
    """The matrix of ``items`` over ``catalog``'s releases of ``options.kind`` within the date range;
    ``table``: the source's requirements table (installed pins' requirements without the index)."""
    timings: dict[str, float] = {}
    warnings: list[str] = []
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    releases = catalog.releases_of(options.kind, options.since, options.until)
    groups = fold_releases(catalog, releases)
    timings["releases"] = time.perf_counter() - started
    workers = options.workers or default_workers()
    if not groups:
        warnings.append(f"no {options.kind} release of {catalog.decl.name} in the range")
    say(f"{len(groups)} distinct releases of {len(releases)} in the range; {workers} worker(s)")

    _JOB.clear()
    _JOB.update(
        items=tuple(items), groups=groups, catalog=catalog, factory=factory, ignore=options.ignore,
        budget=options.row_budget, constraints=tuple(options.constraints), envs={}, table=table,
    )
    cpu = _cpu()
    try:
        with _pool(workers if len(groups) > 1 else 1) as pool:
            step = time.perf_counter()
            rows = _verdicts(groups, pool, workers)
            timings["verdicts"] = time.perf_counter() - step
            step = time.perf_counter()
            wanted = _rows_for_sets(rows, options.sets)
            if wanted:
                say(f"searching the minimal conflicting set of {len(wanted)} row(s)")
                _sets(groups, rows, wanted, options.sets == "all", pool, workers, warnings)
            timings["conflicting sets"] = time.perf_counter() - step
    finally:
        source: ClosableSource | None = _JOB.get("source")
        if source is not None:
            source.close()
        _JOB.clear()
    timings["cpu"] = _cpu() - cpu

    step = time.perf_counter()
    index = {g.release.id: g.release for g in groups}
    points = turning_points(rows, lambda row: load_snapshot(catalog, index[row.release], options.ignore))
    timings["turning points"] = time.perf_counter() - step
    timings["total"] = time.perf_counter() - started
    warnings.extend(f"{row.label}: {row.error}" for row in rows if row.error)
    return Matrix(
        request=tuple(items), kind=options.kind, source=catalog.decl.name, since=options.since,
        until=options.until, rows=tuple(rows), turning_points=points, releases=len(releases), timings=timings,
        warnings=tuple(dict.fromkeys(warnings)), workers=workers,
    )


def _rows_for_sets(rows: Sequence[MatrixRow], mode: str) -> list[int]:
    wanted = set(range(len(rows))) if mode == "all" else set()
    if mode == "turning":
        wanted = {j for i in range(1, len(rows)) if rows[i].verdict != rows[i - 1].verdict for j in (i - 1, i)}
        # the latest row decides the exit code and answers "what holds now": it gets its set even without a turn
        wanted.update([len(rows) - 1] if rows else [])
    return sorted(i for i in wanted if needs_set(rows[i].verdict))


def _verdicts(groups: Sequence[_Group], pool: Pool | None, workers: int) -> list[MatrixRow]:
    """Every row's verdict, without the set search; a reverted-to freeze copies its twin's row."""
    same = twins(groups)
    rows: dict[int, MatrixRow] = {}
    for d in _run_rows([i for i in range(len(groups)) if i not in same], "verdict", pool, workers):
        rows[d.index] = build_row(groups[d.index], d.report, d.error, d.seconds)
    for i, j in same.items():
        rows[i] = twin_row(rows[j], groups[i])
    return [rows[i] for i in range(len(groups))]


def _sets(
    groups: Sequence[_Group], rows: list[MatrixRow], wanted: Sequence[int], sweep: bool, pool: Pool | None,
    workers: int, warnings: list[str],
) -> None:
    """The set search of the wanted rows, one row per task, or runs of rows swept with reuse (``--sets all``)."""
    for d in _run_rows(wanted, "sweep" if sweep else "set", pool, workers):
        i = d.index
        if d.reused_from is not None:
            first = rows[d.reused_from]
            rows[i] = replace(
                rows[i], set_size=first.set_size, set_members=first.set_members,
                set_status=SetStatus.REUSED, set_from=first.release, set_from_name=first.label,
                seconds=rows[i].seconds + d.seconds,
            )
        elif d.report is not None:
            rows[i] = build_row(groups[i], d.report, d.error, rows[i].seconds + d.seconds)
        else:
            warnings.append(f"{rows[i].label}: the conflicting set could not be searched: {d.error}")
