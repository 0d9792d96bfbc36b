"""The factory: pip's finder rules (wheel tags, Requires-Python, yanked files, pre-releases, the installed version
first) and every candidate and requirement, remembered for one session, as the searches ask the same again."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, NormalizedName, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from analyzer.environment import TargetEnvironment
from analyzer.metadata.coremeta import SdistRoute, sdist_route
from analyzer.metadata.models import CoreMetadata, DistFile, DistKind, MetadataSource, MetadataStatus
from analyzer.metadata.select import best_file
from analyzer.resolver.candidates import (
    Candidate,
    DirectCandidate,
    DistInfo,
    ExtrasCandidate,
    IndexCandidate,
    InstalledCandidate,
    PythonCandidate,
    RequirementsRoute,
    ResolverWarning,
    WarningKind,
)
from analyzer.resolver.requirements import (
    REQUIRES_PYTHON_KEY,
    ExplicitRequirement,
    ResolverRequirement,
    SpecifierRequirement,
)
from analyzer.resolver.results import ConflictCause

if TYPE_CHECKING:
    from analyzer.pintable import PinRecord, RequirementsTable
    from analyzer.snapshot import DeclaredRequirements

__all__ = ["Edge", "Factory", "edge_ignored", "is_pinned"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Edge = tuple[NormalizedName, NormalizedName]
"""A requirement edge (parent, dependency) by name."""


def memo(table: dict[K, V], key: K, make: Callable[[], V]) -> V:
    """``table[key]``, made by ``make()`` the first time it is asked for."""
    try:
        return table[key]
    except KeyError:
        value = table[key] = make()
        return value


def edge_ignored(
    ignored: frozenset[Edge],
    installed: Mapping[NormalizedName, InstalledCandidate],
    parent: Candidate,
    dep: NormalizedName,
) -> bool:
    """Whether ``parent``'s requirement on ``dep`` is skipped: an ignored edge (the image's own breakage) belongs
    to the installed version alone; a version the question moves the parent to has every requirement enforced."""
    return (parent.name, dep) in ignored and parent.base is installed.get(parent.name)


def is_pinned(specifier: SpecifierSet) -> bool:
    """PEP 592: ``==X`` (not a wildcard) or ``===X`` lets a yanked release be chosen when nothing else matches."""
    return any(
        s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in specifier
    )


class Factory:
    """Candidates and requirements for one (metadata source, target interpreter) pair, memoized."""

    def __init__(
        self, source: MetadataSource, env: TargetEnvironment, table: RequirementsTable | None = None
    ) -> None:
        self.source = source
        self.env = env
        self.table = table
        """The snapshot source's requirements table: installed pins' (and those files') readings, no index."""
        self._env_key = ""
        if table is not None:
            from analyzer.pintable import env_key

            self._env_key = env_key(env)
        self.python = PythonCandidate(self, Version(env.python_full))
        self.lookup_warnings: dict[NormalizedName, ResolverWarning] = {}
        """Projects the resolution asked for whose page could not be read: every resolution reports them."""
        self._files: dict[NormalizedName, tuple[DistFile, ...]] = {}
        self._versions: dict[NormalizedName, tuple[DistFile, ...]] = {}
        self._matches: dict[tuple[NormalizedName, frozenset[str]], tuple[IndexCandidate, ...]] = {}
        self._index: dict[tuple[str, str], IndexCandidate] = {}
        self._extras: dict[tuple[Candidate, frozenset[NormalizedName]], ExtrasCandidate] = {}
        self._direct: dict[tuple[NormalizedName, str], Candidate | ResolverWarning] = {}
        self._evaluated: dict[tuple[Candidate, frozenset[NormalizedName]], tuple[Requirement, ...]] = {}
        self._eval_warnings: dict[Candidate, tuple[ResolverWarning, ...]] = {}
        self._metadata: dict[tuple[str, str], CoreMetadata] = {}
        self._prefetched: set[tuple[str, str]] = set()
        self._best_file: dict[tuple[NormalizedName, Version], DistFile | None] = {}
        self._records: dict[InstalledCandidate, PinRecord | None] = {}
        self._named: dict[Candidate, tuple[tuple[NormalizedName, Requirement], ...]] = {}
        self._contains: dict[tuple[int, Version], bool] = {}
        # propagation's memos (``propagation.py``): what the searches' questions prove again and again
        self.allowed_memo: dict[
            tuple[NormalizedName, frozenset[int], frozenset[str], InstalledCandidate | None],
            tuple[Version, ...],
        ] = {}
        self.domain_memo: dict[
            tuple[NormalizedName, frozenset[int], InstalledCandidate | None], tuple[Candidate, ...]
        ] = {}
        self.looked: set[tuple[NormalizedName, frozenset[int]]] = set()
        self.kept_causes: dict[InstalledCandidate, tuple[ConflictCause, ...]] = {}

    # -- the index, as pip's finder sees it ------------------------------------------------------------------

    def files(self, name: NormalizedName) -> tuple[DistFile, ...]:
        if name not in self._files:
            project = self.source.project(name)
            if not project.files and project.problems:
                self.lookup_warnings[name] = ResolverWarning(
                    WarningKind.LOOKUP_FAILED, name, None, f"{name}: no files: " + "; ".join(project.problems)
                )
            self._files[name] = tuple(project.files)
        return self._files[name]

    def versions(self, name: NormalizedName) -> tuple[DistFile, ...]:
        """pip's file for every version that installs on the target, newest first (``select.best_file``); files
        whose Requires-Python excludes the target are dropped, as pip's finder drops their links."""
        if name not in self._versions:
            files = self.files(name)
            held = self.env.file_choices.get(name)
            if held is not None and held[0] is files:
                self._versions[name] = held[1]
                return held[1]
            by_version: dict[Version, list[DistFile]] = {}
            for f in files:
                by_version.setdefault(f.version, []).append(f)
            best = (best_file(by_version[v], self.env) for v in sorted(by_version, reverse=True))
            self._versions[name] = tuple(f for f in best if f is not None)
            self.env.file_choices[name] = (files, self._versions[name])
        return self._versions[name]

    def index_candidates(
        self, name: NormalizedName, reqs: Iterable[SpecifierRequirement]
    ) -> tuple[IndexCandidate, ...]:
        """Index candidates that every one of ``reqs`` allows, best first, with pip's pre-release and yanked
        rules; remembered by the specifier texts, as backtracking asks for the same combinations many times."""
        reqs = list(reqs)
        key = (name, frozenset(r.spec_key for r in reqs))
        if key not in self._matches:
            # one set of every clause: ``&=`` in a loop copies the growing set once per clause
            specifier = SpecifierSet([s for r in reqs for s in r.specifier])
            files = self.versions(name)
            # pip: SpecifierSet.filter with prereleases=None: pre-releases only when the specifier names one or
            # when no final release matches
            allowed = set(specifier.filter([f.version for f in files]))
            applicable = [f for f in files if f.version in allowed]
            with_yanked = all(f.is_yanked for f in applicable) and is_pinned(specifier)
            self._matches[key] = tuple(
                self.index_candidate(f) for f in applicable if with_yanked or not f.is_yanked
            )
        return self._matches[key]

    def index_candidate(self, file: DistFile) -> IndexCandidate:
        return memo(self._index, _file_key(file), lambda: IndexCandidate(self, file))

    def extras_candidate(self, base: Candidate, extras: frozenset[NormalizedName]) -> Candidate:
        if not extras:
            return base
        return memo(self._extras, (base, extras), lambda: ExtrasCandidate(self, base, extras))

    def direct_candidate(self, name: NormalizedName, url: str) -> Candidate | ResolverWarning:
        """The candidate of ``name @ url``, or a warning when its metadata (and so its version) is unknown."""

        def make() -> Candidate | ResolverWarning:
            meta = self.source.metadata_for_url(name, url)
            if meta.status is MetadataStatus.UNAVAILABLE:
                message = f"{name} @ {url}: metadata unavailable ({meta.note})"
                return ResolverWarning(WarningKind.METADATA_UNAVAILABLE, name, None, message)
            info = self.info_of(name, str(meta.version), meta, None, sdist=_names_sdist(url))
            return DirectCandidate(self, name, url, meta.version, info)

        return memo(self._direct, (name, url), make)

    # -- metadata ----------------------------------------------------------------------------------------------

    def metadata(self, file: DistFile) -> CoreMetadata:
        """A file's core metadata: the requirements table's reading of that very file (same name and hash) when
        it has one, else the source's."""
        return memo(self._metadata, _file_key(file), lambda: self._tabled(file) or self.source.metadata(file))

    def _tabled(self, file: DistFile) -> CoreMetadata | None:
        return self.table.file(file.filename, file.hashes.get("sha256")) if self.table is not None else None

    def prefetch(self, files: Iterable[DistFile]) -> None:
        """Ask the source for many files' metadata at once (in parallel); each file is asked for once."""
        todo = []
        for f in files:
            key = _file_key(f)
            if key in self._prefetched or key in self._metadata:
                continue
            tabled = self._tabled(f)
            if tabled is not None:
                self._metadata[key] = tabled  # the table's reading is the answer: looked up once
            else:
                todo.append(f)
        if todo:
            self._prefetched.update(map(_file_key, todo))
            try:
                self.source.prefetch(todo)
            except Exception:  # noqa: BLE001 - a warm-up only: every answer is fetched again, one by one, if needed
                return

    def prefetch_installed(self, candidates: Iterable[InstalledCandidate]) -> None:
        """Fetch the metadata of installed pins not read yet in one parallel batch (a direct reference is read
        from its own URL when asked, not from the index)."""
        files = (
            self.best_file_of_version(c.name, c.version)
            for c in candidates
            if c.url is None and c._info is None and self.needs_index(c)
        )
        self.prefetch(f for f in files if f is not None)

    def prefetch_projects(self, names: Iterable[NormalizedName]) -> None:
        """Warm the project pages of many names at once (the engine reads them in parallel)."""
        todo = [n for n in names if n not in self._files]
        if todo:
            try:
                self.source.prefetch_projects(todo)
            except Exception:  # noqa: BLE001 - a warm-up only, as in prefetch()
                return

    def best_file_of_version(self, name: NormalizedName, version: Version) -> DistFile | None:
        """The file whose metadata describes an installed version: pip's (``best_file``), else a wheel (one whose
        tags fit, then the nearest for another interpreter or platform), else any."""

        def find() -> DistFile | None:
            files = self._files_of_version(name, version)
            chosen = best_file(files, self.env)
            if chosen is None:
                # installed although pip would not pick it now (its Requires-Python excludes the target): a
                # wheel that fits the tags still says best what is installed
                fits = [
                    f
                    for f in files
                    if f.kind is DistKind.WHEEL and self.env.wheel_rank(f.filename) is not None
                ]
                wheels = fits + self._foreign_wheels(files)
                chosen = wheels[0] if wheels else (files[0] if files else None)
            return chosen

        return memo(self._best_file, (name, version), find)

    def _files_of_version(self, name: NormalizedName, version: Version) -> list[DistFile]:
        # an installed pin's version alone: the source answers from that version's files, without the page
        pool = self.files(name) if name in self._files else self.source.files_of(name, version)
        return [f for f in pool if f.version == version]

    def _foreign_wheels(self, files: Iterable[DistFile]) -> list[DistFile]:
        """A version's wheels that do not install on the target, nearest first: the target's platform (or
        pure), then the nearest Python, unyanked first; as uv reads such a wheel's metadata for an sdist."""
        ranked = []
        platforms = {*self.env.platforms, "any"}
        for f in files:
            if f.kind is not DistKind.WHEEL or self.env.wheel_rank(f.filename) is not None:
                continue
            try:
                tags = parse_wheel_filename(f.filename)[3]
            except InvalidWheelFilename:
                continue
            elsewhere = all(t.platform not in platforms for t in tags)
            distance = min(_python_distance(t.interpreter, self.env.python) for t in tags)
            ranked.append(((f.is_yanked, elsewhere, distance, f.filename), f))
        return [f for _, f in sorted(ranked, key=lambda pair: pair[0])]

    def info_of(
        self,
        name: NormalizedName,
        version: str,
        meta: CoreMetadata,
        file: DistFile | None,
        *,
        sdist: bool = False,
    ) -> DistInfo:
        """What metadata says of a candidate, and by which route (``RequirementsRoute``): what it cannot say
        becomes a warning, never an exception. An sdist (``file``, or ``sdist`` for a direct reference) whose
        requirements are unknown takes them from the same version's nearest wheel for another target."""
        warnings = [
            _warning(WarningKind.INVALID_REQUIREMENT, name, version, f"skipped {line}")
            for line in meta.skipped
        ]
        is_sdist = sdist or (file is not None and file.kind is DistKind.SDIST)
        if meta.status is MetadataStatus.OK:
            route = self._route(meta, file, is_sdist)
            if route is not RequirementsRoute.WHEEL:
                warnings.append(
                    _warning(WarningKind.REQUIREMENTS_ROUTE, name, version, _route_text(route, meta, file))
                )
            reqs, extras, python = meta.requires_dist, meta.provides_extra, meta.requires_python
            return DistInfo(reqs, extras, python, warnings=tuple(warnings), file=file, route=route)
        where = f" ({file.filename})" if file is not None else ""
        if meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN:
            if file is not None:
                found = self._info_from_foreign_wheel(name, version, meta, file)
                if found is not None:
                    return replace(found, warnings=(*warnings, *found.warnings))
                where = f" ({file.filename}; no wheel of this version to read them from)"
            kind, what = WarningKind.REQUIREMENTS_UNKNOWN, "requirements unknown{}; treated as having none"
        else:
            kind, what = (
                WarningKind.METADATA_UNAVAILABLE,
                "metadata unavailable{}; treated as having no requirements",
            )
        warnings.append(_warning(kind, name, version, what.format(where) + _note(meta)))
        return DistInfo(known=False, warnings=tuple(warnings), file=file, route=RequirementsRoute.UNKNOWN)

    def _info_from_foreign_wheel(
        self, name: NormalizedName, version: str, meta: CoreMetadata, sdist: DistFile
    ) -> DistInfo | None:
        """An sdist's requirements from the first readable one of its version's nearest foreign wheels (two at
        most: each failure costs its retries); its own Requires-Python and extras still count."""
        for wheel in self._foreign_wheels(self._files_of_version(name, sdist.version))[:2]:
            other = self.metadata(wheel)
            if other.status is not MetadataStatus.OK:
                continue
            what = (
                _route_text(RequirementsRoute.OTHER_WHEEL, other, wheel) + f"; {sdist.filename}: {meta.note}"
            )
            warnings = [
                *(
                    _warning(WarningKind.INVALID_REQUIREMENT, name, version, f"skipped {x}")
                    for x in other.skipped
                ),
                _warning(WarningKind.REQUIREMENTS_ROUTE, name, version, what),
            ]
            python = meta.requires_python if meta.requires_python is not None else other.requires_python
            extras = meta.provides_extra | other.provides_extra
            route = RequirementsRoute.OTHER_WHEEL
            return DistInfo(
                other.requires_dist, extras, python, warnings=tuple(warnings), file=sdist, route=route
            )
        return None

    def _route(self, meta: CoreMetadata, file: DistFile | None, is_sdist: bool) -> RequirementsRoute:
        """The route of readable metadata: an sdist's as its parser named it, a wheel's by whether it installs
        on the target."""
        if is_sdist:
            return _SDIST_ROUTES[sdist_route(meta.source)]
        if file is not None and self.env.wheel_rank(file.filename) is None:
            return RequirementsRoute.OTHER_WHEEL
        return RequirementsRoute.WHEEL

    def info_for_installed(self, pin: InstalledCandidate) -> DistInfo:
        """An installed pin's requirements: the snapshot's own (declared, or its dist-info at capture), a direct
        reference's, the source's requirements table, or that version's on the index; when nothing can be had
        the pin is opaque (it keeps its version, its requirements unknown)."""
        name, version, text = pin.name, pin.version, str(pin.version)
        if pin.declared is not None:
            return self._declared_info(pin.declared, name, text)
        url_problem, table = "", self.table
        if pin.url is not None:
            record = table.url(pin.url) if table is not None else None
            if table is not None and record is not None:
                return _record_info(table, record, name, text)
            meta = self.source.metadata_for_url(name, pin.url)
            if meta.status is MetadataStatus.OK:
                return self.info_of(name, text, meta, None, sdist=_names_sdist(pin.url))
            # an unreachable direct reference (a vendor index, a local build folder): the same version's
            # metadata on the configured index is the next best evidence, and the warning says so
            url_problem = f"direct reference {pin.url}: {meta.status.value}" + _note(meta)
        record = self._table_record(pin)
        if table is not None and record is not None:
            info = _record_info(table, record, name, text)
            if not url_problem:
                return info
            if not info.known and record.filename is None:
                return replace(_opaque(name, text, url_problem), read_from="table")
            what = f"{url_problem}; requirements taken from {record.filename} on the index"
            fallback = _warning(WarningKind.INDEX_FALLBACK, name, text, what)
            local = [w for w in info.warnings if w.kind is WarningKind.LOCAL_VERSION_FALLBACK]
            rest = [w for w in info.warnings if w.kind is not WarningKind.LOCAL_VERSION_FALLBACK]
            return replace(info, warnings=(*local, fallback, *rest))
        file = self.best_file_of_version(name, version)
        fallback_version = None
        if file is None and version.local is not None:
            fallback_version = Version(version.public)
            file = self.best_file_of_version(name, fallback_version)
        if file is None:
            return _opaque(name, text, url_problem or "no file of this version on the index")
        meta = self.metadata(file)
        if meta.status is MetadataStatus.UNAVAILABLE:
            return _opaque(name, text, url_problem or f"metadata unavailable ({file.filename})" + _note(meta))
        info = self.info_of(name, text, meta, file)
        first: list[ResolverWarning] = []
        if fallback_version is not None:
            what = (
                f"no file of this local version on the index; requirements taken from {name} {fallback_version}"
            )
            first.append(_warning(WarningKind.LOCAL_VERSION_FALLBACK, name, text, what))
        if url_problem:
            what = f"{url_problem}; requirements taken from {file.filename} on the index"
            first.append(_warning(WarningKind.INDEX_FALLBACK, name, text, what))
        return replace(info, warnings=(*first, *info.warnings)) if first else info

    def needs_index(self, pin: InstalledCandidate) -> bool:
        """Whether an installed pin's requirements must be read from the index (the snapshot and the
        requirements table say nothing of it): only such pins' pages and files are fetched for the image."""
        if pin.declared is not None:
            return False
        if pin.url is not None and self.table is not None and self.table.url(pin.url) is not None:
            return False
        return self._table_record(pin) is None

    def _table_record(self, pin: InstalledCandidate) -> PinRecord | None:
        """The table's record of a pin, looked up once (the prefetches ask before its reading does)."""
        table = self.table
        if table is None:
            return None
        return memo(self._records, pin, lambda: table.pin(pin.name, str(pin.version), self._env_key))

    def _declared_info(self, declared: DeclaredRequirements, name: NormalizedName, text: str) -> DistInfo:
        """Requirements the snapshot carries: google-colab's (declared) or a capture's dist-info METADATA."""
        reqs: list[Requirement] = []
        warnings: list[ResolverWarning] = []
        for line in declared.requirements:
            try:
                reqs.append(Requirement(line))
            except InvalidRequirement:
                what = f"skipped requirement {line!r}"
                warnings.append(_warning(WarningKind.INVALID_REQUIREMENT, name, text, what))
        python = None
        if declared.requires_python:
            try:
                python = SpecifierSet(declared.requires_python)
            except InvalidSpecifier:
                what = f"skipped Requires-Python {declared.requires_python!r}"
                warnings.append(_warning(WarningKind.INVALID_REQUIREMENT, name, text, what))
        dist_info = declared.origin == "dist-info"
        return DistInfo(
            requires_dist=tuple(reqs),
            provides_extra=frozenset(canonicalize_name(e) for e in declared.provides_extra),
            requires_python=python,
            warnings=tuple(warnings),
            route=RequirementsRoute.DIST_INFO if dist_info else RequirementsRoute.DECLARED,
            read_from="snapshot",
        )

    # -- requirements ------------------------------------------------------------------------------------------

    def evaluated(self, base: Candidate, extras: frozenset[NormalizedName]) -> tuple[Requirement, ...]:
        """The base's Requires-Dist lines whose marker holds on the target with these extras requested (a marker
        that cannot be evaluated is skipped and named in a warning)."""
        key = (base, extras)
        if key not in self._evaluated:
            out: list[Requirement] = []
            bad: list[ResolverWarning] = []
            for req in base.info.requires_dist:
                try:
                    if self._holds(req.marker, extras):
                        out.append(req)
                except (ValueError, TypeError) as exc:  # packaging's marker errors are ValueErrors
                    what = f"cannot evaluate the marker of {str(req)!r} ({exc}); skipped"
                    bad.append(_warning(WarningKind.INVALID_REQUIREMENT, base.name, str(base.version), what))
            self._evaluated[key] = tuple(out)
            if not extras:
                self._eval_warnings[base] = tuple(bad)
        return self._evaluated[key]

    def _holds(self, marker: Marker | None, extras: frozenset[NormalizedName]) -> bool:
        if marker is None or not extras:
            return self.env.evaluate(marker)  # the target's own memo: every stage asks about the same markers
        return any(marker.evaluate({**self.env.markers, "extra": extra}) for extra in sorted(extras))

    def evaluation_warnings(self, base: Candidate) -> tuple[ResolverWarning, ...]:
        self.evaluated(base, frozenset())
        return self._eval_warnings.get(base, ())

    def extras_warnings(
        self, base: Candidate, extras: frozenset[NormalizedName]
    ) -> tuple[ResolverWarning, ...]:
        """pip's "X 1.0 does not provide the extra 'y'": an extra neither declared nor named by any marker."""
        if not base.info.known:
            return ()
        plain = set(map(str, self.evaluated(base, frozenset())))
        return tuple(
            ResolverWarning(
                WarningKind.UNKNOWN_EXTRA,
                base.name,
                str(base.version),
                f"{base.name} {base.version} does not provide the extra '{extra}'",
            )
            for extra in sorted(extras)
            if extra not in base.info.provides_extra
            and all(str(r) in plain for r in self.evaluated(base, frozenset({extra})))
        )

    def make_requirements(self, req: Requirement, *, parent: Candidate | None) -> list[ResolverRequirement]:
        """The resolver requirements for one Requires-Dist line: with extras, the base name is required too."""
        if req.url:
            direct = self.direct_candidate(canonicalize_name(req.name), req.url)
            if isinstance(direct, ResolverWarning):
                return []
            extras = frozenset(canonicalize_name(e) for e in req.extras)
            out: list[ResolverRequirement] = [ExplicitRequirement(direct, parent=parent)]
            if extras:
                out.append(ExplicitRequirement(self.extras_candidate(direct, extras), parent=parent))
            return out
        if req.extras:
            return [
                SpecifierRequirement(req, parent=parent, with_extras=False),
                SpecifierRequirement(req, parent=parent),
            ]
        return [SpecifierRequirement(req, parent=parent)]

    def named_requirements(self, cand: Candidate) -> tuple[tuple[NormalizedName, Requirement], ...]:
        """A base candidate's evaluated requirements with their canonical names (for the kept-pin check)."""
        return memo(
            self._named,
            cand,
            lambda: tuple(
                (canonicalize_name(r.name), r) for r in self.evaluated(cand, frozenset()) if not r.url
            ),
        )

    def contains(self, req: Requirement, version: Version) -> bool:
        """``req.specifier`` contains ``version`` (pre-releases allowed, as for an installed version), memoized."""
        return memo(
            self._contains, (id(req), version), lambda: req.specifier.contains(version, prereleases=True)
        )

    # -- find_matches ------------------------------------------------------------------------------------------

    def find_candidates(
        self,
        identifier: str,
        requirements: Mapping[str, Iterable[ResolverRequirement]],
        incompatibilities: Mapping[str, Iterable[Candidate]],
        *,
        installed: Mapping[NormalizedName, InstalledCandidate],
        prefers_installed: bool,
        constrained: Mapping[NormalizedName, InstalledCandidate] | None = None,
    ) -> list[Candidate] | Callable[[], Iterator[Candidate]]:
        """pip's ``find_candidates``: explicit candidates when any requirement names one, else installed + index
        (installed first as an iterator factory, as pip's ``FoundCandidates``: the index read only past it)."""
        reqs = list(requirements.get(identifier, ()))
        incompat = {id(c) for c in incompatibilities.get(identifier, ())}
        if not reqs:
            return []
        if identifier == REQUIRES_PYTHON_KEY:
            ok = all(r.is_satisfied_by(self.python) for r in reqs) and id(self.python) not in incompat
            return [self.python] if ok else []
        name, extras = reqs[0].name, reqs[0].extras
        spec_reqs = [r for r in reqs if isinstance(r, SpecifierRequirement)]
        explicit = [r.candidate for r in reqs if isinstance(r, ExplicitRequirement)]
        if extras:
            # a direct reference to the base project names the candidate of the project with extras too
            base = [r.candidate for r in requirements.get(name, ()) if isinstance(r, ExplicitRequirement)]
            explicit += [self.extras_candidate(c, extras) for c in base]
        if not explicit and constrained and name in constrained:
            explicit = [self.extras_candidate(constrained[name], extras)]
        if explicit:
            unique = {id(c): c for c in explicit}.values()
            return [c for c in unique if id(c) not in incompat and all(r.is_satisfied_by(c) for r in reqs)]
        inst: Candidate | None = None
        pin = installed.get(name)
        if pin is not None and all(r.is_satisfied_by(pin) for r in spec_reqs):
            inst = self.extras_candidate(pin, extras)
            inst = None if id(inst) in incompat else inst
        if inst is not None and prefers_installed:
            # pip's _iter_built_with_prepended. resolvelib usually takes the installed version and reads no
            # further, so the project's page (decoding it, ranking every file) waits until something does
            first = inst

            def installed_then_index() -> Iterator[Candidate]:
                yield first
                for c in self.index_candidates(name, spec_reqs):
                    if c.version != first.version and id(c) not in incompat:
                        yield self.extras_candidate(c, extras)

            return installed_then_index
        index = [self.extras_candidate(c, extras) for c in self.index_candidates(name, spec_reqs)]
        others = [c for c in index if id(c) not in incompat and (inst is None or c.version != inst.version)]
        if inst is None:
            return others
        # pip's _iter_built_with_inserted: the installed version where it sorts among the index's
        at = next((i for i, c in enumerate(others) if inst.version >= c.version), len(others))
        return [*others[:at], inst, *others[at:]]


def _file_key(file: DistFile) -> tuple[str, str]:
    """DistFile holds a hashes dict, so it cannot be a dict key itself; its URL and name identify it."""
    return (file.url, file.filename)


def _record_info(table: RequirementsTable, record: PinRecord, name: NormalizedName, version: str) -> DistInfo:
    """A requirements-table record as the reading it stands for (it was made by ``info_for_installed``)."""
    try:
        python = SpecifierSet(record.requires_python) if record.requires_python else None
    except InvalidSpecifier:
        python = None
    return DistInfo(
        requires_dist=table.requirements(record.requires_dist),
        provides_extra=frozenset(canonicalize_name(e) for e in record.provides_extra),
        requires_python=python,
        known=record.known,
        warnings=tuple(ResolverWarning(WarningKind(kind), name, version, text) for kind, text in record.warnings),
        route=RequirementsRoute(record.route),
        read_from="table",
    )


def _opaque(name: NormalizedName, version: str, why: str) -> DistInfo:
    message = f"{name} {version} is opaque: {why}; kept at its version, its requirements unknown"
    warning = ResolverWarning(WarningKind.OPAQUE, name, version, message)
    return DistInfo(known=False, warnings=(warning,), route=RequirementsRoute.UNKNOWN)


_SDIST_ROUTES = {
    None: RequirementsRoute.SDIST_PKG_INFO,
    SdistRoute.PKG_INFO_NOT_GUARANTEED: RequirementsRoute.SDIST_PKG_INFO_NOT_GUARANTEED,
    SdistRoute.EGG_INFO: RequirementsRoute.SDIST_EGG_INFO,
}
"""The route of an sdist's readable metadata by the suffix its parser put in ``source`` (none: static)."""


def _route_text(route: RequirementsRoute, meta: CoreMetadata, file: DistFile | None) -> str:
    """The warning's words for a route other than a wheel for the target."""
    filename = file.filename if file is not None else "the direct reference"
    if route is RequirementsRoute.SDIST_PKG_INFO:
        return f"requirements from the PKG-INFO of {filename}, which declares them static (PEP 643)"
    if route is RequirementsRoute.OTHER_WHEEL:
        return (
            f"requirements from {filename}, a wheel of this version for another interpreter or platform "
            "(markers evaluated for this target): not guaranteed to be what a build here declares"
        )
    return f"{meta.note} ({filename})"


def _python_distance(interpreter: str, python: Version) -> int:
    """How far a wheel tag's interpreter (``cp310``, ``py3``, ``pp39``) is from the target's Python; a major
    version alone (``py3``) is as near as can be."""
    digits = interpreter[2:]
    if not digits[:1].isdigit() or int(digits[:1]) != python.release[0]:
        return 100
    minor = digits[1:]
    if not minor:
        return 0
    return abs(int(minor) - python.release[1]) if minor.isdigit() else 100


def _names_sdist(url: str) -> bool:
    """Whether a direct reference names an sdist rather than a wheel (pip: by the file name's end)."""
    return not urlsplit(url).path.lower().endswith(".whl")


def _warning(kind: WarningKind, name: NormalizedName, version: str, what: str) -> ResolverWarning:
    return ResolverWarning(kind, name, version, f"{name} {version}: {what}")


def _note(meta: CoreMetadata) -> str:
    return f" ({meta.note})" if meta.note else ""
