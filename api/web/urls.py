"""Absolute links: the base every link starts with (the request's scheme, host and prefix), and this request's URL
with its query as the client sent it."""
from __future__ import annotations

import contextvars
import re
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from flask import current_app, has_request_context, request

from .errors import Problem

_BASE = contextvars.ContextVar("socialwork_base_url")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?")   # RFC 3986 host[:port]


def canonical_base(value: str) -> str:
    """SOCIALWORK_BASE_URL as every link's base: http(s)://host[:port][/prefix], no query or fragment; ValueError
    otherwise. '' (unset): links are built from each request's scheme, host and prefix."""
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not HOST.fullmatch(parts.netloc) or parts.query or parts.fragment:
        raise ValueError(f"SOCIALWORK_BASE_URL: {value!r} is not http(s)://host[:port][/prefix]")
    return value.rstrip("/")


def check_origin():
    """before_request: what links are built from must be sound. The scheme (a trusted proxy's X-Forwarded-Proto
    included) is http or https; Host is a host[:port]; HTTP/1.1 needs a Host (RFC 9112 3.2); without one (HTTP/1.0)
    the configured base URL is needed to build any link."""
    environ = request.environ
    if request.scheme not in ("http", "https"):
        raise Problem(400, "bad-request", "X-Forwarded-Proto: must be http or https.",
                      errors={"X-Forwarded-Proto": ["must be http or https"]})
    host = environ.get("HTTP_HOST")
    if host is None and environ.get("SERVER_PROTOCOL", "HTTP/1.1") != "HTTP/1.0":
        raise Problem(400, "bad-request", "Host: an HTTP/1.1 request needs a Host header (RFC 9112).",
                      errors={"Host": ["required"]})
    if host is not None and not HOST.fullmatch(request.host):
        raise Problem(400, "bad-request", "Host: must be a host name or address with an optional port.",
                      errors={"Host": ["must be host[:port]"]})
    if host is None and not current_app.config["BASE_URL"] and not HOST.fullmatch(request.host):
        raise Problem(400, "bad-request", "Host: needed to build this response's links; send one.",
                      errors={"Host": ["required"]})


def base_url() -> str:
    """Scheme, host and prefix every link starts with: the configured canonical base (SOCIALWORK_BASE_URL) when there
    is one, else the request's own (request.root_url, without its final slash). A proxy's X-Forwarded-* headers count
    only when the app trusts it (SOCIALWORK_TRUSTED_PROXIES, werkzeug's ProxyFix in create_app).

    An export streams after its request context has gone (responses.stream); its later batches use
    the base its first batch, built inside the request, remembered in this context.
    """
    if has_request_context():
        environ = request.environ
        base = environ.get("socialwork.base_url")
        if base is None:  # once a request: a page of 200 records asks for it some 400 times
            base = environ["socialwork.base_url"] = current_app.config["BASE_URL"] or request.root_url.rstrip("/")
            _BASE.set(base)
        return base
    try:
        return _BASE.get()
    except LookupError:
        raise RuntimeError("an absolute link was asked for outside a request") from None


@contextmanager
def links_from(base: str):
    """Links made outside any request (the MCP server over stdio) start with base, through the same absolute() a
    request's links use; inside a request, the request's own base still wins."""
    token = _BASE.set(base.rstrip("/"))
    try:
        yield
    finally:
        _BASE.reset(token)


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
