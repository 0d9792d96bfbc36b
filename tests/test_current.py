"""The running interpreter as a snapshot, read with importlib.metadata (PEP 610 direct URLs included)."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from os import PathLike
from pathlib import Path

import pytest
from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

from analyzer.current import current_platform, current_snapshot, direct_url_of
from analyzer.snapshot import DIST_INFO, DeclaredRequirements, snapshot_from_json


def _dist(root: Path, name: str, version: str, direct_url: dict[str, object] | None = None) -> metadata.Distribution:
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return metadata.PathDistribution(info)


def test_installed_versions_match_importlib_metadata() -> None:
    snapshot = current_snapshot()
    assert snapshot.id == "current" and snapshot.source == "current"
    assert snapshot.python == ".".join(str(p) for p in sys.version_info[:3])
    for name in ("pytest", "packaging", "resolvelib"):
        assert snapshot.by_name[canonicalize_name(name)].version == metadata.version(name)
    assert snapshot.platform == current_platform()


def test_direct_urls(tmp_path: Path) -> None:
    vcs = _dist(tmp_path, "fromgit", "1.0", {"url": "https://example.invalid/r.git",
                                            "vcs_info": {"vcs": "git", "commit_id": "abc123"}})
    archive = _dist(tmp_path, "fromwheel", "2.0", {"url": "file:///w/fromwheel-2.0-py3-none-any.whl",
                                                  "archive_info": {}})
    editable = _dist(tmp_path, "local", "0.1", {"url": "file:///src/local", "dir_info": {"editable": True}})
    plain = _dist(tmp_path, "plain", "3.0")
    broken = _dist(tmp_path, "broken", "4.0")
    (tmp_path / "broken-4.0.dist-info" / "direct_url.json").write_text("{not json", encoding="utf-8")
    assert direct_url_of(vcs) == ("git+https://example.invalid/r.git@abc123", False)
    assert direct_url_of(archive) == ("file:///w/fromwheel-2.0-py3-none-any.whl", False)
    assert direct_url_of(editable) == ("file:///src/local", True)
    assert direct_url_of(plain) == (None, False)
    assert direct_url_of(broken) == (None, False)
    snapshot = current_snapshot([vcs, archive, editable, plain, _dist(tmp_path / "shadowed", "plain", "9.9")])
    assert [(p.name, p.version, p.editable) for p in snapshot.pins] == [
        ("fromgit", "1.0", False), ("fromwheel", "2.0", False), ("local", "0.1", True), ("plain", "3.0", False)
    ]
    assert str(snapshot.by_name[canonicalize_name("fromgit")]) == "fromgit @ git+https://example.invalid/r.git@abc123"


# -- requirements read from each distribution's own metadata ------------------------------------------------------


def _metadata_file(name: str) -> Path:
    """The METADATA file of an installed distribution, found through its RECORD (not through the code under test)."""
    dist = metadata.distribution(name)
    files = [f for f in dist.files or () if f.name == "METADATA" and f.parent.name.endswith(".dist-info")]
    assert len(files) == 1, files
    return Path(str(files[0].locate()))


def test_capture_records_what_each_dist_info_says() -> None:
    snapshot = current_snapshot()
    declared = {d.name: d for d in snapshot.declared}
    for name in ("packaging", "requests", "resolvelib", "hypothesis", "pytest"):
        path = _metadata_file(name)
        raw, _ = parse_email(path.read_text(encoding="utf-8"))
        recorded = declared[canonicalize_name(name)]
        assert recorded.origin == DIST_INFO
        assert recorded.requirements == tuple(raw.get("requires_dist", []))
        assert recorded.requires_python == raw.get("requires_python")
        assert recorded.provides_extra == tuple(raw.get("provides_extra", []))
        assert recorded.evidence == f"{path.parent.name}/METADATA"
    # requests has requirements under extras: they are recorded with their markers, not evaluated away
    assert any("extra ==" in line for line in declared[canonicalize_name("requests")].requirements)
    assert set(declared) == {pin.name for pin in snapshot.pins}
    assert snapshot.problems == ()


def _write(folder: Path, name: str, content: str | bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    (folder / name).write_bytes(data)


TORCH_METADATA = """\
Metadata-Version: 2.1
Name: torch
Version: 2.6.0+cu124
Requires-Python: >=3.9.0
Requires-Dist: filelock
Requires-Dist: typing-extensions>=4.10.0
Requires-Dist: sympy==1.13.1; python_version >= "3.9"
Requires-Dist: triton==3.2.0; platform_system == "Linux" and platform_machine == "x86_64"
Requires-Dist: opt-einsum>=3.3; extra == "opt-einsum"
Requires-Dist: optree>=0.13.0; extra == "optree"
Provides-Extra: optree
Provides-Extra: opt-einsum

Tensors and dynamic neural networks in Python.
Requires-Dist: not-a-header
"""

BAD_METADATA = """\
Metadata-Version: 2.1
Name: badreq
Version: 0.1
Requires-Python: >=3.8,<
Requires-Dist: idna>=2
Requires-Dist: foo >=
"""

REQUIRES_TXT = """\
six>=1.9
# a comment

[socks]
PySocks!=1.5.7

[:sys_platform == "win32"]
colorama

[Secure:python_version < "3.12"]
cryptography>=1.3
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder as a real runtime has them: a local version, a package on no index, broken ones, an egg."""
    site = tmp_path / "site"
    _write(site / "torch-2.6.0+cu124.dist-info", "METADATA", TORCH_METADATA)
    _write(site / "google_colab-1.0.0.dist-info", "METADATA",
           "Metadata-Version: 2.1\nName: google-colab\nVersion: 1.0.0\nRequires-Dist: pandas==2.2.2\n"
           "Requires-Dist: requests==2.32.3\n")
    _write(site / "google_colab-1.0.0.dist-info", "direct_url.json",
           json.dumps({"url": "file:///colabtools/dist/google-colab-1.0.0.tar.gz", "archive_info": {}}))
    _write(site / "nometa-1.2.dist-info", "RECORD", "nometa/__init__.py,,\n")
    _write(site / "badreq-0.1.dist-info", "METADATA", BAD_METADATA)
    _write(site / "twice-2.0.dist-info", "METADATA",
           "Metadata-Version: 2.1\nName: twice\nVersion: 2.0\nRequires-Dist: a\nRequires-Python: >=3.8\n"
           "Requires-Python: >=3.9\n")
    _write(site / "latin-1.0.dist-info", "METADATA", b"Metadata-Version: 2.1\nName: latin\nVersion: 1.0\nSummary: \xe9t\xe9\n")
    _write(site / "noname-3.0.dist-info", "METADATA", "Metadata-Version: 2.1\nVersion: 3.0\n")
    _write(site / "oldstyle-0.5-py3.11.egg-info", "PKG-INFO", "Metadata-Version: 1.1\nName: oldstyle\nVersion: 0.5\n")
    _write(site / "oldstyle-0.5-py3.11.egg-info", "requires.txt", REQUIRES_TXT)
    _write(site, "single-2.0-py3.11.egg-info", "Metadata-Version: 1.0\nName: single\nVersion: 2.0\n")  # a file
    _write(site / "junk.dist-info", "RECORD", "")
    return site


def test_capture_of_a_site_folder(site: Path) -> None:
    snapshot = current_snapshot(metadata.distributions(path=[str(site)]))
    assert {p.name: p.version for p in snapshot.pins} == {
        "badreq": "0.1", "google-colab": "1.0.0", "latin": "1.0", "nometa": "1.2", "noname": "3.0",
        "oldstyle": "0.5", "single": "2.0", "torch": "2.6.0+cu124", "twice": "2.0",
    }
    declared = {d.name: d for d in snapshot.declared}
    assert set(declared) == {"badreq", "google-colab", "oldstyle", "single", "torch", "twice"}
    torch = declared[canonicalize_name("torch")]
    assert torch == DeclaredRequirements(
        canonicalize_name("torch"),
        (
            "filelock", "typing-extensions>=4.10.0", 'sympy==1.13.1; python_version >= "3.9"',
            'triton==3.2.0; platform_system == "Linux" and platform_machine == "x86_64"',
            'opt-einsum>=3.3; extra == "opt-einsum"', 'optree>=0.13.0; extra == "optree"',
        ),
        "torch-2.6.0+cu124.dist-info/METADATA",
        requires_python=">=3.9.0",
        provides_extra=("optree", "opt-einsum"),
        origin=DIST_INFO,
    )
    colab = declared[canonicalize_name("google-colab")]
    assert colab.requirements == ("pandas==2.2.2", "requests==2.32.3") and colab.requires_python is None
    assert snapshot.by_name[canonicalize_name("google-colab")].url == "file:///colabtools/dist/google-colab-1.0.0.tar.gz"
    # malformed values are kept as written: the resolver names them when it skips them
    assert declared[canonicalize_name("badreq")].requirements == ("idna>=2", "foo >=")
    assert declared[canonicalize_name("badreq")].requires_python == ">=3.8,<"
    # an egg-info's requires.txt, converted as pip converts it
    oldstyle = declared[canonicalize_name("oldstyle")]
    assert oldstyle.requirements == (
        "six>=1.9", 'PySocks!=1.5.7 ; extra == "socks"', 'colorama ; sys_platform == "win32"',
        'cryptography>=1.3 ; (python_version < "3.12") and extra == "secure"',
    )
    assert oldstyle.provides_extra == ("socks", "Secure")
    assert oldstyle.evidence == "oldstyle-0.5-py3.11.egg-info/PKG-INFO + requires.txt"
    single = declared[canonicalize_name("single")]
    assert (single.requirements, single.evidence) == ((), "single-2.0-py3.11.egg-info")
    twice = declared[canonicalize_name("twice")]
    assert twice.requirements == ("a",) and twice.requires_python is None
    problems = sorted(str(p).removeprefix(str(site) + "/") for p in snapshot.problems)
    assert problems == [
        "junk.dist-info: no METADATA file; left out of the snapshot",
        _from_folder("latin-1.0.dist-info/METADATA: not UTF-8 text", "latin 1.0"),
        _from_folder("nometa-1.2.dist-info: no METADATA file", "nometa 1.2"),
        _from_folder("noname-3.0.dist-info/METADATA: has no Name field", "noname 3.0"),
        "twice-2.0.dist-info/METADATA:5: requires-python: packaging cannot read ['>=3.8', '>=3.9']; left out",
    ]


def _from_folder(failure: str, pin: str) -> str:
    return f"{failure}; {pin} is pinned from its folder's name, its requirements come from the index"


def test_capture_round_trips_through_json(site: Path) -> None:
    snapshot = current_snapshot(metadata.distributions(path=[str(site)]))
    text = snapshot.to_json()
    assert snapshot_from_json(text, file="capture.json") == snapshot
    # one line per distribution, not one per requirement: a capture of hundreds stays small
    assert sum('"origin": "dist-info"' in line for line in text.splitlines()) == len(snapshot.declared)


def test_first_on_the_path_wins_with_its_requirements(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _write(first / "pkg-1.0.dist-info", "METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: a\n")
    _write(second / "pkg-2.0.dist-info", "METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 2.0\nRequires-Dist: b\n")
    _write(second / "pkg-3.0.dist-info", "RECORD", "")
    snapshot = current_snapshot(metadata.distributions(path=[str(first), str(second)]))
    assert [(p.name, p.version) for p in snapshot.pins] == [("pkg", "1.0")]
    assert [d.requirements for d in snapshot.declared] == [("a",)]
    assert snapshot.problems == ()


class _TextOnly(metadata.Distribution):
    """A distribution from a finder that is not on the file system: text, no folder."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files_text = files

    def read_text(self, filename: str) -> str | None:
        return self.files_text.get(filename)

    def locate_file(self, path: str | PathLike[str]) -> Path:
        raise NotImplementedError


def test_metadata_packaging_cannot_parse_is_a_problem_not_a_crash() -> None:
    # a lone surrogate cannot come from a UTF-8 file, but another finder may hand one over
    bad = _TextOnly({"METADATA": "Name: a\nVersion: 1\n\n\u00e9\udcff"})
    good = _TextOnly({"METADATA": "Name: b\nVersion: 2\nRequires-Dist: c\n"})
    snapshot = current_snapshot([bad, good])
    assert [(p.name, p.version) for p in snapshot.pins] == [("b", "2")]
    assert [d.evidence for d in snapshot.declared] == ["<distribution>/METADATA"]
    [problem] = snapshot.problems
    assert str(problem).startswith("<distribution>/METADATA: cannot be parsed (")
    assert str(problem).endswith("; left out of the snapshot")
