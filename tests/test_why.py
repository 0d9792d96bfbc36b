"""``tfconflict why`` on real data: the Colab release of 2025-07-14 from the history bundle, its pins that the recorded
real index metadata covers (tensorflow 2.18's closure, jax, keras, scipy...), served by the fixture index."""

# ruff: noqa: F811 - the index_server fixture is imported by name, then taken as a parameter
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import networkx as nx
import pytest
from packaging.utils import NormalizedName

from analyzer.cli import main
from analyzer.diagnosis.graph import ImageGraph, image_graph
from analyzer.diagnosis.why import SCHEMA, WhyAnswer, satisfies, split_requirements, why
from analyzer.environment import TargetEnvironment
from analyzer.metadata.cache import MetadataCache
from analyzer.metadata.config import IndexConfig
from analyzer.metadata.engine import MetadataEngine
from analyzer.render.json import render_json
from analyzer.render.why import render_why_dot, render_why_graphml, render_why_text
from analyzer.selectors import resolve_selector
from analyzer.session import Session
from analyzer.snapshot import Snapshot
from tests.indexserver import RECORDED, FixtureIndex, index_server  # noqa: F401 - pytest fixture

RELEASE = "colab:2025-07-14"


def recorded_projects() -> set[str]:
    return set(json.loads((RECORDED / "MANIFEST.json").read_text())["projects"])


@pytest.fixture
def recorded(index_server: FixtureIndex) -> FixtureIndex:
    assert index_server.add_recorded(RECORDED) > 0
    return index_server


def image(colab_cache: Path, *, numpy: str | None = None, drop: str | None = None) -> Snapshot:
    """The real release, its pins limited to what the recorded metadata covers (every other pin would be a miss);
    ``numpy`` moves numpy's pin, ``drop`` removes one pin."""
    snapshot = resolve_selector(RELEASE)
    keep = recorded_projects()
    pins = [p for p in snapshot.pins if p.name in keep and p.name != drop]
    if numpy is not None:
        pins = [replace(p, version=numpy) if p.name == "numpy" else p for p in pins]
    assert len(pins) > 30
    return snapshot.with_pins(pins)


def graph_of(snapshot: Snapshot, index: FixtureIndex) -> ImageGraph:
    env = TargetEnvironment.from_snapshot(snapshot)
    with MetadataEngine(IndexConfig(index.index_url), cache=MetadataCache()) as engine:
        return image_graph(Session.open(snapshot, engine, env))


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# -- the answer as data ----------------------------------------------------------------------------------------


def test_who_requires_numpy_and_with_which_specifier(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = image(colab_cache)
    answer = why(graph_of(snapshot, recorded), snapshot, "NumPy", depth=1)
    assert answer.name == "numpy" and answer.installed == "2.0.2"
    assert answer.date == "2025-07-14" and answer.python == "3.11.13"
    # named as Colab names it, the commit kept for JSON
    assert answer.runtime == f"{snapshot.label}, Python 3.11.13" and snapshot.label != snapshot.id
    by_name = {r.name: r for r in answer.requirers}
    # the real metadata of the installed versions, evaluated for Python 3.11 on Linux
    assert by_name["tensorflow"].version == "2.18.0"
    assert by_name["tensorflow"].requirement == "numpy<2.1.0,>=1.26.0"
    assert by_name["jax"].requirement == "numpy>=1.25"
    assert by_name["scipy"].requirement == "numpy<2.5,>=1.23.5"
    assert {"jax", "jaxlib", "keras", "ml-dtypes", "scipy", "tensorboard", "tensorflow"} <= set(by_name)
    assert all(r.satisfied is True and r.required_version == "2.0.2" for r in answer.requirers)
    assert answer.violations == ()
    # one level: nothing above the direct requirers, but what the depth hides is counted
    assert all(r.requirers == () for r in answer.requirers)
    assert by_name["tensorflow"].hidden == 1 and not by_name["tensorflow"].expanded  # tf-keras requires it
    assert by_name["jax"].hidden == 0 and by_name["jax"].expanded  # nothing requires jax
    text = render_why_text(answer)
    assert "who requires numpy (1 level up):" in text
    assert (
        "tensorflow 2.18.0 requires numpy<2.1.0,>=1.26.0  [ok]  (+1 requirer further up; raise --depth)"
        in text
    )
    assert "├── jax 0.5.2 requires numpy>=1.25  [ok]\n" in text


def test_the_tree_goes_up_and_each_requirer_is_expanded_once(
    colab_cache: Path, recorded: FixtureIndex
) -> None:
    snapshot = image(colab_cache)
    graph = graph_of(snapshot, recorded)
    answer = why(graph, snapshot, "ml-dtypes", depth=0)
    top = {r.name: r for r in answer.requirers}
    assert set(top) == {"jax", "jaxlib", "keras", "tensorflow"}
    # tensorflow is a direct requirer: expanded there (tf-keras above it), pointed to from keras's branch
    assert [r.name for r in top["tensorflow"].requirers] == ["tf-keras"]
    (tf_under_keras,) = top["keras"].requirers
    assert tf_under_keras.name == "tensorflow" and tf_under_keras.shown_elsewhere
    names = [r.name for top_r in answer.requirers for r in top_r.walk() if r.expanded and r.requirers]
    assert len(names) == len(set(names))
    text = render_why_text(answer)
    assert "who requires ml-dtypes (every level up):" in text
    assert (
        "keras 3.8.0 requires ml-dtypes  [ok]\n│   └── tensorflow 2.18.0 requires keras>=3.5.0  [ok]  (see its own branch)"
        in text
    )
    # as deep as it goes: every ancestor in the graph appears
    assert set(answer.nodes()) == {"ml-dtypes"} | nx.ancestors(graph.graph, "ml-dtypes")


def test_a_violation_in_the_image_is_flagged_and_drawn_red(colab_cache: Path, recorded: FixtureIndex) -> None:
    # numpy 2.2.6 in place of 2.0.2: tensorflow 2.18.0 asks numpy<2.1.0 (a real requirement of a real release)
    snapshot = image(colab_cache, numpy="2.2.6")
    answer = why(graph_of(snapshot, recorded), snapshot, "numpy")
    (bad,) = answer.violations
    assert (bad.name, bad.requirement, bad.required_version) == (
        "tensorflow",
        "numpy<2.1.0,>=1.26.0",
        "2.2.6",
    )
    assert bad.satisfied is False
    text = render_why_text(answer)
    assert "1 requirement is NOT satisfied" in text.splitlines()[0]
    assert "tensorflow 2.18.0 requires numpy<2.1.0,>=1.26.0, but 2.2.6 is installed" in text

    dot = render_why_dot(answer)
    assert dot.startswith('digraph "why numpy" {') and dot.rstrip().endswith("}")
    edges = [line for line in dot.splitlines() if " -> " in line]
    red = [line for line in edges if "color=red" in line]
    assert red == [
        '  "tensorflow" -> "numpy" [label="numpy<2.1.0,>=1.26.0", color=red, fontcolor=red, penwidth=2];'
    ]
    assert '  "jax" -> "numpy" [label="numpy>=1.25"];' in edges
    assert '  "tf-keras" -> "tensorflow" [label="tensorflow<2.19,>=2.18"];' in edges
    # every edge of the tree is drawn once, and every node it names is declared
    assert len(edges) == len(set(edges))
    declared = {line.split('"')[1] for line in dot.splitlines() if "[label=" in line and " -> " not in line}
    assert declared == set(answer.nodes())

    back = nx.parse_graphml(render_why_graphml(answer))
    assert back.edges["tensorflow", "numpy"]["satisfied"] == "no"
    assert back.edges["tensorflow", "numpy"]["requirement"] == "numpy<2.1.0,>=1.26.0"
    assert back.edges["jax", "numpy"]["satisfied"] == "yes"
    assert back.nodes["numpy"]["version"] == "2.2.6" and back.nodes["numpy"]["target"] is True
    assert set(back.nodes) == set(answer.nodes())

    # --broken: the conflict's own subgraph, the tensorflow branch with who requires tensorflow
    cut = answer.only_broken()
    assert [r.name for r in cut.requirers] == ["tensorflow"]
    assert cut.requirer_count == len(answer.requirers) > 1
    assert set(nx.parse_graphml(render_why_graphml(cut)).nodes) == {"numpy", "tensorflow", "tf-keras"}
    assert "(--broken: 1 branch shown)" in render_why_text(cut).splitlines()[0]


def test_json_form(colab_cache: Path, recorded: FixtureIndex) -> None:
    snapshot = image(colab_cache, numpy="2.2.6")
    data = json.loads(render_json(why(graph_of(snapshot, recorded), snapshot, "numpy")))
    assert data["schema"] == SCHEMA and data["name"] == "numpy" and data["installed"] == "2.2.6"
    assert data["violations"] == [
        {"name": "tensorflow", "version": "2.18.0", "requirement": "numpy<2.1.0,>=1.26.0"}
    ]
    tf = next(r for r in data["requirers"] if r["name"] == "tensorflow")
    assert tf["satisfied"] is False and tf["requirers"][0]["name"] == "tf-keras"


# -- the command -----------------------------------------------------------------------------------------------


def test_cli_text_dot_and_output_file(
    colab_cache: Path, recorded: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap_file = tmp_path / "image.json"
    snap_file.write_text(image(colab_cache, numpy="2.2.6").to_json())
    base = ["why", "numpy", "--snapshot", str(snap_file), "--index-url", recorded.index_url]
    code, out, _ = run_cli(base, capsys)
    assert code == 0
    assert out.startswith("numpy 2.2.6 in ")
    assert (
        "├── tensorflow 2.18.0 requires numpy<2.1.0,>=1.26.0  [NOT SATISFIED: 2.2.6 is installed]"
        in out.replace("└──", "├──")
    )
    target = tmp_path / "why.dot"
    code, out, err = run_cli([*base, "--format", "dot", "-o", str(target)], capsys)
    assert code == 0 and out == "" and str(target) in err
    assert '"tensorflow" -> "numpy"' in target.read_text() and "color=red" in target.read_text()


def test_cli_name_not_installed_says_who_requires_it(
    colab_cache: Path, recorded: FixtureIndex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap_file = tmp_path / "image.json"
    snap_file.write_text(image(colab_cache, drop="wrapt").to_json())
    base = ["--snapshot", str(snap_file), "--index-url", recorded.index_url]
    code, out, err = run_cli(["why", "wrapt", *base], capsys)
    assert code == 2 and out == ""
    assert "wrapt is not installed" in err and "tensorflow 2.18.0 requires wrapt>=1.11.0" in err
    assert "Traceback" not in err
    code, out, err = run_cli(["why", "nupmy", *base], capsys)
    assert code == 2
    # some pins' installed versions have no recorded metadata: "nothing requires it" would be more than is known
    assert "no installed package whose requirements could be read requires it" in err
    assert "did you mean numpy?" in err


def test_cli_rejects_a_negative_depth(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["why", "numpy", "--depth", "-1"])
    assert exc.value.code == 2
    assert "cannot be negative" in capsys.readouterr().err


# -- small parts -----------------------------------------------------------------------------------------------


def test_joined_requirement_lines_split_back() -> None:
    text = 'numpy>=1.21, numpy>=1.21.2; python_version >= "3.10", numpy>=1.23.3; python_version >= "3.11"'
    assert [str(r) for r in split_requirements(text)] == [
        "numpy>=1.21",
        'numpy>=1.21.2; python_version >= "3.10"',
        'numpy>=1.23.3; python_version >= "3.11"',
    ]
    # a comma and space inside a marker's string stays in its requirement
    assert len(split_requirements('a; extra == "x, y", b>=1')) == 2


@pytest.mark.parametrize(
    ("requirement", "version", "expected"),
    [
        ("torch==2.6.0", "2.6.0+cu124", True),  # a local version satisfies its public version
        ("nvidia-cublas-cu12==12.4.5.8", "12.5.3.2", False),
        ("numpy>=1.21, numpy>=1.23.3", "1.22.0", False),  # every line must hold
        ("jax>=0.4", "0.5.0rc1", True),  # pre-releases count for what is installed, as pip check says
        ("jedi>=0.16", None, False),  # not installed
        ("foo>=1", "not-a-version", None),
    ],
)
def test_satisfies(requirement: str, version: str | None, expected: bool | None) -> None:
    assert satisfies(requirement, version) is expected


def test_headline_for_a_top_level_package() -> None:
    answer = WhyAnswer(
        name=NormalizedName("tf-keras"),
        snapshot_id="x",
        python="3.11",
        installed="2.18.0",
        requirers=(),
        depth=2,
    )
    text = render_why_text(answer)
    assert text == "tf-keras 2.18.0 in x (Python 3.11): nothing installed requires it (a top-level package)\n"
    # unless some requirements could not be read (offline, an unreachable index): then it is not said
    unread = replace(answer, unknown=(NormalizedName("keras"),))
    first = render_why_text(unread).splitlines()[0]
    assert "top-level" not in first and "no installed package whose requirements could be read" in first
