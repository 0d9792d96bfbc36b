"""Benchmark the metadata engine: prefetch the core metadata of every pin of a freeze file, cold then warm.

Prints cold and warm wall time (with the wall and CPU time of the index-pages and metadata phases), requests
made, bytes downloaded against the total size of the wheels whose metadata was read, and peak memory. Isolated
from this machine's pip configuration (PIP_CONFIG_FILE=/dev/null, the index named explicitly) and from the
user's cache (a temporary cache folder unless --cache-dir is given).

    python scripts/bench_metadata.py /tmp/bi/pip-freeze.txt --python 3.13 --platform manylinux_2_35_x86_64
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ["PIP_CONFIG_FILE"] = os.devnull
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.cli.indexopts import parse_as_of
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import DEFAULT_WORKERS, MetadataEngine
from analyzer.metadata.models import CoreMetadata, DistFile, DistKind
from analyzer.metadata.select import best_file
from analyzer.selectors import freeze_snapshot
from analyzer.snapshot import Snapshot


def run_once(
    snapshot: Snapshot, env: TargetEnvironment, args: argparse.Namespace, cache_path: Path
) -> dict[str, object]:
    engine = MetadataEngine(
        IndexConfig(args.index_url),
        cache=MetadataCache(cache_path),
        as_of=parse_as_of(args.as_of) if args.as_of else None,
        workers=args.workers,
    )
    start = time.perf_counter()
    cpu = time.process_time()
    indexed = [p for p in snapshot.pins if p.url is None and p.version is not None]
    direct = [p for p in snapshot.pins if p.url is not None and p.url.startswith(("http://", "https://"))]
    engine.prefetch_projects(p.name for p in indexed)
    pages = (time.perf_counter() - start, time.process_time() - cpu)
    files: list[DistFile] = []
    missing: list[str] = []
    for pin in indexed:
        version = pin.parsed_version
        chosen = best_file(engine.files_of(pin.name, version), env) if version is not None else None
        if chosen is None:
            missing.append(str(pin))
        else:
            files.append(chosen)
    started, cpu = time.perf_counter(), time.process_time()
    engine.prefetch(files)
    metadata = (time.perf_counter() - started, time.process_time() - cpu)
    with ThreadPoolExecutor(max_workers=8) as pool:
        direct_metas = list(pool.map(lambda p: engine.metadata_for_url(p.name, p.url or ""), direct))
    metas: list[CoreMetadata] = [engine.metadata(f) for f in files] + direct_metas
    wall = time.perf_counter() - start
    engine.close()
    return {
        "wall": wall,
        "pages": pages,
        "metadata": metadata,
        "requests": engine.traffic.requests,
        "bytes": engine.traffic.bytes,
        "page_requests": engine.page_traffic.requests,
        "page_bytes": engine.page_traffic.bytes,
        "files": files,
        "missing": missing,
        "statuses": Counter(m.status.value for m in metas),
        "sources": Counter(m.source for m in metas),
        "unavailable": [m.note for m in metas if m.status.value == "unavailable"],
        "direct": len(direct),
    }


def _vm_hwm_kib() -> int:
    """This process's own peak RSS (ru_maxrss would include what the parent had before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("freeze", type=Path, help="a pip freeze file")
    parser.add_argument("--python", default="3.13")
    parser.add_argument("--platform", default="manylinux_2_35_x86_64")
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument(
        "--cache-dir", type=Path, default=None, help="keep the cache here (default: a temp folder)"
    )
    parser.add_argument("--warm-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.warm_json:  # the warm run in a new process, as a second tfconflict command would be
        snapshot = freeze_snapshot(
            args.freeze.read_text(), str(args.freeze), python=args.python, platform=args.platform
        )
        run = run_once(
            snapshot, TargetEnvironment.from_snapshot(snapshot), args, args.cache_dir / "metadata.sqlite3"
        )
        peak = _vm_hwm_kib()
        print(
            json.dumps(
                {
                    k: run[k]
                    for k in ("wall", "pages", "metadata", "requests", "bytes", "page_requests", "page_bytes")
                }
                | {"peak": peak}
            )
        )
        return 0

    snapshot = freeze_snapshot(
        args.freeze.read_text(), str(args.freeze), python=args.python, platform=args.platform
    )
    env = TargetEnvironment.from_snapshot(snapshot)
    with tempfile.TemporaryDirectory(prefix="bench-metadata-") as tmp:
        cache_path = (args.cache_dir or Path(tmp)) / "metadata.sqlite3"
        cold = run_once(snapshot, env, args, cache_path)
        warm = run_once(snapshot, env, args, cache_path)
        command = [
            sys.executable,
            __file__,
            str(args.freeze),
            "--python",
            args.python,
            "--platform",
            args.platform,
            "--index-url",
            args.index_url,
            "--workers",
            str(args.workers),
            "--cache-dir",
            str(cache_path.parent),
            "--warm-json",
            *(["--as-of", args.as_of] if args.as_of else []),
        ]
        fresh = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    files: list[DistFile] = cold["files"]  # type: ignore[assignment]
    wheels = [f for f in files if f.kind is DistKind.WHEEL]
    wheel_bytes = sum(f.size or 0 for f in wheels)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"freeze: {args.freeze} ({len(snapshot.pins)} pins) target: {env.describe()} workers: {args.workers}"
    )
    print(
        f"metadata read: {len(files)} index files ({len(wheels)} wheels, {len(files) - len(wheels)} sdists) "
        f"+ {cold['direct']} direct URLs; no file for this target: {len(cold['missing'])}"
    )
    print(f"statuses: {dict(cold['statuses'])}  sources (cold): {dict(cold['sources'])}")
    for label, run in (("cold", cold), ("warm, same process", warm), ("warm, new process", fresh)):
        print(
            f"{label}: {run['wall']:.2f} s; files/metadata: {run['requests']} requests, {mib(run['bytes'])};"  # type: ignore[arg-type]
            f" index pages: {run['page_requests']} requests, {mib(run['page_bytes'])}"  # type: ignore[arg-type]
        )
        (pw, pc), (mw, mc) = run["pages"], run["metadata"]  # type: ignore[misc]
        print(
            f"    pages phase {pw:.2f} s wall, {pc:.2f} s CPU; metadata phase {mw:.2f} s wall, {mc:.2f} s CPU"
        )
    ratio = 100 * cold["bytes"] / wheel_bytes if wheel_bytes else float("nan")  # type: ignore[operator]
    print(f"wheels' total size: {mib(wheel_bytes)}; metadata bytes read / wheels' size: {ratio:.2f} %")
    print(
        f"peak memory (ru_maxrss): {peak_kib / 1024:.0f} MiB (cold + warm); warm in a new process: "
        f"{fresh['peak'] / 1024:.0f} MiB"
    )
    for pin in cold["missing"]:  # type: ignore[attr-defined]
        print(f"  no file for the target: {pin}")
    for note in cold["unavailable"]:  # type: ignore[attr-defined]
        print(f"  unavailable: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
