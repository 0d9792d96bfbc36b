"""Benchmark the WARM computation of ``tfconflict check``: ``run_check`` per stage, on a warm metadata cache.

Each run is a fresh process (the factories' memos live as long as a process, as they do for the CLI), so a figure
is what one ``tfconflict check`` costs once its metadata is cached: the image graph, pip's prediction, the minimal
conflicting set and the suggestions, without the CLI's start-up or the snapshot selection. Printed per case: the
median and best wall time of ``run_check``, its CPU time, each stage's median, and the search's resolver calls.
Optionally ``--json-dir`` writes each case's JSON report (timings, the search's counters and where the pins'
requirements were read dropped), so that two versions of the code, or a run with the requirements table and one
with ``--no-requirements-table`` (every pin read from the index), can be compared for identical answers.

    TFCONFLICT_CACHE_DIR=/tmp/tfc-cache TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle \\
        .venv/bin/python scripts/bench_warm.py --runs 5

Run it a first time to warm the cache (cold runs are ``bench_check.py``'s business).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CASES = [
    ("tensorflow==2.12.0", "colab:2025-07-14"),
    ("tensorflow==2.15.0", "colab:2025-07-14"),
    ("pandas==2.3.0", "colab:2025-07-14"),
    ("jax==0.4.30", "colab-gpu:2026-01-08"),
    ("tensorflow==2.12.0", "colab:2024-06-01"),
]


def worker(selector: str, spec: str, json_path: str | None, table: bool) -> None:
    """One ``run_check``; prints its wall and CPU seconds, stage timings and resolver calls as one JSON line."""
    from pypi_simple import PYPI_SIMPLE_ENDPOINT

    from analyzer.ask import requirements_table
    from analyzer.check import run_check
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.render.json import render_json
    from analyzer.request import parse_specs
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(selector)
    items = parse_specs([spec])
    index = os.environ.get("PIP_INDEX_URL", PYPI_SIMPLE_ENDPOINT)
    pins = requirements_table(snapshot, [index])[0] if table else None
    with MetadataEngine(IndexConfig(index), cache=MetadataCache()) as engine:
        cpu, wall = time.process_time(), time.perf_counter()
        report = run_check(items, snapshot, engine, table=pins)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    found = report.conflict_set
    if json_path:
        data = json.loads(render_json(report))
        data.pop("timings", None)
        data.pop("requirements_from", None)
        if isinstance(data.get("conflict_set"), dict):
            data["conflict_set"].pop("seconds", None)
            data["conflict_set"].pop("resolver_calls", None)
        Path(json_path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "timings": report.timings,
                "calls": found.resolver_calls if found is not None else None,
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument(
        "--case",
        action="append",
        metavar="SPEC@SELECTOR",
        help="a case (repeatable; default: the built-in five)",
    )
    parser.add_argument("--json-dir", type=Path, help="write each case's report here (no timings) to compare")
    parser.add_argument(
        "--no-requirements-table",
        action="store_true",
        help="read installed packages' requirements from the index (the design before the table)",
    )
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        selector, spec, path, table = args.worker
        worker(selector, spec, path or None, table == "table")
        return 0
    cases = [tuple(c.split("@", 1)) for c in args.case] if args.case else CASES
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    where = "the index" if args.no_requirements_table else "the requirements table"
    print(
        f"load average {os.getloadavg()[0]:.2f}; {args.runs} run(s) per case, medians (best); "
        f"installed packages' requirements from {where}"
    )
    mode = "index" if args.no_requirements_table else "table"
    for spec, selector in cases:
        runs = []
        for i in range(args.runs):
            path = ""
            if args.json_dir and i == 0:
                path = str(args.json_dir / f"{spec}@{selector}.json".replace(":", "_").replace("=", "_"))
            done = subprocess.run(
                [sys.executable, __file__, "--worker", selector, spec, path, mode],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"{spec} @ {selector}: failed\n{done.stderr[-2000:]}")
                break
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        if not runs:
            continue
        walls = [r["wall"] for r in runs]
        stages = {k: statistics.median(r["timings"].get(k, 0.0) for r in runs) for k in runs[0]["timings"]}
        shown = ", ".join(f"{k} {v:.3f}" for k, v in stages.items() if v >= 0.005)
        print(
            f"{spec} @ {selector}: run_check {statistics.median(walls):.3f} s ({min(walls):.3f}), "
            f"CPU {statistics.median(r['cpu'] for r in runs):.3f} s, resolver calls {runs[0]['calls']}\n    {shown}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
