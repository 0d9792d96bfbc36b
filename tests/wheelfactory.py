"""Real wheels and sdists, built in memory by the tests (never by running a build backend).

A wheel is a zip with ``<name>-<version>.dist-info/METADATA``, ``WHEEL`` and ``RECORD``; padding members make
it large enough that a range read is visibly cheaper than a download, and ``zip64=True`` forces ZIP64 records.
An sdist is a ``.tar.gz`` (or ``.zip``) with ``PKG-INFO`` and a ``setup.py`` that would write a marker file if
anyone ever executed it.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

__all__ = ["Built", "make_sdist", "make_wheel", "metadata_text", "wheel_filename"]


@dataclass(frozen=True)
class Built:
    filename: str
    data: bytes
    metadata: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def metadata_text(
    name: str,
    version: str,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Sequence[str] = (),
    metadata_version: str = "2.1",
    dynamic: Sequence[str] = (),
) -> bytes:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {d}" for d in dynamic]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    return ("\n".join(lines) + "\n\nA test distribution.\n").encode()


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    return f"{canonicalize_name(name).replace('-', '_')}-{version}-{tag}.whl"


def make_wheel(
    name: str,
    version: str,
    requires: Sequence[str] = (),
    *,
    requires_python: str | None = None,
    extras: Sequence[str] = (),
    tag: str = "py3-none-any",
    padding: int = 0,
    zip64: bool = False,
    metadata: bytes | None = None,
    with_metadata: bool = True,
) -> Built:
    """A wheel whose METADATA says what the arguments say; ``padding`` bytes of incompressible payload."""
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = (
        metadata if metadata is not None else metadata_text(name, version, requires, requires_python, extras)
    )
    buffer = io.BytesIO()
    stamp = (2024, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:

        def add(arcname: str, data: bytes, compress: int = zipfile.ZIP_DEFLATED) -> None:
            zi = zipfile.ZipInfo(arcname, date_time=stamp)
            zi.compress_type = compress
            zf.writestr(zi, data)

        add(f"{dist}/__init__.py", b"open('/tmp/tfconflict-wheel-marker', 'w').write('ran')\n")
        if padding:
            # Stored, random bytes: the file is as big on the wire as ``padding`` says.
            add(f"{dist}/payload.bin", os.urandom(padding), zipfile.ZIP_STORED)
        if with_metadata:
            add(f"{info}/METADATA", meta)
        add(
            f"{info}/WHEEL",
            f"Wheel-Version: 1.0\nGenerator: wheelfactory\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
        )
        add(f"{info}/RECORD", b"")
    data = buffer.getvalue()
    if zip64:
        data = _force_zip64(data)
    return Built(wheel_filename(name, version, tag), data, meta)


def _force_zip64(data: bytes) -> bytes:
    """Rewrite a small zip so that its end records are ZIP64 (as in a >4 GiB wheel), keeping it valid."""
    import struct

    eocd_at = data.rfind(b"PK\x05\x06")
    (_, _, _, _, count, cd_size, cd_offset, _comment_len) = struct.unpack(
        "<4s4H2LH", data[eocd_at : eocd_at + 22]
    )
    body = data[:eocd_at]
    zip64_eocd_offset = len(body)
    zip64_eocd = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_eocd_offset, 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + zip64_eocd + locator + eocd


def make_sdist(
    name: str,
    version: str,
    requires: Sequence[str] = (),
    *,
    requires_python: str | None = None,
    metadata_version: str = "2.2",
    dynamic: Sequence[str] = (),
    fmt: str = "tar.gz",
    marker_path: str = "/tmp/tfconflict-sdist-marker",
    padding: int = 0,
    pyproject: str | None = None,
    extra: Mapping[str, bytes] | None = None,
) -> Built:
    """An sdist with PKG-INFO and a setup.py that writes ``marker_path`` if executed (it never must be);
    ``pyproject`` is its top-level pyproject.toml, ``extra`` more members by path under the root."""
    dist = canonicalize_name(name).replace("-", "_")
    root = f"{dist}-{version}"
    pkg_info = metadata_text(name, version, requires, requires_python, (), metadata_version, dynamic)
    setup_py = (
        f"open({marker_path!r}, 'w').write('setup.py ran')\nfrom setuptools import setup\nsetup()\n".encode()
    )
    members = {f"{root}/PKG-INFO": pkg_info, f"{root}/setup.py": setup_py, f"{root}/{dist}/__init__.py": b""}
    if padding:
        members[f"{root}/{dist}/payload.bin"] = os.urandom(padding)
    if pyproject is not None:
        members[f"{root}/pyproject.toml"] = pyproject.encode()
    members.update({f"{root}/{path}": data for path, data in (extra or {}).items()})
    buffer = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(buffer, "w") as zf:
            for arcname, data in members.items():
                zf.writestr(arcname, data)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
            for arcname, data in members.items():
                ti = tarfile.TarInfo(arcname)
                ti.size = len(data)
                ti.mtime = 1_700_000_000
                tf.addfile(ti, io.BytesIO(data))
    return Built(f"{root}.{fmt}", buffer.getvalue(), pkg_info)
