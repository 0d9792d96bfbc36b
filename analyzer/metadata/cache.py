"""The persistent cache: one SQLite file (WAL) in the user cache folder, shared safely by several processes.

Rows: core metadata (keyed by the file's sha256 or redacted URL), index pages (parsed, as plain text, with their
validators and when they were fetched; a page without files is a compressed blob, so its shorter freshness is
known without reading it) and remembered answers. A damaged cache is set aside and rebuilt, an unwritable one
bypassed: both are logged and neither stops an analysis.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer.paths import cache_dir

__all__ = ["CacheInfo", "CachedPage", "MetadataCache", "ReadLog", "folder_problem", "without_cache"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4
BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS metadata (key TEXT PRIMARY KEY, body BLOB NOT NULL, stored REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pages (
    key TEXT PRIMARY KEY, fetched REAL NOT NULL, etag TEXT, last_modified TEXT, body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, made REAL NOT NULL, body BLOB NOT NULL);
"""
_CLEAR = "DELETE FROM metadata; DELETE FROM pages; DELETE FROM answers;"
MAX_ANSWERS = 500
"""Remembered answers kept (the oldest go first): each is a rendered report and the rows it was computed from."""
_IN_CHUNK = 500
"""Keys per ``IN (...)`` query (SQLite allows 32,766 parameters; smaller chunks keep each statement cheap)."""
_WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
"""The first four bytes of a SQLite write-ahead log (big- or little-endian checksums)."""


@dataclass(frozen=True)
class CachedPage:
    """One index page as stored: the compact file list and its validators."""

    text: str
    fetched: float
    etag: str | None
    last_modified: str | None


@dataclass
class ReadLog:
    """The cache rows an engine's answers came from, each with its stamp when read (``analyzer.answers`` checks
    them later); ``unstamped``: what was read that the cache does not hold as it was read."""

    pages: dict[str, float] = field(default_factory=dict)
    """Page key -> when it was fetched or revalidated."""
    metadata: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    """Metadata key -> (when it was stored, when a kept failure, an answer about the file, expires)."""
    local: dict[str, str] = field(default_factory=dict)
    """Pages of ``file://`` indexes: path -> ``local_stamp`` when read."""
    unstamped: set[str] = field(default_factory=set)

    def page(self, key: str, fetched: float) -> None:
        self.pages[key] = fetched
        self.unstamped.discard(key)


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    size: int
    metadata_entries: int
    page_entries: int
    usable: bool


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":")).encode(), 1)


def _unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


class MetadataCache:
    """Thread-safe (one connection per thread) and process-safe (WAL, busy timeout) key-value store; damage found
    while running sets the file aside and starts anew, a full disk or read-only file stops the writes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "metadata.sqlite3"
        self._local = threading.local()
        self._lock = threading.RLock()
        self._conns: list[sqlite3.Connection] = []
        self._generation = 0
        """Bumped when the file is replaced: every thread's connection to the old one is then reopened."""
        self._inode: int | None = None
        self._tag_key: bytes | None = None
        self.disabled_reason: str | None = None
        self.read_only_reason: str | None = None
        self._open_checked()

    # -- connection handling -------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Per connection, not per file: without it every worker thread's commit waits for an fsync of the WAL.
        conn.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._conns.append(conn)
        return conn

    def _open_checked(self) -> None:
        """Open (creating) the database; set a corrupt one aside and start afresh; give up on an unwritable one."""
        problem = folder_problem(self.path.parent)
        if problem is not None:
            self.disabled_reason = problem
            without_cache(problem)
            return
        self._check_wal()
        for attempt in range(2):
            try:
                conn = self._connect()
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(_SCHEMA)
                row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:  # IGNORE: another process may have just made it, and written rows since
                    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                elif row[0] != str(SCHEMA_VERSION):
                    conn.executescript(_CLEAR)
                    conn.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))
                conn.execute("SELECT count(*) FROM metadata").fetchone()
                self._inode = _inode(self.path)
                self._local.conn = (self._generation, conn)
                return
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    time.sleep(0.2)
                    continue
                self._disable(f"cannot use the cache {self.path}: {exc}")
                return
            except sqlite3.DatabaseError as exc:
                if attempt == 0 and self._set_aside(exc):
                    continue
                self._disable(f"cannot use the cache {self.path}: {exc}")
                return
        self._disable(f"cannot open the cache {self.path}")

    def _check_wal(self) -> None:
        """Say so when the write-ahead log is not one: SQLite then ignores it, losing the rows only it held."""
        wal = self.path.with_name(self.path.name + "-wal")
        try:
            with wal.open("rb") as f:
                head = f.read(4)
        except OSError:
            return
        if head and head not in _WAL_MAGIC:
            what = "SQLite discards it, and what only it held will be fetched again"
            log.warning("the metadata cache's write-ahead log %s is damaged; %s", wal, what)

    def _set_aside(self, exc: Exception) -> bool:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
        except OSError:
            return False
        what = "set it aside as %s and started a new one"
        log.warning("the metadata cache %s was unreadable (%s); " + what, self.path, exc, aside.name)
        return True

    def _damaged(self, generation: int, exc: sqlite3.DatabaseError) -> None:
        """A read or write found the file damaged: set it aside (unless another process did) and start anew.

        Only the first thread to see the damage in a generation acts; the others reopen what it made. A file
        whose inode changed was already replaced by another process: reopening is enough.
        """
        with self._lock:
            if generation != self._generation or self.disabled_reason is not None:
                return
            self._generation += 1
            self._local.conn = None
            if _inode(self.path) == self._inode and not self._set_aside(exc):
                self._disable(f"cannot use the damaged cache {self.path}: {exc}")
                return
            self._open_checked()

    def _disable(self, reason: str) -> None:
        with self._lock:
            if self.disabled_reason is None:
                log.warning("%s; running without a metadata cache", reason)
            self.disabled_reason = reason

    def _stop_writes(self, reason: str) -> None:
        with self._lock:
            if self.read_only_reason is None:
                log.warning("%s; running on without caching what this run fetches", reason)
            self.read_only_reason = reason

    @property
    def usable(self) -> bool:
        return self.disabled_reason is None

    def _conn(self) -> tuple[int, sqlite3.Connection] | None:
        if self.disabled_reason is not None:
            return None
        current = getattr(self._local, "conn", None)
        if current is not None and current[0] == self._generation:
            return current  # type: ignore[no-any-return]
        try:
            generation = self._generation
            current = (generation, self._connect())
        except sqlite3.Error as exc:
            self._disable(f"cannot open the cache {self.path}: {exc}")
            return None
        self._local.conn = current
        return current

    def _rows(self, sql: str, chunks: list[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` for each argument list (``{}`` in ``sql`` takes its placeholders); none, a miss,
        when the cache cannot be read."""
        current = self._conn()
        if current is None:
            return []
        generation, conn = current
        try:
            return [row for args in chunks for row in conn.execute(sql.format(",".join("?" * len(args))), args)]
        except sqlite3.OperationalError as exc:
            log.warning("metadata cache read failed (%s); treating it as a miss", exc)
        except sqlite3.DatabaseError as exc:
            self._damaged(generation, exc)
        return []

    def _read(self, sql: str, args: tuple[Any, ...]) -> Any:
        rows = self._rows(sql, [args])
        return rows[0] if rows else None

    def _read_chunked(self, sql: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """``_rows`` of ``sql`` with ``IN ({})``, a chunk of keys at a time (SQLite limits the parameters)."""
        return self._rows(sql, [keys[start : start + _IN_CHUNK] for start in range(0, len(keys), _IN_CHUNK)])

    def _write(self, sql: str, args: tuple[Any, ...]) -> bool:
        if self.read_only_reason is not None:
            return False
        current = self._conn()
        if current is None:
            return False
        generation, conn = current
        for _ in range(5):
            try:
                conn.execute(sql, args)
                return True
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if "locked" in text or "busy" in text:
                    time.sleep(0.1)
                    continue
                if "full" in text or "readonly" in text or "read-only" in text:
                    self._stop_writes(f"cannot write the cache {self.path}: {exc}")
                    return False
                self._disable(f"cannot write the cache {self.path}: {exc}")
                return False
            except sqlite3.DatabaseError as exc:
                self._damaged(generation, exc)
                return False
        return False

    # -- metadata ------------------------------------------------------------------------------------------
    def get_metadata_stamped(self, key: str) -> tuple[dict[str, Any], float] | None:
        """A metadata record and when it was stored (the stamp a remembered answer checks it by)."""
        return self.get_metadata_many([key]).get(key)

    def get_metadata_many(self, keys: list[str]) -> dict[str, tuple[dict[str, Any], float]]:
        """``get_metadata_stamped`` of many keys in a few queries; keys not cached, or unreadable, are absent."""
        found: dict[str, tuple[dict[str, Any], float]] = {}
        rows = self._read_chunked("SELECT key, body, stored FROM metadata WHERE key IN ({})", keys)
        for key, body, stored in rows:
            try:
                found[key] = (_unpack(body), float(stored))
            except (zlib.error, ValueError, TypeError):
                pass
        return found

    def put_metadata(self, key: str, value: dict[str, Any]) -> float | None:
        """Store a record; when it was stored, or None when it was not written."""
        stored = time.time()
        written = self._write("INSERT OR REPLACE INTO metadata VALUES (?, ?, ?)", (key, _pack(value), stored))
        return stored if written else None

    # -- pages ---------------------------------------------------------------------------------------------
    def get_page(self, key: str) -> CachedPage | None:
        row = self._read("SELECT fetched, etag, last_modified, body FROM pages WHERE key=?", (key,))
        if row is None:
            return None
        try:
            blob = row[3]
            text = blob if isinstance(blob, str) else zlib.decompress(blob).decode()
            return CachedPage(text=text, fetched=row[0], etag=row[1], last_modified=row[2])
        except (zlib.error, ValueError, UnicodeDecodeError):
            return None

    def read_page_parts(
        self, key: str, pick: Callable[[str], list[tuple[int, int]] | None]
    ) -> tuple[str, list[str]] | None:
        """A stored page's header line and the parts (start, end: bytes after the header) that ``pick``, given the
        header, names, without reading the rest. None when the row is missing or not text, or ``pick`` says None:
        the caller then reads the page whole."""
        current = self._conn()
        blobopen = getattr(current[1], "blobopen", None) if current is not None else None
        if current is None or blobopen is None:  # Python 3.10 has no incremental blob reads
            return None
        conn = current[1]
        try:
            conn.execute("BEGIN")  # the row found is the row read, whatever another process writes meanwhile
        except sqlite3.Error:
            return None
        try:
            row = conn.execute("SELECT rowid FROM pages WHERE key=? AND typeof(body)='text'", (key,)).fetchone()
            if row is None:
                return None
            with blobopen("pages", "body", row[0], readonly=True) as blob:
                head = b""
                while b"\n" not in head and (chunk := blob.read(8192)):
                    head += chunk
                first = head.partition(b"\n")[0]
                spans = pick(first.decode())
                if spans is None:
                    return None
                base = len(first) + 1
                parts = []
                for start, end in spans:
                    if not 0 <= start <= end:
                        return None
                    blob.seek(base + start)
                    data = blob.read(end - start)
                    if len(data) != end - start:
                        return None
                    parts.append(data.decode())
            return first.decode(), parts
        except (sqlite3.Error, ValueError, UnicodeDecodeError):
            return None
        finally:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error:
                pass

    def page_state(self, key: str) -> tuple[float, bool] | None:
        """(when a page was fetched or revalidated, whether it lists any file); None when not cached."""
        return self.page_stamps([key]).get(key)

    def put_page(self, key: str, page: CachedPage) -> bool:
        """Store a page; False when it was not written (the cache is read-only, disabled or stayed busy)."""
        empty = "\n" not in page.text  # a header, no version line: its own shorter freshness
        body: str | bytes = zlib.compress(page.text.encode(), 1) if empty else page.text
        return self._write(
            "INSERT OR REPLACE INTO pages VALUES (?, ?, ?, ?, ?)",
            (key, page.fetched, page.etag, page.last_modified, body),
        )

    def touch_page(self, key: str, fetched: float) -> bool:
        return self._write("UPDATE pages SET fetched=? WHERE key=?", (fetched, key))

    def page_stamps(self, keys: list[str]) -> dict[str, tuple[float, bool]]:
        """``page_state`` of many pages (SQLite tells a row's type without reading its body)."""
        return {
            row[0]: (float(row[1]), row[2] == "text")
            for row in self._read_chunked("SELECT key, fetched, typeof(body) FROM pages WHERE key IN ({})", keys)
        }

    def metadata_stamps(self, keys: list[str]) -> dict[str, float]:
        """When each of many metadata records was stored."""
        return {
            row[0]: float(row[1])
            for row in self._read_chunked("SELECT key, stored FROM metadata WHERE key IN ({})", keys)
        }

    # -- remembered answers --------------------------------------------------------------------------------
    def get_answer(self, key: str) -> Any:
        row = self._read("SELECT body FROM answers WHERE key=?", (key,))
        if row is None:
            return None
        try:
            return _unpack(row[0])
        except (zlib.error, ValueError, TypeError):
            return None

    def put_answer(self, key: str, value: Any) -> bool:
        """Remember an answer; the oldest beyond ``MAX_ANSWERS`` are dropped."""
        if not self._write("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, time.time(), _pack(value))):
            return False
        self._write(
            "DELETE FROM answers WHERE key IN (SELECT key FROM answers ORDER BY made DESC LIMIT -1 OFFSET ?)",
            (MAX_ANSWERS,),
        )
        return True

    def tag_key(self) -> bytes | None:
        """This cache's random HMAC key for rows of indexes with credentials, from a private file beside it (made
        once), so the SQLite file alone gives nothing to test guessed passwords against. None when the file cannot
        be read or made: the engine then uses a key of its own for the run."""
        if self._tag_key is None:
            self._tag_key = self._read_tag_key()
        return self._tag_key

    def _read_tag_key(self) -> bytes | None:
        path = self.path.with_name(self.path.name + ".key")
        for _ in range(2):
            try:
                key = bytes.fromhex(path.read_text(encoding="ascii").strip())
                return key if len(key) >= 16 else None
            except FileNotFoundError:
                pass
            except (OSError, ValueError):
                return None
            tmp = path.with_name(f"{path.name}.{secrets.token_hex(6)}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(secrets.token_hex(32))
                os.link(tmp, path)  # atomic, and refuses to replace a key another process made first
            except FileExistsError:
                pass
            except OSError:
                return None
            finally:
                tmp.unlink(missing_ok=True)
        return None

    # -- administration ------------------------------------------------------------------------------------
    def info(self) -> CacheInfo:
        files = [self.path.with_name(self.path.name + suffix) for suffix in ("", "-wal", "-shm")]
        size = sum(f.stat().st_size for f in files if f.exists())
        m, p = (self._read(f"SELECT count(*) FROM {table}", ()) for table in ("metadata", "pages"))
        return CacheInfo(self.path, size, m[0] if m else 0, p[0] if p else 0, self.usable)

    def clear(self) -> None:
        current = self._conn()
        if current is not None:
            conn = current[1]
            conn.executescript(_CLEAR)
            try:
                conn.execute("VACUUM")
            except sqlite3.OperationalError:
                pass  # another process holds it open: the rows are gone, the space comes back later

    def close(self) -> None:
        """Close every thread's connection (a long-lived process must not keep one per finished thread)."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._generation += 1
            self._local.conn = None
        for conn in conns:
            conn.close()


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot hold a cache (a file is in its way, it cannot be created); None when it can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            return f"the cache folder {folder} cannot be made: a file is in its way"
        return f"the cache folder {folder} cannot be made: {exc.strerror or exc}"
    return None


@functools.cache
def without_cache(problem: str) -> None:
    """Say once per run that the cache folder cannot be used: every part of the cache finds it, one says it."""
    log.warning("%s; running without a metadata cache (nothing this run fetches or syncs is kept)", problem)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None
