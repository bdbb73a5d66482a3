"""HTTP semantics shared by every route: format negotiation, strong ETags and 304s, a bounded response cache, CORS and security headers."""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import time

from flask import Response, current_app, json, request

from .db import get_snapshot
from .errors import Problem

MEDIA = {"json": "application/json", "csv": "text/csv", "geojson": "application/geo+json"}


def negotiate(formats: tuple[str, ...], req=None) -> str:
    """format= wins; otherwise the Accept header among the formats this route offers; JSON by default."""
    req = req or request._get_current_object()
    fmt = req.args.get("format")
    if fmt is not None:
        return fmt  # validated by the route's schema
    if not req.headers.get("Accept", "").strip() or not req.accept_mimetypes:
        return formats[0]  # no Accept, or one too malformed to read: disregarded (RFC 9110)
    offered = [MEDIA[f] for f in formats] + (["application/vnd.geo+json"] if "geojson" in formats else [])
    best = req.accept_mimetypes.best_match(offered + ["application/problem+json"])
    if best is None:
        raise Problem(406, "not-acceptable",
                      f"Accept: this resource is available as {', '.join(offered)}; use format= or one of those media types.",
                      errors={"Accept": [f"allowed: {', '.join(offered)}"]})
    for f in formats:
        if MEDIA[f] == best or (f == "geojson" and best == "application/vnd.geo+json"):
            return f
    return formats[0]


def strong_etag(version: str, *parts: str) -> str:
    """Every ETag's shape: the dataset version, then a hash of what else the bytes depend on."""
    return f'"{version}-{hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]}"'


def etag_for(version: str, fmt: str, req=None) -> str:
    # The representation is the resource (path + filters) in one format, however the format was asked for.
    req = req or request._get_current_object()
    args = sorted((k, v) for k, v in req.args.items(multi=True) if k != "format")
    return strong_etag(version, f"{req.path}?{args}|{fmt}")


def representation(*formats: str):
    """Wrap a GET view: negotiate the format, answer 304 without running the view when the client has this representation."""
    formats = formats or ("json",)

    def wrap(view):
        @functools.wraps(view)
        def inner(**kwargs):
            req = request._get_current_object()
            fmt = negotiate(formats, req)
            snap = get_snapshot()
            etag = etag_for(snap.version, fmt, req)
            inm = req.headers.get("If-None-Match", "")
            # A tag this API issued proves the request was valid, so it is answered before any work;
            # * only once the view has shown that a representation exists.
            if matches(inm, etag, star=False):
                return not_modified(etag)
            resp = view(fmt=fmt, **kwargs)
            if inm and resp.status_code == 200 and matches(inm, etag):
                resp.close()
                return not_modified(etag)
            resp.headers["ETag"] = etag
            return resp
        inner.formats = formats
        return inner
    return wrap


def matches(if_none_match: str, etag: str, star: bool = True) -> bool:
    """RFC 9110 If-None-Match: weak comparison (W/"x" matches "x"); * matches when a representation exists."""
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if (star and tag == "*") or tag == etag or tag.removeprefix("W/") == etag:
            return True
    return False


def not_modified(etag: str) -> Response:
    resp = Response(status=304)
    resp.headers["ETag"] = etag
    return resp


def if_none_match(etag: str) -> Response | None:
    """The 304 for a request whose If-None-Match names etag (or *), else None. For routes whose
    representation is known to exist before any work, like the pages and the downloads."""
    return not_modified(etag) if matches(request.headers.get("If-None-Match", ""), etag) else None


def json_response(body, status=200, media="application/json", headers=None) -> Response:
    resp = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=media)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def csv_response(columns: list[str], rows, filename: str) -> Response:
    """Stream rows (iterables of dicts or sequences) as UTF-8 CSV with a header row."""

    def generate():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        for i, row in enumerate(rows):
            writer.writerow([_cell(row[c] if isinstance(row, dict) else row[j]) for j, c in enumerate(columns)])
            if i % 200 == 199:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    resp = Response(stream(generate()), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8; header=present"
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def stream(chunks):
    """Iterate chunks after the view has returned, each step under its own time limit.

    The first chunk (which has run the first batch's query) is computed here, inside the view
    and under the request's deadline: a query that is too slow is then an ordinary 503 before
    any byte is sent. An export is long by nature, so each later step (one batch of rows) gets
    QUERY_TIMEOUT of its own; one that still runs out can only cut the stream short.
    No request context is needed while streaming: the snapshot is captured here and stays open
    for this worker until the response is done.
    """
    snap, timeout = get_snapshot(), current_app.config["QUERY_TIMEOUT"]
    chunks = iter(chunks)
    first = next(chunks, None)

    def bounded():
        try:
            if first is not None:
                yield first
            while True:
                snap.deadline = time.monotonic() + timeout
                try:
                    chunk = next(chunks)
                except StopIteration:
                    return
                yield chunk
        finally:
            snap.deadline = 0.0

    return bounded()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


COMMON_HEADERS = [("Access-Control-Allow-Origin", "*"),
                  ("Access-Control-Expose-Headers", "Link, ETag, Content-Disposition"),
                  ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
PREFLIGHT_HEADERS = [("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
                     ("Access-Control-Allow-Headers", "Accept, If-None-Match, Content-Type"),
                     ("Access-Control-Max-Age", "86400")]


def add_common_headers(resp: Response) -> Response:
    h, req = resp.headers, request._get_current_object()
    # Nothing upstream sets these, so appending is enough (cheaper than set, on every response).
    h.extend(COMMON_HEADERS)
    if req.method == "OPTIONS":
        h.extend(PREFLIGHT_HEADERS)
    if resp.status_code in (200, 304) and req.method in ("GET", "HEAD"):
        h.setdefault("Cache-Control", "public, max-age=300")
    if req.path.startswith("/api/") and "Accept" not in h.get("Vary", ""):
        h.add("Vary", "Accept")
    return resp
