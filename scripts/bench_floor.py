"""The transfer floor of a cold ``check``: how long the bytes a complete answer needs take to arrive, with no
parsing, no cache and no resolver, for the design that reads installed packages' requirements from the snapshot
source's requirements table beside the design before it, and beside ``uv pip compile`` cold.

Table design: a cold ``check`` (``run_check`` in a worker, table loaded), full and with ``--no-conflict-set``,
records every HTTP request it makes (the request's closure, what the minimal-set search moves, any pin the table
does not hold) with the body bytes it read from each; the floor replays exactly those requests, raw, all at once with ``--workers`` connections (pages,
range reads into wheels, ``.metadata`` files, sdists read as far as the check read them). It is a floor twice
over: no parsing, and no waiting for one answer before asking the next (the check learns the closure level by
level).

Design before: every installed pin's requirements from the index, i.e. the project page of every pin and the
request, then one 32 KiB tail read of the wheel pip would have installed for each pin (what the metadata engine
asks first). The wheel URLs come from the cache of a recorded cold check of that design (``table=None``), whose
own requests are replayed too (``--skip-old-replay`` leaves that out).

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle .venv/bin/python scripts/bench_floor.py

uv is a benchmark tool, not a dependency: ``pip install uv`` if it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from scripts.bench_check import (
    clean_env,
    find_uv,
    fresh_cache,
    mib,
    run_child,
    uv_compile_command,
    uv_constraints,
)

JSON = "application/vnd.pypi.simple.v1+json"
TAIL = 32 * 1024

Request = tuple[str, dict[str, str], int | None]
"""URL, headers, and how many body bytes to read (None: all)."""


def fetch_all(todo: list[Request], workers: int) -> tuple[float, int, int]:
    """Wall seconds, body bytes and failed requests for making every request with ``workers`` connections (a
    session per thread), each body read up to its limit; a request that fails is tried once more."""
    local = threading.local()

    def get(item: Request) -> tuple[int, bool]:
        url, headers, limit = item
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        for attempt in range(2):
            got = 0
            try:
                with session.get(url, headers=headers, timeout=60, stream=True) as response:
                    for chunk in response.iter_content(64 * 1024):
                        got += len(chunk)
                        if limit is not None and got >= limit:
                            break
                return got, True
            except requests.RequestException:
                if attempt:
                    return got, False
        return 0, False

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(get, todo))
    return time.perf_counter() - started, sum(r[0] for r in results), sum(1 for r in results if not r[1])


def best(todo: list[Request], workers: int, runs: int) -> tuple[float, int, int]:
    return min((fetch_all(todo, workers) for _ in range(runs)), key=lambda r: r[0])


def recorded_check(
    selector: str,
    spec: str,
    index_url: str,
    use_table: bool,
    conflict_set: bool,
    cache: Path,
    record: Path,
    timeout: float,
) -> dict[str, Any]:
    """One cold check in a worker (``bench_check.py``), its requests written to ``record``."""
    cmd = [
        sys.executable, str(ROOT / "scripts" / "bench_check.py"), "--spec", spec, "--index-url", index_url,
        "--worker", selector, "1" if conflict_set else "0", "1" if use_table else "0", "--record", str(record),
    ]  # fmt: skip
    child = run_child(cmd, clean_env(cache), timeout)
    if child.code != 0 or not child.out.strip():
        last = (child.err.strip().splitlines() or [f"exit {child.code}"])[-1]
        raise SystemExit(f"the recorded check failed: {last}")
    figures: dict[str, Any] = json.loads(child.out.strip().splitlines()[-1])
    return figures


def replay_list(record: Path) -> tuple[list[Request], Counter[str], Counter[str]]:
    """The recorded requests as they were made (pages as JSON, range reads with their span, bodies read as far
    as the check read them); requests and body bytes by kind."""
    todo: list[Request] = []
    kinds: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for url, span, kind, nbytes in json.loads(record.read_text(encoding="utf-8")):
        kinds[kind] += 1
        sizes[kind] += int(nbytes)
        if kind == "page":
            todo.append((url, {"Accept": JSON}, None))
        elif span:
            todo.append((url, {"Range": span, "Accept-Encoding": "identity"}, None))
        else:
            todo.append((url, {}, max(int(nbytes), 1)))
    return todo, kinds, sizes


def largest(record: Path, top: int = 6) -> str:
    """The files and pages that took the most body bytes in a recorded check (where a cut would pay)."""
    sizes: Counter[str] = Counter()
    for url, _, kind, nbytes in json.loads(record.read_text(encoding="utf-8")):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        sizes[f"{name} page" if kind == "page" else f"{name} ({kind})"] += int(nbytes)
    return ", ".join(f"{what} {mib(n)}" for what, n in sizes.most_common(top))


def old_floor_list(
    selector: str, spec: str, index_url: str, cache: Path
) -> tuple[list[Request], list[Request]]:
    """Every pin's and the request's project page; the tail of each pin's wheel (URLs from ``cache``)."""
    from packaging.version import InvalidVersion, Version

    from analyzer.environment import TargetEnvironment
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.metadata.select import best_file
    from analyzer.request import parse_specs
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(selector)
    env = TargetEnvironment.from_snapshot(snapshot)
    names = sorted({pin.name for pin in snapshot.pins} | {item.name for item in parse_specs([spec])})
    pages: list[Request] = [(f"{index_url.rstrip('/')}/{name}/", {"Accept": JSON}, None) for name in names]
    tails: list[Request] = []
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache(cache)) as engine:
        for pin in snapshot.pins:
            try:
                version = Version(pin.version or "")
            except InvalidVersion:
                continue
            file = best_file(engine.files_of(pin.name, version), env)
            if file is not None and file.filename.endswith(".whl"):
                tails.append((file.url, {"Range": f"bytes=-{TAIL}"}, None))
    return pages, tails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--snapshot", default="colab:2025-07-14")
    parser.add_argument("--spec", default="tensorflow==2.12.0")
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--workers", type=int, action="append", help="repeatable (default: 24 and 64)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best is printed")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for each recorded check")
    parser.add_argument("--platform", default="x86_64-manylinux_2_35", help="uv's --python-platform")
    parser.add_argument(
        "--skip-old-replay", action="store_true", help="do not replay the old design's requests"
    )
    args = parser.parse_args(argv)

    from analyzer.paths import cache_dir
    from analyzer.request import parse_specs

    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        synced = cache_dir()
        old_cache = fresh_cache(work, synced, "index")
        designs = [
            ("table design, full report", True, True, fresh_cache(work, synced, "table-full")),
            ("table design, --no-conflict-set", True, False, fresh_cache(work, synced, "table-quick")),
            ("design before, full report", False, True, old_cache),
        ]
        recorded: list[tuple[str, dict[str, Any], list[Request], Counter[str], Counter[str]]] = []
        for label, use_table, conflict_set, cache in designs:
            record = work / f"{cache.name}.json"
            figures = recorded_check(
                args.snapshot, args.spec, args.index_url, use_table, conflict_set, cache, record, args.timeout
            )
            if use_table and not figures["table"]:
                print(f"NO TABLE ({figures['table_note']}): '{label}' is the index design")
            recorded.append((label, figures, *replay_list(record)))
        pages, tails = old_floor_list(
            args.snapshot, args.spec, args.index_url, old_cache / "metadata.sqlite3"
        )
        print(f"{args.spec} on {args.snapshot}; {os.cpu_count()} CPUs; best of {args.runs}")
        for (_, _, _, cache), (label, figures, _, kinds, sizes) in zip(designs, recorded):
            what = ", ".join(f"{k} {kinds[k]} ({mib(sizes[k])})" for k in sorted(kinds))
            print(
                f"  {label}: the cold check took {figures['seconds']:.1f} s, {mib(figures['net_bytes'])} at its "
                f"sockets; requests (body bytes): {what}"
            )
            print(f"    most bytes: {largest(work / f'{cache.name}.json')}")
        print(f"  {'what is fetched':56} {'requests':>8} {'body bytes':>10} " + " ".join(
            f"{w:>3} conn." for w in args.workers or [24, 64]
        ))  # fmt: skip
        lines: list[tuple[str, list[list[Request]]]] = [
            (f"{label}: its requests replayed", [todo])
            for (label, use_table, _, _), (_, _, todo, _, _) in zip(designs, recorded)
            if use_table or not args.skip_old_replay
        ]
        lines.insert(2, ("design before, floor: pages + wheel tails", [pages, tails]))
        for label, batches in lines:
            cells, size, failed = [], 0, 0
            for workers in args.workers or [24, 64]:
                # batches one after another: a tail's URL is known only once its page is read
                figures_ = [best(batch, workers, args.runs) for batch in batches]
                cells.append(f"{sum(f[0] for f in figures_):>7.2f} s")
                size = sum(f[1] for f in figures_)
                failed = max(failed, sum(f[2] for f in figures_))
            count = sum(len(b) for b in batches)
            gaps = f"  ({failed} requests failed twice: the figure is low)" if failed else ""
            print(f"  {label:56} {count:>8} {mib(size):>10} " + " ".join(cells) + gaps)

        uv = find_uv()
        if uv is None:
            print("uv is missing: pip install uv (a benchmark tool)", file=sys.stderr)
            return 0
        requested = {item.name for item in parse_specs([args.spec])}
        constraints = work / "constraints.txt"
        python = uv_constraints(args.snapshot, requested, constraints)[2]
        for label, limits in (("request alone", None), ("image constraints", constraints)):
            times: list[float] = []
            for run in range(args.runs):
                env = clean_env(
                    UV_CACHE_DIR=str(work / f"uv-cache-{label[:5]}-{run}")
                )  # empty each time: cold
                cmd = uv_compile_command(uv, limits, python, args.platform, args.index_url)
                child = run_child(cmd, env, 300, stdin=args.spec + "\n")
                if child.seconds is not None:
                    times.append(child.seconds)
            shown = f"{min(times):.2f} s" if times else "> 300 s"
            print(f"  uv pip compile cold, {label:18} (best of {args.runs}): {shown}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    sys.exit(main())
