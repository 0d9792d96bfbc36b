"""Soak: many checks in a row in one process, against the fixture index with faults switched on at random.

A long-lived user (a notebook, a service) calls ``run_check`` again and again. This script does that RUNS times
against the in-process fixture index (recorded real metadata of tests/data/index, the Colab release of
2025-07-14 from the history bundle), each run with a random request, a random fault rate, and either a fresh
cache folder or one shared by every run (so a fault that poisoned the cache shows up later). Each answer is
compared with a fault-free baseline:

- ok: the same verdict and plan as the baseline (warnings or not);
- said: a different answer, with a warning that something was unavailable (a fault the report owns up to);
- error: the run raised an error that names what failed (what the command line shows as a message);
- wrong: a different answer and no warning saying why. There must be none.

Printed: runs, outcomes, failures by kind, faults injected by kind, peak memory (ru_maxrss), open file
descriptors and threads at the start (after the baseline) and at the end.

    .venv/bin/python scripts/soak.py [--runs 200] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analyzer.check import run_check
from analyzer.errors import TfconflictError
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.request import parse_specs
from analyzer.snapshot import Snapshot
from tests import indexserver
from tests.indexserver import RECORDED, FixtureIndex

BUNDLE = Path(os.environ.get("TFCONFLICT_TEST_BUNDLE", ROOT.parent / "shared" / "colab" / "backend-info.bundle"))
REQUESTS = ("tensorflow==2.12.0", "jax", "numpy<2", "tf-keras")
RATES = (0.0, 0.02, 0.1, 0.3)
"""Share of requests that meet a fault in one run (0: a fault-free run amid the others)."""


def fault_kinds(lies: bool) -> dict[str, tuple[Callable[[], indexserver.Fault], str]]:
    """What may go wrong with one request (the fault hooks of tests/indexserver.py) and where: ``/simple/``,
    ``/files/`` or both.

    Faults a client can tell from an answer by default. ``lies`` adds two it cannot: a 404 for a project page
    that exists (the index says "no such project") and a 200 HTML page without links (a captive portal's
    login page; the index says "no files"); pip believes both too.
    """
    kinds: dict[str, tuple[Callable[[], indexserver.Fault], str]] = {
        "500": (lambda: indexserver.status_fault(500), "/"),
        "503+retry-after": (lambda: indexserver.status_fault(503, {"Retry-After": "0"}), "/"),
        "404-file": (lambda: indexserver.status_fault(404), "/files/"),
        "drop": (indexserver.drop_connection, "/"),
        "truncated": (lambda: indexserver.truncated_body(0.5), "/"),
        "short-length": (lambda: indexserver.wrong_length(-7), "/"),
        "bad-json": (
            lambda: indexserver.replace_body(b'{"files": [{"filename": ', "application/vnd.pypi.simple.v1+json"),
            "/simple/",
        ),
        "bad-zip": (lambda: indexserver.replace_body(b"PK\x03\x04 not a zip", "application/octet-stream"), "/files/"),
        "slow": (lambda: indexserver.slow_headers(0.3), "/"),
    }
    if lies:
        kinds["404-page"] = (lambda: indexserver.status_fault(404), "/simple/")
        kinds["portal-page"] = (
            lambda: indexserver.replace_body(b"<html><body>Please sign in</body></html>", "text/html"),
            "/simple/",
        )
    return kinds


class RandomFaults(dict[str, Any]):
    """The fixture index's fault table, answering every path: a fault at random with probability ``rate``."""

    def __init__(self, seed: int, lies: bool = False) -> None:
        super().__init__()
        self.rate = 0.0
        self.random = random.Random(seed)
        self.kinds = fault_kinds(lies)
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()

    def get(self, path: str, default: Any = None) -> Any:
        with self.lock:
            if self.rate <= 0 or self.random.random() >= self.rate:
                return None
            fitting = sorted(k for k, (_, where) in self.kinds.items() if path.startswith(where))
            if not fitting:
                return None
            kind = self.random.choice(fitting)
            self.injected[kind] += 1
        return self.kinds[kind][0]()


def _quiet(request: object, client_address: object) -> None:
    """A client that hung up mid-answer (the point of the faults): nothing to print."""


@contextmanager
def serving(seed: int, lies: bool = False) -> Iterator[tuple[FixtureIndex, RandomFaults]]:
    """The fixture index on a real socket, as the tests' ``index_server`` fixture starts it."""
    server = indexserver._Server(("127.0.0.1", 0), indexserver._Handler)
    index = FixtureIndex()
    faults = RandomFaults(seed, lies)
    index.faults = faults
    index.add_recorded(RECORDED)
    server.index = index
    server.stopping = threading.Event()
    server.handle_error = _quiet  # type: ignore[method-assign]
    index.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield index, faults
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def colab_snapshot(root: Path) -> Snapshot:
    """Colab 2025-07-14 from the history bundle, synced into a cache folder of the soak's own."""
    from analyzer.catalog import sync_source
    from analyzer.selectors import resolve_selector
    from analyzer.sources import load_source

    os.environ["TFCONFLICT_CACHE_DIR"] = str(root)
    sync_source(load_source("colab"), origin=str(BUNDLE))
    return replace(resolve_selector("colab:2025-07-14"), source="file")


def hermetic(snapshot: Snapshot) -> Snapshot:
    """The snapshot with its direct references (vendor hosts, release pages) looked up on the fixture index
    instead: nothing leaves this machine, and no answer depends on a host the soak does not control."""
    return snapshot.with_pins(replace(pin, url=None) for pin in snapshot.pins)


def plan(report: Any) -> dict[str, Any]:
    """What a user acts on: the verdict, what pip would change and break, the conflicting sets."""
    data = report.to_json_dict()
    pip = data["pip"] or {}
    sets = data["conflict_set"] or {}
    return {
        "verdict": data["verdict"],
        "installable": data["installable"]["ok"],
        "changes": pip.get("changes"),
        "conflict": (pip.get("conflict") or {}).get("causes"),
        "newly_broken": pip.get("newly_broken"),
        "sets": sets.get("sets"),
        "suggestions": data["suggestions"],
    }


@dataclass
class Tally:
    outcomes: Counter[str]
    failures: Counter[str]
    wrong: list[dict[str, Any]]


def check(index: FixtureIndex, snapshot: Snapshot, spec: str, cache: Path) -> Any:
    with MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache(cache / "metadata.sqlite3")) as engine:
        return run_check(parse_specs([spec]), snapshot, engine, budget=None)


def served(index: FixtureIndex) -> int:
    """Requests the fixture index answered since the last call; its log is emptied, so that the soak's own
    bookkeeping (one record per request, thousands a run) is not counted as the checks' memory."""
    with index.lock:
        count = len(index.log)
        index.log.clear()
    return count


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak(
    runs: int,
    seed: int,
    work: Path,
    lies: bool = False,
    snapshot: Snapshot | None = None,
    requests: tuple[str, ...] = REQUESTS,
) -> dict[str, Any]:
    """The soak itself (the test runs a short one): figures as a dict."""
    rng = random.Random(seed)
    snapshot = hermetic(snapshot if snapshot is not None else colab_snapshot(work / "colab"))
    with serving(seed, lies) as (index, faults):
        started = time.perf_counter()
        reports = {spec: check(index, snapshot, spec, work / f"baseline-{i}") for i, spec in enumerate(requests)}
        requests_served = served(index)
        baseline = {spec: plan(report) for spec, report in reports.items()}
        known = {spec: set(report.warnings) for spec, report in reports.items()}
        del reports
        base_seconds = time.perf_counter() - started
        gc.collect()
        start = {"fds": fds(), "threads": threading.active_count(), "rss_mb": round(rss_mb(), 1)}
        tally = Tally(Counter(), Counter(), [])
        shared = work / "shared"
        started = time.perf_counter()
        rss_every: list[float] = []
        for run in range(runs):
            if run % 20 == 0:
                gc.collect()
                rss_every.append(round(rss_mb(), 1))
            spec = rng.choice(requests)
            fresh = rng.random() < 0.3
            cache = work / f"fresh-{run}" if fresh else shared
            rate = faults.rate = rng.choice(RATES)
            try:
                report = check(index, snapshot, spec, cache)
            except TfconflictError as exc:
                tally.outcomes["error"] += 1
                tally.failures[f"error: {type(exc).__name__}"] += 1
                continue
            except Exception as exc:  # noqa: BLE001 - an unexpected error is a finding, counted by type
                tally.outcomes["crash"] += 1
                tally.failures[f"crash: {type(exc).__name__}: {exc}"[:160]] += 1
                continue
            finally:
                faults.rate = 0.0
                requests_served += served(index)
                if fresh:
                    shutil.rmtree(cache, ignore_errors=True)
            said = [w for w in report.warnings if w not in known[spec]]
            if plan(report) == baseline[spec]:
                tally.outcomes["ok, with warnings" if said else "ok"] += 1
            elif said:
                tally.outcomes["said"] += 1
                tally.failures[f"said: {_kind(said[0])}"] += 1
            else:
                tally.outcomes["wrong"] += 1
                tally.wrong.append(
                    {"run": run, "spec": spec, "fresh": fresh, "rate": rate, "got": plan(report),
                     "warnings": list(report.warnings)}
                )
        seconds = time.perf_counter() - started
    gc.collect()
    return {
        "runs": runs,
        "seed": seed,
        "lies": lies,
        "seconds": round(seconds, 1),
        "baseline_seconds": round(base_seconds, 1),
        "outcomes": dict(tally.outcomes),
        "failures_by_kind": dict(tally.failures.most_common()),
        "wrong_answers": len(tally.wrong),
        "wrong": tally.wrong[:5],
        "faults_injected": dict(faults.injected.most_common()),
        "requests_served": requests_served,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "start": start,
        "rss_mb_every_20_runs": rss_every,
        "end": {"fds": fds(), "threads": threading.active_count(), "rss_mb": round(rss_mb(), 1)},
    }


def _kind(warning: str) -> str:
    """A warning's kind: its words without the names, URLs and numbers that vary."""
    words = [w.strip(":;,()") for w in warning.split()]
    return " ".join(w for w in words if w.isalpha() and w.islower())[:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--lies", action="store_true", help="also faults no client can tell from an answer (404 pages, portal pages)"
    )
    args = parser.parse_args()
    for key in list(os.environ):
        if key.startswith(("PIP_", "TFCONFLICT_")):
            del os.environ[key]
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    os.environ["TFCONFLICT_HTTP_TIMEOUT"] = "2"  # a stalled answer costs seconds, not minutes
    os.environ["TFCONFLICT_HTTP_RETRIES"] = "2"
    import logging

    logging.basicConfig(level=logging.ERROR)  # the engine's warnings are in each report; keep the output short
    with tempfile.TemporaryDirectory(prefix="tfconflict-soak-") as work:
        figures = soak(args.runs, args.seed, Path(work), args.lies)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"runs: {figures['runs']} in {figures['seconds']} s (seed {figures['seed']}, lies {figures['lies']}; "
              f"baseline {figures['baseline_seconds']} s)")
        print(f"outcomes: {figures['outcomes']}")
        print("failures by kind:")
        for kind, count in figures["failures_by_kind"].items():
            print(f"  {count:4d}  {kind}")
        print(f"wrong answers: {figures['wrong_answers']}")
        for item in figures["wrong"]:
            print(f"  {json.dumps(item)[:400]}")
        print(f"faults injected: {figures['faults_injected']} ({figures['requests_served']} requests served)")
        print(f"peak memory (ru_maxrss): {figures['peak_rss_mb']} MB")
        print(f"open fds: {figures['start']['fds']} at start -> {figures['end']['fds']} at end; threads "
              f"{figures['start']['threads']} -> {figures['end']['threads']}; rss {figures['start']['rss_mb']} -> "
              f"{figures['end']['rss_mb']} MB; every 20 runs: {figures['rss_mb_every_20_runs']}")
    return 1 if figures["wrong_answers"] or figures["outcomes"].get("crash") else 0


if __name__ == "__main__":
    sys.exit(main())
