"""The read-only database connection each worker holds, reopened when a rebuild swaps the file."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from flask import current_app, g

from .errors import Problem

RECHECK_SECONDS = 1.0


@dataclass
class Snapshot:
    """One open database file and the dataset version it holds."""

    conn: sqlite3.Connection
    version: str
    ident: tuple
    deadline: float = 0.0
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

    def __init__(self, path: str, check_every: int = 5000):
        self.path = path
        self.check_every = check_every  # SQLite VM steps between two looks at the deadline
        self._local = threading.local()

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
        snap = Snapshot(conn, version, ident)
        # Interrupts any statement that runs past the request's deadline (see Database.deadline).
        conn.set_progress_handler(lambda: 1 if snap.deadline and time.monotonic() > snap.deadline else 0, self.check_every)
        return snap

    def snapshot(self) -> Snapshot:
        local = self._local
        now = time.monotonic()
        snap = getattr(local, "snap", None)
        if snap is None or now - local.checked > RECHECK_SECONDS:
            local.checked = now
            try:
                ident = self._ident()
            except OSError:
                if snap is None:
                    raise Problem(503, "service-unavailable", "The dataset is not built yet.",
                                  headers={"Retry-After": "30"}) from None
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
        snap = current_app.extensions["socialwork_db"].snapshot()
        snap.deadline = time.monotonic() + current_app.config["QUERY_TIMEOUT"]
        g.snap = snap
    return g.snap


def get_db() -> sqlite3.Connection:
    return get_snapshot().conn


def init_app(app):
    app.extensions["socialwork_db"] = Database(app.config["DATABASE"], app.config.get("QUERY_CHECK_EVERY", 5000))

    @app.teardown_request
    def _clear_deadline(exc):
        snap = g.pop("snap", None)
        if snap is not None:
            snap.deadline = 0.0
