"""Pages for people: the landing page (GET /) with server-drawn charts and the bulk downloads under /downloads/ (bp);
the browsable list, a page per record, the annotated source and the map (site, whose errors are HTML pages)."""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.wsgi import wrap_file

from . import article, discovery, initiatives, pagination, queries, representations as rep, schemas
from .catalog import LICENCE, TITLE_EN, TITLE_ZH
from .conditional import strong_etag
from .db import DatasetUnavailable, QueryTimeout, get_db, get_snapshot
from .errors import RETRY_AFTER_SECONDS, Problem
from .http import HTML_ALTERNATES, csv_response
from .pagination import absolute, envelope

bp = Blueprint("pages", __name__)
site = Blueprint("site", __name__)  # the HTML pages: an error in one of them is an HTML page too (page_error)
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
    "people": ("人物", "People the article names, with their roles"),
    "outside_facts": ("文外事实", "Facts from outside the article, each with its cited source"),
    "changelog": ("变更记录", "What changed in each record since the previous release"),
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
    Download("province-tiles.json", "application/json", "省级瓦片图布局", "Our tile-grid layout of the provinces (the map), CC BY 4.0"),
]}
TABLE_OF = {t.filename: t.table for t in queries.PUBLIC_TABLES.values()}
META_FILES = {"datapackage.json": "datapackage", "metadata.json": "datasette_metadata", "province-tiles.json": "province_tiles"}
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
    """The pages' code (this module, the article and discovery modules, every template and static file of
    the pages), so a new template or stylesheet gets a new ETag under the same dataset."""
    h = hashlib.sha256()
    files = [Path(__file__), HERE / "article.py", HERE / "discovery.py",
             *sorted((HERE / "templates").glob("*.html")), *sorted(f for f in (HERE / "static").iterdir() if f.is_file())]
    for path in files:
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def page_response(html: str, *parts: str, status: int = 200) -> Response:
    """An HTML page; a 200 is tagged with the dataset version, the page's path and query, and the pages' code."""
    resp = Response(html, status=status, mimetype="text/html")
    if status == 200:
        items = sorted(request.args.items(multi=True))
        resp.headers["ETag"] = strong_etag(get_snapshot().version, f"{request.path}?{items}", page_digest(), *parts)
    else:
        resp.headers["Cache-Control"] = "no-store"  # as a problem+json is: an error is not kept
    return resp


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
                  "href": "/initiatives?scope=national"}] if national else []
    provinces += [{"label_zh": r["name_zh"], "label_en": r["name_en"], "code": r["code"], "count": r["count"],
                   "href": f"/initiatives?region={r['code']}"} for r in facets["province"]]
    years: dict = {}
    for r in facets["year"]:
        bar = years.setdefault(r["year"], {
            "label_zh": f"{r['year']} 年" if r["year"] is not None else "未知", "label_en": "" if r["year"] else "unknown",
            "code": str(r["year"] or ""), "count": 0, "segments": [],
            "href": f"/initiatives?year={r['year']}" if r["year"] is not None else "/initiatives"})
        bar["count"] += r["count"]
        bar["segments"].append({"basis": r["year_basis"], "count": r["count"]})
    for bar in years.values():
        # The article's own dates first, then the years inferred from the report.
        bar["segments"].sort(key=lambda seg: seg["basis"] != "stated")
    kinds = [{"label_zh": r["name_zh"], "label_en": r["name_en"], "code": r["id"], "count": r["count"],
              "href": f"/initiatives?kind={r['id']}"} for r in facets["kind"]]
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
    meta = queries.meta(conn)
    html = render_template(
        "index.html", **common(conn, meta), counts=queries.counts(conn), provinces=len(facets["province"]),
        total=facets["total"], charts=charts(facets), href=href, examples=EXAMPLES, downloads=DOWNLOADS.values(),
        map=province_map(conn, facets), jsonld=discovery.script_json(discovery.dataset_jsonld(conn, meta, DOWNLOADS.values())),
        release_notes=(notes := queries.release(conn)), changelog=queries.changelog(conn),
        new_fields=[f for f in notes["fields_added"]  # each new field once: people, not people[].name_zh too
                    if "." not in f or f.rsplit(".", 1)[0].removesuffix("[]") not in notes["fields_added"]])
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


# ---------------------------------------------------------------- the HTML pages (site)

SCOPE_LABELS = {"national": ("全国", "National"), "local": ("地方", "Local")}
YEAR_BASIS_LABELS = {
    "stated": ("原文写明年份", "the article states the year"),
    "reported": ("按报道年份（原文未写明）", "the year the article reports on; it does not state it"),
    "cited": ("据文外引用来源", "known from a cited outside source"),
    "unknown": ("年份不详", "the year is not known"),
}
MEASURE_LABELS = {
    "stock": ("存量", "stock: a total standing at the time of the report"),
    "flow": ("流量", "flow: counted over the period"),
    "change": ("变化率", "change: a rate of change"),
}
QUALIFIER_LABELS = {"exact": ("", ""), "more than": ("余", "more than"), "about": ("约", "about")}
# The list page takes the list's filters and paging; format is the API's business (its links are beside the results).
LIST_ARGS = schemas.InitiativeListArgs(only=[f for f in schemas.InitiativeListArgs().fields if f != "format"])
EXPORT_DROPS = ("cursor", "limit")  # what the CSV export of a selection does not take
NO_ARGS = schemas.RootArgs()
ID_MAX = 200


def facts(conn) -> dict:
    """What the pages read of the dataset as a whole (meta, sources, vocabularies, years), once per dataset version."""
    def compute():
        meta = queries.meta(conn)
        return {"meta": meta, "release": discovery.release_of(meta), "creators": discovery.creators(meta),
                "sources": [dict(s) for s in queries.sources(conn)],
                "kinds": {k["id"]: dict(k) for k in queries.kinds(conn)}, "themes": {t["id"]: dict(t) for t in queries.themes(conn)},
                "years": [r["year"] for r in queries.facets(conn, queries.Filter())["year"] if r["year"] is not None]}
    return get_snapshot().memo(("pages", "facts"), compute)


def common(conn, meta=None) -> dict:
    """What every page's layout shows: the titles, the dataset version (and its release, when the build records one), the licence."""
    f = facts(conn)
    return {"title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": get_snapshot().version,
            "release": f["release"], "meta": f["meta"], "creators": f["creators"], "licence": LICENCE, "sources": f["sources"]}


def labels(conn) -> dict:
    """Names of the vocabularies' ids, and the fixed labels, for the templates."""
    f = facts(conn)
    return {"kinds": f["kinds"], "themes": f["themes"],
            "scopes": SCOPE_LABELS, "bases": YEAR_BASIS_LABELS, "measures": MEASURE_LABELS, "qualifiers": QUALIFIER_LABELS}


def query_without(*names: str, **replace: str) -> str:
    """This request's query string (as pagination links carry it), without names, with replace's values put in."""
    parts = [p for p in pagination.raw_query().split("&") if p and p.split("=", 1)[0] not in names and
             p.split("=", 1)[0] not in replace]
    parts += [f"{k}={quote(v, safe='')}" for k, v in replace.items()]
    return "&".join(parts)


def with_query(path: str, query: str) -> str:
    return path + ("?" + query if query else "")


@site.get("/initiatives")
def initiative_list():
    """The initiatives as a page: the filter form, one keyset page of results, and the same selection in the API and as CSV."""
    raw = pagination.raw_query().split("&")
    kept = [p for p in raw if p and "=" in p and p.split("=", 1)[1] != ""]
    if len(kept) != len([p for p in raw if p]):
        # An empty form field means "any": the selection's address is the one without it (and so the API's).
        return redirect(with_query(request.path, "&".join(kept)), 303)
    conn = get_db()
    form = {k: ",".join(request.args.getlist(k)) for k in request.args}
    context = {**common(conn), **labels(conn), "form": form, "problem": None, "items": [], "page": None, "links": {},
               "regions": [], "api_url": with_query("/api/v1/initiatives", pagination.raw_query()),
               "csv_url": with_query("/api/v1/initiatives.csv", query_without(*EXPORT_DROPS)), "years": facts(conn)["years"]}
    try:
        args = pagination_args = schemas.parse(LIST_ARGS, request.args)
        criteria, meta = initiatives.INITIATIVES.resolve(args)
        page, links = pagination.run_page(
            pagination_args, lambda limit, after, backwards: initiatives.INITIATIVES.page(
                conn, criteria, args["sort"], limit, after, backwards), queries.key_length(args["sort"]))
    except Problem as problem:
        context["problem"] = problem_view(problem)
        return page_response(render_template("initiatives.html", **context), status=problem.status)
    context.update(items=initiatives.INITIATIVES.items(conn, page.rows, criteria), page=page, links=links,
                   regions=queries.regions_by_codes(conn, criteria.regions) if criteria.regions else [])
    return page_response(render_template("initiatives.html", **context))




def problem_view(problem: Problem) -> dict:
    """A 400 on the list page, for the template: the API's message, and for a region its suggestions as links to try."""
    choices = problem.extra.get("suggestions") or problem.extra.get("candidates") or []
    return {"status": problem.status, "kind": problem.kind, "detail": problem.detail, "errors": problem.errors or {},
            "choices": [{**c, "href": with_query("/initiatives", query_without("cursor", region=c["code"]))} for c in choices]}


def record_view(conn, row) -> dict:
    """One record as the API gives it (initiatives.get_initiative: representations.initiative_full from the same queries)."""
    regions = [rep.region_with_chain(r, queries.region_chain(conn, r["code"]))
               for r in queries.regions_of(conn, [row["n"]])[row["n"]]]
    return rep.initiative_full(row, regions, queries.metrics_of(conn, row["n"]), queries.evidence_of(conn, row["n"]))


def evidence_in_context(conn, record: dict) -> list[dict]:
    """Each paragraph of the article holding a quote of this record, cut into segments with the record's quotes marked.

    A paragraph with two of the record's quotes is shown once, with both marked."""
    sources = {s["id"]: s for s in facts(conn)["sources"]}
    blocks: dict = {}
    for i, e in enumerate(record["evidence"], start=1):
        source = sources[e["source"]["id"]]
        _, paragraphs = article.load(source)
        for p in article.containing(paragraphs, e["start"], e["end"]):
            block = blocks.setdefault((source["id"], p.number), {"source": source, "paragraph": p, "spans": [], "quotes": []})
            block["spans"].append(article.Span(e["start"], e["end"], i))
            block["quotes"].append(i)
    out = []
    for block in blocks.values():
        out.append({**block, "segments": article.segments(block["paragraph"], block["spans"])})
    return out


@site.get("/initiatives/<string:initiative_id>")
def initiative_page(initiative_id: str):
    """One record as a page: everything the API's record holds, each quote inside its paragraph, and how to cite it."""
    schemas.parse(NO_ARGS, request.args)
    conn = get_db()
    row = queries.initiative_by_id(conn, initiative_id) if len(initiative_id) <= ID_MAX else None
    if row is None and len(initiative_id) <= ID_MAX and (current := queries.redirected_id(conn, initiative_id)):
        return redirect(absolute(f"/initiatives/{current}"), 301)  # a renamed record: its old id keeps resolving
    if row is None:
        raise Problem(404, "not-found", f"There is no initiative with id {initiative_id[:ID_MAX]!r}.")
    record = record_view(conn, row)
    ctx = common(conn)
    page_url = absolute(f"/initiatives/{row['id']}")
    html = render_template("initiative.html", **ctx, **labels(conn), record=record, page_url=page_url,
                           contexts=evidence_in_context(conn, record),
                           cite=discovery.citation(record, page_url, ctx["version"], ctx["release"], ctx["creators"]))
    return page_response(html)


HTML_ALTERNATES["initiatives.get_initiative"] = lambda values: f"/initiatives/{values['initiative_id']}"


def _source(source_id: str):
    """The request's connection and the source named in the path (no query arguments are taken), or a 404."""
    schemas.parse(NO_ARGS, request.args)
    conn = get_db()
    source = next((s for s in facts(conn)["sources"] if s["id"] == source_id), None)
    if source is None:
        raise Problem(404, "not-found", f"There is no source with id {source_id[:ID_MAX]!r}.")
    return conn, source


@site.get("/sources/<string:source_id>")
def source_page(source_id: str):
    """The source as published, every quoted span marked and linked to the records that quote it."""
    conn, source = _source(source_id)
    text, paragraphs = article.load(source)
    quotes = queries.evidence_in_source(conn, source_id)
    spans = [article.Span(q["start"], q["end"], q) for q in quotes]
    headings = {t["start"] for t in facts(conn)["themes"].values() if t["source"] == source_id}
    body = [{"paragraph": p, "heading": p.start in headings, "segments": article.segments(p, spans)} for p in paragraphs]
    quoted = {(q["start"], q["end"]) for q in quotes}
    html = render_template("source.html", **common(conn), source=source, body=body, quotes=quotes,
                           spans=len(quoted), records=len({q["initiative_id"] for q in quotes}), characters=len(text))
    return page_response(html)


@site.get("/sources/<string:source_id>.txt")
def source_text(source_id: str):
    """The source's text, byte for byte as the dataset's offsets count it, with its sha256 (RFC 9530 Repr-Digest)."""
    conn, source = _source(source_id)
    text, _ = article.load(source)
    resp = Response(text.encode("utf-8"), mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Repr-Digest"] = "sha-256=:" + base64.b64encode(bytes.fromhex(source["sha256"])).decode() + ":"
    resp.headers["X-Source-SHA256"] = source["sha256"]
    resp.headers["ETag"] = strong_etag(get_snapshot().version, request.path, source["sha256"])
    return resp


# ---------------------------------------------------------------- the map

TILE, GAP, PAD = 62, 4, 2


def tile_layout(conn) -> dict:
    """data/province-tiles.json as the build stored it: our own tile-grid layout (CC BY 4.0), a square per province."""
    return get_snapshot().memo(("province-tiles",), lambda: json.loads(queries.meta(conn)["province_tiles"]))


def shade(count: int, most: int) -> int:
    """Four steps of colour: none, then thirds of the largest count."""
    if count <= 0:
        return 0
    return min(3, 1 + (3 * (count - 1)) // max(most, 1))


def province_map(conn, facets: dict) -> dict:
    """The tile grid as the template draws it: a square per province of the gazetteer, its count, its link; the national ones apart."""
    layout = tile_layout(conn)
    provinces = {r["code"]: r for r in queries.provinces(conn)}
    most = max((r["initiative_count"] for r in provinces.values()), default=0)
    tiles = []
    for t in layout["tiles"]:
        row = provinces.get(t["code"])
        if row is None:
            continue  # a layout square for a division the gazetteer does not hold: nothing to count or link
        x, y = PAD + t["col"] * (TILE + GAP), PAD + t["row"] * (TILE + GAP)
        tiles.append({"code": row["code"], "name_zh": row["name_zh"], "name_en": row["name_en"], "short_zh": t["short_zh"],
                      "count": row["initiative_count"], "shade": shade(row["initiative_count"], most),
                      "x": x, "y": y, "size": TILE, "href": f"/initiatives?region={row['code']}"})
    national = sum(s["count"] for s in facets["scope"] if s["id"] == "national")
    return {"tiles": tiles, "national": national, "national_href": "/initiatives?scope=national",
            "width": PAD * 2 + layout["columns"] * (TILE + GAP) - GAP, "height": PAD * 2 + layout["rows"] * (TILE + GAP) - GAP,
            "layout": layout, "with_initiatives": sum(1 for t in tiles if t["count"])}


@site.get("/map")
def map_page():
    """Where things happened: a tile map of the provinces with their counts, each linking to its list."""
    schemas.parse(NO_ARGS, request.args)
    conn = get_db()
    html = render_template("map.html", **common(conn), map=province_map(conn, queries.facets(conn, queries.Filter())))
    return page_response(html)


# ---------------------------------------------------------------- errors on a page are pages

ERROR_TITLES = {400: ("请求有误", "Bad request"), 404: ("找不到该页面", "Not found"),
                503: ("暂时无法提供服务", "Service unavailable")}


def error_page(status: int, detail: str, headers: dict | None = None) -> Response:
    conn = None
    try:
        conn = get_db()
        ctx = common(conn)
    except (DatasetUnavailable, QueryTimeout):
        ctx = {"title_zh": TITLE_ZH, "title_en": TITLE_EN, "version": None, "release": None, "meta": {},
               "licence": LICENCE, "sources": []}
    title = ERROR_TITLES.get(status, ERROR_TITLES[400])
    resp = page_response(render_template("error.html", **ctx, status=status, error_zh=title[0], error_en=title[1],
                                         detail=detail), status=status)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


@site.errorhandler(Problem)
def page_problem(exc: Problem):
    return error_page(exc.status, exc.detail, exc.headers)


@site.errorhandler(QueryTimeout)
def page_timeout(exc):
    return error_page(503, "This page took longer than the server allows. Try again in a moment.",
                      {"Retry-After": RETRY_AFTER_SECONDS})


@site.errorhandler(DatasetUnavailable)
def page_unavailable(exc):
    return error_page(503, "The dataset is not built yet.", {"Retry-After": "30"})
