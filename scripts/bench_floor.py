"""The transfer floor of a cold ``check``: how long the bytes a complete answer needs take to arrive, with no
parsing, no cache and no resolver, next to ``uv pip compile`` cold on the same question.

A complete answer (pip check before and after, who pip leaves broken) needs every installed pin's requirements: the
index page of every pin (to learn its files) and the core metadata of the file pip would have installed (here by a
range read of the wheel's tail: the index offers no PEP 658 files). This script fetches exactly those bytes, raw,
with ``--workers`` connections: the project pages first, then one tail read per pinned wheel (the 32 KiB the metadata
engine asks first). Whatever tfconflict does cold cannot be faster than this on this machine and this network.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle .venv/bin/python scripts/bench_floor.py

The wheel URLs come from a warm metadata cache (run ``tfconflict check`` on the snapshot once first).
uv is a benchmark tool, not a dependency: ``pip install uv`` if it is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from scripts.bench_check import uv_compile_command, uv_constraints

JSON = "application/vnd.pypi.simple.v1+json"
TAIL = 32 * 1024


def fetch_all(urls: list[str], workers: int, headers: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and bytes for fetching every URL with ``workers`` connections (one session per thread)."""
    local = threading.local()

    def get(url: str) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return len(session.get(url, headers=headers, timeout=60).content)

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        sizes = list(pool.map(get, urls))
    return time.perf_counter() - started, sum(sizes)


def wheel_urls(selector: str, index_url: str) -> list[str]:
    """The URL of the file pip would have installed for each pin (from the warm cache)."""
    from packaging.version import InvalidVersion, Version

    from analyzer.environment import TargetEnvironment
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.metadata.select import best_file
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(selector)
    env = TargetEnvironment.from_snapshot(snapshot)
    urls = []
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache()) as engine:
        for pin in snapshot.pins:
            if pin.version is None:
                continue
            try:
                version = Version(pin.version)
            except InvalidVersion:
                continue
            file = best_file(engine.files_of(pin.name, version), env)
            if file is not None and file.filename.endswith(".whl"):
                urls.append(file.url)
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", default="colab:2025-07-14")
    parser.add_argument("--spec", default="tensorflow==2.12.0")
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--workers", type=int, action="append", help="repeatable (default: 24 and 64)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure; the best is printed")
    parser.add_argument("--platform", default="x86_64-manylinux_2_35", help="uv's --python-platform")
    args = parser.parse_args(argv)

    from analyzer.request import parse_specs
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(args.snapshot)
    requested = {item.name for item in parse_specs([args.spec])}
    names = sorted({pin.name for pin in snapshot.pins} | requested)
    pages = [f"{args.index_url.rstrip('/')}/{name}/" for name in names]
    wheels = wheel_urls(args.snapshot, args.index_url)
    print(f"{args.snapshot}: {len(pages)} project pages, {len(wheels)} pinned wheels; {os.cpu_count()} CPUs")

    for workers in args.workers or [24, 64]:
        best_pages = min((fetch_all(pages, workers, {"Accept": JSON}) for _ in range(args.runs)), key=lambda r: r[0])
        best_tails = min(
            (fetch_all(wheels, workers, {"Range": f"bytes=-{TAIL}"}) for _ in range(args.runs)), key=lambda r: r[0]
        )
        print(
            f"  {workers:3} connections: pages {best_pages[0]:.2f} s ({best_pages[1] / 2**20:.1f} MiB), "
            f"wheel tails {best_tails[0]:.2f} s ({best_tails[1] / 2**20:.1f} MiB): "
            f"floor {best_pages[0] + best_tails[0]:.2f} s (best of {args.runs})"
        )

    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        print("uv is missing: pip install uv (a benchmark tool)", file=sys.stderr)
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    constraints = work / "constraints.txt"
    python = uv_constraints(args.snapshot, requested, constraints)[2]
    times = []
    for run in range(args.runs):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
        env["UV_CACHE_DIR"] = str(work / f"uv-cache-{run}")  # empty each time: cold
        started = time.perf_counter()
        subprocess.run(
            uv_compile_command(uv, constraints, python, args.platform, args.index_url),
            input=args.spec + "\n", capture_output=True, text=True, env=env, check=False, timeout=300,
        )
        times.append(time.perf_counter() - started)
    print(f"  uv pip compile cold (best of {args.runs}): {min(times):.2f} s; 2x that: {2 * min(times):.2f} s")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    sys.exit(main())
