"""The image's dependency graph: edges evaluated for the target, declared requirements, extras, the request."""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
from packaging.requirements import Requirement
from packaging.utils import NormalizedName
from packaging.version import Version

from analyzer.diagnosis.graph import REQUEST, ImageGraph, image_graph
from analyzer.diagnosis.why import why
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import CoreMetadata, MetadataStatus
from analyzer.render.why import render_why_dot, render_why_graphml
from analyzer.session import Session
from analyzer.snapshot import DeclaredRequirements, Pin, Snapshot
from tests.memsource import MemorySource
from tests.test_conflict_set import TF_PINS, TF_WORLD, env_of, snapshot_of, world_source

WORLD: dict[str, dict[str, list[str]]] = {
    **TF_WORLD,
    "google-colab": {"1.0.0": ["something-else"]},
    "old-py": {"1.0": ['numpy; python_version < "3.8"', 'idna; sys_platform == "linux"']},
    "withextra": {"1.0": ["requests[socks]"]},
    "pysocks": {"1.7.1": []},
    "stub-cu12": {"24.10": []},
}
WORLD["requests"] = {"2.32.3": ["idna", 'pysocks!=1.5.7,>=1.5.6; extra == "socks"']}
PINS = {
    **TF_PINS,
    "google-colab": "1.0.0",
    "old-py": "1.0",
    "withextra": "1.0",
    "pysocks": "1.7.1",
    "stub-cu12": "24.10",
}


def build() -> tuple[ImageGraph, Snapshot, TargetEnvironment, MemorySource]:
    snapshot = replace(
        snapshot_of(PINS),
        declared=(
            DeclaredRequirements(NormalizedName("google-colab"), ("pandas==2.2.2",), "colabtools setup.py"),
        ),
    )
    source = world_source(WORLD)
    stub = (NormalizedName("stub-cu12"), "24.10")
    source.meta[stub] = CoreMetadata(
        stub[0], Version(stub[1]), status=MetadataStatus.UNAVAILABLE, note="stub sdist"
    )
    env = env_of(snapshot)
    return image_graph(Session.open(snapshot, source, env)), snapshot, env, source


def test_requirers_and_requirements_are_evaluated_for_the_target() -> None:
    graph, snapshot, *_ = build()
    requirers = {e.parent: e.requirement for e in graph.requirers_of("numpy")}
    assert requirers == {
        "jax": "numpy>=1.25",
        "ml-dtypes": "numpy>=1.21",
        "pandas": "numpy>=1.22.4",
        "tensorflow": "numpy>=1.26",
    }
    # Markers for another Python are dropped; markers that hold are kept.
    assert {e.child for e in graph.requirements_of("old-py")} == {"idna"}
    assert graph.version_of("jax") == "0.5.2"
    assert set(why(graph, snapshot, "idna", depth=0).nodes()) >= {"requests", "old-py", "withextra"}
    assert "numpy" in {e.child for e in graph.requirements_of("jax")}


def test_declared_requirements_replace_the_index_and_extras_propagate() -> None:
    graph, *_ = build()
    assert [e.requirement for e in graph.requirements_of("google-colab")] == ["pandas==2.2.2"]
    # requests is required with [socks] by withextra, so its socks extra's requirement is an edge.
    assert "pysocks" in {e.child for e in graph.requirements_of("requests")}


def test_opaque_pins_are_named_not_fatal() -> None:
    graph, *_ = build()
    assert graph.opaque == {"stub-cu12"}
    assert graph.requirements_of("stub-cu12") == ()


def test_request_closure_and_relevant_pins() -> None:
    graph, _snapshot, env, source = build()
    full = graph.with_request([Requirement("tensorflow==2.12.0")], Session.open(_snapshot, source, env))
    reached = full.reachable_from_request()
    assert {"tensorflow", "numpy", "protobuf"} <= reached
    relevant = full.relevant_pins()
    # Pins that require what the request reaches are relevant; unrelated ones are not.
    assert {"numpy", "jax", "pandas", "ml-dtypes", "google-colab", "protobuf"} <= relevant
    assert not relevant & {"requests", "idna", "pysocks", "withextra", "stub-cu12", "old-py"}
    assert REQUEST not in relevant and REQUEST not in graph
    # the chain from the request to numpy: through the requested tensorflow's own requirement
    assert [str(e) for e in full.requirers_of("tensorflow")] == ["the request requires tensorflow==2.12.0"]
    assert "tensorflow 2.12.0 requires numpy<1.24,>=1.22" in [str(e) for e in full.requirers_of("numpy")]
    # The installed tensorflow's own edges give way to the requested version's.
    assert {e.requirement for e in full.requirements_of("tensorflow")} == {
        "numpy<1.24,>=1.22",
        "protobuf<5,>=3.20",
    }


def test_reverse_tree_and_exports() -> None:
    graph, snapshot, *_ = build()
    answer = why(graph, snapshot, "numpy", depth=2)
    tree = {r.name: [up.name for up in r.requirers] for r in answer.requirers}
    assert tree == {"jax": [], "ml-dtypes": ["jax"], "pandas": ["google-colab"], "tensorflow": []}
    assert '"jax" -> "numpy" [label="numpy>=1.25"];' in render_why_dot(answer)
    back = nx.parse_graphml(render_why_graphml(answer))
    assert back.edges["jax", "numpy"]["requirement"] == "numpy>=1.25"


def test_unreachable_direct_reference_takes_the_index_metadata_of_its_version() -> None:
    # torch @ <vendor URL> with a local version: the URL cannot be read, so the public version on the index
    # stands for it (as the resolver does), instead of leaving the pin opaque and out of the conflict search
    world: dict[str, dict[str, list[str]]] = {"torch": {"2.6.0": ["numpy>=1.20"]}, "numpy": {"1.26.4": []}}
    url = "https://vendor.example.org/whl/torch-2.6.0%2Bcu124-cp311-cp311-linux_x86_64.whl"
    snapshot = replace(
        snapshot_of({"numpy": "1.26.4"}),
        pins=(
            *snapshot_of({"numpy": "1.26.4"}).pins,
            Pin(NormalizedName("torch"), "2.6.0+cu124", url=url),
        ),
    )
    source = world_source(world)
    graph = image_graph(Session.open(snapshot, source))
    assert "torch" not in graph.opaque
    assert [e.requirement for e in graph.requirements_of("torch")] == ["numpy>=1.20"]
    assert source.calls["metadata_for_url"] == 1  # the URL was tried first


def test_neighbours_in_the_order_edges_were_added_and_walks_transitive() -> None:
    """Reports print neighbours as the metadata lists them (not sorted); the request's closure replaces the
    requested pin's edges, re-added in the order it expands them; walks go past the first level."""
    graph, snapshot, env, source = build()
    full = graph.with_request([Requirement("tensorflow==2.12.0")], Session.open(snapshot, source, env))
    assert list(graph.graph.successors("jax")) == ["numpy", "ml-dtypes"]
    assert list(graph.graph.successors("tensorflow")) == ["numpy", "protobuf"]
    assert list(full.graph.successors("tensorflow")) == ["protobuf", "numpy"]
    assert list(full.graph.predecessors("numpy")) == ["jax", "ml-dtypes", "pandas", "tensorflow"]
    assert list(full.graph.successors(REQUEST)) == ["tensorflow"]
    assert graph.requirers_of("not-installed") == () and graph.requirements_of("not-installed") == ()
    # google-colab requires numpy only through pandas
    assert set(why(graph, snapshot, "numpy", depth=0).nodes()) == {
        "numpy", "google-colab", "jax", "ml-dtypes", "pandas", "tensorflow"
    }  # fmt: skip
    assert full.relevant_pins({"numpy"}) == {"numpy", "google-colab", "jax", "ml-dtypes", "pandas", "tensorflow"}
    assert nx.descendants(graph.graph, "google-colab") == {"pandas", "numpy"}
    assert full.reachable_from_request() == {"tensorflow", "numpy", "protobuf"}
    assert graph.reachable_from_request() == frozenset()
    assert "tensorflow" in graph and REQUEST not in graph and REQUEST in full and len(full) == len(graph) + 1
    # the request's copy is its own: the image graph keeps its nodes' data and edges
    assert "candidate" not in graph.graph.nodes["tensorflow"] and full.graph.nodes["tensorflow"]["candidate"]
    for g in (graph, full):
        for a, b, edge in g.graph.edges(data="edge"):
            assert (edge.parent, edge.child) == (a, b)
            # a version the request takes (``candidate``) stands for the installed one
            assert edge.parent_version == (g.graph.nodes[a].get("candidate") or g.version_of(a))
