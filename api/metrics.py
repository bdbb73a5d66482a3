"""/api/v1/metrics: every figure as a row, filterable like the initiatives."""
from __future__ import annotations

from flask import Blueprint

from . import listing, queries, representations as rep, schemas
from .filters import to_filter

bp = Blueprint("metrics", __name__, url_prefix="/api/v1/metrics")


def _items(conn, rows, f):
    regions = queries.regions_of(conn, list({r["initiative_n"] for r in rows}))
    return [rep.metric(r, r["initiative_id"], [rep.region_brief(x) for x in regions[r["initiative_n"]]]) for r in rows]


METRICS = listing.ListResource(
    name="metrics", args=schemas.MetricListArgs(), formats=("json", "csv"), resolve=to_filter,
    page=queries.list_metrics, items=_items,
    csv_columns=rep.METRIC_CSV, csv_rows=lambda conn, rows: [rep.metric_csv_row(r) for r in rows],
)


listing.add_route(bp, METRICS, "List metrics.")
