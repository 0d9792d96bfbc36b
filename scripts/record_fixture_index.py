"""Record a fixture index from the live index for the offline test tier (``tests/data/index/``).

For a list of requirements (default: tensorflow==2.12.0 and a few packages of the Colab image), walk the
dependency closure for one target (CPython 3.11, manylinux x86_64, glibc 2.35) and store, per project, in
``<project>.json.gz``:

- the files of the kept versions (file names only, no hosts: the fixture server makes its own URLs), trimmed to
  Linux x86_64 / pure wheels and sdists, with requires-python, yanked reason, upload time and size;
- each kept version's core metadata, reduced to Requires-Dist / Requires-Python / Provides-Extra.

Kept versions: every release uploaded between --since and --as-of that installs on the target (all of them
for the requested projects, the newest --per-project for the others), plus every version a requirement pins.
Isolated from this machine's pip configuration; the index is named explicitly.

    python scripts/record_fixture_index.py                  # the default set, as of 2025-06-01
    python scripts/record_fixture_index.py 'jax==0.4.30' --out /tmp/index
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

os.environ["PIP_CONFIG_FILE"] = os.devnull
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from packaging.requirements import Requirement
from packaging.tags import parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from pypi_simple import PYPI_SIMPLE_ENDPOINT

from analyzer.cli.indexopts import parse_as_of
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.metadata.models import DistFile, DistKind, MetadataStatus
from analyzer.metadata.select import best_file

DEFAULT_REQUIREMENTS = (
    "tensorflow==2.12.0",
    "tensorflow",
    "numpy",
    "jax",
    "jaxlib",
    "keras",
    "protobuf",
    "ml-dtypes",
    "tensorboard",
    "tf-keras",
)
TARGET = TargetEnvironment(
    python=Version("3.11"),
    python_full="3.11.13",
    sys_platform="linux",
    platform_system="Linux",
    machine="x86_64",
    glibc=(2, 35),
)


def keep_file(file: DistFile) -> bool:
    """Linux x86_64 and pure wheels, and sdists: what a Colab-like target could ever choose or cite."""
    if file.kind is DistKind.SDIST:
        return True
    try:
        tags = parse_tag("-".join(file.filename[:-4].split("-")[-3:]))
    except ValueError:
        return False
    return any(t.platform == "any" or ("linux" in t.platform and t.platform.endswith("x86_64")) for t in tags)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("requirements", nargs="*", default=list(DEFAULT_REQUIREMENTS))
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "index")
    parser.add_argument("--index-url", default=PYPI_SIMPLE_ENDPOINT)
    parser.add_argument("--as-of", default="2025-06-01")
    parser.add_argument("--since", default="2022-06-01", help="oldest upload kept (besides pinned versions)")
    parser.add_argument("--per-project", type=int, default=12, help="newest versions kept per dependency")
    parser.add_argument("--max-projects", type=int, default=250)
    args = parser.parse_args()

    since = parse_as_of(args.since).replace(hour=0, minute=0, second=0)
    roots = [Requirement(r) for r in args.requirements]
    root_names = {canonicalize_name(r.name) for r in roots}
    engine = MetadataEngine(IndexConfig(args.index_url), cache=MetadataCache(), as_of=parse_as_of(args.as_of))
    wanted: dict[NormalizedName, list[Requirement]] = {}
    queue: deque[NormalizedName] = deque()
    for req in roots:
        name = canonicalize_name(req.name)
        if name not in wanted:
            queue.append(name)
        wanted.setdefault(name, []).append(req)
    records: dict[str, dict[str, object]] = {}
    kept: dict[NormalizedName, set[Version]] = {}
    while queue and len(records) < args.max_projects:
        batch = list(dict.fromkeys(queue.popleft() for _ in range(len(queue))))
        engine.prefetch_projects(batch)
        chosen_files: dict[NormalizedName, dict[Version, DistFile]] = {}
        for name in batch:
            project = engine.project(name)
            by_version: dict[Version, list[DistFile]] = {}
            for f in project.files:
                by_version.setdefault(f.version, []).append(f)
            pinned = {
                v
                for v in by_version
                for r in wanted[name]
                if r.specifier
                and len(r.specifier) == 1
                and next(iter(r.specifier)).operator == "=="
                and r.specifier.contains(v, prereleases=True)
            }
            recent = []
            for v in sorted(by_version, reverse=True):
                if v.is_prerelease or v.is_devrelease:
                    continue
                uploads = [f.upload_time for f in by_version[v] if f.upload_time]
                if uploads and min(uploads) < since:
                    continue
                if best_file(by_version[v], TARGET) is not None:
                    recent.append(v)
            if name not in root_names:
                recent = recent[: args.per_project]
            # The newest installable version satisfying each requirement seen, however old (gast<=0.4.0).
            satisfying = set()
            for r in wanted[name]:
                for v in sorted(by_version, reverse=True):
                    if r.specifier.contains(v) and best_file(by_version[v], TARGET) is not None:
                        satisfying.add(v)
                        break
            keep = sorted(set(recent) | pinned | satisfying)
            kept[name] = set(keep)
            chosen: dict[Version, DistFile] = {}
            for v in keep:
                best = best_file(by_version[v], TARGET)
                if best is not None:
                    chosen[v] = best
            chosen_files[name] = chosen
            files = [f for v in keep for f in by_version[v] if keep_file(f)]
            records[name] = {
                "name": name,
                "files": [
                    [
                        f.filename,
                        str(f.version),
                        str(f.requires_python) if f.requires_python else None,
                        f.yanked,
                        f.upload_time.astimezone(timezone.utc).isoformat() if f.upload_time else None,
                        f.size,
                    ]
                    for f in sorted(files, key=lambda f: (f.version, f.filename))
                ],
                "metadata": {},
            }
        engine.prefetch([f for chosen in chosen_files.values() for f in chosen.values()])
        for name, chosen in chosen_files.items():
            for version, file in chosen.items():
                meta = engine.metadata(file)
                if meta.status is MetadataStatus.UNAVAILABLE:
                    print(f"  {name} {version}: {meta.note}", file=sys.stderr)
                    continue
                records[name]["metadata"][str(version)] = {  # type: ignore[index]
                    "requires_dist": [str(r) for r in meta.requires_dist],
                    "requires_python": str(meta.requires_python) if meta.requires_python else None,
                    "provides_extra": sorted(meta.provides_extra),
                    **({"unknown": True} if meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN else {}),
                }
                for req in meta.requires_dist:
                    if not TARGET.evaluate(req.marker):
                        continue
                    dep = canonicalize_name(req.name)
                    if dep not in wanted:
                        queue.append(dep)
                        wanted[dep] = []
                    wanted[dep].append(req)
                    if (
                        dep in kept
                        and dep not in queue
                        and not any(req.specifier.contains(v) for v in kept[dep])
                    ):
                        queue.append(dep)  # a new constraint no kept version meets: select again
        print(f"recorded {len(records)} projects; {len(queue)} queued", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.json.gz"):
        old.unlink()
    total = 0
    for name, record in sorted(records.items()):
        data = gzip.compress(json.dumps(record, separators=(",", ":"), sort_keys=True).encode(), 9, mtime=0)
        (args.out / f"{name}.json.gz").write_bytes(data)
        total += len(data)
    manifest = {
        "requirements": args.requirements,
        "as_of": args.as_of,
        "since": args.since,
        "target": TARGET.describe(),
        "projects": sorted(records),
        "recorded": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {len(records)} projects, {total / 1024:.0f} KiB, to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
