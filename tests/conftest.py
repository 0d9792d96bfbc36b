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
        if key.startswith(("PIP_", "TFCONFLICT_")):
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
def _synced_colab(tmp_path_factory: pytest.TempPathFactory, bundle: Path) -> Path:
    """The bundle synced once for the whole session (cloning and indexing are the slow part)."""
    from analyzer.catalog import sync_source
    from analyzer.sources import load_source

    root = tmp_path_factory.mktemp("colab-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TFCONFLICT_CACHE_DIR", str(root))
        patch.delenv("TFCONFLICT_COLAB_REPO", raising=False)
        sync_source(load_source("colab"), origin=str(bundle))
    return root


@pytest.fixture
def colab_cache(_synced_colab: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A cache folder with the bundle synced, set as this test's ``TFCONFLICT_CACHE_DIR``.

    Shared by the session: read it, do not sync another origin into it (use an empty cache for that).
    """
    monkeypatch.setenv("TFCONFLICT_CACHE_DIR", str(_synced_colab))
    yield _synced_colab
