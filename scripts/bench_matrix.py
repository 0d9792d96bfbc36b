"""Benchmark ``tfconflict matrix``: the whole CPU history of Colab for ``tensorflow==2.12.0``, on an empty cache
and warm, installed packages' requirements from the source's requirements table (and, with ``--without-table``,
from the index as before, beside it).

Each figure is a fresh process (the in-memory memo starts empty). Cold: an empty metadata cache with the synced
Colab history copied in (the history is not the question); warm: the same cache again right after. Each line gives
the stages of ``run_matrix``: the verdict of every row (forked workers), the minimal conflicting sets (``--sets``,
default: the rows on both sides of each turning point and the latest row), the total wall time, and the CPU seconds
of the process and its workers (what the wall time would be on one idle core; on a shared machine the wall time
also counts the others' load). ``--sizes 25,50,100,all`` adds growth in releases (the oldest N): later releases
hold more packages (about 400 in 2022, 650 in 2025), so the CPU per thousand pins checked (rows where the request
installs) is the figure to read for growth. Isolated from this machine's pip configuration; the index is pip's
default or ``--index-url``.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle .venv/bin/python scripts/bench_matrix.py
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_check import clean_env, fresh_cache, load

GOAL_COLD = 120.0
"""Seconds for the whole history on an empty cache, on a 2-core machine."""
GOAL_WARM = 30.0
"""Seconds for the whole history on a warm cache."""


def one(args: argparse.Namespace) -> None:
    """Run one matrix over the oldest ``--one`` releases (0: all) and print its figures as one JSON line."""
    from analyzer.ask import requirements_table
    from analyzer.catalog import Catalog
    from analyzer.matrix.run import MatrixOptions, run_matrix
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.request import parse_specs
    from analyzer.sources import load_source

    started = time.perf_counter()
    catalog = Catalog.open(load_source("colab"))
    releases = catalog.releases_of(args.runtime)
    until = releases[args.one - 1].date.date() if args.one else None
    config = IndexConfig.from_pip().override(args.index_url, None)
    table = None if args.no_table else requirements_table(catalog.decl, config.urls)[0]
    options = MatrixOptions(kind=args.runtime, until=until, sets=args.sets, workers=args.workers)
    matrix = run_matrix(
        parse_specs([args.spec]),
        catalog,
        lambda: MetadataEngine(config, cache=MetadataCache()),
        options,
        table=table,
    )
    verdicts = Counter(r.verdict.value if r.verdict else "error" for r in matrix.rows)
    searched = sum(1 for r in matrix.rows if r.set_status.value in ("minimal", "not-minimal"))
    installs = [r for r in matrix.rows if r.verdict is not None and r.verdict.value != "not-installable"]
    figures = {
        "releases": matrix.releases,
        "rows": len(matrix.rows),
        "workers": matrix.workers,
        "timings": matrix.timings,
        "process": time.perf_counter() - started,
        "verdicts": dict(verdicts),
        "sets_searched": searched,
        "pins": sum(r.packages for r in installs),
        "turning_points": [t.sentence for t in matrix.turning_points],
        "table": table is not None,
        "warnings": list(getattr(matrix, "warnings", ())),
    }
    print(json.dumps(figures))


def run_one(args: argparse.Namespace, count: int, cache: Path, no_table: bool) -> dict[str, Any] | str:
    """One matrix in a fresh process on ``cache``: its figures, or why it failed."""
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--one", str(count), "--spec", args.spec,
        "--runtime", args.runtime, "--sets", args.sets, "--workers", str(args.workers),
    ]  # fmt: skip
    cmd += ["--index-url", args.index_url] if args.index_url else []
    cmd += ["--no-table"] if no_table else []
    proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(cache), check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def line(label: str, data: dict[str, Any]) -> str:
    t = data["timings"]
    rows = data["rows"]
    return (
        f"{label:15} {data['releases']:>8} {rows:>5} {t['verdicts']:>8.1f}s {t['conflicting sets']:>6.1f}s "
        f"{t['total']:>6.1f}s {t.get('cpu', 0.0):>6.1f}s {data['process']:>7.1f}s "
        f"{1000 * t['total'] / max(rows, 1):>7.0f} {1e6 * t.get('cpu', 0.0) / max(data['pins'], 1):>14.0f}  "
        f"{data['sets_searched']:>8}  {load()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", default="tensorflow==2.12.0")
    parser.add_argument("--runtime", default="cpu", choices=("cpu", "gpu", "tpu"))
    parser.add_argument(
        "--sizes", default="all", help="release counts to time, oldest first (e.g. 25,50,100,all)"
    )
    parser.add_argument("--sets", default="turning", choices=("turning", "all", "none"))
    parser.add_argument("--workers", type=int, default=0, help="0: one per CPU (at most 4)")
    parser.add_argument("--index-url", default=None)
    parser.add_argument(
        "--without-table",
        action="store_true",
        help="also time the design before (installed requirements from the index): slow on an empty cache",
    )
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-table", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        one(args)
        return 0

    from analyzer.paths import cache_dir

    synced = cache_dir()
    work = Path(tempfile.mkdtemp(prefix="bench-matrix-"))
    print(
        f"tfconflict matrix {args.spec} --runtime {args.runtime} --sets {args.sets}; {os.cpu_count()} CPU(s)"
    )
    print(
        f"{'design, cache':15} {'releases':>8} {'rows':>5} {'verdicts':>9} {'sets':>7} {'total':>7} {'cpu':>7} "
        f"{'process':>8} {'ms/row':>7} {'cpu ms/1k pins':>14}  searched  load"
    )
    whole: dict[tuple[str, str], float] = {}
    designs = [("table", False)] + ([("index", True)] if args.without_table else [])
    try:
        for design, no_table in designs:
            for size in args.sizes.split(","):
                count = 0 if size == "all" else int(size)
                cache = fresh_cache(work, synced, f"{design}-{size}")
                for state in ("cold", "warm"):
                    data = run_one(args, count, cache, no_table)
                    label = f"{design}, {state}"
                    if isinstance(data, str):
                        print(f"{label:15} {size:>8}: failed: {data}")
                        continue
                    if design == "table" and not data["table"]:
                        label = f"NO TABLE, {state}"
                    print(line(label, data), flush=True)
                    if size == "all":
                        whole[(design, state)] = data["timings"]["total"]
                        if state == "warm":
                            verdicts = ", ".join(f"{k} {v}" for k, v in sorted(data["verdicts"].items()))
                            print(f"{'':15} verdicts: {verdicts}; {data['workers']} worker(s)")
                            for sentence in data["turning_points"]:
                                print(f"{'':15} turning point: {sentence}")
                            for warning in data["warnings"]:
                                print(f"{'':15} warning: {warning}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not args.without_table:
        print(
            "the design before (installed requirements from the index) was not timed: --without-table times it"
        )
    for (design, state), total in whole.items():
        limit = GOAL_COLD if state == "cold" else GOAL_WARM
        met = "met" if total <= limit else "NOT met"
        print(f"whole history, {design} design, {state}: {total:.1f} s (goal: at most {limit:.0f} s: {met})")
    print(
        f"load average now {load()} on {os.cpu_count()} CPU(s): the cpu column is the work itself "
        "(this process and its workers)"
    )
    return 0


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    raise SystemExit(main())
