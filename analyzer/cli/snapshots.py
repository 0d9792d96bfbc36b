"""``tfconflict snapshots sync | list | show | diff | capture``: the runtime histories and snapshots themselves.

The ``render_*`` functions return text; only ``_run_*`` print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from analyzer.catalog import Catalog, Release, SyncResult, source_dir, sync_source
from analyzer.cli.common import add_colab_repo_option, add_python_platform_options, day, snapshot_from_args
from analyzer.diff import SnapshotDiff, diff
from analyzer.errors import ExitCode, InputError
from analyzer.snapshot import Snapshot
from analyzer.sources import load_source

__all__ = ["register", "render_diff", "render_list", "render_show", "render_sync"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "snapshots",
        help="sync, list, show, compare and capture runtime snapshots",
        description="Runtime snapshots: the Colab release history (synced into the cache with git and read "
        "offline afterwards), single snapshots, their differences, and the running interpreter's own.",
    )
    sub = parser.add_subparsers(dest="snapshots_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("sync", help="fetch a source's history into the cache (clone once, fetch afterwards)")
    _source_option(p)
    add_colab_repo_option(p)
    _format_option(p)
    p.set_defaults(func=_run_sync)

    p = sub.add_parser("list", help="list the releases of a source (date, kind, Python, package count, commit)")
    _source_option(p)
    add_colab_repo_option(p)
    p.add_argument("--runtime", choices=("cpu", "gpu", "tpu", "all"), default="all", help="runtime kind (default: all)")
    p.add_argument("--since", type=day, metavar="YYYY-MM-DD", help="only releases on or after this day")
    p.add_argument("--until", type=day, metavar="YYYY-MM-DD", help="only releases on or before this day")
    _format_option(p)
    p.set_defaults(func=_run_list)

    p = sub.add_parser("show", help="one snapshot: Python and its evidence, platform, pins, declared requirements")
    p.add_argument("selector", metavar="SELECTOR", help="colab, colab:2025-07-14, colab:2025.07, colab@COMMIT, "
                   "colab-gpu:..., current, or a freeze / snapshot JSON file")
    add_python_platform_options(p)
    add_colab_repo_option(p)
    p.add_argument("--pins", action="store_true", help="list every pin, not only the direct references")
    _format_option(p)
    p.set_defaults(func=_run_show)

    p = sub.add_parser("diff", help="what changed from snapshot A to snapshot B")
    p.add_argument("a", metavar="A", help="the older snapshot (any selector)")
    p.add_argument("b", metavar="B", help="the newer snapshot (any selector)")
    add_python_platform_options(p)
    add_colab_repo_option(p)
    _format_option(p)
    p.set_defaults(func=_run_diff)

    p = sub.add_parser("capture", help="write the running interpreter's environment as snapshot JSON")
    p.add_argument("-o", "--output", metavar="FILE", type=Path, help="write here instead of standard output")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.set_defaults(func=_run_capture)


def _source_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="colab", help="the snapshot source (snapshots/*.toml; default: colab)")


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


# -- commands ----------------------------------------------------------------------------------------------------


def _run_sync(args: argparse.Namespace) -> int:
    decl = load_source(args.source)
    result = sync_source(decl, args.colab_repo)
    catalog = Catalog(decl, source_dir(decl), result.head)
    if args.format == "json":
        sys.stdout.write(_json(asdict(result)))
    else:
        sys.stdout.write(render_sync(result, catalog))
    return int(ExitCode.OK)


def _run_list(args: argparse.Namespace) -> int:
    catalog = Catalog.open(load_source(args.source), args.colab_repo)
    if args.since is not None and args.until is not None and args.since > args.until:
        raise InputError(f"--since {args.since} is after --until {args.until}")
    releases = catalog.releases_of(None if args.runtime == "all" else args.runtime, args.since, args.until)
    if args.format == "json":
        sys.stdout.write(_json({"source": catalog.decl.name, "head": catalog.head,
                                "releases": [r.to_json_dict() for r in releases]}))
    else:
        sys.stdout.write(render_list(releases, catalog))
    return int(ExitCode.OK)


def _run_show(args: argparse.Namespace) -> int:
    snapshot = snapshot_from_args(args, args.selector)
    if args.format == "json":
        sys.stdout.write(snapshot.to_json())
    else:
        sys.stdout.write(render_show(snapshot, all_pins=args.pins))
    return int(ExitCode.OK)


def _run_diff(args: argparse.Namespace) -> int:
    result = diff(snapshot_from_args(args, args.a), snapshot_from_args(args, args.b))
    if args.format == "json":
        sys.stdout.write(_json(result.to_json_dict()))
    else:
        sys.stdout.write(render_diff(result))
    return int(ExitCode.OK)


def _run_capture(args: argparse.Namespace) -> int:
    from analyzer.current import current_snapshot

    text = current_snapshot().to_json()
    if args.output is None:
        sys.stdout.write(text)
        return int(ExitCode.OK)
    if args.output.exists() and not args.force:
        raise InputError("the file exists; give --force to overwrite it", file=str(args.output))
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(args.output)) from exc
    print(f"tfconflict: wrote the current environment to {args.output}", file=sys.stderr)
    return int(ExitCode.OK)


# -- renderers ---------------------------------------------------------------------------------------------------


def render_sync(result: SyncResult, catalog: Catalog) -> str:
    counts = Counter(r.kind for r in catalog.releases)
    kinds = ", ".join(f"{counts[k]} {k}" for k in catalog.decl.kind_names if counts[k])
    span = ""
    if catalog.releases:
        span = f", {catalog.releases[0].date.date()} to {catalog.releases[-1].date.date()}"
    lines = [
        f"{'cloned' if result.cloned else 'fetched'} {result.source} from {result.origin} ({result.origin_reason})",
        f"HEAD {result.head[:12]}: {len(catalog.commits)} commits, {result.releases} releases ({kinds}){span}",
        *result.tables,
    ]
    return "\n".join(lines) + "\n"


def render_list(releases: Sequence[Release], catalog: Catalog) -> str:
    if not releases:
        return "no release matches\n"
    header = ("DATE", "KIND", "PYTHON", "PACKAGES", "SELECTOR", "UPSTREAM")
    rows = [header] + [
        (
            r.date.date().isoformat(),
            r.kind,
            f"{r.python}*" if r.python_inferred else r.python,
            str(r.packages),
            r.id,
            r.upstream_commit or "",
        )
        for r in releases
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(widths[i]) if i == 3 else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    counts = Counter(r.kind for r in releases)
    summary = ", ".join(f"{counts[k]} {k}" for k in catalog.decl.kind_names if counts[k])
    lines.append(f"{len(releases)} releases ({summary}) of {catalog.decl.name} at HEAD {catalog.head[:12]}")
    if any(r.python_inferred for r in releases):
        lines.append("* Python not recorded at that commit but inferred; `snapshots show SELECTOR` gives the evidence")
    return "\n".join(lines) + "\n"


def render_show(snapshot: Snapshot, *, all_pins: bool = False) -> str:
    direct = [p for p in snapshot.pins if p.is_direct]
    lines = [f"{snapshot.id}  ({snapshot.kind} runtime, source: {snapshot.source})"]
    if snapshot.date is not None:
        lines.append(f"  date:      {snapshot.date.isoformat(sep=' ')}")
    if snapshot.commit:
        upstream = f" (upstream {snapshot.upstream_commit})" if snapshot.upstream_commit else ""
        lines.append(f"  commit:    {snapshot.commit}{upstream}")
    lines.append(f"  python:    {snapshot.python}  ({snapshot.python_evidence})")
    p = snapshot.platform
    os_text = p.description or (f"{p.distro} {p.distro_version}" if p.distro else p.os_name)
    lines.append(f"  platform:  {os_text}, {f'glibc {p.glibc}' if p.glibc else 'glibc unknown'}, {p.machine}")
    lines.append(f"  packages:  {len(snapshot.pins)} pinned, {len(direct)} of them direct references")
    if all_pins:
        lines.append("pins:")
        lines += [f"  {pin}" for pin in snapshot.pins]
    elif direct:
        lines.append("direct references:")
        lines += [
            f"  {pin.display_name} {pin.version or '(version unknown)'} @ {pin.url}{' (editable)' if pin.editable else ''}"
            for pin in direct
        ]
    for declared in snapshot.declared:
        installed = snapshot.by_name.get(declared.name)
        name = installed.display_name if installed else declared.name
        lines.append(f"{name}'s declared requirements ({declared.evidence}):")
        lines += [f"  {req}" for req in declared.requirements]
    if snapshot.problems:
        lines.append(f"problems ({len(snapshot.problems)}):")
        lines += [f"  {problem}" for problem in snapshot.problems]
    if snapshot.notes:
        lines.append("notes:")
        lines += [f"  {note}" for note in snapshot.notes]
    return "\n".join(lines) + "\n"


def render_diff(result: SnapshotDiff) -> str:
    lines = [f"{result.a} -> {result.b}"]
    if result.python:
        lines.append(f"Python: {result.python[0]} -> {result.python[1]}")
    if result.platform:
        lines.append(f"platform: {result.platform[0]} -> {result.platform[1]}")
    if result.empty:
        lines.append("no differences")
        return "\n".join(lines) + "\n"

    def section(title: str, items: Sequence[str]) -> None:
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {item}" for item in items)

    section("added", [f"{p.display_name} {p.version or p.url}" for p in result.added])
    section("removed", [f"{p.display_name} {p.version or p.url}" for p in result.removed])
    for title, changes in (("upgraded", result.upgraded), ("downgraded", result.downgraded)):
        section(title, [
            f"{c.new.display_name} {c.old.version} -> {c.new.version}{'  [major]' if c.major else ''}" for c in changes
        ])
    section("changed", [
        f"{c.new.display_name} {c.old.version or ''} @ {c.old.url or 'index'} -> "
        f"{c.new.version or ''} @ {c.new.url or 'index'}"
        for c in result.changed
    ])
    section("major version changes", [f"{c.new.display_name} {c.old.version} -> {c.new.version}"
                                      for c in result.major_changes])
    return "\n".join(lines) + "\n"
