"""Pages people share and read on a phone (issue 23), as a client sees them: a shared link's extra parameters, the
canonical link, "Beijing including national measures", the HTML 404, sharing and citation. (Chromium walks the same
tasks at phone and desktop sizes in tests/system/test_browser_phone.py.)"""
from __future__ import annotations

import html
import re

import pytest
from test_html import doc, get

BASE = "http://localhost"
SHARED = "from=singlemessage&isappinstalled=0&utm_source=wechat&utm_medium=social&fbclid=IwAR0abc&spm=a2c.1"
HOTLINE = "beijing-12345-hotline"


def canonical(body: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'<link rel="canonical" href="([^"]*)">', body)]


@pytest.mark.parametrize("path, wanted", [
    ("/", BASE + "/"),
    ("/initiatives?region=江苏&year=2025", BASE + "/initiatives?region=%E6%B1%9F%E8%8B%8F&year=2025"),
    (f"/initiatives/{HOTLINE}", BASE + f"/initiatives/{HOTLINE}"),
    ("/sources/xinhua-2026-01-25-social-work", BASE + "/sources/xinhua-2026-01-25-social-work"),
    ("/map", BASE + "/map"),
])
def test_a_shared_link_with_tracking_parameters_is_the_page_and_its_canonical_link_drops_them(client, path, wanted):
    sep = "&" if "?" in path else "?"
    plain, shared = get(client, path), get(client, path + sep + SHARED)
    assert (plain.status_code, shared.status_code, shared.mimetype) == (200, 200, "text/html")
    assert canonical(shared.get_data(as_text=True)) == [wanted]
    assert canonical(plain.get_data(as_text=True)) == [wanted]
    # the page is the same page: nothing in it (links, cursors, the API's address) carries the tracking parameters
    assert "utm_source" not in shared.get_data(as_text=True) and "isappinstalled" not in shared.get_data(as_text=True)


def test_a_shared_list_keeps_its_filters_and_its_pages_links_leave_the_tracking_out(client):
    page = doc(client, "/initiatives?kind=service-station&limit=1&from=timeline&isappinstalled=0")
    assert page.texts["total"] == doc(client, "/initiatives?kind=service-station&limit=1").texts["total"]
    nxt = [h for h in page.links if "cursor=" in h]
    assert nxt and all("from=" not in h and "isappinstalled" not in h for h in nxt)
    assert page.ids["api-url"]["href"] == "/api/v1/initiatives?kind=service-station&limit=1"
    following = get(client, html.unescape(nxt[0]).removeprefix(BASE))
    assert following.status_code == 200, "the next page's cursor is bound to the query without the tracking"


def test_a_misspelt_parameter_is_ignored_and_named_with_its_likely_meaning(client):
    page = doc(client, "/initiatives?regoin=四川")
    assert page.texts["total"] == "45"
    note = " ".join(page.texts["ignored-params"].split())
    assert "regoin" in note and "region" in note
    assert "ignored-params" not in doc(client, "/initiatives?utm_source=x").ids, "a tracking parameter is no misspelling"


@pytest.mark.parametrize("url, kind", [
    ("/api/v1/initiatives?utm_source=x", "unknown-parameter"),
    (f"/api/v1/initiatives/{HOTLINE}?from=singlemessage", "unknown-parameter"),
    ("/downloads/?utm_source=x", "unknown-parameter"),
])
def test_the_api_keeps_refusing_what_it_does_not_take(client, url, kind):
    resp = get(client, url)
    assert (resp.status_code, resp.mimetype, resp.get_json()["type"].rsplit("/", 1)[-1]) == \
        (400, "application/problem+json", kind)


# --- "Beijing including national measures" ------------------------------------------------------

def test_the_list_form_asks_for_a_region_including_its_national_measures(client):
    page = doc(client, "/initiatives?region=北京")
    assert page.ids["f-national"]["type"] == "checkbox" and "checked" not in page.ids["f-national"]
    assert page.texts["total"] == "1"
    page = doc(client, "/initiatives?region=北京&include_national=true")
    assert "checked" in page.ids["f-national"], "the box stays ticked, so the next filter keeps it"
    assert (page.texts["total"], page.texts["national-count"]) == ("29", "28")


def test_including_national_measures_survives_a_kind_and_marks_the_national_ones(client):
    body = get(client, "/initiatives?region=北京&include_national=true&kind=law").get_data(as_text=True)
    scopes = re.findall(r'<li class="record" data-id="([^"]+)" data-scope="([a-z]+)">', body)
    assert scopes == [("urban-residents-committees-organic-law-revision", "national"),
                      ("villagers-committees-organic-law-amendment", "national")]
    assert body.count('class="badge national"') == 2
    local = get(client, "/initiatives?region=北京&include_national=true&kind=hotline").get_data(as_text=True)
    assert re.findall(r'data-scope="([a-z]+)"', local) == ["local"] and 'class="badge national"' not in local


def test_the_box_without_a_region_leads_to_the_list_without_it(client):
    resp = get(client, "/initiatives?include_national=true&kind=hotline")
    assert (resp.status_code, resp.headers["Location"]) == (303, "/initiatives?kind=hotline")


# --- phone and accessibility, as the HTML says it -----------------------------------------------

def test_chinese_inside_english_text_is_marked_as_chinese():
    from api.site.render import mark_chinese
    assert str(mark_chinese("Summary: 接诉即办 is Beijing's <way>")) == \
        'Summary: <span lang="zh-Hans">接诉即办</span> is Beijing&#39;s &lt;way&gt;'
    assert str(mark_chinese("“Warming the ‘New’” (暖‘新’行动) key")) == \
        '“Warming the ‘New’” (<span lang="zh-Hans">暖</span>‘<span lang="zh-Hans">新</span>’<span lang="zh-Hans">行动</span>) key'
    assert str(mark_chinese(None)) == ""


def test_the_map_legend_says_what_each_shade_counts_and_a_tile_is_named_by_what_it_shows(client):
    body = get(client, "/map").get_data(as_text=True)
    keys = re.findall(r'<li data-shade="(\d)"><span class="key shade-\d" aria-hidden="true"></span>\s*([^<]*?)\s*<span lang="en">', body)
    assert keys == [("0", "0 项"), ("1", "1 项"), ("2", "2 项"), ("3", "3 项")]
    assert re.search(r'<a href="/initiatives\?region=510000" class="tile shade-3" data-code="510000" data-count="3">\s*'
                     r'<title>四川 3：四川省 Sichuan, 3 项举措 initiatives</title>', body)
    assert 'aria-label="四川' not in body, "the name is the title, which starts with what the tile shows"


def test_the_changelog_cells_carry_their_column_for_a_phone(client):
    body = get(client, "/").get_data(as_text=True)
    table = body[body.index('<table class="changelog"'):body.index("</table>", body.index('<table class="changelog"'))]
    rows = table.count("<tr data-change=")
    assert rows > 0 and [table.count(f'data-label="{c}"') for c in ("记录 Record", "变更 Change", "字段 Fields", "Reason")] == [rows] * 4


def test_swagger_ui_has_a_phone_viewport_a_way_back_and_our_colours(client):
    body = get(client, "/apidocs/").get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert re.findall(r'<header class="site-head"><nav aria-label="Site">\s*<a href="(/)">', body) == ["/"]
    css = get(client, "/apidocs/static/swagger-page.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")
    assert ".swagger-ui .info .title small.version-stamp" in css.get_data(as_text=True)


# --- the HTML 404, report a problem, print -----------------------------------------------------

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("path", ["/no/such/page", "/initiative/beijing-12345-hotline", "/downloads/x/y"])
def test_an_unknown_path_is_the_sites_404_page_for_a_browser(client, path):
    resp = get(client, path, headers={"Accept": BROWSER_ACCEPT})
    body = resp.get_data(as_text=True)
    assert (resp.status_code, resp.mimetype, resp.headers["Vary"]) == (404, "text/html", "Accept")
    assert '<header class="masthead">' in body and "找不到该页面" in body and f"There is nothing at {path}." in body
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path, accept", [("/no/such/page", "*/*"), ("/no/such/page", "application/json"),
                                          ("/api/v1/nothing", BROWSER_ACCEPT), ("/no/such/page", None)])
def test_an_unknown_path_stays_problem_json_for_api_clients(client, path, accept):
    resp = get(client, path, headers={"Accept": accept} if accept else {})
    assert (resp.status_code, resp.mimetype, resp.get_json()["type"].rsplit("/", 1)[-1]) == (404, "application/problem+json", "not-found")


def test_every_page_links_to_report_a_problem_about_itself(client):
    body = get(client, f"/initiatives/{HOTLINE}?utm_source=x").get_data(as_text=True)
    assert re.findall(r'<a href="([^"]*)" id="report-link"', body) == [f"/report?page=%2Finitiatives%2F{HOTLINE}"]
    page = doc(client, f"/report?page=/initiatives/{HOTLINE}")
    assert (page.texts["report-record"], page.ids["report-page"]["href"]) == (HOTLINE, f"/initiatives/{HOTLINE}")
    assert "report-url" not in page.ids, "no place for reports is configured"
    assert get(client, "/report?page=//evil.example/").status_code == 400


def test_the_report_page_links_to_the_configured_place(app):
    app.config["REPORT_URL"] = "https://tracker.example/issues/new"
    page = doc(app.test_client(), "/report?page=/map")
    assert page.ids["report-url"]["href"] == "https://tracker.example/issues/new"


def test_the_pages_have_print_styles(client):
    css = get(client, "/static/pages.css").get_data(as_text=True)
    printed = css[css.index("@media print"):]
    assert ".masthead nav" in printed and 'content: " <" attr(href) ">"' in printed


# --- sharing and citation -----------------------------------------------------------------------

def meta(body: str) -> dict[str, str]:
    return {m[0] or m[1]: html.unescape(m[2]) for m in
            re.findall(r'<meta (?:property="([a-z:_]+)"|name="(twitter:[a-z]+)") content="([^"]*)">', body)}


def test_a_list_view_has_its_own_title_and_descriptions_in_both_languages(client):
    body = get(client, "/initiatives?region=北京&include_national=true&kind=law&utm_source=x").get_data(as_text=True)
    title = "北京市（含全国性） · 法律 · 浏览举措 Browse initiatives · 中国社会工作举措开放数据(2025)"
    assert re.findall(r"<title>(.*?)</title>", body) == [title]
    tags = meta(body)
    assert (tags["og:title"], tags["twitter:title"], tags["og:type"], tags["twitter:card"]) == (title, title, "website", "summary")
    assert tags["og:url"] == BASE + "/initiatives?region=%E5%8C%97%E4%BA%AC&include_national=true&kind=law"
    assert tags["og:description"] == ("共 2 项举措（北京市）。中国社会工作举措开放数据(2025)的可筛选列表。 "
                                      "2 initiatives in Beijing. The filterable list of China social-work initiatives, open data (2025).")
    assert (tags["og:locale"], tags["og:locale:alternate"], tags["og:image"]) == ("zh_CN", "en_US", BASE + "/static/share.png")
    assert re.findall(r'<meta name="description" lang="zh-Hans" content="([^"]*)">', body) == [
        "共 2 项举措（北京市）。中国社会工作举措开放数据(2025)的可筛选列表。"]
    assert get(client, "/static/share.png").mimetype == "image/png"


def test_a_record_is_shared_as_an_article_with_its_summaries(client):
    page = doc(client, f"/initiatives/{HOTLINE}")
    body = get(client, f"/initiatives/{HOTLINE}").get_data(as_text=True)
    record = client.get(f"/api/v1/initiatives/{HOTLINE}").get_json()
    tags = meta(body)
    assert tags["og:type"] == "article"
    assert tags["og:description"] == record["summary_zh"] + " " + record["summary_en"]
    assert page.ids["share-url"]["href"] == BASE + f"/initiatives/{HOTLINE}"
    assert "hidden" in page.ids["copy-status"] or page.ids["copy-status"]["role"] == "status"


def test_copy_buttons_are_hidden_until_the_script_shows_them_and_no_script_is_inline(client):
    body = get(client, f"/initiatives/{HOTLINE}").get_data(as_text=True)
    buttons = re.findall(r'<button type="button" class="copy" data-copy="([a-z0-9-]+)" hidden>', body)
    assert buttons[-1] == "share-url" and {"cite-text", "cite-csl", "cite-bibtex", "cite-gbt", "cite-ris"} <= set(buttons)
    assert re.findall(r"<script\b[^>]*>", body) == ['<script src="/static/share.js" defer>']
    assert get(client, "/static/share.js").mimetype == "text/javascript"


def test_the_record_offers_gbt_7714_and_ris_with_its_issued_date(client):
    page = doc(client, f"/initiatives/{HOTLINE}")
    root = client.get("/api/v1").get_json()
    version = f"{root['release']['version']} (build {root['version']})"
    issued = root["release"]["published"]
    name_en = client.get(f"/api/v1/initiatives/{HOTLINE}").get_json()["name_en"]
    url = BASE + f"/initiatives/{HOTLINE}"
    assert page.texts["cite-gbt"] == (f"socialwork-opendata maintainers. 12345热线接诉即办[DS/OL]//中国社会工作举措开放数据(2025). "
                                      f"版本 {version}. ({issued})[引用日期]. {url}.")
    ris = page.texts["cite-ris"].split("\n")
    assert ris[0] == "TY  - DATA" and ris[-1] == "ER  - "
    assert [line for line in ris if line[:2] in ("TI", "ET", "PY", "DA", "UR")] == [
        f"TI  - 12345热线接诉即办 ({name_en})", f"ET  - {version}",
        f"PY  - {issued[:4]}", f"DA  - {issued.replace('-', '/')}", f"UR  - {url}"]


def test_each_quote_has_its_own_citation_naming_its_paragraph(client):
    page = doc(client, f"/initiatives/{HOTLINE}")
    record = client.get(f"/api/v1/initiatives/{HOTLINE}").get_json()
    first = record["evidence"][0]
    zh, en = page.texts["cite-quote-1-zh"], " ".join(page.texts["cite-quote-1-en"].split())
    assert zh.startswith("新华社：《凝心聚力推动社会工作高质量发展——我国社会工作取得新成效、开创新局面》，2026-01-25，第 27 段。")
    assert f"引文：“{first['quote']}”（原文字符位置 [{first['start']}, {first['end']})）" in zh
    assert en.startswith("Xinhua News Agency, ") and ", 2026-01-25, paragraph 27. Quoted: “" in en
    assert zh.endswith(BASE + f"/initiatives/{HOTLINE}") and en.endswith(BASE + f"/initiatives/{HOTLINE}")
