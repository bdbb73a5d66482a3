"""The headers no view sets itself: CORS, nosniff, caching, Vary and one Content-Security-Policy on every HTML page."""
from __future__ import annotations

from flask import Response, request

COMMON_HEADERS = {"Access-Control-Allow-Origin": "*",
                  "Access-Control-Expose-Headers": "Link, ETag, Content-Disposition, Content-Range, Accept-Ranges",
                  "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
PREFLIGHT_HEADERS = {"Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
                     "Access-Control-Allow-Headers": "Accept, If-None-Match, Content-Type, Range",
                     "Access-Control-Max-Age": "86400"}
# Every HTML page, Swagger UI's included, runs no inline code (swagger-init.js starts Swagger UI 5,
# api/v1/contract.py). img-src data: is for the icons Swagger UI's stylesheet draws as data: SVGs;
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
