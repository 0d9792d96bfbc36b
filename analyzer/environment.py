"""Marker values and wheel tags of the *snapshot's* interpreter, never the running one's.

tfconflict answers for another machine (a Colab VM with another Python and glibc), so markers are an explicit dict
and the tags are built by ``packaging.tags`` from the snapshot's Python, glibc and machine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from packaging import tags
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from analyzer.errors import InputError
from analyzer.metadata.models import DistFile
from analyzer.snapshot import Snapshot, clip

_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_MANYLINUX_FLOOR = {"x86_64": 5, "i686": 5, "aarch64": 17, "ppc64le": 17, "s390x": 17, "armv7l": 31}


@dataclass(frozen=True)
class TargetEnvironment:
    """What a resolver needs to know about the interpreter it resolves for."""

    python: Version
    python_full: str
    sys_platform: str
    platform_system: str
    machine: str
    glibc: tuple[int, int] | None

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, *, file: str | None = None) -> TargetEnvironment:
        """The snapshot's interpreter; a Python or glibc that no interpreter has is an InputError naming the
        snapshot's ``file`` when given, else the snapshot."""
        try:
            version = _python(snapshot.python)
            glibc = _glibc(snapshot.platform.glibc)
        except ValueError as exc:
            if file is not None:
                raise InputError(str(exc), file=file) from None
            raise InputError(f"snapshot {clip(snapshot.id)}: {exc}") from None
        return cls(
            python=version,
            python_full=".".join(str(p) for p in (*version.release, 0, 0)[:3]),
            sys_platform=snapshot.platform.sys_platform,
            platform_system=snapshot.platform.os_name,
            machine=snapshot.platform.machine,
            glibc=glibc,
        )

    @property
    def python_version(self) -> str:
        """``X.Y``, the marker ``python_version``."""
        return f"{self.python.release[0]}.{self.python.release[1]}"

    @cached_property
    def markers(self) -> Mapping[str, str]:
        """Marker variables of PEP 508 for the target, to evaluate markers against."""
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_full,
            "os_name": "nt" if self.sys_platform == "win32" else "posix",
            "platform_machine": self.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": self.platform_system,
            "platform_version": "",
            "python_full_version": self.python_full,
            "python_version": self.python_version,
            "sys_platform": self.sys_platform,
            "extra": "",
        }

    @cached_property
    def _marker_answers(self) -> dict[tuple[int, frozenset[str] | tuple[str, ...]], tuple[Marker, bool]]:
        """(id of a marker, extras) -> (the marker, its answer): every stage shares the requirement objects, so a
        check asks about a few thousand markers many times. Keeping the marker stops its id being reused."""
        return {}

    def evaluate(self, marker: Marker | None, extras: frozenset[str] | tuple[str, ...] = ()) -> bool:
        """Whether ``marker`` holds on the target with these extras; what ``packaging`` raises is not remembered."""
        if marker is None:
            return True
        key = (id(marker), extras)
        hit = self._marker_answers.get(key)
        if hit is not None and hit[0] is marker:
            return hit[1]
        answer = self._answer(marker, extras)
        self._marker_answers[key] = (marker, answer)
        return answer

    def _answer(self, marker: Marker, extras: frozenset[str] | tuple[str, ...]) -> bool:
        if not extras:
            return marker.evaluate(dict(self.markers))
        return any(marker.evaluate({**self.markers, "extra": extra}) for extra in ("", *extras))

    @cached_property
    def _python_answers(self) -> dict[int, tuple[SpecifierSet, bool]]:
        """id of a Requires-Python -> (it, its answer): index pages share one object per text, and a check asks
        about every file of a project, a few dozen texts among many thousand files."""
        return {}

    @cached_property
    def _python_full_version(self) -> Version:
        return Version(self.python_full)

    def python_allowed(self, requires_python: SpecifierSet | None) -> bool:
        """Whether the target interpreter satisfies a Requires-Python, pre-releases included as pip does."""
        if requires_python is None:
            return True
        hit = self._python_answers.get(id(requires_python))
        if hit is not None and hit[0] is requires_python:
            return hit[1]
        answer = requires_python.contains(self._python_full_version, prereleases=True)
        self._python_answers[id(requires_python)] = (requires_python, answer)
        return answer

    @cached_property
    def platforms(self) -> tuple[str, ...]:
        """Platform tags, most specific first (manylinux down to the oldest glibc, then plain linux)."""
        if self.sys_platform != "linux":
            return ()
        arch = self.machine
        out: list[str] = []
        if self.glibc is not None and self.glibc[0] == 2:
            floor = _MANYLINUX_FLOOR.get(arch, 17)
            for minor in range(self.glibc[1], floor - 1, -1):
                out.append(f"manylinux_2_{minor}_{arch}")
                legacy = _LEGACY_MANYLINUX.get((2, minor))
                if legacy is not None:
                    out.append(f"{legacy}_{arch}")
        out.append(f"linux_{arch}")
        return tuple(out)

    @cached_property
    def tags(self) -> tuple[Tag, ...]:
        """Compatible wheel tags in pip's order of preference for the target interpreter."""
        version = (self.python.release[0], self.python.release[1])
        cpython = tags.cpython_tags(python_version=version, platforms=self.platforms)
        interpreter = f"cp{version[0]}{version[1]}"
        compat = tags.compatible_tags(python_version=version, interpreter=interpreter, platforms=self.platforms)
        return tuple(dict.fromkeys([*cpython, *compat]))

    @cached_property
    def tag_rank(self) -> Mapping[Tag, int]:
        """Tag -> preference (lower is better), to rank the wheels of one version as pip does."""
        return {tag: i for i, tag in enumerate(self.tags)}

    @cached_property
    def _prefix_valid(self) -> dict[str, bool]:
        """``name-version[-build]`` part of a wheel name -> whether ``packaging`` accepts it."""
        return {}

    @cached_property
    def file_choices(self) -> dict[str, tuple[tuple[DistFile, ...], tuple[DistFile, ...]]]:
        """Project -> (its file list, pip's file per version on this target): the factory's memo across the
        sessions that share this target (a matrix asks again in every row), valid while the list is the same
        object (``Factory.versions``)."""
        return {}

    @cached_property
    def _tags_rank(self) -> dict[str, int | None]:
        """Tag part of a wheel name (``py3-none-any``) -> its best rank, None when invalid or foreign."""
        return {}

    def wheel_rank(self, filename: str) -> int | None:
        """Best rank of a wheel for the target, None when it does not install there: ``parse_wheel_filename``'s
        answer with its two halves remembered, since many wheels share tag parts and each version's prefix."""
        if not filename.endswith(".whl"):
            return None
        stem = filename[:-4]
        if stem.count("-") not in (4, 5):
            return None
        # as parse_wheel_filename splits: the tag part is what follows the last-but-two dash
        cut = stem.rfind("-", 0, stem.rfind("-", 0, stem.rfind("-")))
        tag_text = stem[cut + 1 :]
        # the tag part first: most files of a project are for other platforms, and then the name is not read
        if tag_text not in self._tags_rank:
            try:
                ranks = [self.tag_rank[t] for t in tags.parse_tag(tag_text) if t in self.tag_rank]
            except ValueError:
                ranks = []
            self._tags_rank[tag_text] = min(ranks, default=None)
        rank = self._tags_rank[tag_text]
        if rank is None:
            return None
        prefix = stem[:cut]
        if prefix not in self._prefix_valid:
            try:
                self._prefix_valid[prefix] = bool(parse_wheel_filename(f"{prefix}-py3-none-any.whl"))
            except ValueError:
                self._prefix_valid[prefix] = False
        return rank if self._prefix_valid[prefix] else None

    def describe(self) -> str:
        glibc = f"glibc {self.glibc[0]}.{self.glibc[1]}" if self.glibc else "no glibc"
        return f"CPython {self.python_full}, {self.sys_platform} {self.machine}, {glibc}"


_MAX_PART = 3
"""Digits of a Python or glibc version part: a minor of 1000 is no interpreter's, and tag lists count down from it."""


def _python(text: str) -> Version:
    """A Python version (major and minor at least); ValueError, in words, for anything else."""
    try:
        version = Version(text)
    except ValueError:  # InvalidVersion, or a number longer than int() converts
        version = None
    if version is None or len(version.release) < 2 or any(part >= 10**_MAX_PART for part in version.release[:2]):
        raise ValueError(f"python {clip(text, 40)!r} is not a Python version (expected e.g. 3.12 or 3.12.12)")
    return version


def _glibc(text: str | None) -> tuple[int, int] | None:
    """(major, minor) of a glibc version, None when there is none; ValueError, in words, for anything else."""
    if not text:
        return None
    parts = text.split(".")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() and len(p) <= _MAX_PART for p in parts):
        raise ValueError(f"glibc {clip(text, 40)!r} is not a glibc version (expected e.g. 2.35)")
    return int(parts[0]), int(parts[1])
