"""Pages for people: the landing page (GET /) with server-drawn charts, and the bulk downloads under /downloads/."""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.wsgi import wrap_file

from . import queries
from .catalog import LICENCE, TITLE_EN, TITLE_ZH
from .conditional import strong_etag
from .db import get_db, get_snapshot
from .errors import Problem
from .http import csv_response
from .pagination import absolute, envelope

bp = Blueprint("pages", __name__)
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Download:
    name: str
    media_type: str
    title_zh: str
    title_en: str


CSV = "text/csv; charset=utf-8; header=present"
_TABLE_TITLES = {
    "initiatives": ("举措（数据表）", "Initiatives, one row each: table initiatives of socialwork.db"),
    "initiative_regions": ("举措与地区", "Which regions each initiative names, in order"),
    "metrics": ("数据指标（数据表）", "Figures the article reports, typed with units: table metrics"),
    "evidence": ("原文引语", "Verbatim quotes with offsets into the article"),
    "regions": ("行政区划", "GB/T 2260 divisions with centroids"),
    "region_aliases": ("旧行政区划代码", "Retired division codes and their successors"),
    "kinds": ("举措类型", "Kinds of initiative"),
    "themes": ("主题", "The article's themes"),
    "sources": ("来源", "Source documents"),
}
# The whitelist: nothing outside it is ever read, whatever the URL says. Each table's file name is queries.PUBLIC_TABLES'.
DOWNLOADS = {d.name: d for d in [
    *(Download(t.filename, CSV, *_TABLE_TITLES[t.table]) for t in queries.PUBLIC_TABLES.values()),
    Download("socialwork.db", "application/vnd.sqlite3", "SQLite 数据库", "The whole dataset as one SQLite file"),
    Download("datapackage.json", "application/json", "数据包描述", "Frictionless Data Package descriptor of these files"),
    Download("metadata.json", "application/json", "Datasette 元数据", "Datasette metadata: datasette socialwork.db -m metadata.json"),
]}
TABLE_OF = {t.filename: t.table for t in queries.PUBLIC_TABLES.values()}
META_FILES = {"datapackage.json": "datapackage", "metadata.json": "datasette_metadata"}
BOM = {"1": True, "true": True, "0": False, "false": False}

EXAMPLES = [
    ("/api/v1/initiatives?region=江苏&year=2025", "江苏省 2025 年的举措", "Jiangsu's initiatives in 2025"),
    ("/api/v1/initiatives?kind=hotline", "热线类举措", "Initiatives of kind hotline"),
    ("/api/v1/metrics?region=北京", "北京的数据指标", "Figures for Beijing"),
    ("/api/v1/initiatives?q=驿站", "全文搜索“驿站”", "Full-text search for 驿站 (station)"),
    ("/api/v1/initiatives?region=四川&format=csv", "四川省的举措（CSV 下载）", "Sichuan's initiatives as a CSV download"),
    ("/api/v1/facets", "按省份、年份、类型统计", "Counts by province, year and kind"),
]


def href(url: str) -> str:
    """A URL as it goes in an href: UTF-8 percent-encoded, query syntax kept."""
    return quote(url, safe="/?=&,:")


@functools.lru_cache(maxsize=1)
def page_digest() -> str:
    """The landing page's code, so a new template or stylesheet gets a new ETag under the same dataset."""
    h = hashlib.sha256()
    for path in (Path(__file__), HERE / "templates" / "index.html", HERE / "static" / "site.css",
                 HERE / "static" / "favicon.svg"):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------- landing page

BAR_ROW, CHART_W, LABEL_W, COUNT_W = 30, 400, 128, 34


def chart(key: str, title_zh: str, title_en: str, bars: list[dict]) -> dict:
    """Lay out a horizontal bar chart: each bar gets y, width and its segments' x and width, in viewBox units."""
    top = 8
    most = max((b["count"] for b in bars), default=0) or 1
    span = CHART_W - LABEL_W - COUNT_W
    for i, b in enumerate(bars):
        b["y"] = top + i * BAR_ROW
        b["width"] = round(span * b["count"] / most, 1)
        x = LABEL_W
        for seg in b.get("segments", []):
            seg["x"], seg["width"] = round(x, 1), round(span * seg["count"] / most, 1)
            x += span * seg["count"] / most
    return {"key": key, "title_zh": title_zh, "title_en": title_en, "bars": bars, "width": CHART_W,
            "height": top * 2 + BAR_ROW * len(bars), "label_w": LABEL_W, "total": sum(b["count"] for b in bars)}


def charts(facets: dict) -> list[dict]:
    national = sum(r["count"] for r in facets["scope"] if r["id"] == "national")
    provinces = [{"label_zh": "全国", "label_en": "National", "code": "national", "count": national,
                  "href": "/api/v1/initiatives?scope=national"}] if national else []
    provinces += [{"label_zh": r["name_zh"], "label_en": r["name_en"], "code": r["code"], "count": r["count"],
                   "href": f"/api/v1/initiatives?region={r['code']}"} for r in facets["province"]]
    years: dict = {}
    for r in facets["year"]:
        bar = years.setdefault(r["year"], {
            "label_zh": f"{r['year']} 年" if r["year"] is not None else "未知", "label_en": "" if r["year"] else "unknown",
            "code": str(r["year"] or ""), "count": 0, "segments": [],
            "href": f"/api/v1/initiatives?year={r['year']}" if r["year"] is not None else "/api/v1/initiatives"})
        bar["count"] += r["count"]
        bar["segments"].append({"basis": r["year_basis"], "count": r["count"]})
    for bar in years.values():
        # The article's own dates first, then the years inferred from the report.
        bar["segments"].sort(key=lambda seg: seg["basis"] != "stated")
    kinds = [{"label_zh": r["name_zh"], "label_en": r["name_en"], "code": r["id"], "count": r["count"],
              "href": f"/api/v1/initiatives?kind={r['id']}"} for r in facets["kind"]]
    return [
        chart("province", "各省份的举措", "Initiatives by province", provinces),
        chart("kind", "各类型的举措", "Initiatives by kind", kinds),
        chart("year", "各年份的举措", "Initiatives by year", list(years.values())),
    ]


@bp.get("/")
def index():
    """The landing page: what the dataset is, its numbers as charts, and where to go next."""
    snap = get_snapshot()
    conn = get_db()
    facets = queries.facets(conn, queries.Filter())
    html = render_template(
        "index.html", title_zh=TITLE_ZH, title_en=TITLE_EN, version=snap.version, meta=queries.meta(conn),
        licence=LICENCE, counts=queries.counts(conn), provinces=len(facets["province"]), total=facets["total"],
        sources=queries.sources(conn), charts=charts(facets), href=href,
        examples=EXAMPLES, downloads=DOWNLOADS.values())
    resp = Response(html, mimetype="text/html")
    resp.headers["ETag"] = strong_etag(snap.version, "/", page_digest())
    return resp


# ---------------------------------------------------------------- downloads

@bp.get("/downloads/")
def downloads():
    """List the bulk downloads as JSON."""
    version = get_snapshot().version
    data = [{"name": d.name, "url": absolute(f"/downloads/{d.name}"), "media_type": d.media_type,
             "title_zh": d.title_zh, "title_en": d.title_en} for d in DOWNLOADS.values()]
    links = {"self": absolute("/downloads/"), "home": absolute("/"), "api": absolute("/api/v1")}
    resp = envelope(data, links, total=len(data), version=version)
    resp.headers["ETag"] = strong_etag(version, "/downloads/")
    return resp


@bp.get("/downloads/<name>")
def download(name: str):
    """Send one whitelisted file: a table as CSV (?bom=1: with a UTF-8 byte order mark, for Excel), the SQLite
    database, datapackage.json or Datasette's metadata.json."""
    item = DOWNLOADS.get(name)
    if item is None:
        raise Problem(404, "not-found", f"There is no download called {name[:100]!r}. GET /downloads/ lists them.")
    snap = get_snapshot()
    bom = BOM.get(request.args.get("bom", "0").strip().lower())
    if bom is None:
        raise Problem(400, "invalid-parameter", "bom: must be one of 1, true, 0, false.",
                      errors={"bom": ["must be one of 1, true, 0, false"]})
    if name in META_FILES:
        # The copies the build made from the tables it wrote, so they always match the version served.
        resp = Response(queries.meta(get_db())[META_FILES[name]], mimetype="application/json")
    elif name == "socialwork.db":
        resp = database_file(snap)
    else:
        columns, rows = queries.table_rows(get_db(), TABLE_OF[name])
        resp = csv_response(columns, rows, name, bom=bom)
    resp.headers["Content-Type"] = item.media_type
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    bom_variant = bom and name in TABLE_OF
    resp.headers["ETag"] = strong_etag(snap.version, "/downloads/" + name, *(["bom"] if bom_variant else []))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def database_file(snap) -> Response:
    """Stream the database file the request's snapshot reads from, opened once (a rebuild renames a new file over the path)."""
    f = open(current_app.config["DATABASE"], "rb")
    st = os.fstat(f.fileno())
    if (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size) != snap.ident:
        # Renamed over in the last second: the version in hand is not this file's.
        f.close()
        raise Problem(503, "service-unavailable", "The dataset is being replaced; try again in a moment.",
                      headers={"Retry-After": "1"})
    resp = Response(wrap_file(request.environ, f), mimetype="application/vnd.sqlite3", direct_passthrough=True)
    resp.content_length = st.st_size
    resp.last_modified = st.st_mtime
    try:
        resp.make_conditional(request, accept_ranges=True, complete_length=st.st_size)
    except Exception:  # 416 for a range outside the file: nobody will read it, so close it now
        f.close()
        raise
    return resp
