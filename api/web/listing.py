"""Each list resource declared once (arguments, query, item shape, CSV columns), and the one handler that serves them.

parse (negotiation.representation) -> resolve the arguments into a query filter -> one keyset page in
the envelope, or the whole result streamed as CSV or GeoJSON in keyset batches.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Iterable

from flask import Blueprint, Response, json, request

from .. import query
from . import cursors, shapes
from .args import InitiativeListArgs, MetricListArgs, RecordArgs, RegionListArgs, wants_bom
from .db import get_db
from .negotiation import representation
from .resolve import to_filter
from .responses import CSV_TYPE, csv_chunks, envelope, export


@dataclass(frozen=True)
class ListResource:
    """What differs between two lists; everything else is serve()."""

    name: str                                          # also the export's file name: <name>.csv
    args: object                                       # its marshmallow argument schema
    formats: tuple[str, ...]
    resolve: Callable[[dict], tuple[object, dict]]     # parsed args -> (the query's filter, extra meta)
    page: Callable                                     # query.list_*(conn, filter, sort, limit, after, backwards, count)
    items: Callable[[object, list, object], list]      # (conn, rows of a page, filter) -> JSON items
    csv_columns: tuple[str, ...]
    csv_rows: Callable[[object, list], Iterable[dict]]  # (conn, a batch of rows) -> CSV rows
    features: Callable[[object, list], Iterable[dict]] | None = None  # (conn, a batch) -> GeoJSON features


# The whole-result exports as their own addresses (/api/v1/initiatives.csv): one media type per
# operation, which is what generated clients can read; ?format= on the list stays for people.
exports = Blueprint("exports", __name__)
EXPORT_ONLY_ARGS = ("format", "limit", "cursor")  # an export is the whole result in one format


def resource_blueprint(resource: ListResource, summary: str, prefix: str = "/api/v1") -> Blueprint:
    """The blueprint of a list resource at prefix/<name>, holding its list view; its exports join `exports`."""
    bp = Blueprint(resource.name, __name__, url_prefix=f"{prefix}/{resource.name}")
    add_route(bp, resource, summary)
    return bp


def record_route(bp: Blueprint, rule: str):
    """Register a view of one record at rule: view(conn, **path_values) -> Response, its arguments (format=json only)
    parsed and its ETag set as every route's (negotiation.representation)."""

    def register(view):
        @functools.wraps(view)
        def inner(args, fmt, **values):
            return view(get_db(), **values)

        bp.add_url_rule(rule, view.__name__, representation(RecordArgs(), "json")(inner), methods=["GET"])
        return view
    return register


def add_route(bp, resource: ListResource, summary: str) -> None:
    """Register the list view of resource at the blueprint's prefix, and its exports at <prefix>.<format>."""

    def register(target, rule, endpoint, args, formats, doc, fixed=False):
        @representation(args, *formats, fixed=fixed)
        def view(args, fmt):
            return serve(resource, args, fmt)

        view.__doc__ = doc
        target.add_url_rule(rule, endpoint, view, methods=["GET"])

    register(bp, "", f"list_{resource.name}", resource.args, resource.formats, summary)
    for fmt in resource.formats[1:]:
        register(exports, f"{bp.url_prefix}.{fmt}", f"export_{resource.name}_{fmt}",
                 export_args(resource, fmt), (fmt,), f"{summary.rstrip('.')}: the whole result as {fmt}.", fixed=True)


def export_args(resource: ListResource, fmt: str):
    """The arguments of a resource's export in fmt: its filters and sort, without format and paging (and bom for CSV
    only)."""
    return type(resource.args)(only=[f for f in resource.args.fields
                                     if f not in EXPORT_ONLY_ARGS and (f != "bom" or fmt == "csv")])


def sort_text(sort) -> str:
    """[('year', 'desc'), ('id', 'asc')] -> '-year,id', the form the client writes."""
    return ",".join(("-" if d == "desc" else "") + n for n, d in sort)


def serve(resource: ListResource, args: dict, fmt: str) -> Response:
    criteria, meta = resource.resolve(args)
    conn = get_db()
    sort = args["sort"]

    def page(limit, after=None, backwards=False, count=True):
        return resource.page(conn, criteria, sort, limit, after, backwards, count)

    bom = wants_bom(args, fmt)
    if fmt == "csv":  # the whole result, bounded (responses.export): a 200 is all of it, or a problem says why not
        rows = (row for batch in query.walk(lambda n, after: page(n, after, count=False))
                for row in resource.csv_rows(conn, batch))
        resp = export(csv_chunks(list(resource.csv_columns), rows, bom), "text/csv", fmt)
        resp.headers["Content-Type"] = CSV_TYPE
        resp.headers["Content-Disposition"] = f'attachment; filename="{resource.name}.csv"'
        return resp
    if fmt == "geojson":
        features = (f for batch in query.walk(lambda n, after: page(n, after, count=False))
                    for f in resource.features(conn, batch))
        return export(_feature_collection(features), "application/geo+json", fmt)
    result, items, around = page_of(resource, conn, args, criteria, cursors.query_fingerprint(request.args))
    return envelope(items, cursors.page_links(around), **page_meta(result, args, meta))


def page_of(resource: ListResource, conn, args: dict, criteria, fingerprint: str, secret: str | None = None):
    """One page of a list from its cursor: the page, its items as JSON, and the cursors around it (bound to
    fingerprint, signed with secret: None for the app's key). The REST list and the MCP tools page alike."""
    sort = args["sort"]
    result, around = cursors.cursor_page(
        args, lambda limit, after, backwards: resource.page(conn, criteria, sort, limit, after, backwards, True),
        query.key_length(sort), fingerprint, secret)
    return result, resource.items(conn, result.rows, criteria), around


def page_meta(result, args: dict, meta: dict) -> dict:
    """The envelope's meta for a page (after its count): total, total_exact, limit, sort, then what resolving the
    arguments reports (how each region was read, include_national)."""
    return {"total": result.total, "total_exact": result.total_exact, "limit": args["limit"], "sort": sort_text(args["sort"]),
            **meta}


def _feature_collection(features):
    texts = (json.dumps(f, ensure_ascii=False) for f in features)
    first = next(texts, None)  # the first chunk carries the first batch's query
    yield '{"type":"FeatureCollection","features":[' + (first or "")
    for text in texts:
        yield "," + text
    yield "]}"


# ---------------------------------------------------------------- the lists (the API's, and the pages' list of initiatives)

def _with_regions(conn, rows, build):
    regions = query.regions_of(conn, [r["n"] for r in rows])
    return [build(r, regions[r["n"]]) for r in rows]


INITIATIVES = ListResource(
    name="initiatives", args=InitiativeListArgs(), formats=("json", "csv", "geojson"),
    resolve=to_filter,
    page=query.list_initiatives,
    items=lambda conn, rows, f: _with_regions(conn, rows, lambda r, regs: shapes.initiative_brief(r, regs, f.terms)),
    csv_columns=shapes.INITIATIVE_CSV,
    csv_rows=lambda conn, rows: _with_regions(conn, rows, shapes.initiative_csv_row),
    features=lambda conn, rows: _with_regions(conn, rows, shapes.initiative_feature),
)


def _metric_items(conn, rows, f):
    regions = query.regions_of(conn, list({r["initiative_n"] for r in rows}))
    return [shapes.metric(r, r["initiative_id"], [shapes.region_brief(x) for x in regions[r["initiative_n"]]]) for r in rows]


METRICS = ListResource(
    name="metrics", args=MetricListArgs(), formats=("json", "csv"), resolve=to_filter,
    page=query.list_metrics, items=_metric_items,
    csv_columns=shapes.METRIC_CSV, csv_rows=lambda conn, rows: [shapes.metric_csv_row(r) for r in rows],
)


def _region_filter(args: dict):
    return query.RegionFilter(levels=tuple(args.get("level", ())), parent=args.get("parent"),
                                name_prefix=args.get("q"), has_initiatives=args.get("has_initiatives")), {}


REGIONS = ListResource(
    name="regions", args=RegionListArgs(), formats=("json", "csv"), resolve=_region_filter,
    page=query.list_regions, items=lambda conn, rows, f: [shapes.region_full(r) for r in rows],
    csv_columns=shapes.REGION_CSV, csv_rows=lambda conn, rows: rows,
)
