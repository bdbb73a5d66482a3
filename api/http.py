"""HTTP semantics shared by every route: format negotiation, strong ETags and 304s, a bounded response cache, CORS and security headers."""
from __future__ import annotations

import csv
import functools
import io

from flask import Response, abort, current_app, json, redirect, request

from .conditional import representation_etag
from .db import get_snapshot
from .errors import Problem
from .schemas import parse

MEDIA = {"json": "application/json", "csv": "text/csv", "geojson": "application/geo+json"}
# endpoint -> its page for people, from the view's path values (api/pages.py registers them). A client that
# accepts HTML and none of the route's own media types is sent there (303) instead of getting a 406.
HTML_ALTERNATES: dict = {}


def negotiate(formats: tuple[str, ...], requested: str | None, req=None) -> str:
    """The parsed format= wins; otherwise the Accept header among the formats this route offers; JSON by default."""
    if requested is not None:
        return requested  # already checked against this route's formats by its schema
    req = req or request._get_current_object()
    if not req.headers.get("Accept", "").strip() or not req.accept_mimetypes:
        return formats[0]  # no Accept, or one too malformed to read: disregarded (RFC 9110)
    offered = [MEDIA[f] for f in formats] + (["application/vnd.geo+json"] if "geojson" in formats else [])
    best = req.accept_mimetypes.best_match(offered + ["application/problem+json"])
    if best is None:
        page = HTML_ALTERNATES.get(req.endpoint)
        if page is not None and req.accept_mimetypes["text/html"] > 0:
            abort(redirect(page(req.view_args), 303))
        raise Problem(406, "not-acceptable",
                      f"Accept: this resource is available as {', '.join(offered)}; use format= or one of those media types.",
                      errors={"Accept": [f"allowed: {', '.join(offered)}"]})
    for f in formats:
        if MEDIA[f] == best or (f == "geojson" and best == "application/vnd.geo+json"):
            return f
    return formats[0]


def representation(schema, *formats: str):
    """Wrap a GET view: parse its arguments with schema, negotiate the format from them, tag the result.

    The view is called as view(args, fmt, **path_values). Whether the client already has this
    representation (If-None-Match) is decided in one place for every route: api/conditional.py.
    """
    formats = formats or ("json",)

    def wrap(view):
        @functools.wraps(view)
        def inner(**kwargs):
            req = request._get_current_object()
            args = parse(schema, req.args)
            fmt = negotiate(formats, args.get("format"), req)
            resp = view(args, fmt, **kwargs)
            resp.headers["ETag"] = representation_etag(get_snapshot().version, req.path, req.args, fmt)
            return resp
        inner.formats = formats
        return inner
    return wrap


def json_response(body, status=200, media="application/json", headers=None) -> Response:
    resp = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=media)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def moved(path: str, body: dict) -> Response:
    """301 Moved Permanently to path (absolute, with the request's query kept), with a JSON body saying where."""
    from .pagination import absolute

    query = request.query_string.decode("latin-1")
    location = absolute(path) + (f"?{query}" if query else "")
    return json_response({**body, "url": location}, status=301, headers={"Location": location})


def csv_response(columns: list[str], rows, filename: str, bom: bool = False) -> Response:
    """Stream rows (dicts, sqlite3.Rows or sequences in column order) as UTF-8 CSV with a header row.

    bom: start with U+FEFF, so Excel (a Chinese-locale Windows reads BOM-less UTF-8 as GBK) reads UTF-8.
    """

    def generate():
        buf = io.StringIO()
        if bom:
            buf.write("\ufeff")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(columns)
        for i, row in enumerate(rows):
            by_name = hasattr(row, "keys")
            writer.writerow([_cell(row[c] if by_name else row[j]) for j, c in enumerate(columns)])
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
    and under the request's time limit: a query that is too slow is then an ordinary 503 before
    any byte is sent. An export is long by nature, so each later step (one batch of rows) gets
    QUERY_TIMEOUT of its own; one that still runs out can only cut the stream short.
    No request context is needed while streaming: the snapshot is captured here and stays open
    for this worker until the response is done.
    """
    database, timeout = current_app.extensions["socialwork_db"], current_app.config["QUERY_TIMEOUT"]
    chunks = iter(chunks)
    first = next(chunks, None)

    def bounded():
        if first is not None:
            yield first
        while True:
            with database.time_limit(timeout):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    return bounded()


def _cell(value):
    """One CSV cell: empty for unknown, a list joined with ';' (the one convention of every CSV here), 25802000.0 as 25802000."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


COMMON_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Link, ETag, Content-Disposition",
                  "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PREFLIGHT_HEADERS = {"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                     "Access-Control-Allow-Headers": "Accept, If-None-Match, Content-Type",
                     "Access-Control-Max-Age": "86400"}
# Every HTML page, Swagger UI's included, runs no inline code (swagger-init.js starts Swagger UI 5,
# api/docs.py). img-src data: is for the icons Swagger UI's stylesheet draws as data: SVGs;
# connect-src 'self' (what default-src gives, said outright) keeps Try it out, and any contract it
# loads, on this origin. Swagger UI sets its inline styles through the DOM, which style-src does not govern.
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PAGE_HEADERS = {"X-Frame-Options": "DENY"}


def response_headers(resp: Response) -> Response:
    """The one after_request hook: every header no view sets itself, each set once, whatever else is registered.

    CORS and nosniff on everything; caching on successful reads; Vary: Accept where the format is
    negotiated; one Content-Security-Policy on every HTML page, Swagger UI's included.
    """
    h, req = resp.headers, request._get_current_object()
    wanted = dict(COMMON_HEADERS)
    if req.method == "OPTIONS":
        wanted.update(PREFLIGHT_HEADERS)
    if resp.status_code == 200 and req.method in ("GET", "HEAD"):
        wanted["Cache-Control"] = "public, max-age=300"
    if resp.mimetype == "text/html":
        wanted["Content-Security-Policy"] = PAGE_CSP
        wanted.update(PAGE_HEADERS)
    present = {k.lower() for k, _ in h}  # one pass over the headers, then one extend: this runs on every response
    h.extend([(name, value) for name, value in wanted.items() if name.lower() not in present])
    if req.path.startswith("/api/") and "accept" not in h.get("Vary", "").lower():
        h.add("Vary", "Accept")
    return resp
