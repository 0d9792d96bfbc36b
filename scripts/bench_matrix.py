"""Benchmark ``tfconflict matrix``: the whole CPU history of Colab for ``tensorflow==2.12.0``, warm metadata cache.

Growth in releases is printed for the oldest 25, 50, 100 releases and all of them, each in a fresh process (the
in-memory memo starts empty; the SQLite metadata cache is warm: run ``tfconflict matrix`` once, or this script
twice, to warm it). Each line gives the stages of ``run_matrix``: the verdict of every row (forked workers), the
minimal conflicting sets (``--sets``, default: the rows on both sides of each turning point and the latest row), the total wall time,
and the CPU seconds of the process and its workers (what the wall time would be on one idle core; on a shared
machine the wall time also counts the others' load). Later releases hold more packages (about 400 in 2022, 650 in
2025), so the CPU per thousand pins checked (rows where the request installs) is the figure to read for growth.
Isolated from this machine's pip configuration; the index is pip's default or ``--index-url``.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle TFCONFLICT_CACHE_DIR=/tmp/tfc-cache \\
        .venv/bin/python scripts/bench_matrix.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL = 60.0
"""Seconds for the whole history on a 2-core machine."""


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def one(args: argparse.Namespace) -> None:
    """Run one matrix over the oldest ``--one`` releases (0: all) and print its figures as one JSON line."""
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
    options = MatrixOptions(kind=args.runtime, until=until, sets=args.sets, workers=args.workers)
    matrix = run_matrix(
        parse_specs([args.spec]), catalog,
        lambda: MetadataEngine(config, cache=MetadataCache()), options,
    )
    verdicts = Counter(r.verdict.value if r.verdict else "error" for r in matrix.rows)
    searched = sum(1 for r in matrix.rows if r.set_status.value in ("minimal", "not-minimal"))
    print(json.dumps({
        "releases": matrix.releases,
        "rows": len(matrix.rows),
        "workers": matrix.workers,
        "timings": matrix.timings,
        "process": time.perf_counter() - started,
        "verdicts": dict(verdicts),
        "sets_searched": searched,
        "pins": sum(r.packages for r in matrix.rows if r.verdict is not None and r.verdict.value != "not-installable"),
        "turning_points": [t.sentence for t in matrix.turning_points],
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", default="tensorflow==2.12.0")
    parser.add_argument("--runtime", default="cpu", choices=("cpu", "gpu", "tpu"))
    parser.add_argument("--sizes", default="25,50,100,all", help="release counts to time, oldest first")
    parser.add_argument("--sets", default="turning", choices=("turning", "all", "none"))
    parser.add_argument("--workers", type=int, default=0, help="0: one per CPU (at most 4)")
    parser.add_argument("--index-url", default=None)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        one(args)
        return 0

    print(f"tfconflict matrix {args.spec} --runtime {args.runtime} --sets {args.sets}; {os.cpu_count()} CPU(s)")
    print(f"{'releases':>8} {'rows':>5} {'verdicts':>9} {'sets':>7} {'total':>7} {'cpu':>7} {'process':>8} "
          f"{'ms/row':>7} {'cpu ms/1k pins':>14}  searched")
    total_all = None
    for size in args.sizes.split(","):
        count = 0 if size == "all" else int(size)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(count), "--spec", args.spec,
               "--runtime", args.runtime, "--sets", args.sets, "--workers", str(args.workers)]
        if args.index_url:
            cmd += ["--index-url", args.index_url]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), check=False)
        if proc.returncode != 0:
            print(f"{size:>8}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
            continue
        data = json.loads(proc.stdout.strip().splitlines()[-1])
        t = data["timings"]
        rows = data["rows"]
        print(
            f"{data['releases']:>8} {rows:>5} {t['verdicts']:>8.1f}s {t['conflicting sets']:>6.1f}s "
            f"{t['total']:>6.1f}s {t.get('cpu', 0.0):>6.1f}s {data['process']:>7.1f}s "
            f"{1000 * t['total'] / max(rows, 1):>7.0f} {1e6 * t.get('cpu', 0.0) / max(data['pins'], 1):>14.0f}  "
            f"{data['sets_searched']}"
        )
        if size == "all":
            total_all = t["total"]
            verdicts = ", ".join(f"{k} {v}" for k, v in sorted(data["verdicts"].items()))
            print(f"         verdicts: {verdicts}; {data['workers']} worker(s)")
            for sentence in data["turning_points"]:
                print(f"         turning point: {sentence}")
    if total_all is not None:
        met = "met" if total_all < GOAL else "NOT met"
        print(f"whole history: {total_all:.1f} s (goal: under {GOAL:.0f} s: {met}); load average now "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s): the cpu column is the work itself")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
