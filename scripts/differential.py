"""Differential test of tfconflict's pip prediction against real pip, on a metadata-only replica of a Colab release.

For each request: real ``pip install --dry-run --report`` into the replica vs ``predict()``'s install set; then the
predicted changes applied to a copy of the replica and real ``pip check`` vs the predicted breakage
(newly broken + already broken, in ``pip check``'s wording). Isolated from this machine's pip configuration
(PIP_CONFIG_FILE=/dev/null, no PIP_* variables, the index named). No package code is downloaded or run: the replica
holds dist-info folders only and pip runs with ``--dry-run``.

    TFCONFLICT_COLAB_REPO=/work/shared/colab/backend-info.bundle \\
        .venv/bin/python scripts/differential.py [--snapshot colab:2025-07-14] [--as-of 2026-11-25T10:00:00Z] [REQUEST...]

pip: a recent pip in a tool venv (``--pip-venv``, made and upgraded on first use), run with ``--python REPLICA``.
When that pip knows ``--uploaded-prior-to`` and ``--as-of`` is given, both tools see the index as of that moment;
otherwise both run with no as-of, one right after the other.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.diagnosis.pip_prediction import predict
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.selectors import resolve_selector
from analyzer.session import Session
from scripts.replica import (
    DistSpec,
    apply_changes,
    build_replica,
    clean_pip_env,
    copy_replica,
    dist_specs,
    pip_check,
    pip_dry_run,
    predicted_check_lines,
    predicted_set,
    set_differences,
    spec_for,
)

DEFAULT_REQUESTS = [
    "tensorflow==2.12.0",
    "tensorflow==2.13.0",
    "tensorflow==2.14.0",
    "tensorflow==2.15.0",
    "tensorflow==2.16.1",
    "tensorflow==2.17.0",
    "tensorflow==2.18.0",
    "tensorflow==2.19.0",
    "tf-keras",
    "jax",
    "keras",
    "numpy<2",
    "pandas==2.3.0",
]


def tool_pip(venv: Path, index_url: str) -> list[str]:
    """A recent pip in its own venv (never inside the replica, whose pip is a dist-info of the image's)."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean_pip_env())
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip", "--index-url", index_url],
            check=True,
            env=clean_pip_env(),
        )
    return [str(python), "-m", "pip"]


def pip_version(pip: list[str]) -> str:
    return subprocess.run(
        [*pip, "--version"], capture_output=True, text=True, env=clean_pip_env(), check=False
    ).stdout.split()[1]


def supports(pip: list[str], option: str) -> bool:
    out = subprocess.run(
        [*pip, "install", "--help"], capture_output=True, text=True, env=clean_pip_env(), check=False
    ).stdout
    return option in out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("requests", nargs="*", default=DEFAULT_REQUESTS)
    parser.add_argument("--snapshot", default="colab:2025-07-14")
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument(
        "--as-of", help="ISO date-time; given to pip as --uploaded-prior-to when it supports it"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tfconflict-differential")
    parser.add_argument(
        "--pip-venv", type=Path, help="venv holding the pip to compare with (default: WORK/pip)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per pip run")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)

    pip = tool_pip(args.pip_venv or args.work / "pip", args.index_url)
    version = pip_version(pip)
    as_of = None
    pip_extra: list[str] = []
    if args.as_of:
        if supports(pip, "--uploaded-prior-to"):
            as_of = datetime.fromisoformat(args.as_of.replace("Z", "+00:00"))
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=timezone.utc)
            pip_extra = ["--uploaded-prior-to", as_of.isoformat()]
        else:
            print(f"pip {version} has no --uploaded-prior-to: both run with no as-of", file=sys.stderr)

    snapshot = resolve_selector(args.snapshot)
    env = TargetEnvironment.from_snapshot(snapshot)
    print(f"snapshot {snapshot.id}: Python {snapshot.python}, {len(snapshot.pins)} pins")
    print(
        f"replica interpreter: Python {platform.python_version()} (the image has {snapshot.python}; same minor, "
        "only python_full_version markers can differ); pip uses this machine's wheel tags "
        f"({platform.libc_ver()[0]} {platform.libc_ver()[1]}), tfconflict the image's"
    )
    print(
        f"pip {version}; index named explicitly; as-of: {as_of.isoformat() if as_of else 'none (same moment)'}"
    )

    engine = MetadataEngine(IndexConfig(args.index_url), cache=MetadataCache(), as_of=as_of)
    started = time.perf_counter()
    info = dist_specs(snapshot, engine, env)
    print(f"image metadata: {time.perf_counter() - started:.1f} s")
    if info.opaque:
        print(
            f"{len(info.opaque)} pins without metadata (dist-info with no Requires-Dist): "
            + ", ".join(info.opaque)
        )
    if info.skipped:
        print(f"{len(info.skipped)} pins without a PEP 440 version, left out: " + ", ".join(info.skipped))
    replica = args.work / "replica"
    build_replica(replica, info.specs.values())

    rows: list[tuple[str, ...]] = []
    details: list[str] = []
    for text in args.requests:
        pip_run = pip_dry_run(
            pip,
            replica,
            [text],
            args.index_url,
            args.work / "report.json",
            extra=pip_extra,
            cache_dir=args.work / "pip-cache",
            timeout=args.timeout,
        )
        started = time.perf_counter()
        prediction = predict([Requirement(text)], Session.open(snapshot, engine, env))
        ours_s = time.perf_counter() - started
        ours = predicted_set(prediction)
        diffs: list[str] = []
        if pip_run.ok != prediction.ok:
            diffs.append(
                f"pip {'resolves' if pip_run.ok else 'fails'}, ours {'resolves' if prediction.ok else 'fails'}"
            )
        if pip_run.ok and prediction.ok:
            diffs.extend(set_differences(pip_run.install, ours))
        install_ok = not diffs

        check_note = "-"
        if prediction.ok:
            changed = args.work / "replica-changed"
            site = copy_replica(replica, changed)
            new_specs: dict[NormalizedName, DistSpec] = {
                name: spec_for(name, ver, engine, env) for name, ver in ours.items()
            }
            apply_changes(site, new_specs)
            real = pip_check(pip, changed)
            predicted = predicted_check_lines(prediction)
            only_pip, only_ours = sorted(real - predicted), sorted(predicted - real)
            check_note = f"{len(real)} = {len(predicted)}" if not only_pip and not only_ours else "DIFFER"
            for line in only_pip:
                diffs.append(f"pip check only: {line}")
            for line in only_ours:
                diffs.append(f"predicted only: {line}")
        agree = "yes" if not diffs else ("install set yes, check no" if install_ok else "no")
        rows.append(
            (
                text,
                str(len(pip_run.install)) if pip_run.ok else "fails",
                str(len(ours)) if prediction.ok else "fails",
                agree,
                check_note,
                f"{pip_run.seconds:.1f}",
                f"{ours_s:.1f}",
            )
        )
        if diffs:
            details.append(f"{text}:\n  " + "\n  ".join(diffs))
            if not pip_run.ok:
                details.append("  pip said: " + pip_run.output[-600:].replace("\n", "\n    "))
        print(f"  {text}: pip {pip_run.seconds:.1f} s, tfconflict {ours_s:.1f} s, agree: {agree}", flush=True)

    header = ("request", "pip set", "ours", "agree", "pip check lines", "pip s", "tfconflict s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
    if details:
        print("\nDifferences:")
        print("\n".join(details))
    engine.close()
    return 0 if not details else 1


if __name__ == "__main__":
    os.environ["PIP_CONFIG_FILE"] = os.devnull
    sys.exit(main())
