"""The pages for people in Chromium (the real gunicorn on loopback): the form, a record's quotes in context, the annotated
source, the map, keyboard use, no JavaScript needed, and axe-core on every page type.

Uses the browser fixtures of tests/system/test_browser.py (skipped without Chromium unless REQUIRE_BROWSER=1). Screenshots go
to test-artifacts/screenshots/pages-*.png; axe-core's counts per page type to test-artifacts/axe.json.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from test_browser import (  # noqa: F401
    CSP_WATCH,
    ROOT,
    UI_TIMEOUT,
    browser,
    playwright_api,
    screenshot,
    server,  # browser, playwright_api, server, watched: fixtures
    watched,
)

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_REPORT = ROOT / "test-artifacts" / "axe.json"
SOURCE = "xinhua-2026-01-25-social-work"
JIANGSU_2025 = ["jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
                "nantong-textile-association-industry-platform"]
SICHUAN = ["chengdu-jinjiang-guoce-secretary-studio", "chengdu-zhonghe-fengchao-worker-station",
           "chengdu-zhonghe-summer-childcare-class"]
# Every page type, with the file its screenshot goes to.
PAGE_TYPES = {
    "landing": "/",
    "list": "/initiatives?region=江苏&year=2025",
    "list-error": "/initiatives?region=Sichuann",
    "record": "/initiatives/chengdu-zhonghe-fengchao-worker-station",
    "source": f"/sources/{SOURCE}",
    "map": "/map",
    "not-found": "/initiatives/no-such-record",
}


def open_page(watched, url: str, status: int = 200):
    page = watched.page
    page.add_init_script(CSP_WATCH)
    resp = page.goto(url, wait_until="networkidle")
    assert resp.status == status, (url, resp.status)
    return page


def clean(watched, status: int = 200) -> None:
    """Nothing went wrong in the page: no CSP violation, no console error (but Chromium's note of the page's own
    4xx status, on an error page), no request off 127.0.0.1."""
    assert watched.page.evaluate("window.cspViolations || []") == []
    own = f"console.error: Failed to load resource: the server responded with a status of {status} "
    assert [e for e in watched.errors if not (status >= 400 and e.startswith(own))] == []
    assert watched.foreign_requests() == []


def listed(page) -> list[str]:
    return page.eval_on_selector_all("li.record", "els => els.map(e => e.dataset.id)")


def test_filter_by_jiangsu_and_2025_through_the_form(server, watched):
    page = open_page(watched, server + "/initiatives")
    page.fill("#f-region", "江苏")
    page.fill("#f-year", "2025")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    query = parse_qs(urlsplit(page.url).query)
    assert (urlsplit(page.url).path, query) == ("/initiatives", {"region": ["江苏"], "year": ["2025"]})
    assert listed(page) == JIANGSU_2025
    assert page.inner_text("#total") == "3"
    assert page.locator("#f-region").input_value() == "江苏"
    api = page.request.get(server + page.locator("#api-url").get_attribute("href")).json()
    assert [r["id"] for r in api["data"]] == JIANGSU_2025
    clean(watched)


def test_the_form_works_without_javascript(browser, server):
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    context.set_default_timeout(UI_TIMEOUT)
    try:
        page = context.new_page()
        page.goto(server + "/initiatives", wait_until="networkidle")
        page.select_option("#f-kind", "hotline")
        page.click("form.filters button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.url == server + "/initiatives?kind=hotline"
        assert page.eval_on_selector_all("li.record", "els => els.map(e => e.dataset.id)") == ["beijing-12345-hotline"]
    finally:
        context.close()


def test_from_the_landing_page_the_map_leads_to_sichuan_and_its_evidence(server, watched):
    """A newcomer's way: /, the map's 四川, a record, its quote in the article's paragraph, and how to cite it."""
    page = open_page(watched, server + "/")
    page.click('#map-figure a.tile[data-code="510000"]')
    page.wait_for_load_state("networkidle")
    assert page.url == server + "/initiatives?region=510000"
    assert listed(page) == SICHUAN
    page.click('li.record[data-id="chengdu-zhonghe-fengchao-worker-station"] h3 a')
    page.wait_for_load_state("networkidle")
    assert page.url == server + "/initiatives/chengdu-zhonghe-fengchao-worker-station"
    record = page.request.get(server + "/api/v1/initiatives/chengdu-zhonghe-fengchao-worker-station").json()
    seen = page.eval_on_selector_all("figure.context blockquote p", """ps => ps.map(p => ({
        paragraph: p.textContent, marks: [...p.querySelectorAll('mark')].map(m => m.textContent),
        highlighted: [...p.querySelectorAll('mark')].every(m => getComputedStyle(m).backgroundColor !== 'rgba(0, 0, 0, 0)')}))""")
    seed = (ROOT / "seeds" / f"{SOURCE}.txt").read_text(encoding="utf-8").split("\n")
    assert all(s["paragraph"] in seed for s in seen), "each quote is shown inside a whole paragraph of the article"
    marked = "".join(m for s in seen for m in s["marks"])
    assert [e["quote"] for e in record["evidence"] if e["quote"] not in marked] == []
    assert all(s["highlighted"] for s in seen)
    root = page.request.get(server + "/api/v1").json()
    assert page.inner_text("#cite-version") == f"{root['release']['version']} (build {root['version']})"
    assert page.inner_text("#permalink") == page.url
    clean(watched)


def test_on_the_source_page_every_highlighted_span_links_to_a_record_that_quotes_it(server, watched):
    page = open_page(watched, server + f"/sources/{SOURCE}")
    marks = page.eval_on_selector_all("article.source mark", """ms => ms.map(m => ({
        start: Number(m.dataset.start), end: Number(m.dataset.end), text: m.textContent,
        href: m.querySelector('a').getAttribute('href')}))""")
    assert len(marks) == 54  # 62 quotes; a span several records quote is one mark
    evidence: dict[str, list] = {}
    for m in marks:
        rid = m["href"].removeprefix("/initiatives/")
        if rid not in evidence:
            evidence[rid] = page.request.get(server + f"/api/v1/initiatives/{rid}").json()["evidence"]
        assert any(e["start"] <= m["start"] and m["end"] <= e["end"] and m["text"] in e["quote"] for e in evidence[rid]), m
    first = marks[0]
    page.click(f'article.source mark[data-start="{first["start"]}"] a')
    page.wait_for_load_state("networkidle")
    assert page.url == server + first["href"]
    assert first["text"] in page.inner_text("figure.context")
    clean(watched)


def test_the_keyboard_reaches_every_control_of_the_form(server, watched):
    page = open_page(watched, server + "/initiatives")
    controls = page.eval_on_selector_all("form.filters input:not([type=hidden]), form.filters select, form.filters button",
                                         "els => els.map(e => e.id || e.type)")
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id || document.activeElement.type || document.activeElement.tagName"))
    assert reached[0] == "A" and page.evaluate("document.querySelector('.skip').textContent").startswith("跳到正文")
    assert [c for c in controls if c not in reached] == []
    order = [reached.index(c) for c in controls]
    assert order == sorted(order), "the controls are reached in the order they are shown"
    # the skip link, the first stop, moves the focus to the content
    page.goto(server + "/initiatives")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"


def test_the_keyboard_reaches_every_tile_of_the_map(server, watched):
    page = open_page(watched, server + "/map")
    tiles = page.eval_on_selector_all("svg.tiles a", "as => as.map(a => a.dataset.code)")
    reached = set()
    for _ in range(len(tiles) + 20):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.dataset ? document.activeElement.dataset.code || '' : ''"))
    assert set(tiles) <= reached and len(tiles) == 33
    page.focus('svg.tiles a[data-code="510000"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == server + "/initiatives?region=510000"


AXE_IMPACTS = ("minor", "moderate", "serious", "critical")


@pytest.fixture(scope="module")
def axe_report():
    report: dict = {}
    yield report
    AXE_REPORT.parent.mkdir(parents=True, exist_ok=True)
    AXE_REPORT.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind", list(PAGE_TYPES))
def test_axe_finds_no_serious_or_critical_violation(server, watched, axe_report, kind):
    url = PAGE_TYPES[kind]
    status = {"list-error": 400, "not-found": 404}.get(kind, 200)
    page = open_page(watched, server + url, status)
    # axe runs through the DevTools protocol (evaluate), not as a page script: the page's CSP stays as served
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("""() => axe.run(document, {resultTypes: ['violations'],
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    violations = [(v["id"], v["impact"], len(v["nodes"]), v["help"]) for v in result["violations"]]
    counts = {impact: sum(n for _, i, n, _ in violations if i == impact) for impact in AXE_IMPACTS}
    axe_report[kind] = {"url": url, "axe": result["testEngine"]["version"], **counts,
                        "violations": [{"id": i, "impact": imp, "nodes": n} for i, imp, n, _ in violations]}
    screenshot(page, f"pages-{kind}.png")
    assert [v for v in violations if v[1] in ("serious", "critical")] == []
    clean(watched, status)


def test_axe_does_report_a_violation_where_there_is_one(browser):
    """The control for the test above: the same run of axe-core on a page with known faults names them."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<!DOCTYPE html><html><head><title>t</title></head><body><main><img src="data:,">'
                         '<p style="color:#777;background:#888">low contrast</p></main></body></html>')
        page.evaluate(AXE.read_text(encoding="utf-8"))
        result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        found = {v["id"]: v["impact"] for v in result["violations"]}
        assert {k: found.get(k) for k in ("image-alt", "color-contrast", "html-has-lang")} == \
            {"image-alt": "critical", "color-contrast": "serious", "html-has-lang": "serious"}
    finally:
        context.close()
