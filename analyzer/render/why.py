"""``tfconflict why`` as text (a reverse tree, the runtime's own breakage first), Graphviz dot and GraphML.

dot and GraphML carry the same subgraph: NAME, its requirers down to the answer's depth, one edge per requirement;
an edge the installed version does not satisfy is red in dot and ``satisfied="no"`` in GraphML.
"""

from __future__ import annotations

import networkx as nx

from analyzer.diagnosis.why import Requirer, WhyAnswer

__all__ = ["render_why_dot", "render_why_graphml", "render_why_text"]


def _state(r: Requirer) -> str:
    if r.satisfied is None:
        return "cannot tell (version not PEP 440)"
    if r.satisfied:
        return "ok"
    if r.required_version is None:
        return "NOT SATISFIED: not installed"
    return f"NOT SATISFIED: {r.required_version} is installed"


def _who(r: Requirer) -> str:
    return f"{r.name} {r.version}" if r.version else r.name


def headline(answer: WhyAnswer) -> str:
    """One sentence: what is installed, how many require it, how many of those the runtime already fails."""
    runtime = answer.runtime
    count = answer.requirer_count
    who = f"{count} installed package{'s' if count != 1 else ''}" if count else "nothing installed"
    if answer.installed is None:
        verb = "requires" if count <= 1 else "require"
        return f"{answer.name} is not installed in {runtime}; {who} {verb} it"
    if not count and answer.unknown:
        return (
            f"{answer.name} {answer.installed} in {runtime}: no installed package whose requirements could be read "
            f"requires it ({len(answer.unknown)} could not be read, see below)"
        )
    if not count:
        return f"{answer.name} {answer.installed} in {runtime}: nothing installed requires it (a top-level package)"
    bad = len(answer.violations)
    if not bad:
        state = "every requirement is satisfied"
    else:
        state = f"{bad} requirement{'s are' if bad != 1 else ' is'} NOT satisfied by the installed version"
    cut = ""
    if answer.broken_only:
        cut = f" (--broken: {len(answer.requirers)} branch{'es' if len(answer.requirers) != 1 else ''} shown)"
    return f"{answer.name} {answer.installed} in {runtime}: required by {who}; {state}{cut}"


def _tree(answer: WhyAnswer) -> list[str]:
    lines = [f"{answer.name} {answer.installed or '(not installed)'}"]

    def walk(items: tuple[Requirer, ...], prefix: str) -> None:
        for i, r in enumerate(items):
            last = i == len(items) - 1
            tail = ""
            if r.hidden:
                tail = f"  (+{r.hidden} requirer{'s' if r.hidden != 1 else ''} further up; raise --depth)"
            elif r.shown_elsewhere:
                tail = "  (see its own branch)"
            lines.append(
                f"{prefix}{'└── ' if last else '├── '}{_who(r)} requires {r.requirement}  [{_state(r)}]{tail}"
            )
            walk(r.requirers, prefix + ("    " if last else "│   "))

    walk(answer.requirers, "")
    return lines


def render_why_text(answer: WhyAnswer, *, verbose: bool = False) -> str:
    lines = [headline(answer)]
    if answer.violations:
        lines += ["", "already broken in the runtime (pip check would say so):"]
        lines.extend(
            f"  {_who(r)} requires {r.requirement}, but {_state(r).split(': ', 1)[1]}"
            for r in answer.violations
        )
    deeper = answer.deeper_violations
    if deeper:
        lines += ["", "further up the tree, also not satisfied:"]
        lines.extend(f"  {_who(r)} requires {r.requirement} ({_state(r)})" for r in deeper)
    if answer.requirers:
        depth = answer.depth
        levels = f"{depth} level{'s' if depth != 1 else ''} up" if depth > 0 else "every level up"
        lines += ["", f"who requires {answer.name} ({levels}):", *_tree(answer)]
    if answer.unknown:
        cut = not verbose and len(answer.unknown) > 8
        shown = ", ".join(answer.unknown[:8] if cut else answer.unknown)
        more = f", … ({len(answer.unknown) - 8} more; -v lists them)" if cut else ""
        lines.append("")
        lines.append(
            f"not counted: {len(answer.unknown)} installed package(s) whose requirements could not be read "
            f"(metadata unavailable), they may require {answer.name} too: {shown}{more}"
        )
    return "\n".join(lines) + "\n"


def subgraph(answer: WhyAnswer) -> nx.DiGraph:
    """The answer as a graph: requirer -> required, edges with their requirement and whether it is satisfied."""
    g = nx.DiGraph()
    installed = answer.installed is not None
    g.add_node(answer.name, version=answer.installed or "", installed=installed, target=True)

    def add(required: str, items: tuple[Requirer, ...]) -> None:
        for r in items:
            if r.name not in g:
                g.add_node(r.name, version=r.version or "", installed=True, target=False)
            g.add_edge(
                r.name,
                required,
                requirement=r.requirement,
                satisfied={True: "yes", False: "no", None: "unknown"}[r.satisfied],
            )
            add(r.name, r.requirers)

    add(answer.name, answer.requirers)
    return g


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_why_dot(answer: WhyAnswer) -> str:
    """Graphviz text, sorted for stable diffs; unsatisfied edges red and bold, the asked-about package filled."""
    g = subgraph(answer)
    lines = [
        f"digraph {_quote('why ' + answer.name)} {{",
        "  rankdir=RL;",
        '  node [shape=box, fontname="Helvetica"];',
    ]
    for node in sorted(g.nodes):
        data = g.nodes[node]
        label = f"{node} {data['version']}".strip() if data["installed"] else f"{node} (not installed)"
        style = ', style="filled,bold", fillcolor="lightyellow"' if data["target"] else ""
        lines.append(f"  {_quote(node)} [label={_quote(label)}{style}];")
    for a, b in sorted(g.edges):
        data = g.edges[a, b]
        attrs = [f"label={_quote(data['requirement'])}"]
        if data["satisfied"] == "no":
            attrs += ["color=red", "fontcolor=red", "penwidth=2"]
        elif data["satisfied"] == "unknown":
            attrs += ["style=dashed"]
        lines.append(f"  {_quote(a)} -> {_quote(b)} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_why_graphml(answer: WhyAnswer) -> str:
    return "\n".join(nx.generate_graphml(subgraph(answer))) + "\n"
