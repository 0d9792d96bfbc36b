"""What ``pip install SPEC`` would do in the runtime, and what it would leave broken, before anything is installed.

pip without ``--upgrade`` keeps every installed version that satisfies (strategy "to-satisfy-only"); the resolver
reproduces that choice. pip then checks only the packages it installed and the installed packages that depend on
one of them (``operations/check.py``, ``_create_whitelist``), so a prediction separates what pip itself will
print, what is newly broken anywhere, and what the image had broken already (never blamed on the request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from analyzer.diagnosis.installable import (
    ProjectInstallability,
    Status,
    project_installability,
    supported_versions,
)
from analyzer.diagnosis.pipcheck import (
    ExtraViolation,
    InstalledDist,
    Unread,
    Violation,
    check,
    check_extras,
    holds,
    installed_dists,
    unread_pins,
)
from analyzer.resolver import Conflict, ConflictCause, Origin, ResolverWarning, Role, WarningKind, resolve
from analyzer.resolver.requirements import REQUIRES_PYTHON_KEY
from analyzer.resolver.results import Unavailable
from analyzer.session import Session
from analyzer.versions import parse_version

__all__ = [
    "KERNEL_PACKAGES",
    "Change",
    "ChangeKind",
    "PipPrediction",
    "SevereChange",
    "predict",
    "read_failures",
    "with_unavailable",
]

KERNEL_PACKAGES = frozenset(
    {
        "ipython",
        "ipykernel",
        "tornado",
        "prompt-toolkit",
        "pyzmq",
        "jupyter-server",
        "jupyter-client",
        "google-colab",
    }
)
"""What the Colab notebook kernel needs to stay alive: changes to them are severe."""


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
    unread: tuple[Unread, ...] = ()
    """The installed distributions that are opaque because a read failed (a page, a metadata file): whether the
    install breaks them is not known, and a warning names them."""
    warnings: tuple[ResolverWarning, ...] = ()
    extras_broken: tuple[ExtraViolation, ...] = ()
    """Requirements of extras that installed packages ask of each other (``google-api-core[grpc]``), met before
    the install and not after: pip check reads no extras, so none of them is among pip's lines."""
    requirements: Mapping[str, tuple[Requirement, ...]] = field(default_factory=dict)
    """Each resolved distribution's requirements as the resolution read them: what ties a change to the request
    lines that reach it."""

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


def predict(
    request: Sequence[Requirement],
    session: Session,
    *,
    upgrade: bool = False,
    constraints: Mapping[NormalizedName, SpecifierSet] | None = None,
) -> PipPrediction:
    """``pip install`` of ``request`` into the session's image (``upgrade=True`` models ``--upgrade``,
    ``constraints`` pip's ``-c``)."""
    resolution = resolve(request, session, prefer_installed=not upgrade, constraints=constraints)
    before = installed_dists(session)
    unread = unread_pins(session, (name for name, dist in before.items() if dist.requirements is None))
    warnings = (*resolution.warnings, *_unread_warning(unread))
    if not resolution.ok:
        conflict = resolution.conflict
        conflict = with_unavailable(conflict, session) if conflict is not None else None
        return PipPrediction(False, conflict=conflict, unread=unread, warnings=warnings)

    env, pins = session.env, session.snapshot.by_name
    after = dict(before)
    changes: list[Change] = []
    unchanged: list[Change] = []
    for name, dist in resolution.mapping.items():
        new = str(dist.version)
        if dist.origin is Origin.INSTALLED:
            unchanged.append(Change(name, ChangeKind.UNCHANGED, new, new, dist.origin))
            continue
        pin = pins.get(name)
        previous = parse_version(pin.version) if pin is not None else None
        if pin is None:
            kind = ChangeKind.INSTALL
        elif previous is None or dist.version == previous:
            # same version chosen from the index while installed was not offered (e.g. a direct-URL pin)
            kind = ChangeKind.REINSTALL
        else:
            kind = ChangeKind.UPGRADE if dist.version > previous else ChangeKind.DOWNGRADE
        changes.append(Change(name, kind, pin.version if pin else None, new, dist.origin))
        after[name] = InstalledDist(new, dist.requires_dist if dist.known else None)

    before_check, after_check = check(before, env), check(after, env)
    extras_before = {v.key for v in check_extras(before, env)}
    before_keys = {v.key for v in before_check.violations}
    after_keys = {v.key for v in after_check.violations}
    newly = tuple(v for v in after_check.violations if v.key not in before_keys)
    # pip checks only its whitelist (``_create_whitelist``): what it installed and the packages depending on it
    changed = {c.name for c in changes}
    whitelist = changed | {
        name
        for name, dist in after.items()
        if any(canonicalize_name(r.name) in changed and holds(r, env) for r in dist.requirements or ())
    }
    return PipPrediction(
        ok=True,
        changes=tuple(sorted(changes)),
        unchanged=tuple(sorted(unchanged)),
        newly_broken=newly,
        already_broken=tuple(v for v in after_check.violations if v.key in before_keys),
        fixed=tuple(v for v in before_check.violations if v.key not in after_keys),
        pip_warning=check(after, env, only=frozenset(whitelist)).violations,
        severe=_severe(changes, newly),
        opaque=after_check.opaque,
        unread=unread,
        warnings=warnings,
        extras_broken=tuple(v for v in check_extras(after, env) if v.key not in extras_before),
        requirements={name: dist.requirements for name, dist in resolution.mapping.items()},
    )


READ_FAILURES = frozenset({WarningKind.METADATA_UNAVAILABLE, WarningKind.LOOKUP_FAILED})
"""Warnings of what an answer rests on without knowing it: a project or a file that could not be read."""


def read_failures(prediction: PipPrediction) -> tuple[str, ...]:
    """The warnings of ``prediction`` that say a read failed: a stage that asks predictions of its own (an option,
    a suggestion) passes them on, since its answer rests on them too."""
    failed = [w for w in prediction.warnings if w.kind in READ_FAILURES]
    return tuple(dict.fromkeys(str(w) for w in (*failed, *_unread_warning(prediction.unread))))


UNREAD_SHOWN = 3
"""Failures quoted in the warning about unread pins (every pin is named)."""


def _unread_warning(unread: Sequence[Unread]) -> tuple[ResolverWarning, ...]:
    """One warning naming every pin a failed read left opaque: the answer holds only for what could be read."""
    if not unread:
        return ()
    names = ", ".join(f"{u.name} {u.version}" for u in unread)
    why = "; ".join(u.why for u in unread[:UNREAD_SHOWN]) + ("; ..." if len(unread) > UNREAD_SHOWN else "")
    message = (
        f"the requirements of {len(unread)} installed package(s) could not be read, so whether this install "
        f"breaks them is not known: {names} ({why})"
    )
    return (ResolverWarning(WarningKind.OPAQUE, unread[0].name, None, message),)


def _severe(changes: Sequence[Change], newly: Sequence[Violation]) -> tuple[SevereChange, ...]:
    out = {
        SevereChange(c.name, f"{c.kind.value} of {c} changes what the notebook kernel needs")
        for c in changes
        if c.name in KERNEL_PACKAGES
    }
    for v in newly:
        name = next((n for n in (v.name, v.dependency) if n in KERNEL_PACKAGES), None)
        if name is not None:
            out.add(SevereChange(name, f"{v.future_text()}: the notebook kernel needs {name}"))
    return tuple(sorted(out))


_NONE_HERE = (Status.NOT_INSTALLABLE, Status.NO_MATCHING_VERSION, Status.UNKNOWN_PROJECT)
"""What ``project_installability`` says of a requirement no version of whose project installs here."""


def with_unavailable(conflict: Conflict, session: Session) -> Conflict:
    """The conflict with the causes it rests on that no version here can meet (``Conflict.unavailable``): a
    requirement whose admitted versions all lack a distribution for the target, or exist nowhere; else the
    requirements of one project from different parents together, when only their common versions lack one (a
    conflict in name only: the versions both admit exist, but not for this interpreter). Read from file lists."""
    by_name: dict[NormalizedName, list[tuple[ConflictCause, Requirement]]] = {}
    for cause in conflict.causes:
        req = _index_requirement(cause)
        if req is not None:
            by_name.setdefault(cause.name, []).append((cause, req))
    found: list[Unavailable] = []
    for name, asked in by_name.items():
        files = session.source.project(name)
        alone: dict[str, tuple[list[ConflictCause], Requirement, ProjectInstallability]] = {}
        for cause, req in asked:
            item = project_installability(req, files, session.env)
            if item.status in _NONE_HERE:
                alone.setdefault(cause.requirement, ([], req, item))[0].append(cause)
        found.extend(
            _unavailable(session, text, req, causes, item) for text, (causes, req, item) in alone.items()
        )
        parents = {(cause.parent, cause.parent_version) for cause, _ in asked}
        if alone or len(asked) < 2 or len(parents) != len({parent for parent, _ in parents}):
            continue  # two versions of one parent are alternatives, not requirements that hold together
        together = Requirement(name)
        together.specifier = SpecifierSet([s for _, req in asked for s in req.specifier])
        item = project_installability(together, files, session.env)
        if item.status is Status.NOT_INSTALLABLE:
            found.append(_unavailable(session, str(together), together, [c for c, _ in asked], item))
    return replace(conflict, unavailable=tuple(found)) if found else conflict


def _index_requirement(cause: ConflictCause) -> Requirement | None:
    """The cause as a requirement on the index: not the interpreter, a kept or freed pin, or a direct reference."""
    if cause.name == REQUIRES_PYTHON_KEY or cause.role in (Role.KEEP, Role.FREE):
        return None
    try:
        req = Requirement(cause.requirement)
    except InvalidRequirement:
        return None
    return None if req.url else req


def _unavailable(
    session: Session,
    text: str,
    req: Requirement,
    causes: list[ConflictCause],
    item: ProjectInstallability,
) -> Unavailable:
    env = session.env
    here = f"Python {env.python_version} ({env.sys_platform} {env.machine})"
    evidence = item.evidence
    support = supported_versions(session, item.name)
    yanked = [str(v) for v in req.specifier.filter(sorted(support)) if support[v].yanked_only]
    if item.status is Status.NO_MATCHING_VERSION:
        missing = f"matches no version of {item.name}"
    elif item.status is Status.UNKNOWN_PROJECT:
        missing, evidence = "names no project on the configured indexes", "; ".join(item.problems)
    elif yanked:
        # PEP 592: a yanked file is chosen only for an exact pin, which this requirement is not
        missing = f"is met here only by yanked versions ({', '.join(yanked)}), which pip skips unless pinned with =="
    elif item.build is not None and item.build.likely_fails:
        missing, evidence = f"has no wheel for {here}, and {item.build.outcome()}", item.build.evidence()
    else:
        missing = f"has no distribution for {here}"
    nearest = tuple(str(v) for v in item.alternatives)
    return Unavailable(item.name, text, tuple(causes), missing, evidence, nearest)
