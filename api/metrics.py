"""/api/v1/metrics: every figure as a row, filterable like the initiatives."""
from __future__ import annotations

from flask import Blueprint, request

from . import pagination, queries, representations as rep, schemas
from .db import get_db
from .filters import to_filter
from .http import csv_response, representation

bp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics")
LIST_ARGS = schemas.MetricListArgs()


@bp.get("")
@representation("json", "csv")
def list_metrics(fmt):
    """List metrics."""
    args = schemas.parse(LIST_ARGS, request.args)
    f, resolved = to_filter(args)
    conn = get_db()
    if fmt == "csv":
        def rows():
            after = None
            while True:
                page = queries.list_metrics(conn, f, args["sort"], 500, after, count=False)
                for r in page.rows:
                    yield {**dict(r), "value": rep.number(r["value"]), "region_codes": (r["region_codes"] or "").split(",")}
                if not page.has_more:
                    return
                after = page.last_key
        return csv_response(rep.METRIC_CSV, rows(), "metrics.csv")
    page, links = pagination.run_page(args, lambda after, back: queries.list_metrics(
        conn, f, args["sort"], args["limit"], after, back), len(args["sort"]) + 1)
    regions = queries.regions_of(conn, list({r["initiative_n"] for r in page.rows}))
    data = [rep.metric(r, r["initiative_id"], [rep.region_brief(x) for x in regions[r["initiative_n"]]]) for r in page.rows]
    return pagination.envelope(data, page, args, links, regions=resolved)
