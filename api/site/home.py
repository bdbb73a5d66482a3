"""The landing page (GET /): what the dataset is, its numbers as server-drawn charts, the map, where to go next;
and the map page."""
from __future__ import annotations

import json

from flask import render_template, request

from .. import query
from ..web.args import parse
from ..web.db import get_db, get_snapshot, prepared
from . import discovery
from .downloads import DOWNLOADS
from .render import NO_ARGS, common, href, overview, page_response, pages, site

CHANGELOG_ROWS = 100  # the landing page's changelog table shows the first entries; /api/v1/changelog has them all

EXAMPLES = [
    ("/api/v1/initiatives?region=江苏&year=2025", "江苏省 2025 年的举措", "Jiangsu's initiatives in 2025"),
    ("/api/v1/initiatives?kind=hotline", "热线类举措", "Initiatives of kind hotline"),
    ("/api/v1/metrics?region=北京", "北京的数据指标", "Figures for Beijing"),
    ("/api/v1/initiatives?q=驿站", "全文搜索“驿站”", "Full-text search for 驿站 (station)"),
    ("/api/v1/initiatives?region=四川&format=csv", "四川省的举措（CSV 下载）", "Sichuan's initiatives as a CSV download"),
    ("/api/v1/facets", "按省份、年份、类型统计", "Counts by province, year and kind"),
]


# A chart is drawn at its own size (CSS px = viewBox units, never scaled down: it fits a 320 px screen), each bar's
# label on the line above it, so every label keeps its 12 px or more on a phone as on a desktop.
BAR_ROW, CHART_W, LABEL_H, COUNT_W = 40, 260, 16, 30


def chart(key: str, title_zh: str, title_en: str, bars: list[dict]) -> dict:
    """Lay out a horizontal bar chart: each bar gets y, width and its segments' x and width, in viewBox units."""
    top = 4
    most = max((b["count"] for b in bars), default=0) or 1
    span = CHART_W - COUNT_W
    for i, b in enumerate(bars):
        b["y"] = top + i * BAR_ROW
        b["width"] = round(span * b["count"] / most, 1)
        x = 0
        for seg in b.get("segments", []):
            seg["x"], seg["width"] = round(x, 1), round(span * seg["count"] / most, 1)
            x += span * seg["count"] / most
    return {"key": key, "title_zh": title_zh, "title_en": title_en, "bars": bars, "width": CHART_W,
            "height": top * 2 + BAR_ROW * len(bars), "label_h": LABEL_H, "total": sum(b["count"] for b in bars)}


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
        # The years of the acts first (the article's, then cited ones), then the year the article reports on.
        bar["segments"].sort(key=lambda seg: {"stated": 0, "cited": 1, "reported": 2}.get(seg["basis"], 3))
    kinds = [{"label_zh": r["name_zh"], "label_en": r["name_en"], "code": r["id"], "count": r["count"],
              "href": f"/initiatives?kind={r['id']}"} for r in facets["kind"]]
    return [
        chart("province", "各省份的举措", "Initiatives by province", provinces),
        chart("kind", "各类型的举措", "Initiatives by kind", kinds),
        chart("year", "各年份的举措", "Initiatives by year", list(years.values())),
    ]


@pages.get("/")
def index():
    """The landing page: what the dataset is, its numbers as charts, and where to go next."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    facets = overview(conn)
    meta = query.meta(conn)
    html = render_template(
        "index.html", **common(conn, meta), counts=query.counts(conn), provinces=len(facets["province"]),
        total=facets["total"], charts=charts(facets), href=href, examples=EXAMPLES, downloads=DOWNLOADS.values(),
        map=province_map(conn, facets), jsonld=discovery.script_json(discovery.dataset_jsonld(conn, meta, DOWNLOADS.values())),
        release_notes=(notes := query.release(conn)), changelog=query.changelog(conn, CHANGELOG_ROWS),
        changelog_size=query.changelog_size(conn),
        new_fields=[f for f in notes["fields_added"]  # each new field once: people, not people[].name_zh too
                    if "." not in f or f.rsplit(".", 1)[0].removesuffix("[]") not in notes["fields_added"]])
    return page_response(html)


# ---------------------------------------------------------------- the map

TILE, GAP, PAD = 62, 4, 2


# data/province-tiles.json as the build stored it: our own tile-grid layout (CC BY 4.0), a square per province.
TILES = prepared(("province-tiles",), lambda snap: json.loads(query.meta(snap.conn)["province_tiles"]))


def tile_layout(conn) -> dict:
    return TILES.of(get_snapshot())


def shade(count: int, most: int) -> int:
    """Four steps of colour: none, then thirds of the largest count."""
    if count <= 0:
        return 0
    return min(3, 1 + (3 * (count - 1)) // max(most, 1))


def legend(most: int) -> list[dict]:
    """Each shade with the counts it stands for (shade 0: none), for the map's legend: [{shade, low, high}]."""
    ranges: dict[int, list[int]] = {0: [0, 0]}
    for count in range(1, most + 1):
        ranges.setdefault(shade(count, most), [count, count])[1] = count
    return [{"shade": k, "low": lo, "high": hi} for k, (lo, hi) in sorted(ranges.items())]


def province_map(conn, facets: dict) -> dict:
    """The tile grid as the template draws it: a square per province of the gazetteer, its count, its link; the national ones apart."""
    layout = tile_layout(conn)
    provinces = {r["code"]: r for r in query.provinces(conn)}
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
    return {"tiles": tiles, "national": national, "national_href": "/initiatives?scope=national", "legend": legend(most),
            "width": PAD * 2 + layout["columns"] * (TILE + GAP) - GAP, "height": PAD * 2 + layout["rows"] * (TILE + GAP) - GAP,
            "layout": layout, "with_initiatives": sum(1 for t in tiles if t["count"])}


@site.get("/map")
def map_page():
    """Where things happened: a tile map of the provinces with their counts, each linking to its list."""
    parse(NO_ARGS, request.args)
    conn = get_db()
    html = render_template("map.html", **common(conn), map=province_map(conn, overview(conn)))
    return page_response(html)
