"""Benchmark ``tfconflict check SPEC`` (default tensorflow==2.12.0; ``--spec`` is repeatable) beside ``uv pip
compile``, cold and warm, in one run: the design that reads installed packages' requirements from the snapshot
source's requirements table ("table") beside the one that reads them from the index ("index", the design before).

uv answers two questions: the request alone (no image constraints: it reads the request's closure, what a complete
answer now needs from the index) and the request under the image's pins as constraints (the requested names
excepted), both for the image's Python and platform. tfconflict answers the whole question (installable? pip's
changes and breakage, the minimal conflicting set, suggestions). Each run is bounded (``--timeout``, "> N s").

tfconflict is timed two ways: ``run_check`` alone, in a worker process (no CLI start-up, no snapshot selection;
the table's loading is counted in its time), and the CLI as a subprocess; each with and without the
minimal-conflicting-set search (``--no-conflict-set``). Cold means an empty metadata cache (the Colab history,
already synced once, is copied in: it is not the question; one more row runs the CLI on a cache that is wholly
empty, history sync included, as a newcomer's first run); warm means the same cache a second time, computed again
(the CLI with ``--recompute``); "asked again" is the CLI a third time without it: the remembered answer.

Per cold run: peak memory (``ru_maxrss`` of that child alone, from ``os.wait4``) and, for the worker, what came
from the network: bytes received at the worker's sockets (HTTP headers and bodies as sent, so compressed bodies
before decoding; TLS framing and handshakes and DNS not counted), the HTTP requests by kind (index pages, range
reads into wheels, ``.metadata`` files, whole files) and the distinct files whose metadata was read.

uv runs with ``--no-config``, ``--no-build`` (no package code is run), ``--no-python-downloads`` and a fresh
``UV_CACHE_DIR`` when cold. Everything is isolated from this machine's pip and uv configuration; the index is named.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle .venv/bin/python scripts/bench_check.py

uv is a benchmark tool, not a dependency: ``pip install uv`` if it is missing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypi_simple import PYPI_SIMPLE_ENDPOINT

SNAPSHOTS = ["colab:2025-07-14", "colab"]
GOAL_COLD = 4.0
"""Seconds for a cold full report (and no more than uv's cold resolution of the request alone)."""
GOAL_NO_SET = 2.0
"""Seconds for a cold ``--no-conflict-set`` check."""
GOAL_BYTES_SHARE = 0.1
"""The table design's network bytes, as a share of the index design's on the same cold check."""
GOAL_PEAK_MB = 200.0
"""Peak resident memory of a cold check."""
INDEX_OPTION = "--no-requirements-table"
"""The CLI's option that reads installed packages' requirements from the index (the design before)."""

TIMEOUT = float("inf")
NOT_RUN = float("nan")
"""A figure that has no run behind it (a remembered answer has no cold run)."""


# ---------------------------------------------------------------------------------------------------------------
# measuring children and the network


@dataclass(frozen=True)
class Child:
    """One child process: wall seconds (None past the timeout), its output, exit code and peak memory."""

    seconds: float | None
    out: str
    err: str
    code: int | None
    peak_mb: float | None


def run_child(cmd: list[str], env: dict[str, str], timeout: float, stdin: str | None = None) -> Child:
    """Run ``cmd`` to its end or the timeout; its own ``ru_maxrss`` comes from ``os.wait4``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
        )
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                proc.kill()
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                return Child(None, "", "", None, None)
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            seconds,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace")[-3000:],
            proc.returncode,
            usage.ru_maxrss / 1024,
        )


class SocketBytes:
    """Bytes this process's sockets received: plain sockets' reads and TLS sockets' decrypted reads (HTTP headers
    and bodies as the server sent them; TLS framing, handshakes and DNS are not counted)."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        with self._lock:
            self.total += n

    def install(self) -> None:
        plain_into, plain_recv, tls_read = socket.socket.recv_into, socket.socket.recv, ssl.SSLSocket.read

        def recv_into(sock: socket.socket, *args: Any, **kw: Any) -> int:
            n: int = plain_into(sock, *args, **kw)
            self.add(n)
            return n

        def recv(sock: socket.socket, *args: Any, **kw: Any) -> bytes:
            data: bytes = plain_recv(sock, *args, **kw)
            self.add(len(data))
            return data

        def read(sock: ssl.SSLSocket, *args: Any, **kw: Any) -> Any:
            got = tls_read(sock, *args, **kw)
            self.add(got if isinstance(got, int) else len(got))
            return got

        # SSLSocket overrides recv/recv_into with its own read; the plain methods run only on unencrypted sockets
        socket.socket.recv_into = recv_into  # type: ignore[method-assign,assignment]
        socket.socket.recv = recv  # type: ignore[method-assign,assignment]
        ssl.SSLSocket.read = read  # type: ignore[method-assign,assignment]


@dataclass
class RequestLog:
    """Every HTTP answer the engine's session got (a ``requests`` response hook), by kind, with the body bytes
    read from each (decoded, as the engine read them: a stream closed early counts only what it read)."""

    kinds: Counter[str] = field(default_factory=Counter)
    files: set[str] = field(default_factory=set)
    requests: list[list[Any]] = field(default_factory=list)
    """[URL, Range header or None, kind, body bytes read] of each request, in order (``bench_floor`` replays them)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: Any, *args: Any, **kw: Any) -> Any:
        request = response.request
        url = str(request.url)
        span = request.headers.get("Range")
        path = url.split("?")[0].split("#")[0]
        if span:
            kind = "range read"
        elif path.endswith(".metadata"):
            kind = ".metadata file"
        elif path.endswith(".whl"):
            kind = "whole wheel"
        elif path.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")):
            kind = "sdist stream"
        else:
            kind = "page"
        entry: list[Any] = [url, span, kind, 0]
        with self._lock:
            self.kinds[kind] += 1
            self.requests.append(entry)
            if kind != "page":
                self.files.add(path.removesuffix(".metadata"))
        raw = response.raw
        if raw is not None:
            # urllib3's read and read1 do not call each other: each byte is counted once
            for method in ("read", "read1"):
                setattr(raw, method, _counting(getattr(raw, method), entry))
        return response


def _counting(read: Any, entry: list[Any]) -> Any:
    def counted(*args: Any, **kw: Any) -> Any:
        data = read(*args, **kw)
        entry[3] += len(data)
        return data

    return counted


def open_table(snapshot: Any, index_url: str) -> tuple[Any, str]:
    """The requirements table for ``snapshot`` as ``check`` loads it, and a note when there is none."""
    try:
        from analyzer.ask import requirements_table
    except ImportError:
        return None, "this tfconflict has no requirements table"
    accepts = inspect.signature(requirements_table).parameters
    table, note = requirements_table(
        snapshot, **({"index_urls": [index_url]} if "index_urls" in accepts else {})
    )
    return table, note or ("" if table is not None else "the source ships no requirements table")


def measured_check(
    selector: str,
    spec: str,
    index_url: str,
    conflict_set: bool,
    use_table: bool,
    log: RequestLog | None = None,
) -> dict[str, Any]:
    """One ``run_check`` with its figures (seconds include the table's loading; network counted at the sockets).

    The socket counter is installed for the rest of this process: call it in a process of its own."""
    net = SocketBytes()
    net.install()
    from analyzer.check import run_check
    from analyzer.metadata.cache import MetadataCache
    from analyzer.metadata.config import IndexConfig
    from analyzer.metadata.engine import MetadataEngine
    from analyzer.metadata.heap import allow_heap_tuning
    from analyzer.request import parse_specs
    from analyzer.selectors import resolve_selector

    allow_heap_tuning()  # as the CLI does: this process is tfconflict's
    snapshot = resolve_selector(selector)
    items = parse_specs([spec])
    log = log if log is not None else RequestLog()
    net_before = net.total
    with MetadataEngine(IndexConfig(index_url), cache=MetadataCache()) as engine:
        engine.session.hooks["response"].append(log.hook)
        started = time.perf_counter()
        table, table_note = open_table(snapshot, index_url) if use_table else (None, "")
        loaded = time.perf_counter() - started
        extra = {"table": table} if table is not None else {}
        report = run_check(items, snapshot, engine, conflict_set=conflict_set, **extra)
        seconds = time.perf_counter() - started
        engine_figures = {
            "page_requests": engine.page_traffic.requests,
            "page_bytes": engine.page_traffic.bytes,
            "file_requests": engine.traffic.requests,
            "file_bytes": engine.traffic.bytes,
        }
    verdict = getattr(report, "verdict", None)
    return {
        "seconds": seconds,
        "table": table is not None,
        "table_note": table_note,
        "table_seconds": loaded,
        "verdict": str(getattr(verdict, "value", verdict)),
        "timings": dict(report.timings),
        "requirements_from": dict(getattr(report, "requirements_from", {}) or {}),
        "net_bytes": net.total - net_before,
        "engine": engine_figures,
        "requests": dict(log.kinds),
        "files_read": len(log.files),
    }


def worker(
    selector: str, spec: str, index_url: str, conflict_set: bool, use_table: bool, record: Path | None = None
) -> None:
    """Run one measured check and print its figures as the last line (the parent bounds this process);
    ``record``: where to write every request it made (``RequestLog.requests``, JSON)."""
    log = RequestLog()
    figures = measured_check(selector, spec, index_url, conflict_set, use_table, log)
    if record is not None:
        record.write_text(json.dumps(log.requests), encoding="utf-8")
    print(json.dumps(figures))


# ---------------------------------------------------------------------------------------------------------------
# the environment of every run


def clean_env(cache: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment without pip's and uv's settings; ``cache`` as tfconflict's cache root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    if cache is not None:
        env["TFCONFLICT_CACHE_DIR"] = str(cache)
    env.update(extra)
    return env


def fresh_cache(work: Path, synced: Path | None, label: str) -> Path:
    """An empty metadata cache; the synced Colab history copied in unless ``synced`` is None."""
    cache = work / f"cache-{label}"
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(parents=True)
    if synced is not None and (synced / "sources").exists():
        shutil.copytree(synced / "sources", cache / "sources", symlinks=True)
    return cache


def uv_constraints(selector: str, request_names: Collection[str], path: Path) -> tuple[int, list[str], str]:
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


def uv_compile_command(
    uv: str, constraints: Path | None, python: str, platform: str, index_url: str
) -> list[str]:
    """``uv pip compile`` of a request read from standard input for the image's interpreter; under the image's
    pins when ``constraints`` is given, else the request alone."""
    limits = ["--constraint", str(constraints)] if constraints is not None else []
    return [
        uv,
        "pip",
        "compile",
        "-",
        *limits,
        "--python-version",
        python,
        "--python-platform",
        platform,
        "--index-url",
        index_url,
        "--no-config",
        "--no-build",
        "--no-python-downloads",
        "--quiet",
        "--output-file",
        os.devnull,
    ]


def find_uv() -> str | None:
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    return uv if Path(uv).exists() else None


def load() -> str:
    """The 1-minute load average (the figures' context), or "?" where the platform has none."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def index_option() -> str | None:
    """The CLI's option that reads installed packages' requirements from the index, when it has one."""
    done = subprocess.run(
        [sys.executable, "-m", "analyzer", "check", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=ROOT,
        check=False,
    )
    return INDEX_OPTION if INDEX_OPTION in done.stdout else None


# ---------------------------------------------------------------------------------------------------------------
# figures


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "> limit"
    if math.isnan(seconds):
        return "-"
    return f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}"


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


@dataclass
class Row:
    tool: str
    design: str
    question: str
    cold: float | None
    warm: float | None = NOT_RUN
    peak_mb: float | None = None
    net_bytes: int | None = None
    pages: int | None = None
    reads: int | None = None
    note: str = ""

    def line(self) -> str:
        peak = "-" if self.peak_mb is None else f"{self.peak_mb:.0f}"
        counts = "-" if self.pages is None else f"{self.pages}/{self.reads}"
        return (
            f"  {self.tool:22} {self.design:6} {self.question:18} {fmt(self.cold):>8} {fmt(self.warm):>8} "
            f"{peak:>7} {mib(self.net_bytes):>10} {counts:>9}  {self.note}"
        )


HEADER = (
    f"  {'tool':22} {'design':6} {'question':18} {'cold s':>8} {'warm s':>8} {'peak MB':>7} {'net bytes':>10} "
    f"{'pages/files':>9}  note"
)


def verdict_note(data: dict[str, Any]) -> str:
    stages = sorted(data["timings"].items(), key=lambda kv: -kv[1])
    top = ", ".join(f"{k} {v:.2f}" for k, v in stages[:4] if k != "total")
    origins = ", ".join(f"{k} {v}" for k, v in sorted(data["requirements_from"].items())) or "-"
    table = f"table loaded in {data['table_seconds']:.2f} s; " if data["table"] else ""
    return f"{data['verdict']}; {table}requirements from: {origins}; slowest stages (s): {top}"


def goal(ok: bool | None) -> str:
    return "not known" if ok is None else "met" if ok else "NOT met"


def at_most(value: float | None, limit: float | None) -> bool | None:
    if value is None or math.isnan(value):
        return None if value is not None else False
    return None if limit is None or math.isnan(limit) else value <= limit


# ---------------------------------------------------------------------------------------------------------------
# one case


def run_uv(uv: str, cmd: list[str], spec: str, cache: Path, timeout: float) -> tuple[list[float | None], str]:
    """uv cold (empty cache) then warm; the outcome of the last run."""
    times: list[float | None] = []
    note = ""
    shutil.rmtree(cache, ignore_errors=True)
    for _ in ("cold", "warm"):
        child = run_child(cmd, clean_env(UV_CACHE_DIR=str(cache)), timeout, stdin=spec + "\n")
        times.append(child.seconds)
        if child.code is not None:
            note = "resolves" if child.code == 0 else "no solution (its first conflict)"
    return times, note


def run_case(
    spec: str, selector: str, args: argparse.Namespace, uv: str, synced: Path, work: Path
) -> list[Row]:
    """Every row of one request on one snapshot, printed as measured; then the goals."""
    from analyzer.request import parse_specs

    request_names = {item.name for item in parse_specs([spec])}
    slug = "".join(c if c.isalnum() else "_" for c in f"{selector}-{spec}")
    rows: list[Row] = []

    def add(row: Row) -> Row:
        row.note = f"{row.note}; load {load()}" if row.note else f"load {load()}"
        rows.append(row)
        print(row.line(), flush=True)
        return row

    constraints = work / f"constraints-{slug}.txt"
    count, skipped, python = uv_constraints(selector, request_names, constraints)
    print(
        f"\n{spec} on {selector}: Python {python}; {count} pins as uv constraints, {len(skipped)} left out "
        f"(direct references or local versions): {', '.join(skipped[:8])}{' ...' if len(skipped) > 8 else ''}"
    )
    print(HEADER)
    alone, alone_note = run_uv(
        uv,
        uv_compile_command(uv, None, python, args.platform, args.index_url),
        spec,
        work / f"uv-alone-{slug}",
        args.timeout,
    )
    uv_alone = add(Row("uv pip compile", "-", "request alone", alone[0], alone[1], note=alone_note))
    pinned, pinned_note = run_uv(
        uv,
        uv_compile_command(uv, constraints, python, args.platform, args.index_url),
        spec,
        work / f"uv-pinned-{slug}",
        args.timeout,
    )
    add(Row("uv pip compile", "-", "image constraints", pinned[0], pinned[1], note=pinned_note))

    designs = ["table", "index"] if not args.table_only else ["table"]
    questions = [("full report", True), ("--no-conflict-set", False)]
    if args.skip_full:
        questions = questions[1:]
    checks: dict[tuple[str, str, str], Row] = {}
    for design in designs:
        for question, conflict_set in questions:
            cache = fresh_cache(work, synced, f"worker-{slug}")
            runs: list[tuple[Child, dict[str, Any] | None]] = []
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
                    "1" if design == "table" else "0",
                ]
                child = run_child(cmd, clean_env(cache), args.timeout)
                data = (
                    json.loads(child.out.strip().splitlines()[-1])
                    if child.code == 0 and child.out.strip()
                    else None
                )
                runs.append((child, data))
            (cold, data), (warm, warm_data) = runs
            if data is not None and design == "table" and not data["table"]:
                note = f"NO TABLE ({data['table_note']}): the index design"
            elif data is not None:
                note = verdict_note(data)
            else:
                note = f"error: {(cold.err.strip().splitlines() or [f'exit {cold.code}'])[-1]}"
            checks[("run_check", design, question)] = add(
                Row(
                    "tfconflict run_check",
                    design,
                    question,
                    data["seconds"] if data else None,
                    warm_data["seconds"] if warm_data else None,
                    cold.peak_mb,
                    data["net_bytes"] if data else None,
                    data["requests"].get("page", 0) if data else None,
                    data["files_read"] if data else None,
                    note,
                )
            )
            if data is not None:
                engine = data["engine"]
                kinds = ", ".join(f"{k} {v}" for k, v in sorted(data["requests"].items()))
                print(
                    f"  {'':22} {'':6} {'':18} cold run: HTTP requests {kinds or 'none'}; engine's own count: "
                    f"{engine['page_requests']} pages {mib(engine['page_bytes'])} decoded, "
                    f"{engine['file_requests']} file requests {mib(engine['file_bytes'])}"
                )
    if not args.skip_cli:
        option = index_option()
        for design in designs:
            if design == "index" and option is None:
                print(
                    f"  the CLI has no option to read requirements from the index ({INDEX_OPTION}):"
                    " its index-design rows are left out"
                )
                continue
            for question, conflict_set in questions:
                cache = fresh_cache(work, synced, f"cli-{slug}")
                children: list[Child] = []
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
                    cmd += [] if conflict_set else ["--no-conflict-set"]
                    cmd += [option] if design == "index" and option else []
                    cmd += ["--recompute"] if run == "warm" else []
                    children.append(run_child(cmd, clean_env(cache), args.timeout))
                cold, warm, again = children
                origins, unused = "", ""
                try:
                    shown = json.loads(cold.out)
                    counts = sorted(shown.get("requirements_from", {}).items())
                    origins = ", ".join(f"{k} {v}" for k, v in counts)
                    unused = next(
                        (w for w in shown.get("warnings", []) if "requirements table not used" in w), ""
                    )
                except ValueError:
                    pass
                note = f"exit {cold.code}; requirements from: {origins or '-'}; warm = --recompute"
                note += f"; {unused}" if unused else ""
                checks[("CLI", design, question)] = add(
                    Row(
                        "tfconflict CLI",
                        design,
                        question,
                        cold.seconds,
                        warm.seconds,
                        cold.peak_mb,
                        note=note,
                    )
                )
                add(
                    Row(
                        "tfconflict CLI",
                        design,
                        f"{question[:11]}, again",
                        NOT_RUN,
                        again.seconds,
                        again.peak_mb,
                        note="the remembered answer",
                    )
                )
        cache = fresh_cache(work, None, f"newcomer-{slug}")
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
        ]
        first = run_child(cmd, clean_env(cache), args.timeout)
        add(
            Row(
                "tfconflict CLI",
                "table",
                "wholly empty cache",
                first.seconds,
                NOT_RUN,
                first.peak_mb,
                note=f"a newcomer's first run, text output, history sync included; exit {first.code}",
            )
        )

    print_goals(checks, uv_alone)
    return rows


def print_goals(checks: dict[tuple[str, str, str], Row], uv_alone: Row) -> None:
    """Each goal of the table design beside its figure."""
    print("  goals (the table design, cold):")
    uv_cold = uv_alone.cold
    for tool in ("run_check", "CLI"):
        full = checks.get((tool, "table", "full report"))
        if full is not None:
            limit = min(GOAL_COLD, uv_cold) if uv_cold is not None else GOAL_COLD
            print(
                f"    {tool:9} full report        {fmt(full.cold):>7} s <= uv's request alone {fmt(uv_cold)} s "
                f"and <= {GOAL_COLD:.0f} s: {goal(at_most(full.cold, limit))}"
            )
        quick = checks.get((tool, "table", "--no-conflict-set"))
        if quick is not None:
            print(
                f"    {tool:9} --no-conflict-set  {fmt(quick.cold):>7} s <= {GOAL_NO_SET:.0f} s: "
                f"{goal(at_most(quick.cold, GOAL_NO_SET))}"
            )
    for question in ("full report", "--no-conflict-set"):
        after, before = (
            checks.get(("run_check", "table", question)),
            checks.get(("run_check", "index", question)),
        )
        if after is None or before is None or after.net_bytes is None or not before.net_bytes:
            continue
        share = after.net_bytes / before.net_bytes
        print(
            f"    network bytes, {question:17} {mib(after.net_bytes)} vs {mib(before.net_bytes)} before: "
            f"{share:.3f} of it <= {GOAL_BYTES_SHARE}: {goal(share <= GOAL_BYTES_SHARE)}"
        )
    # the CLI is what users run; the worker's peak is printed in its row
    peaks = [(k, r.peak_mb) for k, r in checks.items() if k[:2] == ("CLI", "table") and r.peak_mb is not None]
    for (tool, _, question), peak in peaks:
        print(
            f"    peak memory, {tool} {question:17} {peak:.0f} MB <= {GOAL_PEAK_MB:.0f} MB: "
            f"{goal(peak <= GOAL_PEAK_MB)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--spec", action="append", help="the request (repeatable; default tensorflow==2.12.0)"
    )
    parser.add_argument(
        "--snapshot", action="append", help=f"repeatable (default: {' and '.join(SNAPSHOTS)})"
    )
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--platform", default="x86_64-manylinux_2_35", help="uv's --python-platform")
    parser.add_argument("--skip-cli", action="store_true", help="time run_check only, not the CLI subprocess")
    parser.add_argument("--skip-full", action="store_true", help="time --no-conflict-set only")
    parser.add_argument(
        "--table-only", action="store_true", help="leave out the index design (the one before)"
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("SELECTOR", "CONFLICT_SET", "TABLE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    specs = args.spec or ["tensorflow==2.12.0"]
    if args.worker:
        worker(
            args.worker[0],
            specs[0],
            args.index_url,
            args.worker[1] == "1",
            args.worker[2] == "1",
            args.record,
        )
        return 0

    uv = find_uv()
    if uv is None:
        print(
            "uv is missing: pip install uv (a benchmark tool, not a dependency of tfconflict)",
            file=sys.stderr,
        )
        return 2
    uv_version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    from analyzer.paths import cache_dir

    synced = cache_dir()
    work = Path(tempfile.mkdtemp(prefix="bench-check-"))
    print(f"{uv_version}; timeout {args.timeout:.0f} s per run; {os.cpu_count()} CPUs, load {load()}")
    print(
        "net bytes: received at the worker's sockets (HTTP headers and bodies as sent; TLS framing, handshakes "
        "and DNS not counted); pages/files: index pages fetched / distinct files whose metadata was read"
    )
    rows: list[Row] = []
    try:
        for spec in specs:
            for selector in args.snapshot or SNAPSHOTS:
                rows += run_case(spec, selector, args, uv, synced, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\ntool | design | question | cold s | warm s | peak MB | net bytes | pages/files | note")
    for r in rows:
        peak = "-" if r.peak_mb is None else f"{r.peak_mb:.0f}"
        counts = "-" if r.pages is None else f"{r.pages}/{r.reads}"
        print(
            f"{r.tool} | {r.design} | {r.question} | {fmt(r.cold)} | {fmt(r.warm)} | {peak} | "
            f"{mib(r.net_bytes)} | {counts} | {r.note}"
        )
    return 0


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    sys.exit(main())
