"""/api/v1/regions: the GB/T 2260 gazetteer with initiative counts."""
from __future__ import annotations

from .. import query
from ..web import listing, shapes
from ..web.errors import Problem
from ..web.responses import json_response

bp = listing.resource_blueprint(listing.REGIONS, "List regions.")


@listing.record_route(bp, "/<string:code>")
def get_region(conn, code):
    """Get one region with its chain and children."""
    row, alias = query.region_or_successor(conn, code)
    if row is None:
        raise Problem(404, "not-found", f"There is no GB/T 2260 division with code {code[:50]!r}. "
                      "Search by name at /api/v1/regions?q=…")
    resp = json_response(shapes.region_detail(row, query.region_chain(conn, row["code"]),
                                           query.region_children(conn, row["code"]), alias))
    if alias:
        resp.headers["Content-Location"] = shapes.region_url(row["code"])
    return resp
