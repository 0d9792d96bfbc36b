"""What an sdist says about its own build, read statically: the build backend and requirements of its
``pyproject.toml`` and whether its members are sources of a compiled language.

pip builds an sdist when no wheel of the chosen version fits; tfconflict never does. The archive is read as a
bounded stream (a ``.tar.gz`` member by member, a ``.zip`` from memory), nothing is extracted or executed, and past
a size bound it is not read at all: the facts then say so instead of guessing.
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from zlib import error as zlib_error

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from analyzer.metadata.models import SdistFacts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the tomli backport of Python 3.10
    import tomli as tomllib

__all__ = [
    "LEGACY_BACKEND",
    "LEGACY_REQUIRES",
    "MAX_SDIST_BYTES",
    "SdistTooLarge",
    "facts_from_bytes",
    "facts_from_chunks",
    "facts_from_members",
    "not_read",
    "size_text",
]

MAX_SDIST_BYTES = 64 * 1024 * 1024
"""Largest archive read (bytes on the wire): a tar's member names are known only by reading all of it."""
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
"""Largest uncompressed tar stream walked: a small archive can inflate without bound."""
MAX_MEMBERS = 200_000
MAX_PYPROJECT_BYTES = 1024 * 1024

LEGACY_BACKEND = "setuptools.build_meta:__legacy__"
"""What pip builds with when an sdist declares no backend (PEP 517's fallback)."""
LEGACY_REQUIRES = ("setuptools>=40.8.0",)
"""pip's build requirements when an sdist declares none (PEP 518's fallback)."""

_LANGUAGES = {
    ".c": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".c++": "C++",
    ".pyx": "Cython",
    ".f": "Fortran",
    ".f90": "Fortran",
    ".f95": "Fortran",
    ".f77": "Fortran",
    ".for": "Fortran",
    ".rs": "Rust",
    ".cu": "CUDA",
}
"""Source suffixes that mean a compiler runs when the sdist is built (headers alone do not)."""

_COMPILING_BACKENDS = {
    "mesonpy": "meson-python",
    "scikit_build_core": "scikit-build-core",
    "maturin": "maturin",
    "py_build_cmake": "py-build-cmake",
    "sipbuild": "sip",
    "cmeel": "cmeel",
    "enscons": "enscons",
}
"""Build backends (their module's first part) that exist to compile extensions."""

_COMPILING_REQUIRES = frozenset(
    canonicalize_name(n)
    for n in (
        "cython", "setuptools-rust", "pybind11", "nanobind", "scikit-build", "cmake", "meson", "ninja", "cffi",
        "oldest-supported-numpy", "maturin", "meson-python", "scikit-build-core",
    )
)
"""Build requirements that are there to compile code (a compiler front-end, a binding generator)."""


class SdistTooLarge(Exception):
    """The archive is past a bound; it is not read further."""


def size_text(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size} bytes"


def not_read(filename: str, why: str) -> SdistFacts:
    return SdistFacts(filename, read=False, note=f"not read: {why}")


def facts_from_members(filename: str, names: Sequence[str], pyproject: bytes | None) -> SdistFacts:
    """The facts from an archive's member names and its top-level ``pyproject.toml`` (None: absent)."""
    counts = Counter(_LANGUAGES[suffix] for n in names if (suffix := _suffix(n)) in _LANGUAGES)
    backend, declared_backend, declared_requires, problem = LEGACY_BACKEND, False, False, ""
    requires: tuple[str, ...] = LEGACY_REQUIRES
    if pyproject is not None:
        try:
            system = tomllib.loads(pyproject.decode("utf-8")).get("build-system")
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            system, problem = None, f"pyproject.toml does not parse ({exc}); pip would stop there"
        if isinstance(system, dict):
            if isinstance(system.get("build-backend"), str):
                backend, declared_backend = system["build-backend"], True
            if isinstance(system.get("requires"), list):
                requires = tuple(str(r) for r in system["requires"])
                declared_requires = True
    return SdistFacts(
        filename,
        read=True,
        note=problem,
        build_backend=backend,
        backend_declared=declared_backend,
        build_requires=requires,
        requires_declared=declared_requires,
        sources=tuple(sorted(counts.items())),
        compiling_tools=_compiling_tools(backend, requires),
        members=len(names),
    )


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    return base[base.rfind(".") :] if "." in base else ""


def _compiling_tools(backend: str, requires: Iterable[str]) -> tuple[str, ...]:
    tools = []
    module = backend.split(":", 1)[0].split(".", 1)[0]
    if module in _COMPILING_BACKENDS:
        tools.append(_COMPILING_BACKENDS[module])
    for text in requires:
        try:
            name = canonicalize_name(Requirement(text).name)
        except InvalidRequirement:
            continue
        if name in _COMPILING_REQUIRES and name not in tools:
            tools.append(name)
    return tuple(tools)


def _is_pyproject(name: str) -> bool:
    return name.count("/") == 1 and name.endswith("/pyproject.toml")


class _Bounded:
    """A read-only stream over chunks that stops past ``limit`` bytes; failures of the chunks' source come out
    as ``_SourceBroke`` so that the archive reader cannot take them for a bad archive."""

    def __init__(self, chunks: Iterable[bytes], limit: int) -> None:
        self.chunks: Iterator[bytes] = iter(chunks)
        self.limit = limit
        self.pending = b""
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if not self.pending:
            try:
                self.pending = next(self.chunks, b"")
            except Exception as exc:  # the caller re-raises it as it was
                raise _SourceBroke(exc) from exc
        if size < 0:
            size = len(self.pending)
        data, self.pending = self.pending[:size], self.pending[size:]
        self.count += len(data)
        if self.count > self.limit:
            raise SdistTooLarge(f"larger than {size_text(self.limit)}")
        return data

    def read_all(self) -> bytes:
        return b"".join(iter(lambda: self.read(), b""))


class _SourceBroke(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def facts_from_chunks(chunks: Iterable[bytes], filename: str, *, limit: int = MAX_SDIST_BYTES) -> SdistFacts:
    """The facts of an archive arriving as chunks (a response body). An exception of the chunks' source (a
    network failure) is raised as it was; an unreadable or oversized archive is a value."""
    stream = _Bounded(chunks, limit)
    try:
        if filename.lower().endswith(".zip"):
            return _zip_facts(stream.read_all(), filename)
        return _tar_facts(stream, filename)
    except _SourceBroke as exc:
        raise exc.cause from None
    except SdistTooLarge as exc:
        return not_read(filename, f"too large ({exc})")


def facts_from_bytes(data: bytes, filename: str) -> SdistFacts:
    """The facts of an archive held in memory (a local file, a test's archive)."""
    return facts_from_chunks([data], filename)


def _zip_facts(data: bytes, filename: str) -> SdistFacts:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                return not_read(filename, f"more than {MAX_MEMBERS} members")
            names = [i.filename for i in infos if not i.is_dir()]
            found = next((i for i in infos if _is_pyproject(i.filename)), None)
            pyproject = None
            if found is not None:
                if max(found.file_size, found.compress_size) > MAX_PYPROJECT_BYTES:
                    return not_read(filename, "pyproject.toml is too large")
                with zf.open(found) as handle:  # inflated in bounded steps, whatever its entry claims
                    pyproject = handle.read(MAX_PYPROJECT_BYTES + 1)
                if len(pyproject) > MAX_PYPROJECT_BYTES:
                    return not_read(filename, "pyproject.toml is too large")
    except (zipfile.BadZipFile, EOFError, OSError, zlib_error) as exc:
        return not_read(filename, f"not a readable archive ({exc})")
    return facts_from_members(filename, names, pyproject)


def _tar_facts(stream: _Bounded, filename: str) -> SdistFacts:
    names: list[str] = []
    pyproject: bytes | None = None
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as tf:  # type: ignore[call-overload]
            for member in tf:
                if member.offset_data + member.size > MAX_UNPACKED_BYTES:
                    raise SdistTooLarge(f"more than {size_text(MAX_UNPACKED_BYTES)} unpacked")
                if len(names) >= MAX_MEMBERS:
                    return not_read(filename, f"more than {MAX_MEMBERS} members")
                if not member.isfile():
                    continue
                names.append(member.name)
                if pyproject is None and _is_pyproject(member.name):
                    if member.size > MAX_PYPROJECT_BYTES:
                        return not_read(filename, "pyproject.toml is too large")
                    handle = tf.extractfile(member)
                    pyproject = handle.read() if handle is not None else None
    except (tarfile.TarError, EOFError, OSError, zlib_error) as exc:
        return not_read(filename, f"not a readable archive ({exc})")
    return facts_from_members(filename, names, pyproject)
