"""/api/v1 itself, the vocabularies, the sources and the facet counts."""
from __future__ import annotations

from flask import Blueprint

from . import queries, schemas
from .db import get_db, get_snapshot
from .errors import DESCRIPTIONS, PROBLEM_BASE, TITLES, Problem
from .filters import to_filter
from .http import csv_response, json_response, representation
from .pagination import absolute, envelope, self_link
from .representations import joined_list

bp = Blueprint("catalog", __name__, url_prefix="/api/v1")
ROOT_ARGS, VOCAB_ARGS, FACET_ARGS = schemas.RootArgs(), schemas.VocabularyArgs(), schemas.FacetArgs()
KIND_COLUMNS = ["id", "name_zh", "name_en", "definition_zh", "definition_en", "initiative_count"]
THEME_COLUMNS = ["id", "order", "name_zh", "name_en", "source", "start", "end", "initiative_count"]
SOURCE_COLUMNS = ["id", "title_zh", "title_en", "publisher_zh", "publisher_en", "dateline_zh", "dateline_en",
                  "published", "language", "sha256", "licence", "initiative_count"]
TITLE_ZH = "中国社会工作举措开放数据(2025)"
TITLE_EN = "China social-work initiatives, open data (2025)"
LICENCE = {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/",
           "note": "Our curation is CC BY 4.0. The article's copyright stays with its publisher; quotes are short excerpts for attribution."}

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
    meta = queries.meta(conn)
    return json_response({
        "title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": get_snapshot().version, "release": queries.release(conn),
        "regions_as_of": meta.get("regions_as_of"), "licence": LICENCE, "counts": queries.counts(conn),
        "sources": [{"id": s["id"], "title_zh": s["title_zh"], "title_en": s["title_en"], "publisher_zh": s["publisher_zh"],
                     "publisher_en": s["publisher_en"], "published": s["published"]} for s in queries.sources(conn)],
        "links": {name: absolute(path) for name, path in ROOT_LINKS.items()},
    })


def _vocabulary(fmt, rows, columns, filename):
    if fmt == "csv":
        return csv_response(columns, (dict(r) for r in rows), filename)
    data = [{c: r[c] for c in columns} for r in rows]
    return envelope(data, {"self": self_link()}, total=len(data))


@bp.get("/kinds")
@representation(VOCAB_ARGS, "json", "csv")
def kinds(args, fmt):
    """List the kinds of initiative."""
    return _vocabulary(fmt, queries.kinds(get_db()), KIND_COLUMNS, "kinds.csv")


@bp.get("/themes")
@representation(VOCAB_ARGS, "json", "csv")
def themes(args, fmt):
    """List the article's themes."""
    return _vocabulary(fmt, queries.themes(get_db()), THEME_COLUMNS, "themes.csv")


@bp.get("/sources")
@representation(VOCAB_ARGS, "json", "csv")
def sources(args, fmt):
    """List the source documents."""
    return _vocabulary(fmt, queries.sources(get_db()), SOURCE_COLUMNS, "sources.csv")


CHANGELOG_COLUMNS = list(queries.PUBLIC_TABLES["changelog"].columns)  # /downloads/changelog.csv: one name, one shape


@bp.get("/changelog")
@representation(VOCAB_ARGS, "json", "csv")
def changelog(args, fmt):
    """List what changed in each record since the previous release."""
    conn = get_db()
    rows = [{**{c: r[c] for c in CHANGELOG_COLUMNS}, "fields": joined_list(r["fields"]),
             "url": absolute(f"/api/v1/initiatives/{r['initiative_id']}") if r["change"] != "removed" else None}
            for r in queries.changelog(conn)]
    if fmt == "csv":
        return csv_response(CHANGELOG_COLUMNS, rows, "changelog.csv")
    return envelope(rows, {"self": self_link()}, total=len(rows), release=queries.release(conn))


@bp.get("/facets")
@representation(FACET_ARGS, "json")
def facets(args, fmt):
    """Count initiatives by province, year, kind, theme and scope."""
    f, meta = to_filter(args)
    result = queries.facets(get_db(), f)
    total = result.pop("total")
    return envelope({k: [dict(r) for r in rows] for k, rows in result.items()},
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
