"""A metadata-only replica of a runtime image, for comparing tfconflict with real pip.

A replica is a venv (no pip inside) whose site-packages holds one ``<name>-<version>.dist-info`` folder per pin with
a METADATA synthesized from the pin's real core metadata, so ``pip install --dry-run`` and ``pip check`` believe the
image is installed. No package code is ever present or run. Shared by ``scripts/differential.py`` and
``tests/test_differential.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.pip_prediction import ChangeKind, PipPrediction
from analyzer.environment import TargetEnvironment
from analyzer.metadata.models import MetadataSource
from analyzer.snapshot import Snapshot

__all__ = [
    "DistSpec",
    "PipRun",
    "apply_changes",
    "build_replica",
    "clean_pip_env",
    "dist_specs",
    "pip_check",
    "pip_dry_run",
    "predicted_check_lines",
    "predicted_set",
    "site_packages",
]

CHANGED_KINDS = (ChangeKind.INSTALL, ChangeKind.UPGRADE, ChangeKind.DOWNGRADE, ChangeKind.REINSTALL)


@dataclass(frozen=True)
class DistSpec:
    """What one dist-info folder says: enough for pip's resolver and ``pip check``."""

    name: NormalizedName
    display_name: str
    version: str
    requires_dist: tuple[Requirement, ...] | None
    """None when the metadata cannot be had (an opaque pin): written with no Requires-Dist."""
    requires_python: SpecifierSet | None = None
    provides_extra: frozenset[NormalizedName] = frozenset()
    url: str | None = None

    def metadata_text(self) -> str:
        lines = ["Metadata-Version: 2.1", f"Name: {self.display_name}", f"Version: {self.version}"]
        if self.requires_python is not None and str(self.requires_python):
            lines.append(f"Requires-Python: {self.requires_python}")
        lines.extend(f"Provides-Extra: {e}" for e in sorted(self.provides_extra))
        lines.extend(f"Requires-Dist: {r}" for r in self.requires_dist or ())
        return "\n".join(lines) + "\n\n"


@dataclass
class ReplicaInfo:
    specs: dict[NormalizedName, DistSpec] = field(default_factory=dict)
    opaque: list[str] = field(default_factory=list)
    """Pins written with no Requires-Dist because their metadata could not be had."""
    skipped: list[str] = field(default_factory=list)
    """Pins with no PEP 440 version: left out of the replica, as tfconflict leaves them out of the resolution."""


def dist_specs(snapshot: Snapshot, source: MetadataSource, env: TargetEnvironment) -> ReplicaInfo:
    """The pins' metadata as tfconflict reads it (declared requirements, e.g. google-colab's, included)."""
    from analyzer.session import Session

    session = Session.open(snapshot, source, env)
    candidates = session.installed
    session.factory.prefetch_installed(candidates.values())
    out = ReplicaInfo()
    for pin in snapshot.pins:
        cand = candidates.get(pin.name)
        if cand is None:
            out.skipped.append(f"{pin.display_name} {pin.version}")
            continue
        info = cand.info
        if not info.known:
            out.opaque.append(f"{pin.display_name} {pin.version}")
        out.specs[pin.name] = DistSpec(
            name=pin.name,
            display_name=pin.display_name,
            version=str(pin.version),
            requires_dist=info.requires_dist if info.known else None,
            requires_python=info.requires_python,
            provides_extra=info.provides_extra,
            url=pin.url,
        )
    return out


def spec_for(name: str, version: str, source: MetadataSource, env: TargetEnvironment) -> DistSpec:
    """A dist-info for a version tfconflict predicts pip will install (its real metadata from the index)."""
    from analyzer.metadata.select import best_file

    canonical = canonicalize_name(name)
    file = best_file(source.files_of(canonical, Version(version)), env)
    if file is None:
        return DistSpec(canonical, name, version, None)
    meta = source.metadata(file)
    known = meta.status.value == "ok"
    return DistSpec(
        canonical,
        name,
        version,
        meta.requires_dist if known else None,
        meta.requires_python,
        meta.provides_extra,
    )


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}")
    return found[0]


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _folder(spec: DistSpec) -> str:
    return f"{spec.name.replace('-', '_')}-{spec.version}.dist-info"


def write_dist_info(site: Path, spec: DistSpec) -> None:
    folder = site / _folder(spec)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "METADATA").write_text(spec.metadata_text(), encoding="utf-8")
    (folder / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (folder / "RECORD").write_text("", encoding="utf-8")
    if spec.url:
        (folder / "direct_url.json").write_text(
            json.dumps({"url": spec.url, "archive_info": {}}), encoding="utf-8"
        )


def remove_dist_info(site: Path, name: NormalizedName) -> None:
    """Remove every dist-info of ``name`` (whatever spelling the folder uses)."""
    for folder in site.glob("*.dist-info"):
        head = folder.name[: -len(".dist-info")].rsplit("-", 1)[0]
        if canonicalize_name(head) == name:
            shutil.rmtree(folder)


def build_replica(venv: Path, specs: Iterable[DistSpec], python: str = sys.executable) -> Path:
    """A fresh venv without pip holding one dist-info per spec; returns its site-packages."""
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, env=clean_pip_env())
    site = site_packages(venv)
    for spec in specs:
        write_dist_info(site, spec)
    return site


def copy_replica(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return site_packages(dst)


def apply_changes(site: Path, changes: Mapping[NormalizedName, DistSpec]) -> None:
    """Rewrite the dist-info folders as the predicted install would leave them."""
    for name, spec in changes.items():
        remove_dist_info(site, name)
        write_dist_info(site, spec)


def clean_pip_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any PIP_* variable, with pip's configuration files off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class PipRun:
    ok: bool
    install: dict[NormalizedName, str]
    """name -> version of every item of the report's ``install`` list."""
    output: str
    seconds: float


def pip_dry_run(
    pip: Sequence[str],
    replica: Path,
    request: Sequence[str],
    index_url: str,
    report: Path,
    *,
    extra: Sequence[str] = (),
    cache_dir: Path | None = None,
    timeout: float = 600,
) -> PipRun:
    """``pip --python REPLICA install --dry-run --report`` (``pip`` is the command that starts pip)."""
    import time

    if report.exists():
        report.unlink()
    cmd = [
        *pip,
        "--python",
        str(venv_python(replica)),
        "install",
        "--dry-run",
        "--quiet",
        "--report",
        str(report),
        "--index-url",
        index_url,
        *(["--cache-dir", str(cache_dir)] if cache_dir else ["--no-cache-dir"]),
        *extra,
        *request,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=clean_pip_env(), timeout=timeout, check=False
    )
    seconds = time.perf_counter() - started
    install: dict[NormalizedName, str] = {}
    if done.returncode == 0 and report.is_file():
        data = json.loads(report.read_text(encoding="utf-8"))
        for item in data.get("install", []):
            meta = item["metadata"]
            install[canonicalize_name(meta["name"])] = meta["version"]
    return PipRun(done.returncode == 0, install, (done.stdout + done.stderr).strip(), seconds)


def pip_check(pip: Sequence[str], replica: Path) -> set[str]:
    """The lines ``pip check`` prints for the replica's interpreter (empty when all is well)."""
    done = subprocess.run(
        [*pip, "--python", str(venv_python(replica)), "check"],
        capture_output=True,
        text=True,
        env=clean_pip_env(),
        check=False,
    )
    lines = {ln.strip() for ln in done.stdout.splitlines() if ln.strip()}
    lines.discard("No broken requirements found.")
    return lines


def predicted_set(prediction: PipPrediction) -> dict[NormalizedName, str]:
    return {c.name: c.new for c in prediction.changes if c.kind in CHANGED_KINDS}


def predicted_check_lines(prediction: PipPrediction) -> set[str]:
    return {v.check_text() for v in (*prediction.newly_broken, *prediction.already_broken)}


def set_differences(pip_set: Mapping[str, str], ours: Mapping[str, str]) -> list[str]:
    """Readable differences between pip's install set and ours."""
    out: list[str] = []
    for name in sorted(set(pip_set) | set(ours)):
        a, b = pip_set.get(name), ours.get(name)
        if a == b:
            continue
        if a is None:
            out.append(f"{name}: ours {b}, pip keeps it")
        elif b is None:
            out.append(f"{name}: pip {a}, ours keeps it")
        else:
            out.append(f"{name}: pip {a}, ours {b}")
    return out
