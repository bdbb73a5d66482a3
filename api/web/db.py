"""The read-only database connection each worker holds, reopened when a rebuild swaps the file."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from flask import current_app, g

RECHECK_SECONDS = 1.0  # how long a worker trusts its open file before it looks for a rebuilt one


class DatasetUnavailable(Exception):
    """The database file cannot be read as the dataset (not built yet, not a database, changed in place): errors.py
    and the pages make it a 503 with Retry-After; its message is the detail a client reads."""


NOT_BUILT = "The dataset is not built yet."
NOT_A_DATASET = "The database file cannot be read as the dataset (not an SQLite database, or incomplete)."
CHANGED_IN_PLACE = ("The database file was changed in place; only a new build renamed into place is served.")


def file_ident(st: os.stat_result) -> tuple:
    """What tells one state of the file from another: the same inode, unchanged (a build renames a new inode in)."""
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class QueryTimeout(Exception):
    """A statement ran past the time limit and was stopped: errors.py makes it a 503."""


@dataclass
class Snapshot:
    """One open database file and the dataset version it holds."""

    conn: sqlite3.Connection
    version: str
    ident: tuple
    fd: int = -1  # the file itself, held open: its bytes stay this snapshot's even if the path is deleted or renamed over
    # Answers that depend only on this file (vocabularies, resolved region names): they live and die with the file's
    # state, so a rebuild can never serve a stale one; every thread's snapshot of one state shares them (Database).
    # Bounded by memo(); what is PREPARED is kept.
    memos: dict = field(default_factory=dict)

    def memo(self, key, compute, limit: int = 10_000):
        if key not in self.memos:
            if len(self.memos) >= limit:
                for old in [k for k in self.memos if k not in PREPARED]:
                    self.memos.pop(old, None)
            self.memos[key] = compute()
        return self.memos[key]

    def intact(self) -> bool:
        """Whether the file this snapshot reads is still as it was opened (no write in place since)."""
        try:
            return file_ident(os.fstat(self.fd)) == self.ident
        except OSError:
            return False

    def open_file(self, path: str):
        """This snapshot's file for reading, with an offset of its own (so sendfile can use it), or None when it cannot
        be reached as it was opened: through /proc/self/fd (Linux), which reaches it even when deleted, else by path."""
        for candidate in (f"/proc/self/fd/{self.fd}", path):
            try:
                f = open(candidate, "rb")
            except OSError:
                continue
            if file_ident(os.fstat(f.fileno())) == self.ident:
                return f
            f.close()
        return None

    def close(self) -> None:
        self.conn.close()
        if self.fd >= 0:
            os.close(self.fd)


class Prepared(NamedTuple):
    """An answer a snapshot computes once from its file: made when a worker starts (Database.prepare), so that no
    request pays for it, and read by of()."""

    key: tuple
    compute: Callable[[Snapshot], object]

    def of(self, snap: Snapshot):
        return snap.memo(self.key, lambda: self.compute(snap))


PREPARED: dict[tuple, Prepared] = {}


def prepared(key: tuple, compute: Callable[[Snapshot], object]) -> Prepared:
    """Declare an answer of the whole file (a vocabulary, the region-name index, the pages' counts): computed for each
    file a worker opens before it serves from it (Database.prepare), then read with .of(snapshot)."""
    PREPARED[key] = entry = Prepared(key, compute)
    return entry


class Database:
    """Opens the built file read-only (immutable: the build never edits it in place, it renames a new one over it)."""

    def __init__(self, path: str, check_every: int = 5000, recheck_seconds: float = RECHECK_SECONDS):
        self.path = path
        self.check_every = check_every  # SQLite VM steps between two looks at the deadline
        self.recheck_seconds = recheck_seconds
        self._local = threading.local()  # this thread's snapshot and deadline (a connection serves one thread)
        # Files seen changed in place under a snapshot, as they were then: never opened again in that state (a
        # rebuild is a new file, even if it gets the same inode number, its mtime differs).
        self._written_in_place: set[tuple] = set()
        self._memos: dict[tuple, dict] = {}  # per file state: the memos every thread's snapshot of it shares

    def _ident(self):
        return file_ident(os.stat(self.path))

    def _open(self, ident) -> Snapshot:
        """The file at the path as a snapshot; DatasetUnavailable when it is not the dataset (whatever SQLite says of
        it: not a database, malformed, no meta table) or was changed in place under this process."""
        if ident in self._written_in_place:
            raise DatasetUnavailable(CHANGED_IN_PLACE)
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            raise DatasetUnavailable(NOT_BUILT) from None
        conn = None
        try:
            held = file_ident(os.fstat(fd))
            uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro&immutable=1"
            # Each filter combination is its own SQL text: a larger statement cache saves re-preparing them.
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, cached_statements=1024)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only = 1")
            row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if row is None or not isinstance(row[0], str):
                raise DatasetUnavailable(NOT_A_DATASET)
            if self._ident() != held:  # renamed over while opening: SQLite may have opened the other file
                raise DatasetUnavailable("The dataset is being replaced.")
        except (sqlite3.DatabaseError, DatasetUnavailable, OSError) as exc:
            if conn is not None:
                conn.close()
            os.close(fd)
            if isinstance(exc, DatasetUnavailable):
                raise
            raise DatasetUnavailable(NOT_A_DATASET) from None
        local = self._local
        # Interrupts any statement that runs past the deadline time_limit() set for this thread.
        conn.set_progress_handler(lambda: 1 if getattr(local, "deadline", 0.0) and time.monotonic() > local.deadline else 0,
                                  self.check_every)
        for other in [k for k in self._memos if k != held]:
            del self._memos[other]   # a snapshot still open on it keeps its own reference
        return Snapshot(conn, row[0], held, fd, self._memos.setdefault(held, {}))

    def prepare(self) -> tuple[Snapshot, str]:
        """This thread's snapshot with every PREPARED answer computed, and a line that says so: what gunicorn.conf.py
        runs as a worker starts (post_worker_init), so that the first request answers like the thousandth.
        DatasetUnavailable when no dataset is there yet (the first request that finds one then computes them)."""
        snap = self.snapshot()
        t0 = time.perf_counter()
        for entry in PREPARED.values():
            entry.of(snap)
        return snap, (f"dataset {snap.version} prepared in {1000 * (time.perf_counter() - t0):.0f} ms: "
                      + ", ".join(" ".join(map(str, k)) for k in PREPARED))

    @contextmanager
    def time_limit(self, seconds: float):
        """Statements run inside this block are stopped after seconds, raising QueryTimeout.

        The one place a deadline is set and cleared: each request runs under one (api.create_app), and each batch of
        an export (responses.export) or of a streamed download (responses.stream) under its own.
        """
        local = self._local
        outer = getattr(local, "deadline", 0.0)
        local.deadline = time.monotonic() + seconds
        try:
            yield
        except sqlite3.OperationalError as exc:
            # Interrupted while opening an FTS5 table (its first use on a connection), a statement fails with
            # "vtable constructor failed: initiatives_fts" instead of "interrupted": past the deadline, it is the same.
            if "interrupt" in str(exc) or time.monotonic() > local.deadline:
                raise QueryTimeout(f"stopped after {seconds} s") from exc
            raise
        finally:
            local.deadline = outer

    def version_or_none(self) -> str | None:
        """The version this thread would read now, or None when there is no database to read."""
        try:
            return self.snapshot().version
        except (DatasetUnavailable, sqlite3.Error):
            return None

    def snapshot(self) -> Snapshot:
        """This thread's snapshot, looked at again every recheck_seconds: a file renamed into place is opened and
        served from then on. Until one that is the dataset is, the snapshot held is kept (deleted or renamed over,
        its file is still open and unchanged); one whose file was written in place is dropped: 503 until a build."""
        local = self._local
        now = time.monotonic()
        snap = getattr(local, "snap", None)
        if snap is None or now - local.checked > self.recheck_seconds:
            local.checked = now
            try:
                ident = self._ident()
            except OSError:
                ident = None
            if snap is not None and not snap.intact():
                try:
                    self._written_in_place.add(file_ident(os.fstat(snap.fd)))
                except OSError:
                    pass
                snap.close()
                local.snap = snap = None
            if snap is not None and snap.ident == ident:
                return snap
            try:
                if ident is None:
                    raise DatasetUnavailable(NOT_BUILT)
                fresh = self._open(ident)
            except DatasetUnavailable:
                if snap is None:
                    raise
                return snap
            if snap is not None:
                snap.close()
            local.snap = snap = fresh
        return snap


def get_snapshot() -> Snapshot:
    """The snapshot this request reads from: one file for the whole request, even across a swap."""
    if "snap" not in g:
        g.snap = current_app.extensions["socialwork_db"].snapshot()
    return g.snap


def get_db() -> sqlite3.Connection:
    return get_snapshot().conn


def init_app(app):
    app.extensions["socialwork_db"] = Database(app.config["DATABASE"], app.config.get("QUERY_CHECK_EVERY", 5000),
                                               app.config.get("RECHECK_SECONDS", RECHECK_SECONDS))
