"""/api/v1/regions: the GB/T 2260 gazetteer with initiative counts."""
from __future__ import annotations

from flask import Blueprint

from .. import query
from ..web import listing, shapes
from ..web.args import RecordArgs
from ..web.db import get_db
from ..web.errors import Problem
from ..web.negotiation import representation
from ..web.responses import json_response

bp = Blueprint("regions", __name__, url_prefix="/api/v1/regions")


listing.add_route(bp, listing.REGIONS, "List regions.")


@bp.get("/<string:code>")
@representation(RecordArgs(), "json")
def get_region(args, fmt, code):
    """Get one region with its chain and children."""
    conn = get_db()
    row, alias = query.region_or_successor(conn, code)
    if row is None:
        raise Problem(404, "not-found", f"There is no GB/T 2260 division with code {code[:50]!r}. "
                      "Search by name at /api/v1/regions?q=…")
    resp = json_response(shapes.region_detail(row, query.region_chain(conn, row["code"]),
                                           query.region_children(conn, row["code"]), alias))
    if alias:
        resp.headers["Content-Location"] = shapes.region_url(row["code"])
    return resp
