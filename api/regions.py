"""/api/v1/regions: the GB/T 2260 gazetteer with initiative counts."""
from __future__ import annotations

from flask import Blueprint

from . import listing, queries, representations as rep, schemas
from .db import get_db
from .errors import Problem
from .http import json_response, representation

bp = Blueprint("regions", __name__, url_prefix="/api/v1/regions")


def _filter(args: dict):
    return queries.RegionFilter(levels=tuple(args.get("level", ())), parent=args.get("parent"),
                                name_prefix=args.get("q"), has_initiatives=args.get("has_initiatives")), {}


REGIONS = listing.ListResource(
    name="regions", args=schemas.RegionListArgs(), formats=("json", "csv"), resolve=_filter,
    page=queries.list_regions, items=lambda conn, rows, f: [rep.region_full(r) for r in rows],
    csv_columns=rep.REGION_CSV, csv_rows=lambda conn, rows: rows,
)


listing.add_route(bp, REGIONS, "List regions.")


@bp.get("/<string:code>")
@representation(schemas.RecordArgs(), "json")
def get_region(args, fmt, code):
    """Get one region with its chain and children."""
    conn = get_db()
    row, alias = queries.region_or_successor(conn, code)
    if row is None:
        raise Problem(404, "not-found", f"There is no GB/T 2260 division with code {code[:50]!r}. "
                      "Search by name at /api/v1/regions?q=…")
    resp = json_response(rep.region_detail(row, queries.region_chain(conn, row["code"]),
                                           queries.region_children(conn, row["code"]), alias))
    if alias:
        resp.headers["Content-Location"] = rep.region_url(row["code"])
    return resp
