"""The runtime histories and snapshots as text: a sync, a list of releases, one snapshot, two snapshots' difference."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from analyzer.catalog import Catalog, Release, RuntimeName, SyncResult
from analyzer.diff import SnapshotDiff
from analyzer.snapshot import Snapshot

__all__ = ["render_diff", "render_list", "render_show", "render_sync"]


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
    header = ("DATE", "KIND", "PYTHON", "PACKAGES", "RUNTIME", "SELECTOR", "UPSTREAM")
    rows = [header] + [
        (
            r.date.date().isoformat(),
            r.kind,
            f"{r.python}*" if r.python_inferred else r.python,
            str(r.packages),
            _runtime(catalog.name_of(r)),
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
    if any(catalog.name_of(r).version_name for r in releases):
        lines.append("RUNTIME: the named runtime version a notebook can select (--snapshot colab:YYYY.MM), or the one "
                     "the release follows")
    if any(r.python_inferred for r in releases):
        lines.append("* Python not recorded at that commit but inferred; `snapshots show SELECTOR` gives the evidence")
    return "\n".join(lines) + "\n"


def _runtime(name: RuntimeName) -> str:
    return name.version_name or (f"after {name.follows}" if name.follows else "-")


def render_show(snapshot: Snapshot, *, all_pins: bool = False) -> str:
    direct = [p for p in snapshot.pins if p.is_direct]
    lines = [f"{snapshot.label}  ({snapshot.kind} runtime, source: {snapshot.source})"]
    if snapshot.label != snapshot.id:
        lines.append(f"  selector:  {snapshot.id}")
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
    lines = [f"{result.a_name or result.a} -> {result.b_name or result.b}"]
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
