"""/api/v1/regions: the GB/T 2260 gazetteer with initiative counts."""
from __future__ import annotations

from flask import Blueprint, request

from . import pagination, queries, representations as rep, schemas
from .names import name_key
from .db import get_db
from .errors import Problem
from .http import csv_response, json_response, representation

bp = Blueprint("regions", __name__, url_prefix="/api/v1/regions")
LIST_ARGS, RECORD_ARGS = schemas.RegionListArgs(), schemas.RecordArgs()


@bp.get("")
@representation("json", "csv")
def list_regions(fmt):
    """List regions."""
    args = schemas.parse(LIST_ARGS, request.args)
    conn = get_db()
    key = name_key(args["q"]) if "q" in args else None
    if "q" in args and not key:
        raise Problem(400, "invalid-parameter", "q: has no letters or digits to search for",
                      errors={"q": ["give part of a name: 锦江, Jinjiang"]})
    has = {"true": True, "false": False}.get(args.get("has_initiatives"))
    levels, parent = args.get("level"), args.get("parent")
    if fmt == "csv":
        def rows():
            after = None
            while True:
                page = queries.list_regions(conn, levels, parent, key, has, args["sort"], 500, after, count=False)
                yield from (dict(r) for r in page.rows)
                if not page.has_more:
                    return
                after = page.last_key
        return csv_response(rep.REGION_CSV, rows(), "regions.csv")
    page, links = pagination.run_page(args, lambda after, back: queries.list_regions(
        conn, levels, parent, key, has, args["sort"], args["limit"], after, back), len(args["sort"]) + 1)
    return pagination.envelope([rep.region_full(r) for r in page.rows], page, args, links)


@bp.get("/<string:code>")
@representation("json")
def get_region(code, fmt):
    """Get one region with its chain and children."""
    schemas.parse(RECORD_ARGS, request.args)
    conn = get_db()
    requested = code
    row = queries.region(conn, code) if len(code) == 6 else None
    alias = None
    if row is None and len(code) == 6:
        alias = queries.region_alias(conn, code)
        if alias:
            row = queries.region(conn, alias["successor_code"])
    if row is None:
        raise Problem(404, "not-found", f"There is no GB/T 2260 division with code {code[:50]!r}. "
                      "Search by name at /api/v1/regions?q=…")
    body = {**rep.region_full(row),
            "chain": [rep.region_brief(r) for r in queries.region_chain(conn, row["code"])],
            "children": [{**rep.region_brief(c), "initiative_count": c["initiative_count"]}
                         for c in queries.region_children(conn, row["code"])]}
    if alias:
        body["resolved_from"] = {"code": requested, "name_zh": alias["name_zh"], "note": alias["note"]}
    resp = json_response(body)
    if alias:
        resp.headers["Content-Location"] = f"/api/v1/regions/{row['code']}"
    return resp
