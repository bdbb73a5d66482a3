"""/api/v1/initiatives: the filtered list (JSON, CSV, GeoJSON) and one record."""
from __future__ import annotations

from flask import Blueprint

from . import listing, queries, representations as rep, schemas
from .db import get_db
from .errors import Problem
from .filters import to_filter
from .http import json_response, moved, representation

bp = Blueprint("initiatives", __name__, url_prefix="/api/v1/initiatives")


def _with_regions(conn, rows, build):
    regions = queries.regions_of(conn, [r["n"] for r in rows])
    return [build(r, regions[r["n"]]) for r in rows]


INITIATIVES = listing.ListResource(
    name="initiatives", args=schemas.InitiativeListArgs(), formats=("json", "csv", "geojson"),
    resolve=to_filter,
    page=queries.list_initiatives,
    items=lambda conn, rows, f: _with_regions(conn, rows, lambda r, regs: rep.initiative_brief(r, regs, f.terms)),
    csv_columns=rep.INITIATIVE_CSV,
    csv_rows=lambda conn, rows: _with_regions(conn, rows, rep.initiative_csv_row),
    features=lambda conn, rows: _with_regions(conn, rows, rep.initiative_feature),
)


listing.add_route(bp, INITIATIVES, "List initiatives.")


@bp.get("/<string:initiative_id>")
@representation(schemas.RecordArgs(), "json")
def get_initiative(args, fmt, initiative_id):
    """Get one initiative with its regions, metrics and evidence."""
    conn = get_db()
    row = queries.initiative_by_id(conn, initiative_id) if len(initiative_id) <= 200 else None
    if row is None and len(initiative_id) <= 200 and (current := queries.redirected_id(conn, initiative_id)):
        # A renamed record: its old id keeps resolving, permanently, to the record it became.
        return moved(f"{rep.API}/initiatives/{current}", {"id": current, "former_id": initiative_id})
    if row is None:
        raise Problem(404, "not-found", f"There is no initiative with id {initiative_id[:200]!r}. "
                      "List them at /api/v1/initiatives.")
    regions = [rep.region_with_chain(r, queries.region_chain(conn, r["code"])) for r in queries.regions_of(conn, [row["n"]])[row["n"]]]
    return json_response(rep.initiative_full(row, regions, queries.metrics_of(conn, row["n"]), queries.evidence_of(conn, row["n"])))
