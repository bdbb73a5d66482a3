"""The read-only database connection each worker holds, reopened when a rebuild swaps the file."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import current_app, g

RECHECK_SECONDS = 1.0  # how long a worker trusts its open file before it looks for a rebuilt one


class DatasetUnavailable(Exception):
    """The database file cannot be opened (not built yet): errors.py makes it a 503."""


class QueryTimeout(Exception):
    """A statement ran past the time limit and was stopped: errors.py makes it a 503."""


@dataclass
class Snapshot:
    """One open database file and the dataset version it holds."""

    conn: sqlite3.Connection
    version: str
    ident: tuple
    # Answers that depend only on this file (vocabularies, resolved region names): they live and die
    # with the snapshot, so a rebuild can never serve a stale one. Bounded by memo().
    memos: dict = field(default_factory=dict)

    def memo(self, key, compute, limit: int = 10_000):
        if key not in self.memos:
            if len(self.memos) >= limit:
                self.memos.clear()
            self.memos[key] = compute()
        return self.memos[key]


class Database:
    """Opens the built file read-only (immutable: the build never edits it in place, it renames a new one over it)."""

    def __init__(self, path: str, check_every: int = 5000, recheck_seconds: float = RECHECK_SECONDS):
        self.path = path
        self.check_every = check_every  # SQLite VM steps between two looks at the deadline
        self.recheck_seconds = recheck_seconds
        self._local = threading.local()  # this thread's snapshot and deadline (a connection serves one thread)

    def _ident(self):
        st = os.stat(self.path)
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _open(self, ident) -> Snapshot:
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro&immutable=1"
        # Each filter combination is its own SQL text: a larger statement cache saves re-preparing them.
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, cached_statements=1024)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA query_only = 1")
        version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        local = self._local
        # Interrupts any statement that runs past the deadline time_limit() set for this thread.
        conn.set_progress_handler(lambda: 1 if getattr(local, "deadline", 0.0) and time.monotonic() > local.deadline else 0,
                                  self.check_every)
        return Snapshot(conn, version, ident)

    @contextmanager
    def time_limit(self, seconds: float):
        """Statements run inside this block are stopped after seconds, raising QueryTimeout.

        The one place a deadline is set and cleared: each request runs under one (api.create_app),
        and each chunk of a streamed export under its own (responses.stream).
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
        local = self._local
        now = time.monotonic()
        snap = getattr(local, "snap", None)
        if snap is None or now - local.checked > self.recheck_seconds:
            local.checked = now
            try:
                ident = self._ident()
            except OSError:
                if snap is None:
                    raise DatasetUnavailable("The dataset is not built yet.") from None
                return snap
            if snap is None or snap.ident != ident:
                fresh = self._open(ident)
                if snap is not None:
                    snap.conn.close()
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
