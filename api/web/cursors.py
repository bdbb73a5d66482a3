"""Keyset pages over HTTP: opaque cursors bound to their query, one page run from its cursor, and its links."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math

from flask import current_app, request

from .errors import invalid
from .urls import self_link, url_with


def query_fingerprint(args) -> str:
    """What a cursor is bound to: every argument but the cursor, limit and format.

    args is the raw query (a MultiDict) or a plain dict. The repeats of a parameter count as its
    values joined by commas, so kind=a&kind=b and kind=a,b give one fingerprint (and a single value
    gives the same fingerprint as one value).
    """
    items = ((k, ",".join(args.getlist(k))) for k in args) if hasattr(args, "getlist") else args.items()
    keep = {k: v for k, v in sorted(items) if k not in ("cursor", "limit", "format")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()[:12]


def _signature(body: bytes, secret: str | None = None) -> str:
    """The cursor's HMAC-SHA256 under this deployment's key (CURSOR_KEY, from SOCIALWORK_CURSOR_KEY), cut to 16 hex
    digits: a cursor's values come back only as this deployment issued them. secret: that key where no app runs (the
    MCP server over stdio); None: the app's."""
    key = (current_app.config["CURSOR_KEY"] if secret is None else secret).encode()
    return hmac.new(key, b"socialwork-cursor:" + body, hashlib.sha256).hexdigest()[:16]


MAX_KEY_INT = 1 << 53     # a key this API issues is a record's number, a year, a code or a rank: far below this
MAX_KEY_TEXT = 1000


def _key_value_ok(v) -> bool:
    """A value a sort key can hold: an integer in range, a finite number, or a text of bounded length."""
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, int):
        return -MAX_KEY_INT <= v <= MAX_KEY_INT
    if isinstance(v, float):
        return math.isfinite(v) and abs(v) <= MAX_KEY_INT
    return isinstance(v, str) and len(v) <= MAX_KEY_TEXT


def encode(key: list, backwards: bool, fingerprint: str, secret: str | None = None) -> str:
    body = json.dumps({"k": key, "b": int(backwards), "f": fingerprint}, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + _signature(body, secret)


def decode(cursor: str, fingerprint: str, key_length: int, secret: str | None = None) -> tuple[list, bool]:
    """Return (key, backwards) or raise a 400 naming the cursor."""
    try:
        data, check = cursor.rsplit(".", 1)
        body = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
        if not hmac.compare_digest(_signature(body, secret), check):
            raise ValueError
        payload = json.loads(body, parse_constant=_refuse)   # NaN, Infinity: no cursor holds them
        key, backwards, bound = payload["k"], bool(payload["b"]), payload["f"]
        if not isinstance(key, list) or len(key) != key_length or not all(map(_key_value_ok, key)):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise invalid("cursor", "is not a cursor this API issued; follow links.next or links.prev", kind="invalid-cursor") from None
    if bound != fingerprint:
        raise invalid("cursor", "belongs to a different query (filters or sort changed); start again without cursor",
                      kind="invalid-cursor")
    return key, backwards


def _refuse(constant: str):
    raise ValueError(constant)


def page_cursors(page, had_cursor: bool, came_back: bool, fingerprint: str, secret: str | None = None) -> dict:
    """The cursors of the pages after and before a keyset page: {"next", "prev"}, None at the ends."""
    has_next = page.has_more if not came_back else True
    has_prev = (had_cursor and not came_back) or (came_back and page.has_more)
    return {"next": encode(page.last_key, False, fingerprint, secret) if has_next and page.last_key is not None else None,
            "prev": encode(page.first_key, True, fingerprint, secret) if has_prev and page.first_key is not None else None}


def page_links(around: dict) -> dict:
    """self/first/next/prev for a keyset page, from its cursors (page_cursors). prev/next are null at the ends."""
    return {"self": self_link(), "first": url_with(),
            **{rel: url_with(cursor=c) if c is not None else None for rel, c in around.items()}}


def cursor_page(args: dict, page_fn, key_length: int, fingerprint: str, secret: str | None = None):
    """Decode the cursor, run one keyset page (page_fn(limit, after, backwards)): the page and the cursors around it
    (page_cursors), bound to fingerprint and signed with secret (None: the app's key)."""
    after, backwards = (None, False)
    if "cursor" in args:
        after, backwards = decode(args["cursor"], fingerprint, key_length, secret)
    page = page_fn(args["limit"], after, backwards)
    return page, page_cursors(page, "cursor" in args, backwards, fingerprint, secret)


def run_page(args: dict, page_fn, key_length: int):
    """Decode the cursor, run one keyset page (page_fn(limit, after, backwards)), build links: bound to this request's
    query."""
    page, around = cursor_page(args, page_fn, key_length, query_fingerprint(request.args))
    return page, page_links(around)
