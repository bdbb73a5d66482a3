"""A WSGI layer in front of Flask that answers repeated GETs from finished responses, bounded in memory.

The dataset is immutable between builds and every response is a pure function of
(dataset version, path, query string, Accept). So once a request has gone through the whole
app (validation, query, envelope, headers) and produced a 200, an identical request may get
the same bytes and headers, or a 304 when its If-None-Match holds that ETag. A rebuild changes
the version; entries of an old version are never served again and age out of the LRU.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from .http import matches

MAX_BYTES = 32 * 1024 * 1024   # per worker process, bodies plus a rough allowance for headers
MAX_ENTRY = 256 * 1024         # larger bodies (big CSV exports) are always produced afresh
ENTRY_OVERHEAD = 512
CACHEABLE_PREFIXES = ("/api/v1", "/openapi.", "/downloads/")


class FastPath:
    """WSGI middleware: serve a stored 200 (or a 304) for a request identical to one already answered."""

    def __init__(self, app, database, max_bytes: int = MAX_BYTES):
        self.app, self.database, self.max_bytes = app, database, max_bytes
        self.size = 0
        self.hits = self.misses = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD") or not path.startswith(CACHEABLE_PREFIXES):
            return self.app(environ, start_response)
        try:
            version = self.database.snapshot().version
        except Exception:  # not built yet, or unreadable: let the app answer with its own error
            return self.app(environ, start_response)
        key = (version, path, environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT", ""))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is not None:
            self.hits += 1
            etag, headers, body, not_modified_headers = entry
            inm = environ.get("HTTP_IF_NONE_MATCH")
            if inm and matches(inm, etag):
                start_response("304 NOT MODIFIED", not_modified_headers)
                return []
            start_response("200 OK", headers)
            return [] if method == "HEAD" else [body]
        self.misses += 1
        if method == "HEAD" or environ.get("HTTP_IF_NONE_MATCH"):
            return self.app(environ, start_response)
        return self._store(key, environ, start_response)

    def _store(self, key, environ, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        status = captured.get("status", "")
        headers = captured.get("headers", [])
        names = {k.lower(): v for k, v in headers}
        # Only whole, small, successful bodies with a strong validator are kept; streams pass through untouched.
        if not status.startswith("200") or "etag" not in names or "content-length" not in names \
                or int(names["content-length"]) > MAX_ENTRY:
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        keep304 = ("etag", "cache-control", "vary", "access-control-allow-origin", "access-control-expose-headers",
                   "x-content-type-options", "referrer-policy", "content-location", "link")
        not_modified = [(k, v) for k, v in headers if k.lower() in keep304]
        cost = len(body) + ENTRY_OVERHEAD
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (names["etag"], list(headers), body, not_modified)
                self.size += cost
                while self.size > self.max_bytes and self._entries:
                    _, (_, _, old, _) = self._entries.popitem(last=False)
                    self.size -= len(old) + ENTRY_OVERHEAD
        return [body]
