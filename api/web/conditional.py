"""Conditional GETs in one place: every ETag, If-None-Match, the 304, and the store that replays finished responses.

The app only ever produces 200s with a strong ETag; this WSGI layer, wrapped round the whole app,
is the one place that turns a 200 into a 304, so a 304 carries the same headers whichever way the
request was answered (by Flask, or from the store). The store keeps small finished 200s and
replays them to an identical request: identical meaning the same dataset version, scheme, host,
path and query string, and the same values of every request header the stored response names in its Vary.
The dataset is immutable between builds, so a rebuild (a new version) is never served stale.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

# What a 304 carries: the header fields RFC 9110 (15.4.5) asks for that the 200 would have had
# (but Date, which the HTTP server adds to every response itself),
# and the ones that keep it usable cross-origin and unsniffed. Nothing else of the 200 goes into it.
NOT_MODIFIED_HEADERS = frozenset({
    "etag", "cache-control", "expires", "vary", "content-location",
    "access-control-allow-origin", "access-control-expose-headers", "x-content-type-options", "referrer-policy",
})
STORE_BYTES = 32 * 1024 * 1024  # per worker process, bodies plus a rough allowance for headers
MAX_ENTRY = 256 * 1024          # larger bodies (big CSV exports) are always produced afresh
ENTRY_OVERHEAD = 512


def strong_etag(version: str, *parts: str) -> str:
    """Every ETag's shape: the dataset version, then a hash of what else the bytes depend on."""
    return f'"{version}-{hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]}"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match against the ETag of a representation that exists: weak comparison, * matches."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def not_modified_headers(headers) -> list[tuple[str, str]]:
    """The 304's headers, taken from the 200 it stands for."""
    return [(k, v) for k, v in headers if k.lower() in NOT_MODIFIED_HEADERS]


def _header(headers, name: str) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _environ_key(name: str) -> str:
    return "HTTP_" + name.strip().upper().replace("-", "_")


@dataclass(frozen=True)
class Stored:
    etag: str
    headers: list
    body: bytes


class ResponseStore:
    """A bounded LRU of finished 200s, keyed by (version, scheme, host, prefix, path, query) and the request headers the response varies on."""

    def __init__(self, max_bytes: int = STORE_BYTES):
        self.max_bytes = max_bytes
        self.size = self.hits = self.misses = 0
        self._entries: OrderedDict = OrderedDict()  # (resource, variant) -> Stored
        self._vary: dict = {}                       # resource -> (header names the response varies on, entry count)
        self._lock = threading.Lock()

    def stats(self) -> dict:
        """For operators and tests: what the store holds and how often it answered."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": self.size, "hits": self.hits, "misses": self.misses}

    def get(self, resource: tuple, environ) -> Stored | None:
        with self._lock:
            vary = self._vary.get(resource)
            entry = None
            if vary is not None:
                key = (resource, tuple(environ.get(_environ_key(n), "") for n in vary[0]))
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
            return entry

    def put(self, resource: tuple, environ, headers: list, body: bytes) -> None:
        vary_header = _header(headers, "vary") or ""
        names = tuple(sorted({n.strip().lower() for n in vary_header.split(",") if n.strip()}))
        if "*" in names:
            return
        cost = len(body) + ENTRY_OVERHEAD
        if cost > self.max_bytes:
            return
        key = (resource, tuple(environ.get(_environ_key(n), "") for n in names))
        with self._lock:
            known = self._vary.get(resource)
            if known is not None and known[0] != names:
                return  # the same resource answered with another Vary: keep what is there, store nothing new
            if key in self._entries:
                return
            self._entries[key] = Stored(_header(headers, "etag"), list(headers), body)
            self._vary[resource] = (names, (known[1] if known else 0) + 1)
            self.size += cost
            while self.size > self.max_bytes:
                (old_resource, _), old = self._entries.popitem(last=False)
                self.size -= len(old.body) + ENTRY_OVERHEAD
                names_, count = self._vary[old_resource]
                if count == 1:
                    del self._vary[old_resource]
                else:
                    self._vary[old_resource] = (names_, count - 1)


def storable(status: str, headers: list, version: str) -> bool:
    """Only whole, small 200s of the version in hand, with a strong validator, that a shared cache may keep."""
    etag, length = _header(headers, "etag"), _header(headers, "content-length")
    cache_control = (_header(headers, "cache-control") or "").lower()
    return (status.startswith("200") and etag is not None and etag.startswith(f'"{version}-')
            and length is not None and int(length) <= MAX_ENTRY
            and "no-store" not in cache_control and "private" not in cache_control)


class ConditionalResponses:
    """WSGI middleware: answers If-None-Match with a 304, and identical GETs from the store when it has one."""

    def __init__(self, app, database, store: ResponseStore | None):
        self.app, self.database, self.store = app, database, store

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        inm = environ.get("HTTP_IF_NONE_MATCH")
        store = self.store if self.store is not None and "HTTP_RANGE" not in environ else None
        version = resource = None
        if store is not None:
            version = self.database.version_or_none()
            if version is not None:
                # Bodies hold absolute links, so the scheme, host and prefix (after a trusted proxy's
                # X-Forwarded-*, see create_app) are part of what a stored answer is for.
                resource = (version, environ.get("wsgi.url_scheme", ""), environ.get("HTTP_HOST", ""),
                            environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
                entry = store.get(resource, environ)
                if entry is not None:
                    if inm and matches(inm, entry.etag):
                        start_response("304 Not Modified", not_modified_headers(entry.headers))
                        return []
                    start_response("200 OK", entry.headers)
                    return [] if environ["REQUEST_METHOD"] == "HEAD" else [entry.body]

        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"], captured["exc_info"] = status, headers, exc_info
            return _no_write

        result = self.app(environ, capture)
        status, headers = captured["status"], captured["headers"]
        if status.startswith("304"):
            _close(result)
            start_response(status, not_modified_headers(headers))
            return []
        if status.startswith(("200", "206")) and inm:  # If-None-Match is evaluated before Range (RFC 9110 13.2.2)
            etag = _header(headers, "etag")
            if etag is not None and matches(inm, etag):
                _close(result)
                start_response("304 Not Modified", not_modified_headers(headers))
                return []
        if resource is not None and environ["REQUEST_METHOD"] == "GET" and storable(status, headers, version):
            try:
                body = b"".join(result)
            finally:
                _close(result)
            store.put(resource, environ, headers, body)
            result = [body]
        start_response(status, headers, captured["exc_info"])
        return result


def _no_write(data):
    raise RuntimeError("the write() callable is not supported; return an iterable")


def _close(result):
    if hasattr(result, "close"):
        result.close()
