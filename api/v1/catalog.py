"""/api/v1 itself, the vocabularies, the sources and the facet counts."""
from __future__ import annotations

from flask import Blueprint

from .. import query
from ..dataset.about import LICENCE, TITLE_EN, TITLE_ZH
from ..dataset.tables import PUBLIC_TABLES
from ..web.args import FacetArgs, RootArgs, VocabularyArgs, wants_bom
from ..web.db import get_db, get_snapshot
from ..web.errors import DESCRIPTIONS, PROBLEM_BASE, TITLES, Problem
from ..web.listing import record_route
from ..web.negotiation import representation
from ..web.resolve import to_filter
from ..web.responses import csv_response, envelope, json_response
from ..web.shapes import CHANGELOG_CSV, changelog_entry, facet_counts, source_record
from ..web.urls import absolute, self_link

bp = Blueprint("catalog", __name__, url_prefix="/api/v1")
ROOT_ARGS, VOCAB_ARGS, FACET_ARGS = RootArgs(), VocabularyArgs(), FacetArgs()
ROOT_LINKS = {"initiatives": "/api/v1/initiatives", "regions": "/api/v1/regions", "metrics": "/api/v1/metrics",
              "facets": "/api/v1/facets", "kinds": "/api/v1/kinds", "themes": "/api/v1/themes",
              "sources": "/api/v1/sources", "changelog": "/api/v1/changelog", "problems": "/api/v1/problems",
              "openapi": "/openapi.yaml",
              "docs": "/apidocs/"}


@bp.get("")
@representation(ROOT_ARGS, "json")
def root(args, fmt):
    """Describe the dataset and link to every resource."""
    conn = get_db()
    meta = query.meta(conn)
    return json_response({
        "title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": get_snapshot().version, "release": query.release(conn),
        "regions_as_of": meta.get("regions_as_of"), "licence": LICENCE, "counts": query.counts(conn),
        "sources": [{"id": s["id"], "title_zh": s["title_zh"], "title_en": s["title_en"], "publisher_zh": s["publisher_zh"],
                     "publisher_en": s["publisher_en"], "published": s["published"]} for s in query.sources(conn)],
        "links": {name: absolute(path) for name, path in ROOT_LINKS.items()},
    })


def _vocabulary(args, fmt, rows, table: str):
    """A vocabulary as JSON or CSV, in the columns (and under the file name) of its download: one name, one shape."""
    columns = list(PUBLIC_TABLES[table].columns)
    bom = wants_bom(args, fmt)
    if fmt == "csv":
        return csv_response(columns, (dict(r) for r in rows), PUBLIC_TABLES[table].filename, bom=bom)
    data = [{c: r[c] for c in columns} for r in rows]
    return envelope(data, {"self": self_link()}, total=len(data))


# The vocabularies, each a route of its own name: /api/v1/kinds, /themes, /sources (JSON or CSV).
VOCABULARIES = {"kinds": ("List the kinds of initiative.", query.kinds), "themes": ("List the article's themes.", query.themes),
                "sources": ("List the source documents.", query.sources)}


def _vocabulary_route(table: str, summary: str, rows) -> None:
    def view(args, fmt):
        return _vocabulary(args, fmt, rows(get_db()), table)

    view.__doc__ = summary
    bp.add_url_rule(f"/{table}", table, representation(VOCAB_ARGS, "json", "csv")(view), methods=["GET"])


for _table, (_summary, _rows) in VOCABULARIES.items():
    _vocabulary_route(_table, _summary, _rows)


@record_route(bp, "/sources/<string:source_id>")
def get_source(conn, source_id):
    """Get one source document: what /api/v1/sources lists of it, and the URLs of its text and its page."""
    row = next((s for s in query.sources(conn) if s["id"] == source_id), None)
    if row is None:
        raise Problem(404, "not-found", f"There is no source {source_id[:100]!r}. GET /api/v1/sources lists them.")
    return json_response(source_record(row))


@bp.get("/changelog")
@representation(VOCAB_ARGS, "json", "csv")
def changelog(args, fmt):
    """List what changed in each record since the previous release."""
    conn = get_db()
    rows = [changelog_entry(r) for r in query.changelog(conn)]
    bom = wants_bom(args, fmt)
    if fmt == "csv":
        return csv_response(CHANGELOG_CSV, rows, PUBLIC_TABLES["changelog"].filename, bom=bom)
    return envelope(rows, {"self": self_link()}, total=len(rows), release=query.release(conn))


@bp.get("/facets")
@representation(FACET_ARGS, "json")
def facets(args, fmt):
    """Count initiatives by province, year, kind, theme and scope."""
    f, meta = to_filter(args)
    result = query.facets(get_db(), f)
    total = result.pop("total")
    return envelope(facet_counts(result),
                    {"self": self_link(), "initiatives": self_link("/api/v1/initiatives")}, total=total, **meta)


def _problem_type(kind: str) -> dict:
    status, description = DESCRIPTIONS[kind]
    return {"type": PROBLEM_BASE + kind, "id": kind, "title": TITLES[kind], "status": status, "description": description}


@bp.get("/problems")
@representation(ROOT_ARGS, "json")
def problem_types(args, fmt):
    """List the problem types errors refer to."""
    data = [_problem_type(k) for k in sorted(DESCRIPTIONS)]
    return envelope(data, {"self": self_link()}, total=len(data))


@bp.get("/problems/<string:kind>")
@representation(ROOT_ARGS, "json")
def problem_type(args, fmt, kind):
    """Describe one problem type: what it means and what to do."""
    if kind not in DESCRIPTIONS:
        raise Problem(404, "not-found", f"There is no problem type {kind[:100]!r}. GET /api/v1/problems lists them.")
    return json_response(_problem_type(kind))
