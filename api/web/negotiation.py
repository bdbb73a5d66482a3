"""Format negotiation: the parsed format= or the Accept header among a route's formats, and the one wrapper every GET
view runs in (arguments parsed, format chosen, ETag set)."""
from __future__ import annotations

import functools
import re
from urllib.parse import quote

from flask import abort, redirect, request
from werkzeug.datastructures import MIMEAccept

from .args import parse
from .errors import Problem
from .responses import tagged

MEDIA = {"json": "application/json", "csv": "text/csv", "geojson": "application/geo+json"}
# endpoint -> its page for people, from the view's path values (api/site/ registers them). A client that
# accepts HTML and none of the route's own media types is sent there (303) instead of getting a 406.
HTML_ALTERNATES: dict = {}


_MEDIA_RANGE = re.compile(r"(?:[a-z0-9!#$&^_.+-]+|\*)/(?:[a-z0-9!#$&^_.+-]+|\*)")


def accepted(req) -> MIMEAccept | None:
    """The Accept header by media type alone: parameters (charset=utf-8, header=present) dropped, q-values kept; a
    range that is no type/subtype left out. None when nothing well-formed is left: disregarded (RFC 9110 12.5.1)."""
    ranges = [(value.split(";", 1)[0].strip().lower(), q) for value, q in req.accept_mimetypes]
    ranges = [(r, q) for r, q in ranges if _MEDIA_RANGE.fullmatch(r)]
    return MIMEAccept(ranges) if ranges else None


def negotiate(formats: tuple[str, ...], requested: str | None, req=None) -> str:
    """The parsed format= wins; otherwise the Accept header among the formats this route offers; JSON by default."""
    if requested is not None:
        return requested  # already checked against this route's formats by its schema
    req = req or request._get_current_object()
    accept = accepted(req)
    if accept is None:
        return formats[0]
    offered = [MEDIA[f] for f in formats] + (["application/vnd.geo+json"] if "geojson" in formats else [])
    best = accept.best_match(offered + ["application/problem+json"])
    if best is None:
        page = HTML_ALTERNATES.get(req.endpoint)
        if page is not None and accept["text/html"] > 0:
            # the page's address from the path's values, each percent-encoded: a CR or LF stays in the URL
            abort(redirect(page({k: quote(str(v), safe="") for k, v in req.view_args.items()}), 303))
        raise Problem(406, "not-acceptable",
                      f"Accept: this resource is available as {', '.join(offered)}; use format= or one of those media types.",
                      errors={"Accept": [f"allowed: {', '.join(offered)}"]})
    for f in formats:
        if MEDIA[f] == best or (f == "geojson" and best == "application/vnd.geo+json"):
            return f
    return formats[0]


def representation(schema, *formats: str, fixed: bool = False):
    """Wrap a GET view: parse its arguments with schema, negotiate the format from them, tag the result.

    The view is called as view(args, fmt, **path_values). Whether the client already has this
    representation (If-None-Match) is decided in one place for every route: conditional.py.
    fixed: the address names its one format (/api/v1/initiatives.geojson), which it answers whatever Accept says
    (RFC 9110 12.5.1 lets a server disregard Accept): GDAL asks a .geojson for text/plain or application/json.
    """
    formats = formats or ("json",)

    def wrap(view):
        @functools.wraps(view)
        def inner(**kwargs):
            req = request._get_current_object()
            args = parse(schema, req.args)
            fmt = formats[0] if fixed else negotiate(formats, args.get("format"), req)
            resp = view(args, fmt, **kwargs)
            return tagged(resp, fmt)
        inner.formats = formats
        return inner
    return wrap
