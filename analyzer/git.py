"""Git, run with list arguments (never a shell): the one way ``catalog`` and ``colabtables`` read a history."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from analyzer.errors import SourceError
from analyzer.redact import redact

__all__ = ["clone_or_fetch", "git", "is_local", "normalize_origin", "read_blobs"]


def git(args: Sequence[str], *, cwd: Path | None = None, input: bytes | None = None) -> bytes:
    """Run git with list arguments (never a shell); a failure becomes a SourceError carrying git's words."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False, env=env)
    except FileNotFoundError as exc:
        raise SourceError("git is not installed; tfconflict needs it to read snapshot histories") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc.stdout


def clone_or_fetch(origin: str, path: Path) -> None:
    """Clone ``origin`` into ``path`` once (``--mirror``, beside it until complete), fetch into it afterwards."""
    # "--" before every argument the user gave: an origin such as "--upload-pack=..." is a repository, never an option
    if (path / "HEAD").is_file():
        git(["remote", "set-url", "--", "origin", origin], cwd=path)
        try:
            git(["fetch", "--prune", "--quiet", "--", "origin"], cwd=path)
        finally:
            _forget_credentials(origin, path)
        return
    partial = path.with_name(f"{path.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    git(["clone", "--mirror", "--quiet", "--", origin, str(partial)])
    _forget_credentials(origin, partial)
    shutil.rmtree(path, ignore_errors=True)
    partial.rename(path)


def _forget_credentials(origin: str, repo: Path) -> None:
    """The mirror's remote keeps the origin with its password hidden: the cache holds no credential, and the
    origin is given again whenever the mirror is fetched."""
    shown = redact(origin)
    if shown != origin:
        git(["remote", "set-url", "--", "origin", shown], cwd=repo)


def read_blobs(repo: Path, names: Iterable[str]) -> Iterator[tuple[str, str | None, bytes | None]]:
    """``(name, blob_id, content)`` of many objects (``commit:path`` or a blob id) read by one ``git cat-file
    --batch`` process; a missing object yields ``(name, None, None)``."""
    wanted = list(names)
    if not wanted:
        return
    out = git(["cat-file", "--batch"], cwd=repo, input=("\n".join(wanted) + "\n").encode())
    pos = 0
    for name in wanted:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode()
        pos = end + 1
        if header.endswith((" missing", " ambiguous")):
            yield name, None, None
            continue
        sha, _type, size = header.split(" ")
        content = out[pos : pos + int(size)]
        pos += int(size) + 1
        yield name, sha, content


def normalize_origin(origin: str) -> str:
    """A local path becomes absolute (so the cache remembers it wherever the next run starts); URLs stay."""
    if "://" in origin or re.match(r"^[\w.-]+@[\w.-]+:", origin):
        return origin
    path = Path(origin).expanduser()
    return str(path.resolve()) if path.exists() else origin


def is_local(origin: str) -> bool:
    return "://" not in origin and Path(origin).exists()
