"""The source as published, every quoted span marked and linked to the records that quote it; and its text byte for
byte, as the dataset's offsets count it."""
from __future__ import annotations

import base64

from flask import Response, render_template, request

from .. import query
from ..web.args import parse
from ..web.db import get_db
from ..web.errors import Problem
from ..web.responses import tagged
from ..web.shapes import ID_MAX
from . import article
from .render import NO_ARGS, common, facts, page_response, site


def _source(source_id: str):
    """The request's connection and the source named in the path (no query arguments are taken), or a 404."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    source = next((s for s in facts(conn)["sources"] if s["id"] == source_id), None)
    if source is None:
        raise Problem(404, "not-found", f"There is no source with id {source_id[:ID_MAX]!r}.")
    return conn, source


@site.get("/sources/<string:source_id>")
def source_page(source_id: str):
    """The source as published, every quoted span marked and linked to the records that quote it."""
    conn, source = _source(source_id)
    text, paragraphs = article.load(source)
    quotes = query.evidence_in_source(conn, source_id)
    spans = [article.Span(q["start"], q["end"], q) for q in quotes]
    headings = {t["start"] for t in facts(conn)["themes"].values() if t["source"] == source_id}
    body = [{"paragraph": p, "heading": p.start in headings, "segments": segs,
             "shared": [seg for seg in segs if len(seg.refs or ()) > 1]}  # listed under the paragraph, a link each
            for p in paragraphs for segs in [article.segments(p, spans)]]
    quoted = {(q["start"], q["end"]) for q in quotes}
    html = render_template("source.html", **common(conn), source=source, body=body, quotes=quotes,
                           spans=len(quoted), records=len({q["initiative_id"] for q in quotes}), characters=len(text))
    return page_response(html)


@site.get("/sources/<string:source_id>.txt")
def source_text(source_id: str):
    """The source's text, byte for byte as the dataset's offsets count it, with its sha256 (RFC 9530 Repr-Digest)."""
    conn, source = _source(source_id)
    text, _ = article.load(source)
    resp = Response(text.encode("utf-8"), mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Repr-Digest"] = "sha-256=:" + base64.b64encode(bytes.fromhex(source["sha256"])).decode() + ":"
    resp.headers["X-Source-SHA256"] = source["sha256"]
    tagged(resp, source["sha256"])
    return resp
