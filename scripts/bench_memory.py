"""Peak memory of ``tfconflict check`` on real Colab runtimes (the real index): the resource budget.

Each measured run is a child process (``python -m analyzer check ...``); its peak resident set comes from
``os.wait4`` (that child's ``ru_maxrss`` alone). The target is under 300 MB on a warm cache and at most 200 MB on a
cold one (``--cold``). ``--trace`` runs one check in this process under ``tracemalloc`` instead and prints where
the memory is at its peak (top lines and files), which is how the hot spots in the closing note were found.

    .venv/bin/python scripts/bench_memory.py [--runs 3] [--snapshot colab:latest --snapshot colab:2025-07-14]
    .venv/bin/python scripts/bench_memory.py --cold --snapshot colab:2025-07-14 [--without-table]
    .venv/bin/python scripts/bench_memory.py --trace --snapshot colab:2025-07-14
    .venv/bin/python scripts/bench_memory.py --stale --snapshot colab:2025-07-14

``--cold`` measures a first run: each run gets an empty cache (the synced Colab history copied in: it is not the
question), so every page and file the check needs is fetched; installed packages' requirements come from the
source's requirements table as the CLI reads them by default, or from the index with ``--without-table`` (the
CLI's option for it, the design before) for the figure beside it.

``--stale`` measures the first run of the day: each run gets a copy of the warm cache (in a temporary folder; the
cache itself is never changed) whose pages were all fetched a day ago, so every page is asked for again and
parsed where the index sends it whole.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.bench_check import GOAL_PEAK_MB, clean_env, fresh_cache, index_option, run_child

TARGET_MB = 300.0
"""Peak on a warm cache; a cold check's is ``GOAL_PEAK_MB``."""
DEFAULT_SNAPSHOTS = ("colab:latest", "colab:2025-07-14")


def measure(
    spec: str, snapshot: str, extra: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, int, str]:
    """(peak RSS in MB, seconds, exit code, where installed requirements came from) of one ``check`` in a child
    process."""
    cmd = [
        sys.executable,
        "-m",
        "analyzer",
        "check",
        spec,
        "--snapshot",
        snapshot,
        "--format",
        "json",
        *extra,
    ]
    child = run_child(cmd, env if env is not None else dict(os.environ), float("inf"))
    code = child.code if child.code is not None else -1
    if code not in (0, 1):
        sys.stderr.write(child.err)
    try:
        counts = json.loads(child.out).get("requirements_from", {})
    except ValueError:
        counts = {}
    origins = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"
    return child.peak_mb or 0.0, child.seconds or 0.0, code, origins


def stale_copy(cache_root: Path, into: Path) -> dict[str, str]:
    """A copy of the cache at ``cache_root`` in ``into`` with every page a day old; the child's environment."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    if (cache_root / "sources").is_dir():
        shutil.copytree(cache_root / "sources", into / "sources", symlinks=True)
    source = sqlite3.connect(f"file:{cache_root / 'metadata.sqlite3'}?mode=ro", uri=True)
    target = sqlite3.connect(into / "metadata.sqlite3")
    try:
        source.backup(target)
        target.execute("UPDATE pages SET fetched = fetched - 86400")
        target.commit()
    finally:
        source.close()
        target.close()
    key = cache_root / "metadata.sqlite3.key"
    if key.exists():
        shutil.copy2(key, into / key.name)
    return {**os.environ, "TFCONFLICT_CACHE_DIR": str(into)}


def _cache_root() -> Path:
    from analyzer.paths import cache_dir

    return Path(os.environ["TFCONFLICT_CACHE_DIR"]) if os.environ.get("TFCONFLICT_CACHE_DIR") else cache_dir()


def trace(spec: str, snapshot: str, extra: list[str], top: int) -> None:
    """One check in this process under tracemalloc: what is held near the peak, by file and by line.

    A watcher thread takes a snapshot each time the traced total passes its last high by 5%, so the last one
    shows what was alive at (nearly) the peak, wherever in the run it came.
    """
    import contextlib
    import io
    import threading

    from analyzer.cli import main

    tracemalloc.start(1)
    best: list[tracemalloc.Snapshot] = []
    done = threading.Event()

    def watch() -> None:
        high = 0
        while not done.wait(0.05):
            current, _ = tracemalloc.get_traced_memory()
            if current > high * 1.05:
                high = current
                best[:] = [tracemalloc.take_snapshot()]

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["check", spec, "--snapshot", snapshot, "--format", "json", *extra])
    done.set()
    watcher.join()
    current, peak = tracemalloc.get_traced_memory()
    print(f"check {spec} --snapshot {snapshot} {' '.join(extra)}: exit {code}")
    print(f"traced: peak {peak / 2**20:.1f} MB, still held at the end {current / 2**20:.1f} MB")
    if not best:
        return
    stats = best[0].filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    total = sum(s.size for s in stats.statistics("filename"))
    print(f"held at the last high the watcher saw: {total / 2**20:.1f} MB; by file:")
    for stat in stats.statistics("filename")[:top]:
        print(f"  {stat.size / 2**20:8.1f} MB  {stat.count:9d} blocks  {_short(stat.traceback[0].filename)}")
    print("by line:")
    for stat in stats.statistics("lineno")[:top]:
        frame = stat.traceback[0]
        print(
            f"  {stat.size / 2**20:8.1f} MB  {stat.count:9d} blocks  {_short(frame.filename)}:{frame.lineno}"
        )


def _short(filename: str) -> str:
    for marker in ("/analyzer/", "/site-packages/", "/lib/python3"):
        if marker in filename:
            return filename[filename.index(marker) + 1 :]
    return filename


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="tensorflow==2.12.0")
    parser.add_argument(
        "--snapshot", action="append", default=None, help="repeatable (default: latest, 2025-07-14)"
    )
    parser.add_argument("--runs", type=int, default=3, help="measured runs per snapshot, after one warm-up")
    parser.add_argument("--no-conflict-set", action="store_true", help="pass --no-conflict-set to check")
    parser.add_argument("--trace", action="store_true", help="tracemalloc hot spots of one in-process run")
    parser.add_argument(
        "--stale", action="store_true", help="every page a day old (a copy of the cache per run)"
    )
    parser.add_argument("--cold", action="store_true", help="an empty cache per run (history copied in)")
    parser.add_argument(
        "--without-table",
        action="store_true",
        help="read installed requirements from the index (the CLI's option)",
    )
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    extra = ["--no-conflict-set"] if args.no_conflict_set else []
    if args.without_table:
        option = index_option()
        if option is None:
            print("the CLI has no option to read requirements from the index", file=sys.stderr)
            return 2
        extra.append(option)
    snapshots = args.snapshot or list(DEFAULT_SNAPSHOTS)
    if args.trace:
        for snapshot in snapshots:
            trace(args.spec, snapshot, extra, args.top)
        return 0
    worst = 0.0
    state = "empty cache" if args.cold else "every page stale" if args.stale else "warm cache"
    target = GOAL_PEAK_MB if args.cold else TARGET_MB
    design = "from the index" if args.without_table else "from the requirements table"
    print(
        f"check {args.spec} {' '.join(extra)} ({state}: {os.environ.get('TFCONFLICT_CACHE_DIR', 'default')}); "
        f"installed requirements {design}"
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        for snapshot in snapshots:
            if not args.cold:
                measure(args.spec, snapshot, extra)  # warm-up: syncs, fills the cache
            figures = []
            for _ in range(args.runs):
                env: dict[str, str] | None
                if args.cold:
                    env = clean_env(fresh_cache(scratch, _cache_root(), "cold"))
                else:
                    env = stale_copy(_cache_root(), scratch / "cache") if args.stale else None
                figures.append(measure(args.spec, snapshot, extra, env))
            worst = max(worst, _line(snapshot, figures))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdict = "within" if worst <= target else "OVER"
    print(f"worst peak {worst:.1f} MB: {verdict} the {target:.0f} MB budget ({state})")
    return 0 if worst <= target else 1


def _line(snapshot: str, figures: list[tuple[float, float, int, str]]) -> float:
    """Print one snapshot's median figures; its worst peak."""
    peaks = sorted(f[0] for f in figures)
    seconds = sorted(f[1] for f in figures)
    print(
        f"  {snapshot:20s} peak RSS {peaks[(len(peaks) - 1) // 2]:6.1f} MB (max {peaks[-1]:.1f}, "
        f"{len(peaks)} run(s)), {seconds[(len(seconds) - 1) // 2]:.2f} s, exit {figures[0][2]}; "
        f"requirements from: {figures[0][3]}"
    )
    return peaks[-1]


if __name__ == "__main__":
    sys.exit(main())
