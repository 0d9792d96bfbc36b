"""The factory: builds candidates and requirements, and memoizes everything that depends only on (source, target).

This is where pip's finder rules live (wheel tags, Requires-Python, yanked files, pre-releases, the installed version
offered first), so that the provider can stay a thin adapter. One factory serves many resolutions with the same
metadata source and target interpreter: the minimal-conflicting-set search and ``matrix`` call the resolver dozens
to hundreds of times, and the candidate lists, metadata and dependency lists are the same every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from analyzer.environment import TargetEnvironment
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
    ResolverWarning,
    WarningKind,
)
from analyzer.resolver.requirements import (
    ExplicitRequirement,
    RequiresPythonRequirement,
    ResolverRequirement,
    SpecifierRequirement,
)

__all__ = ["Factory", "VersionEntry", "is_pinned"]


@dataclass(frozen=True)
class VersionEntry:
    """One version of a project as the finder sees it: its best file for the target."""

    version: Version
    file: DistFile

    @property
    def yanked(self) -> bool:
        return self.file.is_yanked


def is_pinned(specifier: SpecifierSet) -> bool:
    """pip's PEP 592 test: ``==X`` (not a wildcard) or ``===X`` lets a yanked release be chosen."""
    for spec in specifier:
        if spec.operator == "===":
            return True
        if spec.operator == "==" and not spec.version.endswith(".*"):
            return True
    return False


class Factory:
    """Candidates and requirements for one (metadata source, target interpreter) pair, memoized."""

    def __init__(self, source: MetadataSource, env: TargetEnvironment) -> None:
        self.source = source
        self.env = env
        self._markers: dict[str, str] = dict(env.markers)
        self._versions: dict[NormalizedName, tuple[VersionEntry, ...]] = {}
        self._all_files: dict[NormalizedName, tuple[DistFile, ...]] = {}
        self._matches: dict[tuple[NormalizedName, str], tuple[IndexCandidate, ...]] = {}
        self._index: dict[tuple[str, str], IndexCandidate] = {}
        self._installed: dict[tuple[Any, ...], InstalledCandidate] = {}
        self._extras: dict[tuple[Candidate, frozenset[NormalizedName]], ExtrasCandidate] = {}
        self._direct: dict[tuple[NormalizedName, str], Candidate | ResolverWarning] = {}
        self._evaluated: dict[tuple[Candidate, frozenset[NormalizedName]], tuple[Requirement, ...]] = {}
        self._eval_warnings: dict[Candidate, tuple[ResolverWarning, ...]] = {}
        self._metadata: dict[tuple[str, str], CoreMetadata] = {}
        self._prefetched: set[tuple[str, str]] = set()
        self._best_file: dict[tuple[NormalizedName, Version], DistFile | None] = {}
        self._by_specs: dict[tuple[NormalizedName, frozenset[str]], tuple[IndexCandidate, ...]] = {}
        self._named: dict[Candidate, tuple[tuple[NormalizedName, Requirement], ...]] = {}
        self._contains: dict[tuple[int, Version], bool] = {}
        self.allowed_memo: dict[
            tuple[NormalizedName, frozenset[int], frozenset[str]], tuple[Version, ...]
        ] = {}
        """Versions of a project that a set of requirements (by identity) leaves: the searches' propagation."""
        self.looked: set[tuple[NormalizedName, frozenset[int]]] = set()
        self.domain_memo: dict[
            tuple[NormalizedName, frozenset[int], InstalledCandidate | None], tuple[Candidate, ...]
        ] = {}
        """Propagation's domains by (name, its requirements by identity, the installed candidate)."""
        self.kept_causes: dict[InstalledCandidate, tuple[tuple[Any, ...], tuple[str, ...]]] = {}
        """A kept pin's cause and chain in propagation's conflicts (``propagation._kept_cause``)."""
        self.python = PythonCandidate(self, Version(env.python_full))
        self.lookup_warnings: dict[NormalizedName, ResolverWarning] = {}
        """Projects the resolution asked for whose page could not be read: every resolution reports them."""

    # -- the index, as pip's finder sees it ------------------------------------------------------------------

    def files(self, name: NormalizedName) -> tuple[DistFile, ...]:
        found = self._all_files.get(name)
        if found is None:
            project = self.source.project(name)
            found = tuple(project.files)
            if not found and project.problems:
                self.lookup_warnings[name] = ResolverWarning(
                    WarningKind.LOOKUP_FAILED, name, None, f"{name}: no files: " + "; ".join(project.problems)
                )
            self._all_files[name] = found
        return found

    def versions(self, name: NormalizedName) -> tuple[VersionEntry, ...]:
        """Every version with a file that installs on the target, newest first, with its best file.

        pip's order within a version: a non-yanked file before a yanked one, a wheel (best tag first) before an
        sdist. Files whose Requires-Python excludes the target are dropped, as pip's finder drops their links.
        """
        found = self._versions.get(name)
        if found is not None:
            return found
        by_version: dict[Version, list[DistFile]] = {}
        for f in self.files(name):
            by_version.setdefault(f.version, []).append(f)
        best = {v: best_file(files, self.env) for v, files in by_version.items()}
        found = tuple(VersionEntry(v, b) for v in sorted(best, reverse=True) if (b := best[v]) is not None)
        self._versions[name] = found
        return found

    def index_candidates(self, name: NormalizedName, specifier: SpecifierSet) -> tuple[IndexCandidate, ...]:
        """Index candidates for a combined specifier, best first, with pip's pre-release and yanked rules."""
        memo_key = (name, str(specifier))
        found = self._matches.get(memo_key)
        if found is not None:
            return found
        entries = self.versions(name)
        # pip: SpecifierSet.filter with prereleases=None: pre-releases only when the specifier names one or
        # when no final release matches
        allowed = set(specifier.filter([e.version for e in entries]))
        applicable = [e for e in entries if e.version in allowed]
        all_yanked = bool(applicable) and all(e.yanked for e in applicable)
        pinned = is_pinned(specifier)
        found = tuple(
            self.index_candidate(e.file) for e in applicable if not e.yanked or (all_yanked and pinned)
        )
        self._matches[memo_key] = found
        return found

    def _index_for(
        self, name: NormalizedName, reqs: list[SpecifierRequirement]
    ) -> tuple[IndexCandidate, ...]:
        """``index_candidates`` for the combined specifier of ``reqs``, memoized on their specifier texts.

        Backtracking asks for the same combinations thousands of times; combining ``SpecifierSet`` objects and
        printing them for a key costs more than the answer.
        """
        key = (name, frozenset(r.spec_key for r in reqs))
        found = self._by_specs.get(key)
        if found is None:
            # one set of every clause: ``&=`` in a loop builds an intermediate set per clause, each a copy of the
            # growing one (quadratic per call in the requirements on one name)
            specifier = SpecifierSet([s for r in reqs for s in r.specifier])
            found = self.index_candidates(name, specifier)
            self._by_specs[key] = found
        return found

    def index_candidate(self, file: DistFile) -> IndexCandidate:
        key = _file_key(file)
        cand = self._index.get(key)
        if cand is None:
            cand = IndexCandidate(self, file)
            self._index[key] = cand
        return cand

    def extras_candidate(self, base: Candidate, extras: frozenset[NormalizedName]) -> Candidate:
        if not extras:
            return base
        memo_key = (base, extras)
        cand = self._extras.get(memo_key)
        if cand is None:
            cand = ExtrasCandidate(self, base, extras)
            self._extras[memo_key] = cand
        return cand

    def installed_candidate(
        self,
        name: NormalizedName,
        version: Version,
        *,
        url: str | None = None,
        declared: tuple[str, ...] | None = None,
        evidence: str = "",
    ) -> InstalledCandidate:
        memo_key = (name, str(version), url, declared, evidence)
        cand = self._installed.get(memo_key)
        if cand is None:
            cand = InstalledCandidate(
                self, name, version, url=url, declared=declared, declared_evidence=evidence
            )
            self._installed[memo_key] = cand
        return cand

    def direct_candidate(self, name: NormalizedName, url: str) -> Candidate | ResolverWarning:
        """The candidate of ``name @ url``, or a warning when its metadata (and so its version) is unknown."""
        memo_key = (name, url)
        found = self._direct.get(memo_key)
        if found is not None:
            return found
        meta = self.source.metadata_for_url(name, url)
        result: Candidate | ResolverWarning
        if meta.status is MetadataStatus.UNAVAILABLE:
            result = ResolverWarning(
                WarningKind.METADATA_UNAVAILABLE,
                name,
                None,
                f"{name} @ {url}: metadata unavailable ({meta.note})",
            )
        else:
            info = self._info_from_metadata(name, str(meta.version), meta, None, origin="direct")
            result = DirectCandidate(self, name, url, meta.version, info)
        self._direct[memo_key] = result
        return result

    # -- metadata ----------------------------------------------------------------------------------------------

    def metadata(self, file: DistFile) -> CoreMetadata:
        key = _file_key(file)
        meta = self._metadata.get(key)
        if meta is None:
            meta = self.source.metadata(file)
            self._metadata[key] = meta
        return meta

    def prefetch(self, files: Iterable[DistFile]) -> None:
        """Ask the source for many files' metadata at once (in parallel); each file is asked for once."""
        todo = [
            f for f in files if _file_key(f) not in self._prefetched and _file_key(f) not in self._metadata
        ]
        if todo:
            self._prefetched.update(map(_file_key, todo))
            try:
                self.source.prefetch(todo)
            except Exception:  # noqa: BLE001 - a warm-up only: every answer is fetched again, one by one, if needed
                return

    def prefetch_installed(self, candidates: Iterable[InstalledCandidate]) -> None:
        """Fetch the metadata of installed pins not read yet in one parallel batch (a direct reference is read
        from its own URL when asked, not from the index)."""
        self.prefetch(
            f
            for f in (
                self.best_file_of_version(c.name, c.version)
                for c in candidates
                if c.url is None and c._info is None
            )
            if f is not None
        )

    def best_file_of_version(self, name: NormalizedName, version: Version) -> DistFile | None:
        """The file whose metadata describes an installed version: pip's (``best_file``), else a wheel, else any."""
        memo_key = (name, version)
        if memo_key in self._best_file:
            return self._best_file[memo_key]
        found = self._find_best_file(name, version)
        self._best_file[memo_key] = found
        return found

    def _find_best_file(self, name: NormalizedName, version: Version) -> DistFile | None:
        # an installed pin's version alone: the source answers from that version's files, without the whole page
        pool = self.files(name) if name in self._all_files else self.source.files_of(name, version)
        files = [f for f in pool if f.version == version]
        chosen = best_file(files, self.env)
        if chosen is None or chosen.kind is not DistKind.WHEEL:
            # an installed version's requirements are read from a wheel when it has one, even a wheel for another
            # platform: an sdist's are not trusted (see ``MetadataStatus.REQUIREMENTS_UNKNOWN``)
            wheels = [f for f in files if f.kind is DistKind.WHEEL]
            chosen = wheels[0] if wheels else chosen or (files[0] if files else None)
        return chosen

    def info_from_file(self, name: NormalizedName, version: Version, file: DistFile) -> DistInfo:
        return self._info_from_metadata(name, str(version), self.metadata(file), file, origin="index")

    def _info_from_metadata(
        self, name: NormalizedName, version: str, meta: CoreMetadata, file: DistFile | None, *, origin: str
    ) -> DistInfo:
        warnings = [
            ResolverWarning(
                WarningKind.INVALID_REQUIREMENT,
                name,
                version,
                f"{name} {version}: skipped {line}",
            )
            for line in meta.skipped
        ]
        where = f" ({file.filename})" if file is not None else ""
        if meta.status is MetadataStatus.REQUIREMENTS_UNKNOWN:
            warnings.append(
                ResolverWarning(
                    WarningKind.REQUIREMENTS_UNKNOWN,
                    name,
                    version,
                    f"{name} {version}: requirements unknown{where}; treated as having none"
                    + (f" ({meta.note})" if meta.note else ""),
                )
            )
            return DistInfo(known=False, warnings=tuple(warnings), file=file, source=origin)
        if meta.status is MetadataStatus.UNAVAILABLE:
            warnings.append(
                ResolverWarning(
                    WarningKind.METADATA_UNAVAILABLE,
                    name,
                    version,
                    f"{name} {version}: metadata unavailable{where}; treated as having no requirements"
                    + (f" ({meta.note})" if meta.note else ""),
                )
            )
            return DistInfo(known=False, warnings=tuple(warnings), file=file, source=origin)
        return DistInfo(
            requires_dist=meta.requires_dist,
            provides_extra=meta.provides_extra,
            requires_python=meta.requires_python,
            warnings=tuple(warnings),
            file=file,
            source=origin,
        )

    def info_for_installed(
        self,
        name: NormalizedName,
        version: Version,
        *,
        url: str | None,
        declared: tuple[str, ...] | None,
        evidence: str,
    ) -> DistInfo:
        """An installed pin's requirements: declared ones, a direct reference's, or that version's on the index.

        When nothing can be had the pin is opaque: it keeps its version and its requirements are unknown.
        """
        text = str(version)
        if declared is not None:
            reqs: list[Requirement] = []
            warnings: list[ResolverWarning] = []
            for line in declared:
                try:
                    reqs.append(Requirement(line))
                except InvalidRequirement:
                    warnings.append(
                        ResolverWarning(
                            WarningKind.INVALID_REQUIREMENT,
                            name,
                            text,
                            f"{name} {text}: skipped requirement {line!r}",
                        )
                    )
            return DistInfo(
                requires_dist=tuple(reqs),
                warnings=tuple(warnings),
                source=f"declared: {evidence}".rstrip(": "),
            )
        url_problem = ""
        if url is not None:
            meta = self.source.metadata_for_url(name, url)
            if meta.status is MetadataStatus.OK:
                return self._info_from_metadata(name, text, meta, None, origin="direct")
            # an unreachable direct reference (a vendor index, a local build folder): the same version's
            # metadata on the configured index is the next best evidence, and the warning says so
            url_problem = f"direct reference {url}: {meta.status.value}" + _note(meta)
        file = self.best_file_of_version(name, version)
        fallback = ""
        if file is None and version.local is not None:
            public = Version(version.public)
            file = self.best_file_of_version(name, public)
            fallback = str(public)
        if file is None:
            return self._opaque(name, text, url_problem or "no file of this version on the index")
        meta = self.metadata(file)
        if meta.status is MetadataStatus.UNAVAILABLE:
            return self._opaque(
                name, text, url_problem or f"metadata unavailable ({file.filename})" + _note(meta)
            )
        info = self._info_from_metadata(name, text, meta, file, origin="index")
        if url_problem:
            info = replace(
                info,
                warnings=(
                    ResolverWarning(
                        WarningKind.INDEX_FALLBACK,
                        name,
                        text,
                        f"{name} {text}: {url_problem}; requirements taken from {file.filename} on the index",
                    ),
                    *info.warnings,
                ),
            )
        if fallback:
            info = DistInfo(
                requires_dist=info.requires_dist,
                provides_extra=info.provides_extra,
                requires_python=info.requires_python,
                known=info.known,
                warnings=(
                    ResolverWarning(
                        WarningKind.LOCAL_VERSION_FALLBACK,
                        name,
                        text,
                        f"{name} {text}: no file of this local version on the index; "
                        f"requirements taken from {name} {fallback}",
                    ),
                    *info.warnings,
                ),
                file=file,
                source=info.source,
            )
        return info

    def _opaque(self, name: NormalizedName, version: str, why: str) -> DistInfo:
        return DistInfo(
            known=False,
            warnings=(
                ResolverWarning(
                    WarningKind.OPAQUE,
                    name,
                    version,
                    f"{name} {version} is opaque: {why}; kept at its version, its requirements unknown",
                ),
            ),
            source="none",
        )

    # -- requirements ------------------------------------------------------------------------------------------

    def evaluated(self, base: Candidate, extras: frozenset[NormalizedName]) -> tuple[Requirement, ...]:
        """The base's Requires-Dist lines whose marker holds on the target with these extras requested.

        A marker that cannot be evaluated is skipped and named in a warning, never raised.
        """
        memo_key = (base, extras)
        found = self._evaluated.get(memo_key)
        if found is not None:
            return found
        out: list[Requirement] = []
        bad: list[ResolverWarning] = []
        for req in base.info.requires_dist:
            if req.marker is None:
                out.append(req)
                continue
            try:
                holds = self._marker_holds(req.marker, extras)
            except (ValueError, TypeError) as exc:  # packaging's marker errors are ValueErrors
                bad.append(
                    ResolverWarning(
                        WarningKind.INVALID_REQUIREMENT,
                        base.name,
                        str(base.version),
                        f"{base.name} {base.version}: cannot evaluate the marker of {str(req)!r} ({exc}); skipped",
                    )
                )
                continue
            if holds:
                out.append(req)
        found = tuple(out)
        self._evaluated[memo_key] = found
        if not extras:
            self._eval_warnings[base] = tuple(bad)
        return found

    def _marker_holds(self, marker: Marker, extras: frozenset[NormalizedName]) -> bool:
        if not extras:
            return self.env.evaluate(marker)  # the same question as the target's, remembered there
        return any(marker.evaluate({**self._markers, "extra": extra}) for extra in sorted(extras))

    def evaluation_warnings(self, base: Candidate) -> tuple[ResolverWarning, ...]:
        self.evaluated(base, frozenset())
        return self._eval_warnings.get(base, ())

    def extras_warnings(
        self, base: Candidate, extras: frozenset[NormalizedName]
    ) -> tuple[ResolverWarning, ...]:
        info = base.info
        if not info.known:
            return ()
        missing = []
        plain = set(map(str, self.evaluated(base, frozenset())))
        for extra in sorted(extras):
            if extra in info.provides_extra:
                continue
            if any(str(r) not in plain for r in self.evaluated(base, frozenset({extra}))):
                continue
            missing.append(extra)
        return tuple(
            ResolverWarning(
                WarningKind.UNKNOWN_EXTRA,
                base.name,
                str(base.version),
                f"{base.name} {base.version} does not provide the extra '{extra}'",
            )
            for extra in missing
        )

    def make_requirements(self, req: Requirement, *, parent: Candidate | None) -> list[ResolverRequirement]:
        """The resolver requirements for one Requires-Dist line: with extras, the base name is required too."""
        name = canonicalize_name(req.name)
        if req.url:
            direct = self.direct_candidate(name, req.url)
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
        found = self._named.get(cand)
        if found is None:
            found = tuple(
                (canonicalize_name(r.name), r) for r in self.evaluated(cand, frozenset()) if not r.url
            )
            self._named[cand] = found
        return found

    def contains(self, req: Requirement, version: Version) -> bool:
        """``req.specifier`` contains ``version`` (pre-releases allowed, as for an installed version), memoized."""
        key = (id(req), version)
        found = self._contains.get(key)
        if found is None:
            found = req.specifier.contains(version, prereleases=True)
            self._contains[key] = found
        return found

    def prefetch_projects(self, names: Iterable[NormalizedName]) -> None:
        """Warm the project pages of many names at once when the source can (the engine can, in parallel)."""
        todo = [n for n in names if n not in self._all_files]
        if todo:
            try:
                self.source.prefetch_projects(todo)
            except Exception:  # noqa: BLE001 - a warm-up only, as in prefetch()
                return

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
        lazy: bool = False,
    ) -> list[Candidate] | Callable[[], Iterator[Candidate]]:
        """pip's ``find_candidates``: explicit candidates when any requirement names one, else installed + index.

        With ``lazy`` the installed-first order may come as an iterator factory (resolvelib's lazy matches), as
        pip's ``FoundCandidates`` does: the same sequence, the index read only past the installed version.
        """
        reqs = list(requirements.get(identifier, ()))
        incompat = {id(c) for c in incompatibilities.get(identifier, ())}
        explicit: dict[int, Candidate] = {}
        spec_reqs: list[SpecifierRequirement] = []
        name: NormalizedName | None = None
        extras: frozenset[NormalizedName] = frozenset()
        for r in reqs:
            if isinstance(r, RequiresPythonRequirement):
                ok = all(x.is_satisfied_by(self.python) for x in reqs)
                return [self.python] if ok and id(self.python) not in incompat else []
            if isinstance(r, ExplicitRequirement):
                explicit[id(r.candidate)] = r.candidate
            else:
                spec_reqs.append(r)
            name = r.name
            extras = r.extras if isinstance(r, SpecifierRequirement) else r.candidate.extras
        if name is None:
            return []
        if extras:
            for r in requirements.get(name, ()):
                if isinstance(r, ExplicitRequirement):
                    cand = self.extras_candidate(r.candidate, extras)
                    explicit[id(cand)] = cand
        if constrained and name in constrained and not explicit:
            pinned = self.extras_candidate(constrained[name], extras)
            explicit[id(pinned)] = pinned
        if explicit:
            return [
                c
                for c in explicit.values()
                if id(c) not in incompat and all(r.is_satisfied_by(c) for r in reqs)
            ]
        inst: Candidate | None = installed.get(name)
        if inst is not None:
            if all(r.is_satisfied_by(inst) for r in spec_reqs):
                inst = self.extras_candidate(inst, extras)
                if id(inst) in incompat:
                    inst = None
            else:
                inst = None
        if lazy and inst is not None and prefers_installed:
            # the installed version first: resolvelib usually takes it and never reads further, so the project's
            # page (decoding it, ranking every file) waits until something does
            first = inst

            def installed_then_index() -> Iterator[Candidate]:
                yield first
                for c in self._index_for(name, spec_reqs):
                    if c.version != first.version and id(c) not in incompat:
                        yield self.extras_candidate(c, extras)

            return installed_then_index
        index: Iterable[Candidate] = self._index_for(name, spec_reqs)
        if extras:
            index = [self.extras_candidate(c, extras) for c in index]
        out: list[Candidate] = []
        if inst is None:
            out = [c for c in index if id(c) not in incompat]
        elif prefers_installed:
            # pip's _iter_built_with_prepended
            out = [inst] + [c for c in index if c.version != inst.version and id(c) not in incompat]
        else:
            # pip's _iter_built_with_inserted
            placed = False
            for c in index:
                if not placed and inst.version >= c.version:
                    out.append(inst)
                    placed = True
                if c.version == inst.version or id(c) in incompat:
                    continue
                out.append(c)
            if not placed:
                out.append(inst)
        return out


def _file_key(file: DistFile) -> tuple[str, str]:
    """DistFile holds a hashes dict, so it cannot be a dict key itself; its URL and name identify it."""
    return (file.url, file.filename)


def _note(meta: CoreMetadata) -> str:
    return f" ({meta.note})" if meta.note else ""
