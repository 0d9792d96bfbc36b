"""Benchmark ``tfconflict check SPEC`` (default tensorflow==2.12.0; ``--spec`` is repeatable) against ``uv pip compile``
on the same question, cold and warm.

The question: the request plus the image's pins as constraints (the requested names excepted), for the image's
Python and platform. tfconflict answers it whole (installable? pip's changes and breakage, the minimal conflicting
set, suggestions); uv answers with its first conflict. Each run is bounded (``--timeout``, printed as "> N s").

tfconflict is timed two ways: ``run_check`` alone, in a worker process (no CLI start-up, no snapshot selection), and
the CLI as a subprocess; each with and without the minimal-conflicting-set search (``--no-conflict-set``). Cold means
an empty metadata cache (the Colab history, already synced once, is copied in: it is not the question); warm means
the same cache a second time, computed again (the CLI with ``--recompute``); "asked again" is the CLI a third time
without it: the answer remembered from the warm run, given again because every cache row it came from is unchanged. uv runs with ``--no-config``, ``--no-build`` (no package code is run),
``--no-python-downloads`` (it would otherwise spend seconds failing to fetch an interpreter it does not need) and a
fresh ``UV_CACHE_DIR`` when cold. Isolated from this machine's pip and uv configuration; the index is named.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle .venv/bin/python scripts/bench_check.py

uv is a benchmark tool, not a dependency: ``pip install uv`` if it is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypi_simple import PYPI_SIMPLE_ENDPOINT

SNAPSHOTS = ["colab", "colab:2025-07-14"]


def clean_env(cache: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    if cache is not None:
        env["TFCONFLICT_CACHE_DIR"] = str(cache)
    env.update(extra)
    return env


def fresh_cache(work: Path, synced: Path, label: str) -> Path:
    """An empty metadata cache with the synced Colab history copied in."""
    cache = work / f"cache-{label}"
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    if (synced / "sources").exists():
        shutil.copytree(synced / "sources", cache / "sources", symlinks=True)
    return cache


def timed_run(cmd: list[str], env: dict[str, str], timeout: float) -> tuple[float | None, str, int | None]:
    """Wall seconds (None past the timeout), output tail, exit code."""
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None, "", None
    return time.perf_counter() - started, (done.stdout + done.stderr)[-2000:], done.returncode


def worker(selector: str, spec: str, index_url: str, conflict_set: bool) -> None:
    """Run ``run_check`` once and print its wall time (the parent bounds this process)."""
    from analyzer.check import run_check
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.request import parse_specs
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(selector)
    items = parse_specs([spec])
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache()) as engine:
        started = time.perf_counter()
        report = run_check(items, snapshot, engine, conflict_set=conflict_set)
        seconds = time.perf_counter() - started
    verdict = getattr(report, "verdict", None)
    print(json.dumps({"seconds": seconds, "verdict": str(verdict), "timings": report.timings}))


def uv_constraints(selector: str, request_names: set[str], path: Path) -> tuple[int, list[str], str]:
    """Write the image's pins as constraints; returns (count, skipped pins, Python version)."""
    from analyzer.selectors import resolve_selector

    snapshot = resolve_selector(selector)
    lines, skipped = [], []
    for pin in snapshot.pins:
        if pin.name in request_names:
            continue
        if pin.url or pin.version is None or "+" in pin.version:
            skipped.append(f"{pin.display_name} {pin.version or pin.url}")
            continue
        lines.append(f"{pin.display_name}=={pin.version}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    major_minor = ".".join(snapshot.python.split(".")[:2]) if snapshot.python else "3.11"
    return len(lines), skipped, major_minor


def uv_compile_command(uv: str, constraints: Path, python: str, platform: str, index_url: str) -> list[str]:
    """``uv pip compile`` of a request read from standard input, under the image's pins, for its interpreter."""
    return [
        uv, "pip", "compile", "-", "--constraint", str(constraints), "--python-version", python,
        "--python-platform", platform, "--index-url", index_url, "--no-config", "--no-build",
        "--no-python-downloads", "--quiet", "--output-file", os.devnull,
    ]


def load() -> str:
    """The 1-minute load average (the figures' context), or "?" where the platform has none."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


NOT_RUN = float("nan")
"""A figure that has no run behind it (a remembered answer has no cold run)."""


def fmt(seconds: float | None, timeout: float) -> str:
    if seconds is None:
        return f"> {timeout:.0f} s"
    if math.isnan(seconds):
        return "-"
    return f"{seconds:.2f}" if seconds < 1 else f"{seconds:.1f}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None:
        return "> limit"
    if math.isnan(a):
        return "-"
    if b is None or b == 0:
        return "-"
    return f"{a / b:.2f}"


def run_case(
    spec: str,
    args: argparse.Namespace,
    uv: str,
    synced: Path,
    work: Path,
    row: Callable[..., None],
) -> None:
    """Time one request on every snapshot: uv, then run_check and the CLI, cold and warm."""
    from analyzer.request import parse_specs

    request_names = {item.name for item in parse_specs([spec])}
    slug = "".join(c if c.isalnum() else "_" for c in spec)
    for selector in args.snapshot or SNAPSHOTS:
        # uv: the same question, image pins as constraints
        case = f"{selector.replace(':', '_')}-{slug}"
        constraints = work / f"constraints-{case}.txt"
        count, skipped, python = uv_constraints(selector, request_names, constraints)
        print(
            f"\n{selector}: Python {python}; {count} pins as uv constraints; skipped {len(skipped)} "
            f"(direct references or local versions): {', '.join(skipped[:12])}{' ...' if len(skipped) > 12 else ''}"
        )
        uv_cache = work / f"uv-cache-{case}"
        uv_cmd = uv_compile_command(uv, constraints, python, args.platform, args.index_url)
        uv_times: list[float | None] = []
        note = ""
        for _ in ("cold", "warm"):
            env = clean_env(UV_CACHE_DIR=str(uv_cache))
            started = time.perf_counter()
            try:
                done = subprocess.run(
                    uv_cmd,
                    input=spec + "\n",
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=args.timeout,
                    check=False,
                )
                uv_times.append(time.perf_counter() - started)
                note = "resolves" if done.returncode == 0 else "no solution (first conflict)"
            except subprocess.TimeoutExpired:
                uv_times.append(None)
        row("uv pip compile", f"{spec} @ {selector}", uv_times[0], uv_times[1], note)

        results: dict[str, tuple[float | None, float | None]] = {"uv": (uv_times[0], uv_times[1])}
        for conflict_set in (False,) if args.skip_full else (False, True):
            label = "full report" if conflict_set else "--no-conflict-set"
            # run_check in a worker process, cold then warm on the same cache
            cache = fresh_cache(work, synced, "inproc")
            times: list[float | None] = []
            verdict = ""
            for _ in ("cold", "warm"):
                cmd = [
                    sys.executable,
                    __file__,
                    "--spec",
                    spec,
                    "--index-url",
                    args.index_url,
                    "--worker",
                    selector,
                    "1" if conflict_set else "0",
                ]
                _, out, code = timed_run(cmd, clean_env(cache), args.timeout)
                if code == 0:
                    data = json.loads(out.strip().splitlines()[-1])
                    times.append(data["seconds"])
                    verdict = data["verdict"]
                    stages = sorted(data["timings"].items(), key=lambda kv: -kv[1])[:3]
                    verdict += " (" + ", ".join(f"{k} {v:.1f} s" for k, v in stages) + ")"
                else:
                    times.append(None)
                    if code is not None:
                        verdict = "error: " + out.strip().splitlines()[-1] if out.strip() else f"exit {code}"
            row("tfconflict run_check", f"{spec} @ {selector}", times[0], times[1], f"{label}; {verdict}")
            results[f"run_check {label}"] = (times[0], times[1])
            if args.skip_cli:
                continue
            cache = fresh_cache(work, synced, "cli")
            cli_times: list[float | None] = []
            note = ""
            # cold; warm computed again (--recompute); warm, the same question answered from the cache
            for run in ("cold", "warm", "again"):
                cmd = [
                    sys.executable,
                    "-m",
                    "analyzer",
                    "check",
                    spec,
                    "--snapshot",
                    selector,
                    "--index-url",
                    args.index_url,
                    "--format",
                    "json",
                ]
                if not conflict_set:
                    cmd.append("--no-conflict-set")
                if run == "warm":
                    cmd.append("--recompute")
                seconds, out, code = timed_run(cmd, clean_env(cache), args.timeout)
                cli_times.append(seconds)
                note = f"{label}; exit {code}" if code is not None else label
            row("tfconflict CLI", f"{spec} @ {selector}", cli_times[0], cli_times[1], f"{note}; warm = --recompute")
            row("tfconflict CLI, asked again", f"{spec} @ {selector}", NOT_RUN, cli_times[2], f"{note}; remembered answer")
            results[f"CLI {label}"] = (cli_times[0], cli_times[1])
            results[f"CLI {label}, asked again"] = (NOT_RUN, cli_times[2])

        uv_cold, uv_warm = results["uv"]
        print(f"  ratios tfconflict/uv, {spec} on {selector} (goal: warm <= 1, cold <= 2):")
        for key, (cold, warm) in results.items():
            if key == "uv":
                continue
            print(f"    {key:32} cold {ratio(cold, uv_cold):>8}  warm {ratio(warm, uv_warm):>8}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--spec",
        action="append",
        help="the request (repeatable: each is timed on each snapshot; default tensorflow==2.12.0)",
    )
    parser.add_argument(
        "--snapshot", action="append", help=f"repeatable (default: {' and '.join(SNAPSHOTS)})"
    )
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--platform", default="x86_64-manylinux_2_35", help="uv's --python-platform")
    parser.add_argument("--skip-cli", action="store_true", help="time run_check only, not the CLI subprocess")
    parser.add_argument(
        "--skip-full", action="store_true", help="time --no-conflict-set only, not the full report"
    )
    parser.add_argument("--worker", nargs=2, metavar=("SELECTOR", "CONFLICT_SET"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    specs = args.spec or ["tensorflow==2.12.0"]
    if args.worker:
        worker(args.worker[0], specs[0], args.index_url, args.worker[1] == "1")
        return 0

    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        print(
            "uv is missing: pip install uv (a benchmark tool, not a dependency of tfconflict)",
            file=sys.stderr,
        )
        return 2
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    from analyzer.paths import cache_dir

    synced = cache_dir()
    work = Path(tempfile.mkdtemp(prefix="bench-check-"))
    rows: list[tuple[str, str, str, str, float | None, float | None]] = []

    def row(tool: str, case: str, cold: float | None, warm: float | None, note: str = "") -> None:
        # the machine's load when the row was measured: on a shared machine the figures mean little without it
        note = f"{note}; load {load()}" if note else f"load {load()}"
        rows.append((tool, case, note, "", cold, warm))
        print(
            f"  {tool:28} {case:40} cold {fmt(cold, args.timeout):>8}  warm {fmt(warm, args.timeout):>8}  {note}",
            flush=True,
        )

    print(f"{uv_version}; timeout {args.timeout:.0f} s per run; work folder {work}; {os.cpu_count()} CPUs, load {load()}")
    for spec in specs:
        run_case(spec, args, uv, synced, work, row)

    print("\ntool | case | cold s | warm s | note")
    for tool, case, note, _, cold, warm in rows:
        print(f"{tool} | {case} | {fmt(cold, args.timeout)} | {fmt(warm, args.timeout)} | {note}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    sys.exit(main())
