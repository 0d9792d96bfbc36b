"""``tfconflict metadata NAME[==VERSION]``: what the metadata engine knows about one project, for one target."""

from __future__ import annotations

import argparse
import json
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

from analyzer.cli.common import add_snapshot_options, snapshot_from_args
from analyzer.cli.indexopts import add_index_options, engine_from_args
from analyzer.environment import TargetEnvironment
from analyzer.errors import ExitCode, InputError
from analyzer.metadata.config import redact_url
from analyzer.metadata.models import DistFile, MetadataStatus
from analyzer.metadata.select import best_file
from analyzer.reqfile import requirement_problem
from analyzer.snapshot import clip
from analyzer.versions import parse_version

SHOWN_VERSIONS = 15


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "metadata",
        help="show what the metadata engine knows about one project for a runtime",
        description="List a project's versions that install on the runtime (compatible wheel or sdist, "
        "Requires-Python) and the requirements of one version after marker evaluation for that runtime.",
    )
    parser.add_argument(
        "spec", metavar="NAME[==VERSION]", help="a project, optionally pinned, e.g. tensorflow==2.12.0"
    )
    parser.add_argument("--all", action="store_true", help="list every version, not only the latest few")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_snapshot_options(parser)
    add_index_options(parser)
    parser.set_defaults(func=run)


def _parse_spec(text: str) -> tuple[Requirement, Version | None]:
    try:
        req = Requirement(text)
    except (InvalidRequirement, RecursionError) as exc:
        why = clip(str(exc).splitlines()[0] if str(exc) else "nested too deeply")
        raise InputError(f"{clip(text)!r} is not NAME or NAME==VERSION: {why}") from None
    problem = requirement_problem(req)
    if problem is not None:
        raise InputError(f"not a usable requirement: {problem}")
    pinned = [s for s in req.specifier if s.operator in ("==", "===") and "*" not in s.version]
    return req, parse_version(pinned[0].version) if len(pinned) == 1 else None


def _choose_version(
    by_version: dict[Version, list[DistFile]], env: TargetEnvironment, req: Requirement
) -> Version | None:
    """The newest final release with a file not yanked that satisfies the spec and installs on the target."""
    for version in sorted(by_version, reverse=True):
        files = by_version[version]
        if not req.specifier.contains(version, prereleases=False) or all(f.is_yanked for f in files):
            continue
        if best_file(files, env) is not None:
            return version
    return None


def run(args: argparse.Namespace) -> int:
    req, pinned = _parse_spec(args.spec)
    env = TargetEnvironment.from_snapshot(snapshot_from_args(args))
    with engine_from_args(args) as engine:
        project = engine.project(req.name)
        by_version: dict[Version, list[DistFile]] = {}
        for f in project.files:
            by_version.setdefault(f.version, []).append(f)
        version = pinned if pinned is not None else _choose_version(by_version, env, req)
        chosen = best_file(by_version.get(version, []), env) if version is not None else None
        meta = engine.metadata(chosen) if chosen is not None else None
    versions = []
    for v in sorted(by_version, reverse=True):
        best = best_file(by_version[v], env)
        versions.append(
            {
                "version": str(v),
                "installable": best is not None,
                "file": best.filename if best else None,
                "requires_python": str(best.requires_python) if best and best.requires_python else None,
                "yanked": best.yanked if best else None,
                "files": len(by_version[v]),
            }
        )
    data: dict[str, Any] = {
        "project": project.name,
        "target": env.describe(),
        "indexes": engine.config.describe(),
        "versions": versions,
        "problems": list(project.problems),
        "notes": list(project.notes),
        "selected": str(version) if version is not None else None,
    }
    if version is not None and chosen is None:
        data["selected_files"] = sorted(f.filename for f in by_version.get(version, []))
    if chosen is not None and meta is not None:
        data["metadata"] = {
            "file": chosen.filename,
            "url": redact_url(chosen.url),
            "status": meta.status.value,
            "source": meta.source,
            "note": meta.note,
            "requires_python": str(meta.requires_python) if meta.requires_python else None,
            "provides_extra": sorted(meta.provides_extra),
            "requires_dist": [
                {"requirement": str(r), "applies": env.evaluate(r.marker, frozenset(req.extras))}
                for r in meta.requires_dist
            ],
            "skipped": list(meta.skipped),
        }
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(_as_text(data, show_all=args.all))
    if not project.files or (meta is not None and meta.status is MetadataStatus.UNAVAILABLE):
        return int(ExitCode.METADATA_UNAVAILABLE)
    return int(ExitCode.OK)


def _as_text(data: dict[str, Any], *, show_all: bool) -> str:
    lines = [f"{data['project']} for {data['target']}", f"indexes: {data['indexes']}"]
    versions = data["versions"]
    fitting = [v for v in versions if v["installable"]]
    lines.append(f"versions: {len(versions)}, installable on this target: {len(fitting)}")
    shown = versions if show_all else versions[:SHOWN_VERSIONS]
    for v in shown:
        mark = "ok " if v["installable"] else "-- "
        extra = f"  {v['file']}" if v["file"] else f"  (no compatible file among {v['files']})"
        if v["requires_python"]:
            extra += f"  requires-python {v['requires_python']}"
        if v["yanked"] is not None:
            extra += f"  YANKED{': ' + v['yanked'] if v['yanked'] else ''}"
        lines.append(f"  {mark}{v['version']}{extra}")
    if len(shown) < len(versions):
        lines.append(f"  ... {len(versions) - len(shown)} older (--all lists them)")
    lines += [f"problem: {problem}" for problem in data["problems"]]
    lines += [f"note: {note}" for note in data["notes"]]
    selected = data["selected"]
    if selected is None:
        lines.append("no version satisfies the request on this target")
    elif "metadata" not in data:
        files = data.get("selected_files") or []
        lines.append(
            f"{data['project']} {selected}: no file installs on this target"
            + (f" (files: {', '.join(files)})" if files else " (no such version)")
        )
    else:
        m = data["metadata"]
        lines.append(f"{data['project']} {selected} from {m['file']} ({m['source']}, {m['status']})")
        if m["note"]:
            lines.append(f"  note: {m['note']}")
        lines.append(f"  requires-python: {m['requires_python'] or '(any)'}")
        if m["provides_extra"]:
            lines.append(f"  extras: {', '.join(m['provides_extra'])}")
        applied = [r["requirement"] for r in m["requires_dist"] if r["applies"]]
        ignored = [r["requirement"] for r in m["requires_dist"] if not r["applies"]]
        lines.append(f"  requires on this target ({len(applied)}):")
        lines += [f"    {r}" for r in sorted(applied, key=str.lower)]
        if ignored:
            lines.append(f"  not on this target (markers or extras) ({len(ignored)}):")
            lines += [f"    {r}" for r in sorted(ignored, key=str.lower)]
        lines += [f"  skipped (does not parse): {s}" for s in m["skipped"]]
    return "\n".join(lines)
