"""Keyset pages for every list: opaque cursors bound to their query, the links (body and RFC 8288 header), the envelope."""
from __future__ import annotations

import base64
import contextvars
import hashlib
import json
from urllib.parse import quote

from flask import Response, has_request_context, request

from .errors import invalid
from .http import json_response


def query_fingerprint(args) -> str:
    """What a cursor is bound to: every argument but the cursor, limit and format.

    args is the raw query (a MultiDict) or a plain dict. The repeats of a parameter count as its
    values joined by commas, so kind=a&kind=b and kind=a,b give one fingerprint (and a single value
    gives the fingerprint it always had).
    """
    items = ((k, ",".join(args.getlist(k))) for k in args) if hasattr(args, "getlist") else args.items()
    keep = {k: v for k, v in sorted(items) if k not in ("cursor", "limit", "format")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:12]


def _checksum(body: bytes) -> str:
    return hashlib.sha256(b"socialwork-cursor:" + body).hexdigest()[:10]


def encode(key: list, backwards: bool, fingerprint: str) -> str:
    body = json.dumps({"k": key, "b": int(backwards), "f": fingerprint}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _checksum(body)


def decode(cursor: str, fingerprint: str, key_length: int) -> tuple[list, bool]:
    """Return (key, backwards) or raise a 400 naming the cursor."""
    try:
        data, check = cursor.rsplit(".", 1)
        body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        if _checksum(body) != check:
            raise ValueError
        payload = json.loads(body)
        key, backwards, bound = payload["k"], bool(payload["b"]), payload["f"]
        if not isinstance(key, list) or len(key) != key_length or not all(
                v is None or isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in key):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise invalid("cursor", "is not a cursor this API issued; follow links.next or links.prev", kind="invalid-cursor") from None
    if bound != fingerprint:
        raise invalid("cursor", "belongs to a different query (filters or sort changed); start again without cursor",
                      kind="invalid-cursor")
    return key, backwards


_BASE = contextvars.ContextVar("socialwork_base_url")


def base_url() -> str:
    """Scheme, host and prefix every link starts with: the request's own (request.root_url, without
    its final slash). A proxy's X-Forwarded-* headers count only when the app trusts it
    (SOCIALWORK_TRUSTED_PROXIES, werkzeug's ProxyFix in create_app).

    An export streams after its request context has gone (http.stream); its later batches use
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


def page_links(page, args: dict, fingerprint: str) -> dict:
    """self/first/next/prev for a keyset page. prev/next are null at the ends."""
    came_back = bool(args.get("_backwards"))
    had_cursor = "cursor" in args
    has_next = page.has_more if not came_back else True
    has_prev = (had_cursor and not came_back) or (came_back and page.has_more)
    links = {"self": self_link(), "first": url_with(), "next": None, "prev": None}
    if has_next and page.last_key is not None:
        links["next"] = url_with(cursor=encode(page.last_key, False, fingerprint))
    if has_prev and page.first_key is not None:
        links["prev"] = url_with(cursor=encode(page.first_key, True, fingerprint))
    return links


LINK_RELATIONS = ("self", "first", "next", "prev")  # IANA-registered; a body's other links stay in the body


def link_header(links: dict) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel in LINK_RELATIONS)


def run_page(args: dict, page_fn, key_length: int):
    """Decode the cursor, run one keyset page (page_fn(limit, after, backwards)), build links."""
    fingerprint = query_fingerprint(request.args)
    after, backwards = (None, False)
    if "cursor" in args:
        after, backwards = decode(args["cursor"], fingerprint, key_length)
    page = page_fn(args["limit"], after, backwards)
    links = page_links(page, {**args, "_backwards": backwards}, fingerprint)
    return page, links


def envelope(data, links: dict, *, total: int, total_exact: bool = True, **meta) -> Response:
    """Every list's body, {data, meta, links}, and its links again as an RFC 8288 Link header.

    meta starts with total, total_exact and (for a list of items) count, then what the resource adds.
    """
    head = {"total": total, "total_exact": total_exact}
    if isinstance(data, list):
        head["count"] = len(data)
    resp = json_response({"data": data, "meta": {**head, **meta}, "links": links})
    resp.headers["Link"] = link_header(links)
    return resp
