"""/api/v1/initiatives: the filtered list (JSON, CSV, GeoJSON) and one record."""
from __future__ import annotations

from flask import Blueprint, Response, json, request

from . import pagination, queries, representations as rep, schemas
from .db import get_db
from .errors import Problem
from .filters import to_filter
from .http import csv_response, json_response, representation, stream

bp = Blueprint("initiatives", __name__, url_prefix="/api/v1/initiatives")
LIST_ARGS, RECORD_ARGS = schemas.InitiativeListArgs(), schemas.RecordArgs()


@bp.get("")
@representation("json", "csv", "geojson")
def list_initiatives(fmt):
    """List initiatives."""
    args = schemas.parse(LIST_ARGS, request.args)
    f, resolved = to_filter(args)
    conn = get_db()
    if fmt in ("csv", "geojson"):
        return export(conn, f, args["sort"], fmt)
    page, links = pagination.run_page(args, lambda after, back: queries.list_initiatives(
        conn, f, args["sort"], args["limit"], after, back), len(args["sort"]) + 1)
    regions = queries.regions_of(conn, [r["n"] for r in page.rows])
    data = [rep.initiative_brief(r, regions[r["n"]], f.terms) for r in page.rows]
    return pagination.envelope(data, page, args, links, sort=",".join(("-" if d == "desc" else "") + n for n, d in args["sort"]),
                    regions=resolved)


def export(conn, f, sort, fmt) -> Response:
    """The whole filtered result, streamed in keyset batches."""

    def with_regions(batch=200):
        rows = []
        for row in queries.iter_initiatives(conn, f, sort):
            rows.append(row)
            if len(rows) == batch:
                yield from _attach(conn, rows)
                rows = []
        yield from _attach(conn, rows)

    if fmt == "csv":
        return csv_response(rep.INITIATIVE_CSV, (rep.initiative_csv_row(r, regs) for r, regs in with_regions()),
                            "initiatives.csv")

    def geojson():
        features = (json.dumps(rep.initiative_feature(row, regs), ensure_ascii=False) for row, regs in with_regions())
        first = next(features, None)  # the first chunk carries the first batch's query (see http.stream)
        yield '{"type":"FeatureCollection","features":[' + (first or "")
        for feature in features:
            yield "," + feature
        yield "]}"

    return Response(stream(geojson()), mimetype="application/geo+json")


def _attach(conn, rows):
    regions = queries.regions_of(conn, [r["n"] for r in rows])
    for r in rows:
        yield r, regions[r["n"]]


@bp.get("/<string:initiative_id>")
@representation("json")
def get_initiative(initiative_id, fmt):
    """Get one initiative with its regions, metrics and evidence."""
    schemas.parse(RECORD_ARGS, request.args)
    conn = get_db()
    row = queries.initiative_by_id(conn, initiative_id) if len(initiative_id) <= 200 else None
    if row is None:
        raise Problem(404, "not-found", f"There is no initiative with id {initiative_id[:200]!r}. "
                      "List them at /api/v1/initiatives.")
    regions = [rep.region_with_chain(r, queries.region_chain(conn, r["code"])) for r in queries.regions_of(conn, [row["n"]])[row["n"]]]
    return json_response(rep.initiative_full(row, regions, queries.metrics_of(conn, row["n"]), queries.evidence_of(conn, row["n"])))
