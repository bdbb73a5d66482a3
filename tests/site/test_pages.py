"""The landing page and the bulk downloads as a client sees them: HTML, charts, links, files, ETags and traversal."""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import sqlite3
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.app import create_app
from api.v1 import contract as docs

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL_LINKS = {"https://creativecommons.org/licenses/by/4.0/"}  # the licence; nothing else leaves the site


class Page(HTMLParser):
    """Collect what the tests look at: links, ids, charts with their bars, and the text of each bar's count."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.links, self.ids, self.charts = [], set(), {}
        self._chart = self._bar = self._count = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("a", "link") and "href" in a:
            self.links.append(a["href"])
        if tag == "svg" and "data-chart" in a:
            self._chart = self.charts[a["data-chart"]] = {"aria-label": a.get("aria-label"), "bars": []}
        if tag == "g" and "bar" in a.get("class", "").split() and self._chart is not None:
            self._bar = {"label": a["data-label"], "code": a["data-code"], "count": int(a["data-count"]), "text": None}
            self._chart["bars"].append(self._bar)
        if tag == "text" and a.get("class") == "count":
            self._count = True

    def handle_endtag(self, tag):
        if tag == "svg":
            self._chart = None
        if tag == "text":
            self._count = None

    def handle_data(self, data):
        if self._count and self._bar is not None:
            self._bar["text"] = data.strip()


def fetch(client, url, method="GET", **kw):
    """One whole request: the body read and the response closed (file-backed bodies hold the file open until then)."""
    resp = client.open(url, method=method, **kw)
    resp.get_data()
    resp.close()
    return resp


@pytest.fixture()
def landing(app):
    resp = fetch(app.test_client(), "/")
    return resp, Page(resp.get_data(as_text=True))


@pytest.fixture()
def dataset(app):
    return app.test_client().get("/api/v1").get_json()


@pytest.fixture()
def facets(app):
    return app.test_client().get("/api/v1/facets").get_json()["data"]


# --- the landing page ---------------------------------------------------------------------------

def test_landing_page_is_html_with_security_headers(landing):
    resp, _ = landing
    assert resp.status_code == 200
    assert (resp.mimetype, resp.mimetype_params["charset"]) == ("text/html", "utf-8")
    csp = resp.headers["Content-Security-Policy"]
    assert [d for d in ("default-src 'self'", "frame-ancestors 'none'") if d not in csp] == [], csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize("text", [
    '<html lang="zh-Hans">', '<meta name="viewport"', "中国社会工作举措开放数据", "China social-work initiatives",
    "凝心聚力推动社会工作高质量发展", "新华社", "Xinhua News Agency", "2026-01-25", "CC BY 4.0",
    "原文版权归新华社所有", "copyright stays",
])
def test_landing_page_says_what_the_dataset_is(landing, text):
    assert text in landing[0].get_data(as_text=True)


def test_landing_page_shows_the_version_and_counts_of_api_v1(landing, dataset):
    _, page = landing
    body = landing[0].get_data(as_text=True)
    assert f'<code class="version">{dataset["version"]}</code>' in body
    for element, key in [("count-initiatives", "initiatives"), ("count-regions", "regions_with_initiatives"),
                         ("count-metrics", "metrics"), ("count-quotes", "quotes")]:
        assert f'data-count="{dataset["counts"][key]}" id="{element}"' in body


def bars_from_facets(facets) -> dict[str, list[tuple[str, int]]]:
    """The (label, count) bars of each chart as /api/v1/facets counts them: the province chart starts with the
    national initiatives, the year chart adds up the year_basis rows of each year."""
    years: dict = {}
    for r in facets["year"]:
        years[r["year"]] = years.get(r["year"], 0) + r["count"]
    return {
        "province": [("全国", sum(s["count"] for s in facets["scope"] if s["id"] == "national"))]
                    + [(r["name_zh"], r["count"]) for r in facets["province"]],
        "kind": [(r["name_zh"], r["count"]) for r in facets["kind"]],
        "year": [(f"{y} 年" if y is not None else "未知", c) for y, c in years.items()],   # the page says 未知 for no year
    }


# (chart, its bars as (label, count)); the province bars add up to more than 17 local initiatives because one is in two.
CHARTS = [
    ("province", [("全国", 28), ("江苏省", 3), ("浙江省", 3), ("四川省", 3), ("福建省", 2), ("北京市", 1), ("辽宁省", 1),
                  ("吉林省", 1), ("湖北省", 1), ("广东省", 1), ("云南省", 1), ("甘肃省", 1)]),
    ("kind", [("政策制度", 13), ("党建", 5), ("社区服务", 4), ("专项行动", 3), ("志愿服务项目", 3), ("会议活动", 2), ("考试", 2),
              ("诉求渠道", 2), ("法律", 2), ("服务站点", 2), ("建议征集平台", 2), ("学院", 1), ("基金", 1), ("热线", 1),
              ("试点", 1), ("培训培养", 1)]),
    ("year", [("2026 年", 2), ("2025 年", 41), ("未知", 2)]),
]


@pytest.mark.parametrize("chart, expected", CHARTS, ids=[c[0] for c in CHARTS])
def test_charts_carry_the_facet_counts(landing, facets, chart, expected):
    _, page = landing
    drawn = page.charts[chart]
    assert drawn["aria-label"]
    assert [(b["label"], b["count"]) for b in drawn["bars"]] == expected
    assert [b["text"] for b in drawn["bars"]] == [str(count) for _, count in expected], "each bar shows its count as SVG text"
    assert bars_from_facets(facets)[chart] == expected, "the API's facets count what the chart draws"


def test_every_link_on_the_landing_page_answers(landing, client):
    _, page = landing
    checked = 0
    for href in page.links:
        if href.startswith("#"):
            assert href[1:] in page.ids, href
        elif urlsplit(href).scheme and not href.startswith("http://localhost/"):  # the canonical link: this site's
            assert href in EXTERNAL_LINKS, f"a link leaves the site: {href}"
        else:
            resp = fetch(client, href.removeprefix("http://localhost"))
            assert resp.status_code == 200, (href, resp.status_code, resp.get_data(as_text=True)[:200])
            checked += 1
    assert checked >= 30  # nav, examples, every bar, every download


def test_swagger_ui_gets_a_policy_that_lets_it_run_and_no_inline_code(client):
    resp = fetch(client, "/apidocs/")
    assert (resp.status_code, resp.mimetype) == (200, "text/html")
    csp = resp.headers["Content-Security-Policy"]
    wanted = ("script-src 'self';", "style-src 'self';", "connect-src 'self'", "img-src 'self' data:")
    assert [d for d in wanted if d not in csp] == [] and "unsafe" not in csp, csp
    html = resp.get_data(as_text=True)
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/apidocs/static/swagger-ui-bundle.js" charset="utf-8">',
                                                  '<script src="/apidocs/static/swagger-init.js" charset="utf-8">']


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js", "swagger-ui.css", "index.css", "favicon-32x32.png",
                                  "favicon-16x16.png", "swagger-init.js"])
def test_swagger_ui_files_are_served_from_the_whitelist(client, name):
    resp = fetch(client, "/apidocs/static/" + name)
    assert resp.status_code == 200 and resp.content_length > 0, name


@pytest.mark.parametrize("path", ["/apidocs/static/package.json", "/apidocs/static/index.html",
                                  "/apidocs/static/swagger-initializer.js", "/apidocs/static/swagger-ui-bundle.js.map",
                                  "/apidocs/static/lib/jquery.min.js", "/apidocs/static/oauth2-redirect.html",
                                  "/oauth2-redirect.html"])
def test_nothing_else_of_swagger_ui_is_served(client, path):
    resp = fetch(client, path)
    assert (resp.status_code, resp.mimetype) == (404, "application/problem+json"), path


def test_the_swagger_ui_served_is_the_pinned_one(client):
    assert docs.installed_swagger_ui_version() == docs.SWAGGER_UI_VERSION
    bundle = fetch(client, "/apidocs/static/swagger-ui-bundle.js").get_data(as_text=True)
    assert f'PACKAGE_VERSION:"{docs.SWAGGER_UI_VERSION}"' in bundle


def test_the_stylesheet_and_icon_are_served_locally(landing, client):
    _, page = landing
    local = [h for h in page.links if h.startswith("/static/")]
    assert {"/static/site.css", "/static/favicon.svg"} <= set(local)
    css = fetch(client, "/static/site.css").get_data(as_text=True)
    assert "@import" not in css and "url(" not in css, "the stylesheet loads nothing else"
    assert '"WenQuanYi Zen Hei"' in css and '"Noto Sans CJK SC"' in css, "CJK fonts in the stack"


# --- conditional requests -----------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/downloads/", "/downloads/initiatives-table.csv", "/downloads/regions.csv?bom=1",
                                 "/downloads/socialwork.db", "/downloads/datapackage.json", "/downloads/metadata.json"])
def test_etag_and_304(client, url):
    first = fetch(client, url)
    etag = first.headers["ETag"]
    assert etag.startswith('"'), "a strong tag, not W/"
    assert fetch(client, url).headers["ETag"] == etag, "the same bytes carry the same tag"
    again = fetch(client, url, headers={"If-None-Match": etag})
    assert (again.status_code, again.get_data(), again.headers.get("ETag")) == (304, b"", etag)
    assert fetch(client, url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    head = fetch(client, url, "HEAD")
    assert (head.status_code, head.get_data(), head.headers.get("ETag")) == (200, b"", etag)


def test_etags_differ_between_files(client):
    names = ("initiatives-table.csv", "kinds.csv", "kinds.csv?bom=1", "socialwork.db", "datapackage.json", "metadata.json")
    tags = {n: fetch(client, f"/downloads/{n}").headers["ETag"] for n in names}
    assert len(set(tags.values())) == len(names), tags


# --- bulk downloads -----------------------------------------------------------------------------

CSV_TABLES = [
    # (file, a column its header must have, how many rows follow the header)
    ("initiatives-table.csv", "id", 45),
    ("metrics-table.csv", "value", 9),
    ("evidence.csv", "quote", 62),
    ("people.csv", "name_zh", 5),            # 4 people; 习近平 on two records
    ("outside_facts.csv", "source_url", 4),
    ("changelog.csv", "reason", 29),       # 1.2.0: 29 changed
    ("regions.csv", "code", 3211),
    ("sources.csv", "publisher_zh", 1),
    ("kinds.csv", "name_zh", 16),
    ("themes.csv", "name_zh", 3),
    ("initiative_regions.csv", "region_code", 18),  # 17 local initiatives, one of them in two regions
    ("region_aliases.csv", "successor_code", 4),
]


def _csv_rows(client, name) -> list[list[str]]:
    return list(csv.reader(io.StringIO(fetch(client, f"/downloads/{name}").get_data(as_text=True))))


@pytest.mark.parametrize("name, column, expected_rows", CSV_TABLES, ids=[t[0] for t in CSV_TABLES])
def test_csv_downloads(client, name, column, expected_rows):
    resp = fetch(client, f"/downloads/{name}")
    assert resp.status_code == 200
    assert (resp.mimetype, resp.mimetype_params["charset"]) == ("text/csv", "utf-8")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert column in rows[0], rows[0]
    assert len(rows) - 1 == expected_rows


def test_each_csv_download_has_the_rows_the_api_and_data_count(client):
    counts = client.get("/api/v1").get_json()["counts"]
    initiatives = client.get("/api/v1/initiatives?limit=200").get_json()["data"]
    aliases = (ROOT / "data" / "region_aliases.csv").read_text(encoding="utf-8")
    expected = {
        "initiatives-table.csv": counts["initiatives"], "metrics-table.csv": counts["metrics"], "evidence.csv": counts["quotes"],
        "people.csv": sum(len(r["people"]) for r in initiatives), "outside_facts.csv": counts["outside_facts"],
        "changelog.csv": client.get("/api/v1/changelog").get_json()["meta"]["total"],
        "regions.csv": counts["regions"], "sources.csv": counts["sources"],
        "kinds.csv": client.get("/api/v1/kinds").get_json()["meta"]["total"],
        "themes.csv": client.get("/api/v1/themes").get_json()["meta"]["total"],
        "initiative_regions.csv": sum(len(r["regions"]) for r in initiatives),
        "region_aliases.csv": len(list(csv.DictReader(io.StringIO(aliases)))),
    }
    assert sorted(expected) == sorted(t[0] for t in CSV_TABLES)
    assert {name: len(_csv_rows(client, name)) - 1 for name in expected} == expected


def test_the_database_file_is_the_one_the_api_reads(client, built_db, tmp_path, dataset):
    resp = fetch(client, "/downloads/socialwork.db")
    assert (resp.status_code, resp.mimetype) == (200, "application/vnd.sqlite3")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="socialwork.db"'
    assert int(resp.headers["Content-Length"]) == built_db.stat().st_size
    data = resp.get_data()
    assert data == built_db.read_bytes()
    copy = tmp_path / "downloaded.db"
    copy.write_bytes(data)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0] == dataset["version"]
        assert conn.execute("SELECT count(*) FROM initiatives").fetchone()[0] == dataset["counts"]["initiatives"]


def test_the_database_file_answers_byte_ranges(client, built_db):
    resp = fetch(client, "/downloads/socialwork.db", headers={"Range": "bytes=0-15"})
    assert (resp.status_code, resp.get_data()) == (206, b"SQLite format 3\x00")


@pytest.mark.parametrize("name, key", [("datapackage.json", "datapackage"), ("metadata.json", "datasette_metadata")])
def test_the_descriptors_are_the_builds_copies(client, built_db, name, key):
    """Made by the build from the tables it wrote (tests/site/test_datapackage.py runs frictionless and Datasette on them)."""
    resp = fetch(client, f"/downloads/{name}")
    assert (resp.status_code, resp.mimetype) == (200, "application/json")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    with sqlite3.connect(built_db) as conn:
        assert resp.get_data(as_text=True) == conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]


def test_a_table_download_refers_to_records_by_id_and_keeps_internal_keys_out(client):
    header = _csv_rows(client, "metrics-table.csv")[0]
    assert header[:3] == ["initiative_id", "ord", "value"]
    assert not {"n", "initiative_n", "year_key"} & {c for name, _, _ in CSV_TABLES for c in _csv_rows(client, name)[0]}


@pytest.mark.parametrize("url, status, detail, errors", [
    ("/downloads/?limit=5", 400, "Unknown query parameter 'limit'. Allowed: none.", {"limit": ["unknown parameter. Allowed: none"]}),
    ("/downloads/kinds.csv?bomb=1", 400, "Unknown query parameter 'bomb'. Allowed: bom.",
     {"bomb": ["unknown parameter; did you mean 'bom'? Allowed: bom"]}),
    ("/downloads/kinds.csv?bom=maybe", 400, "bom: must be one of 1, true, 0, false",
     {"bom": ["must be one of 1, true, 0, false"]}),
    ("/downloads/kinds.csv?bom=1&bom=0", 400, "bom: given 2 times; it takes one value: give it once",
     {"bom": ["given 2 times; it takes one value: give it once"]}),
])
def test_the_downloads_refuse_what_they_do_not_take(client, url, status, detail, errors):
    """The same argument parsing as every other route: an unknown parameter or a bad value is a 400 naming it. (The
    landing page, a page people share, ignores what it does not take: tests/site/test_sharing.py.)"""
    resp = client.get(url)
    body = resp.get_json()
    assert (resp.status_code, resp.mimetype, body["detail"], body["errors"]) == (status, "application/problem+json", detail, errors)


@pytest.mark.parametrize("url", ["/downloads/kinds.csv?bom=1", "/downloads/kinds.csv?bom=TRUE", "/downloads/kinds.csv?bom=0",
                                 "/downloads/socialwork.db?bom=1"])
def test_bom_is_taken_in_its_spellings(client, url):
    resp = client.get(url)
    status, head = resp.status_code, resp.get_data()[:3]
    resp.close()   # the database file is streamed from an open file
    assert (status, head == b"\xef\xbb\xbf") == (200, url.endswith(("bom=1", "bom=TRUE")) and ".csv" in url)


@pytest.mark.parametrize("url", ["/downloads/", "/downloads"])
def test_the_download_list(client, url):
    resp = fetch(client, url)
    assert (resp.status_code, resp.mimetype) == (200, "application/json")
    listed = resp.get_json()["data"]
    assert sorted(d["name"] for d in listed) == sorted([t[0] for t in CSV_TABLES] + ["socialwork.db", "datapackage.json",
                                                                                   "metadata.json", "province-tiles.json"])
    for d in listed:
        file = fetch(client, d["url"], "HEAD")
        assert file.status_code == 200, d
        assert file.headers["Content-Type"] == d["media_type"]


@pytest.mark.parametrize("url", [
    "/downloads/../api/__init__.py",
    "/downloads/%2e%2e/api/__init__.py",
    "/downloads/%2e%2e",
    "/downloads/..%2fapi%2f__init__.py",
    "/downloads/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/downloads/..%5c..%5capi%5c__init__.py",
    "/downloads/%252e%252e%252fapi%252f__init__.py",
    "/downloads/.env",
    "/downloads/meta.csv",
    "/downloads/sqlite_master.csv",
    "/downloads/initiatives_fts.csv",
    "/downloads/Initiatives.CSV",
    "/downloads/socialwork.db-journal",
    "/downloads/datapackage.json%00.csv",
    "/downloads/initiatives.csv/../socialwork.db",
])
def test_only_whitelisted_names_are_served(client, url):
    resp = fetch(client, url)
    assert resp.status_code == 404, (url, resp.status_code)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_data()
    assert [leak for leak in (b"SQLite format", b"import", b"root:") if leak in body] == []


# --- a rebuild while downloading ----------------------------------------------------------------

def test_a_download_never_mixes_a_version_with_another_file(built_db, tmp_path):
    """Until the snapshot sees a rebuilt file the .db download refuses (503, Retry-After); after, it serves the new file."""
    recheck = 1.5  # seconds a worker trusts its open file (RECHECK_SECONDS)
    path = tmp_path / "socialwork.db"
    shutil.copy(built_db, path)
    client = create_app({"DATABASE": str(path), "TESTING": True, "RECHECK_SECONDS": recheck}).test_client()
    assert fetch(client, "/downloads/socialwork.db").status_code == 200
    looked = time.monotonic()
    fresh = tmp_path / "fresh.db"
    shutil.copy(built_db, fresh)
    os.utime(fresh, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    os.replace(fresh, path)  # what the build does: a new file renamed over the old one
    resp = fetch(client, "/downloads/socialwork.db")
    assert time.monotonic() - looked < recheck, "the swap took longer than the recheck interval; nothing was shown"
    assert (resp.status_code, resp.headers["Retry-After"]) == (503, "1")
    time.sleep(recheck + 0.1 - (time.monotonic() - looked))
    resp = fetch(client, "/downloads/socialwork.db")
    assert resp.status_code == 200 and resp.get_data() == path.read_bytes()
