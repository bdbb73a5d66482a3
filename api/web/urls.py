"""Absolute links: the base every link starts with (the request's scheme, host and prefix), and this request's URL
with its query as the client sent it."""
from __future__ import annotations

import contextvars
from urllib.parse import quote

from flask import has_request_context, request

_BASE = contextvars.ContextVar("socialwork_base_url")


def base_url() -> str:
    """Scheme, host and prefix every link starts with: the request's own (request.root_url, without
    its final slash). A proxy's X-Forwarded-* headers count only when the app trusts it
    (SOCIALWORK_TRUSTED_PROXIES, werkzeug's ProxyFix in create_app).

    An export streams after its request context has gone (responses.stream); its later batches use
    the base its first batch, built inside the request, remembered in this context.
    """
    if has_request_context():
        environ = request.environ
        base = environ.get("socialwork.base_url")
        if base is None:  # once a request: a page of 200 records asks for it some 400 times
            base = environ["socialwork.base_url"] = request.root_url.rstrip("/")
            _BASE.set(base)
        return base
    try:
        return _BASE.get()
    except LookupError:
        raise RuntimeError("an absolute link was asked for outside a request") from None


def absolute(path: str) -> str:
    """/api/v1/kinds -> http://host/api/v1/kinds: every link the API returns is absolute (RFC 3986 4.3)."""
    return base_url() + path


def raw_query() -> str:
    """The query string as the client sent it, with anything not URL-safe (raw UTF-8, spaces,
    control characters) percent-encoded, so it can go into a link and a Link header as is."""
    return quote(request.query_string, safe="/:@!$&'()*+,;=?%~-._")


def url_with(cursor: str | None = None) -> str:
    """This request's URL with its cursor replaced (or dropped when None).

    Works on the raw query string: the client's other parameters come back byte for byte, in
    their order, without decoding and re-encoding them. A cursor is URL-safe as issued.
    """
    parts = [p for p in raw_query().split("&") if p and p.split("=", 1)[0] != "cursor"]
    if cursor is not None:
        parts.append("cursor=" + cursor)
    return absolute(request.path) + ("?" + "&".join(parts) if parts else "")


def self_link(path: str | None = None) -> str:
    """An absolute link to path (this request's by default) with this request's query string, in the one form every link takes."""
    raw = raw_query()
    return absolute(path or request.path) + ("?" + raw if raw else "")
