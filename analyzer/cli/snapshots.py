"""``tfconflict snapshots sync | list | show | diff | capture | requirements``: the runtime histories and
snapshots themselves (their text forms are ``analyzer.render.snapshots``), and the requirements table a source
ships (``analyzer.pintable``)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from analyzer.catalog import Catalog, source_dir, sync_source
from analyzer.cli.common import add_colab_repo_option, add_python_platform_options, day, snapshot_from_args
from analyzer.diff import diff
from analyzer.errors import ExitCode, InputError
from analyzer.render.snapshots import render_diff, render_list, render_show, render_sync
from analyzer.sources import load_source

__all__ = ["register"]


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

    p = sub.add_parser(
        "requirements",
        help="bring a source's requirements table up to date: read the pins of new releases and the new "
        "versions of pinned projects from the index",
        description="Sync the source's history, find the pins of its releases, and the files of pinned projects' "
        "versions, that the requirements table (shipped with tfconflict, plus your update "
        "in the cache) does not hold yet, read only those from the index, and write your update into the cache "
        "(or the whole table to --out FILE).",
    )
    _source_option(p)
    add_colab_repo_option(p)
    p.add_argument(
        "--out", metavar="FILE", type=Path,
        help="write the whole table (shipped + cached update + what this run reads) to FILE instead of the cache",
    )
    p.add_argument(
        "--retry-direct-references", action="store_true",
        help="ask again the direct references (name @ URL) whose own URL gave no metadata before",
    )
    from analyzer.cli.indexopts import add_index_options

    add_index_options(p)
    p.set_defaults(func=_run_requirements)


def _source_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="colab", help="the snapshot source (snapshots/*.toml; default: colab)")


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _json(data: Any) -> str:
    return json.dumps(data, indent=2) + "\n"


def _run_sync(args: argparse.Namespace) -> int:
    decl = load_source(args.source)
    result = sync_source(decl, args.colab_repo)
    catalog = Catalog(decl, source_dir(decl), result.head)
    sys.stdout.write(_json(asdict(result)) if args.format == "json" else render_sync(result, catalog))
    return int(ExitCode.OK)


def _run_list(args: argparse.Namespace) -> int:
    catalog = Catalog.open(load_source(args.source), args.colab_repo)
    if args.since is not None and args.until is not None and args.since > args.until:
        raise InputError(f"--since {args.since} is after --until {args.until}")
    releases = catalog.releases_of(None if args.runtime == "all" else args.runtime, args.since, args.until)
    if args.format == "json":
        data = {"source": catalog.decl.name, "head": catalog.head}
        listed = [{**r.to_json_dict(), **catalog.name_of(r).to_json_dict()} for r in releases]
        sys.stdout.write(_json({**data, "releases": listed}))
    else:
        sys.stdout.write(render_list(releases, catalog))
    return int(ExitCode.OK)


def _run_show(args: argparse.Namespace) -> int:
    snapshot = snapshot_from_args(args, args.selector)
    text = snapshot.to_json() if args.format == "json" else render_show(snapshot, all_pins=args.pins)
    sys.stdout.write(text)
    return int(ExitCode.OK)


def _run_diff(args: argparse.Namespace) -> int:
    result = diff(snapshot_from_args(args, args.a), snapshot_from_args(args, args.b))
    sys.stdout.write(_json(result.to_json_dict()) if args.format == "json" else render_diff(result))
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



def _run_requirements(args: argparse.Namespace) -> int:
    import time

    from analyzer.cli.indexopts import engine_from_args
    from analyzer.pintable import index_digest, overlay_path
    from analyzer.pintable_build import build_table, held_for_update, history_pins, write_update

    started = time.monotonic()
    decl = load_source(args.source)
    probe = engine_from_args(args, progress=False)
    index, as_of = index_digest(probe.config.urls), probe.as_of
    probe.close()
    held = held_for_update(decl, index, args.out, as_of=as_of)
    synced = sync_source(decl, args.colab_repo)
    history = history_pins(Catalog(decl, source_dir(decl), synced.head))

    def tell(line: str) -> None:
        print(f"tfconflict: {line}", file=sys.stderr, flush=True)

    result = build_table(
        history, held, lambda: engine_from_args(args), source=decl.name,
        retry_urls=args.retry_direct_references, tell=tell,
    )
    print(
        f"{decl.name}: {result.releases} releases ({result.releases_complete} held whole before), "
        f"{result.pins} distinct pins by target"
    )
    print(
        f"pins held: {result.pins_held}; pins read: {result.pins_read}; direct references asked of their URL: "
        f"{result.urls_tried}"
    )
    print(
        f"other versions of {result.projects} pinned projects: {result.versions} versions, {result.version_files} "
        f"files pip would pick; held: {result.version_files_held}; read: {result.version_files_read}"
    )
    print(
        f"records added: {result.records_added} pins, {result.urls_added} direct references, "
        f"{result.files_added} files ({result.version_files_added} of other versions)"
    )
    if result.transient:
        print(
            f"left out: {result.transient} pins whose reading met a network failure (e.g. "
            f"{', '.join(result.transient_examples)}); a check reads them from the index, the next update tries "
            "them again"
        )
    if result.version_files_transient or result.version_pages_transient:
        print(
            f"left out: {result.version_files_transient} files of other versions, and the other versions of "
            f"{result.version_pages_transient} projects, whose reading met a network failure; a check reads them "
            "from the index, the next update tries them again"
        )
    if result.version_files_unreadable:
        print(
            f"files of other versions without metadata or sha256: {result.version_files_unreadable} (not held; "
            "a check asks the index, as before)"
        )
    if result.urls_unreadable:
        print(
            f"direct references without metadata from their own URL: {len(result.urls_unreadable)} (a check "
            "takes the index's same version, as before; --retry-direct-references asks them again)"
        )
    written = write_update(decl, held, result, args.out)
    if written is None:
        print(f"nothing new: {args.out or overlay_path(decl.name)} left as it is")
    else:
        print(
            f"wrote {written.path}: {written.pins} pins, {written.urls} direct references, {written.files} files, "
            f"{written.size:,} bytes"
        )
    print(f"took {time.monotonic() - started:.1f} s")
    return int(ExitCode.OK)
