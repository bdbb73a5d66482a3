"""Keyset pages over HTTP: opaque cursors bound to their query, one page run from its cursor, and its links."""
from __future__ import annotations

import base64
import hashlib
import json

from flask import request

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


def run_page(args: dict, page_fn, key_length: int):
    """Decode the cursor, run one keyset page (page_fn(limit, after, backwards)), build links."""
    fingerprint = query_fingerprint(request.args)
    after, backwards = (None, False)
    if "cursor" in args:
        after, backwards = decode(args["cursor"], fingerprint, key_length)
    page = page_fn(args["limit"], after, backwards)
    links = page_links(page, {**args, "_backwards": backwards}, fingerprint)
    return page, links
