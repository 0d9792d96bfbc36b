"""What ``pip install SPEC`` would do in the runtime, and what it would leave broken, before anything is installed.

pip without ``--upgrade`` keeps every installed version that satisfies (strategy "to-satisfy-only"); the resolver
reproduces that choice. pip then checks only part of the environment: the packages it installed and the installed
packages that depend on one of them (``operations/check.py``, ``_create_whitelist``), so a prediction separates
three things: what pip itself will print, what is newly broken anywhere, and what was already broken in the image
before the install (never blamed on the request). Changes to the packages a notebook kernel needs are flagged as
severe: a kernel can die from them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.diagnosis.pipcheck import InstalledDist, Violation, check, installed_dists
from analyzer.environment import TargetEnvironment
from analyzer.resolver import Conflict, Origin, Resolution, ResolverWarning, resolve
from analyzer.session import Session
from analyzer.versions import parse_version

__all__ = [
    "KERNEL_PACKAGES",
    "Change",
    "ChangeKind",
    "PipPrediction",
    "SevereChange",
    "predict",
    "predict_from_resolution",
]

KERNEL_PACKAGES: frozenset[NormalizedName] = frozenset(
    canonicalize_name(n)
    for n in (
        "ipython",
        "ipykernel",
        "tornado",
        "prompt-toolkit",
        "pyzmq",
        "jupyter-server",
        "jupyter-client",
        "google-colab",
    )
)
"""What the Colab notebook kernel needs to stay alive."""

PIP_CONFLICT_HEADER = (
    "pip's dependency resolver does not currently take into account all the packages that are installed. "
    "This behaviour is the source of the following dependency conflicts."
)
PIP_IMPOSSIBLE = (
    "ResolutionImpossible: for help visit "
    "https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts"
)


class ChangeKind(str, Enum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REINSTALL = "reinstall"
    """Same version from elsewhere (a direct reference replacing an index install, or the reverse)."""
    UNCHANGED = "unchanged"


@dataclass(frozen=True, order=True)
class Change:
    name: NormalizedName
    kind: ChangeKind
    old: str | None
    new: str
    origin: Origin = Origin.INDEX

    def __str__(self) -> str:
        if self.kind is ChangeKind.INSTALL:
            return f"{self.name} {self.new}"
        if self.kind is ChangeKind.UNCHANGED:
            return f"{self.name} {self.new} (already satisfied)"
        return f"{self.name} {self.old} -> {self.new}"


@dataclass(frozen=True, order=True)
class SevereChange:
    """A change or breakage that touches what the notebook kernel needs."""

    name: NormalizedName
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class PipPrediction:
    """The predicted outcome of ``pip install SPEC`` in the runtime."""

    ok: bool
    request: tuple[str, ...]
    changes: tuple[Change, ...] = ()
    """Installs, upgrades, downgrades and reinstalls, by name."""
    unchanged: tuple[Change, ...] = ()
    """Resolved names that stay as they are (pip's "Requirement already satisfied")."""
    conflict: Conflict | None = None
    newly_broken: tuple[Violation, ...] = ()
    """Violations after the install that were not there before."""
    already_broken: tuple[Violation, ...] = ()
    """Violations after the install that the image had already."""
    fixed: tuple[Violation, ...] = ()
    """Violations of the image that the install resolves."""
    pip_warning: tuple[Violation, ...] = ()
    """The lines pip itself prints after installing (its whitelist), new or not."""
    severe: tuple[SevereChange, ...] = ()
    opaque: tuple[NormalizedName, ...] = ()
    """Installed distributions whose requirements are unknown: not checked."""
    warnings: tuple[ResolverWarning, ...] = ()

    def _of(self, kind: ChangeKind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is kind)

    @property
    def installs(self) -> tuple[Change, ...]:
        return self._of(ChangeKind.INSTALL)

    @property
    def upgrades(self) -> tuple[Change, ...]:
        return self._of(ChangeKind.UPGRADE)

    @property
    def downgrades(self) -> tuple[Change, ...]:
        return self._of(ChangeKind.DOWNGRADE)

    @property
    def reinstalls(self) -> tuple[Change, ...]:
        return self._of(ChangeKind.REINSTALL)

    @property
    def breaks(self) -> bool:
        return bool(self.newly_broken)

    def pip_output(self) -> str:
        """What pip would print at the end: its error on failure, its conflict warning after installing."""
        if not self.ok:
            body = self.conflict.pip_message() if self.conflict is not None else ""
            return f"{body}\n\nERROR: {PIP_IMPOSSIBLE}".lstrip()
        if not self.pip_warning:
            return ""
        # pip prints every missing requirement first, then every incompatible one
        ordered = sorted(self.pip_warning, key=lambda v: (not v.missing, v))
        return "\n".join(["ERROR: " + PIP_CONFLICT_HEADER, *(v.text() for v in ordered)])


def predict(
    request: Sequence[Requirement],
    session: Session,
    *,
    upgrade: bool = False,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
) -> PipPrediction:
    """``pip install`` of ``request`` into ``snapshot`` (``upgrade=True`` models ``--upgrade``, ``constraints``
    pip's ``-c``)."""
    resolution = resolve(request, session, prefer_installed=not upgrade, constraints=constraints)
    return predict_from_resolution(request, session, resolution)


def predict_from_resolution(
    request: Sequence[Requirement],
    session: Session,
    resolution: Resolution,
) -> PipPrediction:
    """The prediction for a resolution already computed (the report resolves once and shares it)."""
    texts = tuple(str(r) for r in request)
    if not resolution.ok:
        return PipPrediction(
            ok=False, request=texts, conflict=resolution.conflict, warnings=resolution.warnings
        )

    snapshot, env = session.snapshot, session.env
    before = installed_dists(session)
    pins = snapshot.by_name
    changes: list[Change] = []
    unchanged: list[Change] = []
    after: dict[NormalizedName, InstalledDist] = dict(before)
    for name, dist in resolution.mapping.items():
        new = str(dist.version)
        pin = pins.get(name)
        if dist.origin is Origin.INSTALLED:
            unchanged.append(Change(name, ChangeKind.UNCHANGED, new, new, dist.origin))
            continue
        if pin is None:
            kind = ChangeKind.INSTALL
        else:
            kind = _direction(pin.version, dist.version)
        change = Change(name, kind, pin.version if pin else None, new, dist.origin)
        (unchanged if kind is ChangeKind.UNCHANGED else changes).append(change)
        if kind is not ChangeKind.UNCHANGED:
            after[name] = InstalledDist(new, dist.requires_dist if dist.known else None)

    changed = frozenset(c.name for c in changes)
    before_check = check(before, env)
    after_check = check(after, env)
    before_keys = {v.key for v in before_check.violations}
    after_keys = {v.key for v in after_check.violations}
    newly = tuple(v for v in after_check.violations if v.key not in before_keys)
    already = tuple(v for v in after_check.violations if v.key in before_keys)
    fixed = tuple(v for v in before_check.violations if v.key not in after_keys)
    whitelist = _whitelist(changed, after, env)
    pip_warning = tuple(v for v in after_check.violations if v.name in whitelist)

    return PipPrediction(
        ok=True,
        request=texts,
        changes=tuple(sorted(changes)),
        unchanged=tuple(sorted(unchanged)),
        newly_broken=newly,
        already_broken=already,
        fixed=fixed,
        pip_warning=pip_warning,
        severe=_severe(changes, newly),
        opaque=after_check.opaque,
        warnings=resolution.warnings,
    )


def _direction(old: str | None, new: Version) -> ChangeKind:
    previous = parse_version(old)
    if previous is None:
        return ChangeKind.REINSTALL
    if new > previous:
        return ChangeKind.UPGRADE
    if new < previous:
        return ChangeKind.DOWNGRADE
    # same version chosen from the index while installed was not offered (e.g. a direct-URL pin)
    return ChangeKind.REINSTALL


def _whitelist(
    changed: frozenset[NormalizedName], after: dict[NormalizedName, InstalledDist], env: TargetEnvironment
) -> frozenset[NormalizedName]:
    """pip's ``_create_whitelist``: what it installed, plus installed packages that depend on any of it."""
    out = set(changed)
    for name, dist in after.items():
        if name in out or dist.requirements is None:
            continue
        for req in dist.requirements:
            if canonicalize_name(req.name) not in changed:
                continue
            try:
                holds = env.evaluate(req.marker)
            except (ValueError, TypeError):
                holds = False
            if holds:
                out.add(name)
                break
    return frozenset(out)


def _severe(changes: Sequence[Change], newly: Sequence[Violation]) -> tuple[SevereChange, ...]:
    out: set[SevereChange] = set()
    for c in changes:
        if c.name in KERNEL_PACKAGES:
            out.add(SevereChange(c.name, f"{c.kind.value} of {c} changes what the notebook kernel needs"))
    for v in newly:
        if v.name in KERNEL_PACKAGES:
            out.add(SevereChange(v.name, f"{v.future_text()}: the notebook kernel needs {v.name}"))
        elif v.dependency in KERNEL_PACKAGES:
            out.add(
                SevereChange(v.dependency, f"{v.future_text()}: the notebook kernel needs {v.dependency}")
            )
    return tuple(sorted(out))
