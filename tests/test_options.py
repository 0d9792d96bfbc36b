"""What to do: each version's cost is a prediction of that version, the restart flag follows the kernel's loaded
packages, the notebook command keeps extras and markers, and the work stays bounded."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.version import Version

from analyzer.check import run_check
from analyzer.diagnosis.graph import image_graph
from analyzer.diagnosis.installable import source_builds
from analyzer.diagnosis.options import RuntimeFit, kernel_loaded, notebook_command, options, runtime_fits
from analyzer.diagnosis.pip_prediction import ChangeKind, predict
from analyzer.diagnosis.suggestions import pinned
from analyzer.render import render
from analyzer.render.options import TITLE, options_section
from analyzer.request import RequestItem
from analyzer.session import Session
from tests.memsource import Scenario, scenario_from_dict

CP311 = ["cp311-cp311-manylinux_2_17_x86_64"]


def _world(extra_packages: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """tensorflow 2.18.0 in an image whose numpy the kernel has loaded (through ipykernel's closure too)."""
    return {
        "image": {
            "python": "3.11.13",
            "pins": [
                "tensorflow==2.18.0", "numpy==1.26.4", "albucore==0.0.24", "ipykernel==6.17.1",
                "comm==0.2.2", "ipython==7.34.0", "traitlets==5.7.1", "wrapt==1.17.2", "keras==3.8.0",
            ],
        },
        "package": [
            {"name": "tensorflow", "version": "2.12.0", "files": CP311,
             "requires": ["numpy<1.24,>=1.22", "wrapt<1.15,>=1.11", "keras<2.13,>=2.12"]},
            {"name": "tensorflow", "version": "2.13.1", "files": CP311,
             "requires": ["numpy<=1.24.3,>=1.22", "comm<0.2"]},
            {"name": "tensorflow", "version": "2.15.1", "files": ["sdist"], "requires": ["numpy>=1.23.5,<2"]},
            {"name": "tensorflow", "version": "2.16.2", "files": CP311, "requires": ["numpy<2.0.0,>=1.26.0"]},
            {"name": "tensorflow", "version": "2.18.0", "files": CP311, "requires": ["numpy<2.1.0,>=1.26.0"]},
            {"name": "tensorflow", "version": "2.19.0", "files": CP311,
             "requires": ["numpy<2.2.0,>=1.26.0", "wrapt>=1.17.3"]},
            {"name": "tensorflow", "version": "2.20.0", "files": CP311,
             "requires": ["numpy>=2", "ml-dtypes>=0.5"]},
            *({"name": "numpy", "version": v, "files": CP311} for v in ("1.23.5", "1.24.3", "1.26.4", "2.0.2")),
            {"name": "albucore", "version": "0.0.24", "requires": ["numpy>=1.24.4"]},
            {"name": "ipykernel", "version": "6.17.1", "requires": ["comm>=0.1.1", "ipython>=7.23.1", "traitlets"]},
            {"name": "comm", "version": "0.1.4"},
            {"name": "comm", "version": "0.2.2"},
            {"name": "ipython", "version": "7.34.0", "requires": ["traitlets>=4.2"]},
            {"name": "traitlets", "version": "5.7.1"},
            *({"name": "wrapt", "version": v} for v in ("1.14.1", "1.17.2", "1.17.3")),
            *({"name": "keras", "version": v} for v in ("2.12.0", "3.8.0")),
            {"name": "ml-dtypes", "version": "0.5.1", "requires": ["numpy>=1.21"]},
            *extra_packages,
        ],
    }  # fmt: skip


def _scenario() -> Scenario:
    return scenario_from_dict("options", _world())


def _session(s: Scenario) -> Session:
    return Session.open(s.snapshot, s.source, s.env)


def test_each_options_cost_is_a_prediction_of_that_version() -> None:
    s = _scenario()
    session = _session(s)
    items = [RequestItem(Requirement("tensorflow==2.12.0"))]
    own = predict([items[0].requirement], session)
    found = options(items, session, own, wanted=10)
    assert s.source.calls["sdist_facts"] == 0  # an option's cost names its source builds without reading them
    by_version = {o.version: o for o in found.versions}
    assert Version("2.12.0") in by_version and by_version[Version("2.12.0")].requested
    assert by_version[Version("2.18.0")].installed and by_version[Version("2.18.0")].free
    assert found.versions[0].installed  # the installed version leads; the rest newest first
    rest = [o.version for o in found.versions[1:]]
    assert rest == sorted(rest, reverse=True)
    for option in found.versions:
        asked = [pinned(items[0].requirement, option.version)]
        p = predict(asked, session)
        assert option.installs == p.ok
        moved = [c for c in p.changes if c.kind is not ChangeKind.INSTALL]
        assert [str(c) for c in option.changes] == [str(c) for c in moved]
        assert option.added == len(p.installs)
        assert set(option.broken) == {v.name for v in p.newly_broken}
        assert set(option.kernel) == {x.name for x in p.severe}
        assert option.builds == tuple(f"{b.name} {b.version}" for b in source_builds(asked, session, p))
    # 2.12.0 downgrades numpy, wrapt and keras and leaves albucore broken; 2.15.1 only comes as an sdist
    requested = by_version[Version("2.12.0")]
    assert {c.name for c in requested.changes} >= {"numpy", "wrapt", "keras"}
    assert "albucore" in requested.broken
    assert by_version[Version("2.15.1")].builds == ("tensorflow 2.15.1",)
    # 2.20.0 needs numpy 2 (an upgrade) and a new package: it installs and says so
    assert by_version[Version("2.20.0")].added == 1


def test_restart_follows_a_change_to_what_the_kernel_has_loaded() -> None:
    s = _scenario()
    session = _session(s)
    graph = image_graph(session)
    loaded = kernel_loaded(graph)
    # the seeds and their closure in the image: ipykernel brings comm; tensorflow and wrapt are not loaded
    assert {"numpy", "ipykernel", "comm", "ipython", "traitlets"} <= loaded
    assert not loaded & {"tensorflow", "wrapt", "keras", "albucore"}
    items = [RequestItem(Requirement("tensorflow==2.12.0"))]
    found = options(items, session, predict([items[0].requirement], session), graph=graph, wanted=10)
    by_version = {o.version: o for o in found.versions}
    for option in found.versions:
        assert set(option.restart) == {c.name for c in option.changes} & loaded
    assert "numpy" in by_version[Version("2.12.0")].restart  # numpy 1.26.4 -> 1.23.5
    assert by_version[Version("2.13.1")].restart == ("comm", "numpy")  # comm only through ipykernel's closure
    # 2.19.0 upgrades wrapt beside tensorflow: changes, but nothing the kernel loaded
    assert [c.name for c in by_version[Version("2.19.0")].changes] == ["tensorflow", "wrapt"]
    assert by_version[Version("2.19.0")].restart == ()
    # 2.20.0 also adds ml-dtypes: a new package is not loaded by anyone, only numpy's upgrade asks for a restart
    assert by_version[Version("2.20.0")].restart == ("numpy",)


def test_the_command_keeps_extras_markers_and_the_rest_of_the_request() -> None:
    extra = ({"name": "tensorflow", "version": "2.16.2", "files": CP311, "extras": ["and-cuda"],
              "requires": ["numpy<2.0.0,>=1.26.0", "nvidia-cudnn>=9; extra == 'and-cuda'"]},
             {"name": "nvidia-cudnn", "version": "9.1.0"},
             {"name": "requests", "version": "2.32.3"})  # fmt: skip
    world = _world(extra)
    world["package"] = [p for p in world["package"] if (p["name"], p["version"]) != ("tensorflow", "2.16.2")]
    world["package"].extend(extra[:1])
    s = scenario_from_dict("extras", world)
    session = _session(s)
    items = [
        RequestItem(Requirement('tensorflow[and-cuda]==2.12.0; python_version >= "3.9"')),
        RequestItem(Requirement("requests>=2")),
    ]
    found = options(items, session, predict([i.requirement for i in items], session))
    option = next(o for o in found.versions if o.version == Version("2.16.2"))
    assert option.command == (
        """%pip install 'tensorflow[and-cuda]==2.16.2; python_version >= "3.9"' 'requests>=2'"""
    )
    assert option.added == 2  # nvidia-cudnn by the extra, requests
    assert notebook_command(["it's"]) == "%pip install 'it'\\''s'"


def test_the_work_is_bounded_by_predictions_and_wanted() -> None:
    s = _scenario()
    session = _session(s)
    items = [RequestItem(Requirement("tensorflow==2.12.0"))]
    own = predict([items[0].requirement], session)
    cut = options(items, session, own, max_predictions=2)
    assert cut.predictions == 2 and cut.exhausted
    assert len(cut.versions) == 3  # the requested version's row costs no prediction
    few = options(items, session, own, wanted=1)
    assert few.predictions == 2 and not few.exhausted  # the installed version's row does not count as wanted
    # the installed version, the nearest newer series (the upgrade), the request
    assert [o.version for o in few.versions] == [Version("2.18.0"), Version("2.19.0"), Version("2.12.0")]
    assert options(items, session, own, budget=0.0).predictions == 0


def test_the_section_lists_versions_commands_and_restarts() -> None:
    s = _scenario()
    report = run_check([RequestItem(Requirement("tensorflow==2.12.0"))], s.snapshot, s.source, env=s.env)
    section = options_section(report)
    assert section.title == TITLE
    lines = {item.text.split(":")[0]: item for item in section.items}
    assert lines["tensorflow 2.18.0 (installed)"].detail == ()  # nothing to do to keep it
    requested = lines["tensorflow 2.12.0 (requested)"]
    assert "restart the session after installing" in requested.text
    assert requested.detail == ("%pip install 'tensorflow==2.12.0'",)
    assert "restart" not in lines["tensorflow 2.19.0"].text
    assert report.suggestions is not None and report.suggestions.options is not None
    assert report.suggestions.options.runtimes_checked == 0  # a scenario image names no runtime versions
    data = report.suggestions.options.to_json()
    # the installed version first, then every other series that installs, newest first, the request among them
    order = ["2.18.0", "2.20.0", "2.19.0", "2.16.2", "2.15.1", "2.13.1", "2.12.0"]
    assert [v["version"] for v in data["versions"]] == order
    # the report carries them: the text's "What to do" section in place of the bare suggestions, and the JSON
    text = render("report", "text", report)
    assert f"\n{TITLE}:\n" in text and "%pip install 'tensorflow==2.12.0'" in text and "\nSuggestions:" not in text
    assert json.loads(render("report", "json", report))["options"] == data


def test_runtime_versions_are_named_ones_newest_first_and_bounded(colab_cache: Path) -> None:
    from analyzer.catalog import Catalog
    from analyzer.sources import load_source

    catalog = Catalog.open(load_source("colab"))
    snapshot = catalog.snapshot(catalog.latest("cpu"))
    s = _scenario()
    items = [RequestItem(Requirement("tensorflow==2.12.0"))]
    named = [r for r in reversed(catalog.releases_of("cpu")) if catalog.name_of(r).version_name]
    named = [r for r in named if r.commit != snapshot.commit]
    # the scenario's tensorflow has cp311 wheels only: runtimes on another Python are answered from file lists
    # and do not count against the limit; the first one on 3.11 is resolved and ends the scan
    found, checked, cut = runtime_fits(items, snapshot, s.source, catalog=catalog, limit=1)
    first_311 = next(i for i, r in enumerate(named) if r.python.startswith("3.11."))
    assert checked == len(found) == first_311 + 1 and not cut
    assert [f.release for f in found] == [r.id for r in named[: first_311 + 1]]
    assert [f.label for f in found] == [catalog.name_of(r).label for r in named[: first_311 + 1]]
    assert all(f.verdict == "not-installable" for f in found[:-1])
    assert found[-1].verdict not in ("not-installable", "unknown")
    assert runtime_fits(items, snapshot, s.source, catalog=catalog, limit=1, scan=1)[1] == 1
    stopped = runtime_fits(items, snapshot, s.source, catalog=catalog, limit=2, budget=0.0)
    assert stopped == ((), 0, True)


def test_a_request_that_does_not_resolve_keeps_its_row_without_a_command() -> None:
    world = _world()
    world["package"] = [
        {**p, "requires": ["numpy<1.0"]} if (p["name"], p["version"]) == ("tensorflow", "2.12.0") else p
        for p in world["package"]
    ]
    s = scenario_from_dict("unresolvable", world)
    session = _session(s)
    items = [RequestItem(Requirement("tensorflow==2.12.0"))]
    own = predict([items[0].requirement], session)
    assert not own.ok
    found = options(items, session, own, wanted=1)
    requested = next(o for o in found.versions if o.requested)
    assert requested.version == Version("2.12.0") and not requested.installs and "numpy" in requested.reason
    assert requested.cost().startswith("does not install: ")
    others = [o for o in found.versions if not o.requested]
    assert others and all(o.installs for o in others)  # only versions that install are offered
    report = run_check(items, s.snapshot, s.source, env=s.env)
    row = next(i for i in options_section(report).items if "(requested)" in i.text)
    assert row.detail == ()


def test_a_range_offers_the_versions_it_admits_and_a_kept_project_offers_none() -> None:
    s = _scenario()
    session = _session(s)
    items = [RequestItem(Requirement("tensorflow>=2.13,<2.17")), RequestItem(Requirement("traitlets>=5"))]
    own = predict([i.requirement for i in items], session)
    found = options(items, session, own, wanted=10)
    # pip picks 2.16.2; the other series the range admits are the options; traitlets stays as it is: no rows
    assert {o.name for o in found.versions} == {"tensorflow"}
    assert [(str(o.version), o.requested) for o in found.versions] == [
        ("2.16.2", True),
        ("2.15.1", False),
        ("2.13.1", False),
    ]
    assert found.versions[1].command == "%pip install 'tensorflow==2.15.1' 'traitlets>=5'"


def test_runtime_versions_answered_alike_share_a_line() -> None:
    s = _scenario()
    report = run_check([RequestItem(Requirement("tensorflow==2.12.0"))], s.snapshot, s.source, env=s.env)
    assert report.suggestions is not None and report.suggestions.options is not None
    no_wheel = "tensorflow has no distribution for this Python and platform"
    runtimes = (
        RuntimeFit("colab 2026.01 (2026-01-16)", "colab@a", "3.12.12", "not-installable", no_wheel),
        RuntimeFit("colab 2025.10 (2025-10-08)", "colab@b", "3.12.11", "not-installable", no_wheel),
        RuntimeFit("colab 2025.07 (2025-08-11)", "colab@c", "3.11.13", "fits"),
    )
    found = replace(report.suggestions.options, runtimes=runtimes, runtimes_checked=3)
    section = options_section(replace(report, suggestions=replace(report.suggestions, options=found)))
    last = section.items[-1]
    assert last.text == "tensorflow==2.12.0 fits as is on: colab 2025.07 (2025-08-11)"
    assert last.detail == (
        f"colab 2026.01 (2026-01-16), colab 2025.10 (2025-10-08), Python 3.12: not-installable ({no_wheel})",
        "colab 2025.07 (2025-08-11), Python 3.11: fits",
    )
    assert found.to_json()["fits_as_is_on"] == ["colab 2025.07 (2025-08-11)"]


def test_a_line_whose_marker_fails_here_has_no_options() -> None:
    s = _scenario()
    session = _session(s)
    items = [
        RequestItem(Requirement("tensorflow==2.12.0")),
        RequestItem(Requirement('wrapt==1.14.1; python_version < "3"')),
    ]
    own = predict([i.requirement for i in items], session)
    found = options(items, session, own, wanted=1)
    assert {o.name for o in found.versions} == {"tensorflow"}
    assert found.predictions == 2  # the installed tensorflow and the next series; none for wrapt
