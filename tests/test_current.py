"""The running interpreter as a snapshot, read with importlib.metadata (PEP 610 direct URLs included)."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

from analyzer.current import current_platform, current_snapshot, direct_url_of


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
        assert snapshot.by_name[name].version == metadata.version(name)
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
    assert str(snapshot.by_name["fromgit"]) == "fromgit @ git+https://example.invalid/r.git@abc123"
