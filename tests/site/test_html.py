"""The pages for people as a client sees them: the list and its form, a page per record, the annotated source, the map,
the catalogue documents, and errors as bilingual pages. (tests/system/test_browser_pages.py drives the same pages in Chromium.)"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from api.site import discovery, home, render
from api.web import shapes

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "xinhua-2026-01-25-social-work"
SEED = ROOT / "seeds" / f"{SOURCE}.txt"
BASE = "http://localhost"
JIANGSU_2025 = ["jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
                "nantong-textile-association-industry-platform"]
SICHUAN = ["chengdu-jinjiang-guoce-secretary-studio", "chengdu-zhonghe-fengchao-worker-station",
           "chengdu-zhonghe-summer-childcare-class"]
VOID = {"meta", "link", "input", "br", "img", "hr", "source", "area", "base", "col", "embed", "param", "track", "wbr"}


class Doc(HTMLParser):
    """What the tests read off a page: elements by id, links, marks with their link and text, text inside lang="en"."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.ids, self.links, self.marks, self.scripts, self.english = {}, [], [], [], []
        self.texts: dict[str, str] = {}   # id -> its text
        self._stack: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            assert a["id"] not in self.ids, f"duplicate id {a['id']}"
            self.ids[a["id"]] = a
            self.texts[a["id"]] = ""
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "mark":
            self.marks.append({"attrs": a, "href": None, "text": ""})
        if tag == "a" and self._inside("mark") and self.marks[-1]["href"] is None:
            self.marks[-1]["href"] = a.get("href")
        if tag == "script":
            self.scripts.append({"attrs": a, "text": ""})
        if tag not in VOID:
            self._stack.append((tag, a))

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def _inside(self, tag):
        return any(t == tag for t, _ in self._stack)

    def handle_data(self, data):
        if any({"refs", "pnum"} & set(a.get("class", "").split()) for _, a in self._stack):
            return  # a paragraph's number and the list of records after a span are not the article's text
        for _, a in self._stack:
            if "id" in a:
                self.texts[a["id"]] += data
        if self._stack and self._stack[-1][0] == "script":
            self.scripts[-1]["text"] += data
        if self._inside("mark"):
            self.marks[-1]["text"] += data
        if any(a.get("lang") == "en" for _, a in self._stack):
            self.english.append(data)


def get(client, url, **kw):
    resp = client.get(url, **kw)
    resp.get_data()
    resp.close()  # a file-backed body (a static file) holds the file open until then
    return resp


def doc(client, url, status=200) -> Doc:
    resp = get(client, url)
    assert resp.status_code == status, (url, resp.status_code, resp.get_data(as_text=True)[:500])
    return Doc(resp.get_data(as_text=True))


def api(client, url):
    return client.get(url).get_json()


def seed_lines() -> list[tuple[int, str]]:
    text, out, at = SEED.read_text(encoding="utf-8"), [], 0
    for line in text.split("\n"):
        if line.strip():
            out.append((at, line))
        at += len(line) + 1
    return out


# --- every page answers as a page ---------------------------------------------------------------

PAGES = [
    # (url, status, media type, text the page must hold)
    ("/initiatives", 200, "text/html", "浏览举措"),
    ("/initiatives?region=江苏&year=2025", 200, "text/html", "江苏省"),
    ("/initiatives?kind=hotline", 200, "text/html", "12345热线接诉即办"),
    ("/initiatives?q=驿站", 200, "text/html", "驿站"),
    ("/initiatives/beijing-12345-hotline", 200, "text/html", "2580.2万件"),
    ("/sources/" + SOURCE, 200, "text/html", "凝心聚力推动社会工作高质量发展"),
    ("/map", 200, "text/html", "举措分布"),
    ("/sources/" + SOURCE + ".txt", 200, "text/plain", "凝心聚力推动社会工作高质量发展"),
    ("/catalog.ttl", 200, "text/turtle", "http://www.w3.org/ns/dcat#Catalog"),
    ("/robots.txt", 200, "text/plain", "Sitemap: http://localhost/sitemap.xml"),
    ("/sitemap.xml", 200, "application/xml", "<loc>http://localhost/initiatives/beijing-12345-hotline</loc>"),
]


@pytest.mark.parametrize("url, status, media, text", PAGES, ids=[p[0] for p in PAGES])
def test_each_page_answers(client, url, status, media, text):
    resp = get(client, url)
    assert (resp.status_code, resp.mimetype, resp.mimetype_params.get("charset")) == (status, media, "utf-8")
    assert text in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


ERRORS = [
    # (url, status, what the page says in Chinese and in English)
    ("/initiatives/no-such-record", 404, "找不到该页面", "Not found"),
    ("/initiatives/" + "x" * 300, 404, "找不到该页面", "Not found"),
    ("/sources/no-such-source", 404, "找不到该页面", "Not found"),
    ("/sources/no-such-source.txt", 404, "找不到该页面", "Not found"),
    ("/initiatives?region=Sichuann", 400, "没有名为“Sichuann”的行政区划", "No division is called “Sichuann”"),
    ("/initiatives?region=朝阳", 400, "对应多个行政区划", "names several divisions"),
    ("/initiatives?year=20x5", 400, "无法完成筛选", "year: must be a year"),
    ("/initiatives?kind=no-such-kind", 400, "无法完成筛选", "'no-such-kind' not allowed"),
    ("/initiatives?cursor=forged.abc", 400, "无法完成筛选", "is not a cursor this API issued"),
    ("/initiatives?limit=100000", 400, "无法完成筛选", "limit: must be an integer from 1 to 200"),
    ("/initiatives?q=%00", 400, "无法完成筛选", "q: contains control characters"),
]


@pytest.mark.parametrize("url, status, zh, en", ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_bad_input_on_a_page_gets_a_bilingual_page(client, url, status, zh, en):
    resp = get(client, url)
    body = html.unescape(resp.get_data(as_text=True))
    assert (resp.status_code, resp.mimetype) == (status, "text/html"), body[:300]
    assert zh in body and en in body
    assert '<html lang="zh-Hans">' in body
    assert resp.headers["Cache-Control"] == "no-store"
    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert [leak for leak in ("Traceback", 'File "', "SELECT ", "sqlite3") if leak in body] == []


def test_an_unknown_region_shows_the_apis_suggestions_as_links(client):
    page = doc(client, "/initiatives?region=Sichuann&year=2025", 400)
    suggested = api(client, "/api/v1/initiatives?region=Sichuann&year=2025")["suggestions"]
    assert [s["code"] for s in suggested] == ["360827", "370302", "410329", "510000", "610630"]
    wanted = [f"/initiatives?year=2025&region={s['code']}" for s in suggested]
    assert [h for h in page.links if h.startswith("/initiatives?")] == wanted
    assert doc(client, "/initiatives?year=2025&region=510000").texts["total"] == "3"


def test_an_ambiguous_region_lists_each_division_to_choose(client):
    page = doc(client, "/initiatives?region=朝阳", 400)
    assert [h for h in page.links if h.startswith("/initiatives?")] == [
        "/initiatives?region=110105", "/initiatives?region=211300", "/initiatives?region=211321", "/initiatives?region=220104"]


# --- the list -----------------------------------------------------------------------------------

def listed(page: Doc) -> list[str]:
    return [h.removeprefix("/initiatives/") for h in page.links if re.fullmatch(r"/initiatives/[a-z0-9-]+", h)]


def test_the_form_as_submitted_leads_to_the_address_of_its_selection(client):
    """Empty fields mean "any": the form's answer is a 303 to the address without them, which the API shares."""
    resp = get(client, "/initiatives?region=江苏&year=2025&kind=&theme=&scope=&q=")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/initiatives?region=%E6%B1%9F%E8%8B%8F&year=2025"
    page = doc(client, resp.headers["Location"])
    assert listed(page) == JIANGSU_2025
    assert page.texts["total"] == "3"


def test_the_list_shows_the_same_selection_in_the_api_and_as_csv(client):
    page = doc(client, "/initiatives?region=江苏&year=2025")
    api_url, csv_url = page.ids["api-url"]["href"], page.ids["csv-url"]["href"]
    assert api_url == "/api/v1/initiatives?region=%E6%B1%9F%E8%8B%8F&year=2025"
    assert csv_url == "/api/v1/initiatives.csv?region=%E6%B1%9F%E8%8B%8F&year=2025"
    assert [r["id"] for r in api(client, api_url)["data"]] == JIANGSU_2025
    rows = list(csv.DictReader(io.StringIO(get(client, csv_url).get_data(as_text=True))))
    assert [r["id"] for r in rows] == JIANGSU_2025


def rel(client, url: str, name: str) -> str | None:
    found = re.search(rf'<a rel="{name}" href="([^"]+)"', get(client, url).get_data(as_text=True))
    return html.unescape(found[1]).removeprefix(BASE) if found else None


def test_the_list_pages_through_every_record_with_the_apis_cursors(client):
    everything = [r["id"] for r in api(client, "/api/v1/initiatives?limit=200")["data"]]
    seen, url, visited = [], "/initiatives?limit=15", []
    while url:
        visited.append(url)
        seen += listed(doc(client, url))
        url = rel(client, url, "next")
    assert (len(visited), len(everything)) == (3, 45)
    assert seen == everything
    assert rel(client, visited[0], "prev") is None and rel(client, visited[2], "prev") is not None
    assert doc(client, visited[1]).texts["total"] == "45"
    # the page's cursor is the API's: the same query under /api/v1 gives the same records
    assert [r["id"] for r in api(client, "/api/v1" + visited[1])["data"]] == everything[15:30]


def test_the_form_shows_the_selection_it_holds(client):
    body = get(client, "/initiatives?region=江苏&kind=campaign&q=小区").get_data(as_text=True)
    assert 'id="f-region" name="region" type="text" value="江苏"' in body
    assert '<option value="campaign" selected>' in body
    assert 'value="小区"' in body
    assert listed(Doc(body)) == ["jiangsu-party-led-residential-compound-governance"]


# --- a record -----------------------------------------------------------------------------------

def test_a_record_shows_each_quote_highlighted_inside_its_paragraph(client):
    page = doc(client, "/initiatives/beijing-12345-hotline")
    assert [m["text"] for m in page.marks] == ["在北京,接诉即办渠道更加顺畅,2025年12345热线受理诉求2580.2万件",
                                               "热线从“窗口”向“窗口+智库”升级,将海量的市民诉求转化为可视化、可分析的治理数据,"
                                               "推动接诉即办向主动治理、未诉先办升级"]
    paragraph = next(line for at, line in seed_lines() if at <= 2580 < at + len(line))
    assert page.texts["paragraph-27"].split("《")[0].strip() == paragraph   # the article's 27th paragraph
    assert f"/sources/{SOURCE}#p27" in page.links
    assert "p27" in doc(client, f"/sources/{SOURCE}").ids


RECORD_IDS = [r.stem for r in sorted((ROOT / "data" / "initiatives").glob("*.yaml"))]


@pytest.mark.parametrize("record_id", RECORD_IDS)
def test_a_record_page_holds_what_the_apis_record_holds(client, record_id):
    record = api(client, f"/api/v1/initiatives/{record_id}")
    page = doc(client, f"/initiatives/{record_id}")
    body = get(client, f"/initiatives/{record_id}").get_data(as_text=True)
    marked = "".join(m["text"] for m in page.marks)
    assert [e["quote"] for e in record["evidence"] if e["quote"] not in marked] == []
    assert [m["figure_text"] for m in record["metrics"] if m["figure_text"] not in body] == []
    assert [c["code"] for r in record["regions"] for c in r["chain"] if f"/initiatives?region={c['code']}" not in page.links] == []
    assert record["name_en"] in page.english
    assert page.texts["record-title"] == record["name_zh"] + record["name_en"]
    assert page.ids["record-json"]["href"] == record["url"]
    assert page.ids["permalink"]["href"] == f"{BASE}/initiatives/{record_id}"


def test_the_cite_block_names_the_permanent_url_and_the_dataset_version(client):
    root = api(client, "/api/v1")
    version = f"{root['release']['version']} (build {root['version']})"  # the release, and the content hash it was built as
    assert version.startswith("1.2.0 (build ")
    page = doc(client, "/initiatives/beijing-12345-hotline")
    url = f"{BASE}/initiatives/beijing-12345-hotline"
    assert page.texts["cite-version"] == version
    assert page.texts["cite-text"] == (
        f"socialwork-opendata maintainers. 12345热线接诉即办 (Beijing 12345 hotline: Swift Response to Public Complaints). "
        f"中国社会工作举措开放数据(2025) / China social-work initiatives, open data (2025), version {version}, 2026-12-08. {url}")
    csl = json.loads(page.texts["cite-csl"])
    assert csl == [{"id": "beijing-12345-hotline", "type": "dataset",
                    "title": "12345热线接诉即办 (Beijing 12345 hotline: Swift Response to Public Complaints)",
                    "container-title": "中国社会工作举措开放数据(2025) / China social-work initiatives, open data (2025)",
                    "version": version, "URL": url, "language": "zh-Hans",
                    "author": [{"literal": "socialwork-opendata maintainers"}], "issued": {"date-parts": [[2026, 12, 8]]},
                    "note": "CC BY 4.0. Based on Xinhua News Agency, 2026-01-25"}]
    bibtex = page.texts["cite-bibtex"]
    assert bibtex.startswith("@misc{socialwork-beijing-12345-hotline,\n")
    assert f"  url = {{{url}}},\n" in bibtex and f"  version = {{{version}}},\n" in bibtex
    assert "  year = {2026},\n  date = {2026-12-08},\n" in bibtex   # the release's issued date (data/release.yaml published)


EXTENDED = {  # the record fields a full record may have (people, outside facts, former ids), as the API gives them
    "people": [{"name_zh": "张三", "name_en": "Zhang San", "roles": [{"zh": "社区书记", "en": "community Party secretary"}]}],
    "organisations": [{"name_zh": "海连社区", "name_en": "Hailian Community"}],
    "outside_facts": [{"fact": "region", "date": "2024-05-01", "statement_zh": "中和街道属双流区。",
                       "statement_en": "Zhonghe subdistrict is in Shuangliu District.",
                       "source": {"title": "Gazetteer notice", "publisher": "Civil Affairs", "published": "2024-05-01",
                                  "url": "https://example.org/notice"}}],
    "regions_complete": False,
    "former_ids": ["old-hotline-id"],
    "year_basis": "cited",
}


def test_a_record_shows_the_fields_of_the_extended_record(client, monkeypatch):
    original = shapes.initiative_record

    def extended(conn, row):
        record = original(conn, row)
        record.update(EXTENDED)
        record["metrics"][0]["measure"] = "flow"
        return record

    monkeypatch.setattr(shapes, "initiative_record", extended)
    page = doc(client, "/initiatives/beijing-12345-hotline")
    body = get(client, "/initiatives/beijing-12345-hotline").get_data(as_text=True)
    assert page.texts["people"].split() == ["张三", "Zhang", "San：社区书记", "community", "Party", "secretary"]
    assert "海连社区 <span lang=\"en\">Hailian Community</span>" in body
    assert "文外事实" in page.texts["outside"] and "Facts from outside the article" in page.texts["outside"]
    assert '<a href="https://example.org/notice" rel="external">Gazetteer notice</a>, Civil Affairs' in body
    assert "等地" in page.texts["regions-examples"]
    assert "<code>old-hotline-id</code>" in body
    assert "据文外引用来源" in page.texts["year"]
    assert '<span class="measure" data-measure="flow">流量' in body
    assert 'data-fact="region"' in body.split('id="outside"')[1], "the outside facts are in their own section"


def test_without_the_extended_fields_nothing_of_them_is_shown(client):
    page = doc(client, "/initiatives/beijing-12345-hotline")
    assert {"people", "outside", "regions-examples"} & set(page.ids) == set()


# --- the source ---------------------------------------------------------------------------------

def test_the_source_text_is_served_as_published_with_its_sha256(client):
    resp = get(client, f"/sources/{SOURCE}.txt")
    data, sha = resp.get_data(), "8adc04e4192f64d8e792562fa75f86f4ac5f63767a997bb0b99d55a1810fe980"
    assert data == SEED.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha
    assert resp.headers["Repr-Digest"] == "sha-256=:" + base64.b64encode(bytes.fromhex(sha)).decode() + ":"
    assert resp.headers["X-Source-SHA256"] == sha
    assert doc(client, f"/sources/{SOURCE}").texts["sha256"] == sha


def test_every_highlighted_span_links_to_a_record_that_quotes_it(client):
    page = doc(client, f"/sources/{SOURCE}")
    evidence = {}
    for r in api(client, "/api/v1/initiatives?limit=200")["data"]:
        evidence[r["id"]] = api(client, f"/api/v1/initiatives/{r['id']}")["evidence"]
    assert len(page.marks) == 54  # 62 quotes; a span several records quote is one mark with a link to each
    for m in page.marks:
        start, end, rid = int(m["attrs"]["data-start"]), int(m["attrs"]["data-end"]), m["href"].removeprefix("/initiatives/")
        assert any(e["start"] <= start and end <= e["end"] for e in evidence[rid]), m
        assert m["text"] == SEED.read_text(encoding="utf-8")[start:end]
    # every quote of every record is marked, and nothing else is
    quoted = {i for quotes in evidence.values() for e in quotes for i in range(e["start"], e["end"])}
    marked = {i for m in page.marks for i in range(int(m["attrs"]["data-start"]), int(m["attrs"]["data-end"]))}
    assert marked == quoted


def test_a_span_several_records_quote_links_to_each(client):
    body = get(client, f"/sources/{SOURCE}").get_data(as_text=True)
    # in the text, the numbers (1,2,3); under the paragraph, a link per record, named (24 px targets, apart)
    assert re.search(r'<mark data-start="3250"[^>]*>.*?</mark><sup class="refs">(.*?)</sup>', body)[1] == "1,2,3"
    also = re.search(r'<ul class="also"[^>]*>\s*<li>[^<]*：(.*?)</li>', body[body.index('data-start="3250"'):], re.S)[1]
    assert re.findall(r'data-record="([a-z0-9-]+)"><span class="n">(\d)</span>', also) == [
        ("volunteer-project-caring-for-health", "1"), ("volunteer-project-neighbours-looking-out", "2"),
        ("volunteer-project-warming-the-new", "3")]


def test_the_source_page_is_the_whole_article_paragraph_by_paragraph(client):
    page = doc(client, f"/sources/{SOURCE}")
    elements = sorted((int(attrs["data-start"]), key) for key, attrs in page.ids.items()
                      if "data-start" in attrs and (key.startswith("p") or key.startswith("at")))
    numbered = [key for _, key in elements if key.startswith("p")]
    assert numbered == [f"p{n}" for n in range(1, 41)], "the body's 40 paragraphs, numbered in order"
    shown = "".join(page.texts[key].strip().removeprefix(key[1:] if key.startswith("p") else "") for _, key in elements)
    assert shown == "".join(line for _, line in seed_lines()), "every line of the article, once, in order"
    # Not paragraphs of the body: the title, the subtitle, the byline, the three headings, the dateline.
    assert [start for start, key in elements if key.startswith("at")] == [2, 19, 40, 266, 2016, 2908, 3944]


# The seed breaks two paragraphs mid-sentence (……不断增强,我 / 们干事创业……; 自治、法 / 治、德治……): each is one
# paragraph of the article, numbered as the article has it, headings not counted.
@pytest.mark.parametrize("number, start, words", [
    (11, 1132, "我们干事创业更有信心了"),
    (21, 2039, "自治、法治、德治相结合"),
    (27, 2580, "接诉即办渠道更加顺畅"),
    (32, 3103, "中国志愿服务联合会第三届会员代表大会在京召开"),
])
def test_a_paragraph_the_seed_breaks_is_one_paragraph_numbered_as_the_article_has_it(client, number, start, words):
    page = doc(client, f"/sources/{SOURCE}")
    assert int(page.ids[f"p{number}"]["data-start"]) == start
    assert words in page.texts[f"p{number}"]


# --- the map ------------------------------------------------------------------------------------

def tiles(client) -> dict[str, tuple[int, str]]:
    body = get(client, "/map").get_data(as_text=True)
    return {code: (int(count), href) for href, code, count in
            re.findall(r'<a href="([^"]+)" class="tile shade-\d" data-code="(\d+)" data-count="(\d+)"', body)}


def test_the_map_has_a_tile_for_every_province_with_its_count_and_list(client):
    drawn = tiles(client)
    provinces = api(client, "/api/v1/regions?level=province&limit=200")["data"]
    facets = {r["code"]: r["count"] for r in api(client, "/api/v1/facets")["data"]["province"]}
    assert sorted(drawn) == sorted(p["code"] for p in provinces) and len(drawn) == 33
    assert {code: count for code, (count, _) in drawn.items() if count} == facets
    assert {code: href for code, (_, href) in drawn.items()} == {code: f"/initiatives?region={code}" for code in drawn}
    assert drawn["510000"] == (3, "/initiatives?region=510000")
    assert listed(doc(client, "/initiatives?region=510000")) == SICHUAN


def test_the_map_shows_the_national_initiatives_apart(client):
    page = doc(client, "/map")
    assert page.ids["map-national"]["data-count"] == "28"
    assert page.ids["map-national"]["href"] == "/initiatives?scope=national"
    assert doc(client, "/initiatives?scope=national").texts["total"] == "28"


def test_the_tile_layout_is_ours_under_cc_by_and_covers_the_gazetteer(client):
    layout = json.loads(get(client, "/downloads/province-tiles.json").get_data())
    package = api(client, "/downloads/datapackage.json")
    assert next(r for r in package["resources"] if r["path"] == "province-tiles.json")["licenses"] == layout["licenses"]
    assert layout["licenses"][0]["name"] == "CC-BY-4.0"
    positions = [(t["col"], t["row"]) for t in layout["tiles"]]
    assert len(positions) == len(set(positions)), "two tiles in one square"
    codes = {p["code"] for p in api(client, "/api/v1/regions?level=province&limit=200")["data"]}
    assert codes - {t["code"] for t in layout["tiles"]} == set()


# --- findable -----------------------------------------------------------------------------------

def landing_jsonld(client) -> dict:
    page = doc(client, "/")
    blocks = [s for s in page.scripts if s["attrs"].get("type") == "application/ld+json"]
    assert len(blocks) == 1 and [s["attrs"] for s in page.scripts if s not in blocks] == [{"src": "/static/share.js", "defer": None}], \
        "one data block and one static script (the copy buttons: tests/site/test_sharing.py)"
    return json.loads(blocks[0]["text"])


def test_the_landing_page_describes_the_dataset_in_schema_org(client):
    data = landing_jsonld(client)
    root = api(client, "/api/v1")
    downloads = api(client, "/downloads/")["data"]
    assert (data["@context"], data["@type"]) == ("https://schema.org", "Dataset")
    assert (data["name"], data["alternateName"]) == (root["title_en"], root["title_zh"])
    assert data["version"] == root["release"]["version"] == "1.2.0"
    assert data["datePublished"] == root["release"]["published"] == "2026-12-08"
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert data["creator"] == [{"@type": "Organization", "name": "socialwork-opendata maintainers"}]
    assert data["temporalCoverage"] == "2025-01-01/2025-12-31"
    assert data["spatialCoverage"]["address"]["addressCountry"] == "CN"
    assert [(d["contentUrl"], d["encodingFormat"]) for d in data["distribution"]] == \
        [(d["url"], d["media_type"].split(";")[0]) for d in downloads]
    assert 50 <= len(data["description"]) <= 5000
    assert data["isBasedOn"][0]["url"] == f"{BASE}/sources/{SOURCE}"


TRIPLE = re.compile(r'^(<[^>]+>|_:\w+) <([^>]+)> (<[^>]+>|_:\w+|"(?:[^"\\]|\\.)*"(?:@[\w-]+|\^\^<[^>]+>)?) \.$')


def triples(client) -> list[tuple[str, str, str]]:
    lines = get(client, "/catalog.ttl").get_data(as_text=True).splitlines()
    parsed = [TRIPLE.match(line) for line in lines]
    assert [line for line, m in zip(lines, parsed) if m is None] == [], "every line is one N-Triples statement"
    return [(m[1], m[2], m[3]) for m in parsed]


def test_the_dcat_catalogue_describes_the_dataset_and_each_download(client):
    dcat, dct, rdf_type = "http://www.w3.org/ns/dcat#", "http://purl.org/dc/terms/", "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    t = triples(client)

    def objects(s, p):
        return [o for s_, p_, o in t if s_ == s and p_ == p]

    catalog, dataset = f"<{BASE}/catalog.ttl#catalog>", f"<{BASE}/#dataset>"
    assert objects(catalog, rdf_type) == [f"<{dcat}Catalog>"]
    assert objects(catalog, dcat + "dataset") == [dataset]
    assert objects(dataset, rdf_type) == [f"<{dcat}Dataset>"]
    assert objects(dataset, dct + "license") == ["<https://creativecommons.org/licenses/by/4.0/>"]
    assert objects(dataset, dct + "title") == ['"China social-work initiatives, open data (2025)"@en',
                                              '"中国社会工作举措开放数据(2025)"@zh-Hans']
    assert objects(dataset, dcat + "version") == ['"1.2.0"']
    assert objects(dataset, dct + "issued") == ['"2026-12-08"^^<http://www.w3.org/2001/XMLSchema#date>']
    distributions = objects(dataset, dcat + "distribution")
    downloads = api(client, "/downloads/")["data"]
    assert [objects(d, dcat + "downloadURL") for d in distributions] == [[f"<{d['url']}>"] for d in downloads]
    assert [objects(d, dcat + "mediaType") for d in distributions] == \
        [[f"<http://www.iana.org/assignments/media-types/{d['media_type'].split(';')[0]}>"] for d in downloads]
    period = objects(dataset, dct + "temporal")[0]
    assert objects(period, dcat + "startDate") == ['"2025-01-01"^^<http://www.w3.org/2001/XMLSchema#date>']


def test_robots_and_the_sitemap_list_every_page(client):
    assert get(client, "/robots.txt").get_data(as_text=True) == "User-agent: *\nAllow: /\n\nSitemap: http://localhost/sitemap.xml\n"
    tree = ET.fromstring(get(client, "/sitemap.xml").get_data())
    locs = [e.text for e in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    ids = [r["id"] for r in api(client, "/api/v1/initiatives?limit=200")["data"]]
    assert locs == [f"{BASE}/", f"{BASE}/initiatives", f"{BASE}/map", f"{BASE}/sources/{SOURCE}",
                    *[f"{BASE}/initiatives/{i}" for i in ids]]
    assert [u for u in locs if get(client, u.removeprefix(BASE) or "/").status_code != 200] == []


def test_the_landing_pages_charts_and_map_lead_to_the_lists(client):
    page = doc(client, "/")
    assert "/initiatives?region=510000" in page.links and "/initiatives?scope=national" in page.links
    assert "/initiatives?kind=hotline" in page.links and "/initiatives?year=2025" in page.links
    assert [h for h in page.links if h.startswith("/api/v1/initiatives?") and "format=" not in h
            and h not in {render.href(u) for u, _, _ in home.EXAMPLES}] == []


# --- HTTP: one ETag and 304, one policy, no inline code ---------------------------------------------

CONDITIONAL = ["/initiatives", "/initiatives?region=江苏&year=2025", "/initiatives/beijing-12345-hotline",
               f"/sources/{SOURCE}", f"/sources/{SOURCE}.txt", "/map", "/catalog.ttl", "/robots.txt", "/sitemap.xml"]


@pytest.mark.parametrize("url", CONDITIONAL)
def test_etag_and_304(client, url):
    first = get(client, url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.startswith(f'"{api(client, "/api/v1")["version"]}-')
    again = get(client, url, headers={"If-None-Match": etag})
    assert (again.status_code, again.get_data(), again.headers["ETag"]) == (304, b"", etag)
    head = client.head(url)
    assert (head.status_code, head.headers["ETag"]) == (200, etag)


def test_each_page_has_its_own_etag(client):
    tags = {url: get(client, url).headers["ETag"] for url in CONDITIONAL}
    assert len(set(tags.values())) == len(CONDITIONAL)


HTML_PAGES = ["/", "/initiatives", "/initiatives?region=Sichuann", "/initiatives/chengdu-zhonghe-fengchao-worker-station",
              f"/sources/{SOURCE}", "/map", "/initiatives/nope"]


@pytest.mark.parametrize("url", HTML_PAGES)
def test_pages_run_no_inline_code_and_say_which_language_is_which(client, url):
    resp = get(client, url)
    body = resp.get_data(as_text=True)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # one script, static and deferred (the copy buttons; every page works without it): no inline code
    assert re.findall(r"<script(?![^>]*application/ld\+json)[^>]*>", body) == ['<script src="/static/share.js" defer>']
    assert re.findall(r"<script(?![^>]*application/ld\+json)[^>]*>[^<]", body) == []
    assert re.findall(r"\son[a-z]+\s*=", body) == [], "an inline event handler"
    assert re.findall(r"\sstyle\s*=|<style", body) == []
    assert body.startswith('<!DOCTYPE html>\n<html lang="zh-Hans">')
    assert '<span lang="en">' in body
    assert [h for h in Doc(body).links if urlsplit(h).scheme and urlsplit(h).hostname != "localhost"
            and h != "https://creativecommons.org/licenses/by/4.0/"] == []


def test_a_record_asked_for_as_html_in_the_api_is_sent_to_its_page(client):
    resp = get(client, "/api/v1/initiatives/beijing-12345-hotline", headers={"Accept": "text/html"})
    assert (resp.status_code, resp.headers["Location"]) == (303, "/initiatives/beijing-12345-hotline")
    assert "Accept" in resp.headers["Vary"]
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert get(client, "/api/v1/initiatives/beijing-12345-hotline", headers={"Accept": browser}).mimetype == "application/json"
    listing = get(client, "/api/v1/initiatives", headers={"Accept": "text/html"})
    assert (listing.status_code, listing.mimetype) == (406, "application/problem+json")
    missing = get(client, "/api/v1/initiatives/nope", headers={"Accept": "text/html"})
    assert (missing.status_code, missing.headers["Location"]) == (303, "/initiatives/nope")


def test_chinese_in_a_pages_links_is_percent_encoded(client):
    links = doc(client, "/initiatives?region=江苏&limit=1").links
    assert [h for h in links if not h.isascii()] == []
    assert f"/initiatives?region={quote('江苏')}&limit=1&cursor=" in rel(client, "/initiatives?region=江苏&limit=1", "next")


@pytest.mark.parametrize("stored, expected", [
    (None, None), ("", None), ("1.1.0", None), ('{"version": "1.1.0", "previous": "1.0.0"}', "1.1.0"), ('{"level": "minor"}', None),
])
def test_the_release_a_citation_names_is_the_builds(stored, expected):
    assert render.release_of({} if stored is None else {"release": stored}) == expected
    label = discovery.version_label("abc123", render.release_of({"release": stored} if stored else {}))
    assert label == (f"{expected} (build abc123)" if expected else "abc123")
