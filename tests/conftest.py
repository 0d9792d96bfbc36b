"""Shared fixtures: isolation from this machine's pip configuration, the real Colab history, temp caches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("TFCONFLICT_TEST_BUNDLE", REPO_ROOT.parent / "shared" / "colab" / "backend-info.bundle"))


@pytest.fixture(autouse=True)
def _isolate_from_pip_config(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may see this machine's pip configuration, extra indexes or constraints."""
    for key in list(os.environ):
        if key.startswith("PIP_") or key.startswith("TFCONFLICT_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The real googlecolab/backend-info history shipped beside the project."""
    if not BUNDLE.is_file():
        pytest.fail(f"the Colab history bundle is missing: {BUNDLE}")
    return BUNDLE


@pytest.fixture(scope="session")
def colab_cache(tmp_path_factory: pytest.TempPathFactory, bundle: Path) -> Iterator[Path]:
    """A cache folder with the bundle synced once for the whole session (syncing is the slow part)."""
    from analyzer.catalog import sync_source
    from analyzer.sources import load_source

    root = tmp_path_factory.mktemp("colab-cache")
    previous = os.environ.get("TFCONFLICT_CACHE_DIR")
    os.environ["TFCONFLICT_CACHE_DIR"] = str(root)
    try:
        sync_source(load_source("colab"), origin=str(bundle))
    finally:
        if previous is None:
            os.environ.pop("TFCONFLICT_CACHE_DIR", None)
        else:
            os.environ["TFCONFLICT_CACHE_DIR"] = previous
    yield root
