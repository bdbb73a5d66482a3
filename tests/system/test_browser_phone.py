"""Issue 23's tasks walked in Chromium at phone (390×844, 320×640) and desktop (1366×900) sizes: a link shared in
WeChat, "Beijing including national measures", no sideways scrolling, the filters folded on a phone, axe-core with
every rule, the HTML 404, sharing and citation.

Uses the browser fixtures of tests/system/test_browser.py (skipped without Chromium unless REQUIRE_BROWSER=1).
Screenshots: test-artifacts/screenshots/phone-<task>-<size>.png; each task's steps: test-artifacts/phone-tasks.json.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from test_browser import CSP_WATCH, ROOT, UI_TIMEOUT, browser, playwright_api, screenshot, server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

SIZES = {"phone": (390, 844), "narrow": (320, 640), "desktop": (1366, 900)}
TASKS_REPORT = ROOT / "test-artifacts" / "phone-tasks.json"
WECHAT = "from=singlemessage&isappinstalled=0"


class Walk:
    """One task at one size: a page in a fresh context, every step counted, nothing off 127.0.0.1, no CSP violation."""

    def __init__(self, browser, size: str, js: bool = True):
        w, h = SIZES[size]
        self.size = size
        self.context = browser.new_context(viewport={"width": w, "height": h}, locale="zh-CN", java_script_enabled=js,
                                           is_mobile=size != "desktop", has_touch=size != "desktop")
        self.context.set_default_timeout(UI_TIMEOUT)
        self.page = self.context.new_page()
        self.page.add_init_script(CSP_WATCH)
        self.steps = 0
        self.foreign: list[str] = []
        self.page.on("request", lambda r: self.foreign.append(r.url) if urlsplit(r.url).hostname not in (None, "127.0.0.1")
                     and urlsplit(r.url).scheme not in ("data", "blob") else None)

    def goto(self, url: str, status: int = 200):
        self.steps += 1
        resp = self.page.goto(url, wait_until="networkidle")
        assert resp.status == status, (url, resp.status)
        return resp

    def click(self, selector: str):
        self.steps += 1
        with self.page.expect_navigation(wait_until="networkidle"):
            self.page.click(selector)

    def overflow(self) -> int:
        """How far the page is wider than the screen, in CSS pixels: it scrolls sideways, or (on a phone) the layout
        viewport grows to hold it and the page is shown zoomed out."""
        return self.page.evaluate("""w => Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,
            window.innerWidth - w)""", SIZES[self.size][0])

    def done(self, task: str, report: dict) -> None:
        screenshot(self.page, f"phone-{task}-{self.size}.png")
        report.setdefault(task, {})[self.size] = {"steps": self.steps,
                                                 "screenshot": f"test-artifacts/screenshots/phone-{task}-{self.size}.png"}
        assert self.page.evaluate("window.cspViolations || []") == []
        assert self.foreign == []
        self.context.close()


def report_to(path):
    """A module's report (a dict the tests fill), written to path at the end, merged into what a run before wrote."""
    report: dict = {}
    yield report
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for key, value in report.items():
        old.setdefault(key, {}).update(value)
    path.write_text(json.dumps(old, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tasks_report():
    yield from report_to(TASKS_REPORT)


def listed(page) -> list[str]:
    return page.eval_on_selector_all("li.record", "els => els.map(e => e.dataset.id)")


@pytest.mark.parametrize("size", list(SIZES))
def test_a_link_shared_in_wechat_opens_the_page_it_names(browser, server, tasks_report, size):
    """Someone shares Jiangsu's 2025 list in WeChat: the link comes back with from= and isappinstalled=. It opens the
    list, its canonical link is the address without them, and the next step (a record) works."""
    walk = Walk(browser, size)
    walk.goto(server + f"/initiatives?region=江苏&year=2025&{WECHAT}&utm_source=wechat")
    page = walk.page
    assert listed(page) == ["jiangsu-party-led-residential-compound-governance",
                            "lianyungang-hailian-community-new-employment-services", "nantong-textile-association-industry-platform"]
    canonical = page.get_attribute('link[rel="canonical"]', "href")
    assert (urlsplit(canonical).path, parse_qs(urlsplit(canonical).query)) == ("/initiatives", {"region": ["江苏"], "year": ["2025"]})
    walk.click('li.record[data-id="nantong-textile-association-industry-platform"] h3 a')
    assert urlsplit(page.url).path == "/initiatives/nantong-textile-association-industry-platform"
    walk.goto(server + f"/initiatives/beijing-12345-hotline?{WECHAT}&fbclid=IwAR0")
    assert page.get_attribute('link[rel="canonical"]', "href") == server + "/initiatives/beijing-12345-hotline"
    walk.goto(server + f"/?{WECHAT}")
    walk.goto(server + f"/map?{WECHAT}")
    walk.goto(server + f"/sources/xinhua-2026-01-25-social-work?{WECHAT}")
    walk.done("shared-link", tasks_report)


@pytest.mark.parametrize("size", list(SIZES))
def test_beijing_including_national_measures_from_the_form(browser, server, tasks_report, size):
    """The form: 北京, the box "including national measures", then a kind: the box stays, the national ones are marked."""
    walk = Walk(browser, size)
    walk.goto(server + "/initiatives")
    page = walk.page
    if size != "desktop":  # on a phone the filters are folded: open them
        walk.steps += 1
        page.click("details.filters-fold > summary")
    walk.steps += 2
    page.fill("#f-region", "北京")
    page.check("#f-national")
    walk.click("form.filters button[type=submit]")
    assert parse_qs(urlsplit(page.url).query) == {"region": ["北京"], "include_national": ["true"]}
    assert (page.inner_text("#total"), page.inner_text("#national-count")) == ("29", "28")
    if size != "desktop":
        walk.steps += 1
        page.click("details.filters-fold > summary")
    walk.steps += 1
    page.select_option("#f-kind", "law")
    walk.click("form.filters button[type=submit]")
    assert parse_qs(urlsplit(page.url).query) == {"region": ["北京"], "include_national": ["true"], "kind": ["law"]}
    assert page.is_checked("#f-national")
    marked = page.eval_on_selector_all("li.record", "els => els.map(e => [e.dataset.id, !!e.querySelector('.badge.national')])")
    assert marked == [["urban-residents-committees-organic-law-revision", True], ["villagers-committees-organic-law-amendment", True]]
    walk.done("beijing-national", tasks_report)


# --- phone and accessibility --------------------------------------------------------------------

PAGES = {
    "landing": ("/", 200),
    "list": ("/initiatives?region=江苏&year=2025", 200),
    "list-national": ("/initiatives?region=北京&include_national=true", 200),
    "list-error": ("/initiatives?region=Sichuann", 400),
    "record": ("/initiatives/chengdu-zhonghe-fengchao-worker-station", 200),
    "record-law": ("/initiatives/villagers-committees-organic-law-amendment", 200),
    "record-figures": ("/initiatives/beijing-12345-hotline", 200),
    "source": ("/sources/xinhua-2026-01-25-social-work", 200),
    "map": ("/map", 200),
    "not-found": ("/initiatives/no-such-record", 404),
    "swagger": ("/apidocs/", 200),
    "unknown-path": ("/no/such/page", 404),
    "report": ("/report?page=/initiatives/beijing-12345-hotline", 200),
}
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_ALL_REPORT = ROOT / "test-artifacts" / "axe-all-rules.json"
EVERY_RULE = "() => axe.run(document, {resultTypes: ['violations'], rules: Object.fromEntries(axe.getRules().map(r => [r.ruleId, {enabled: true}]))})"
# CJK text whose nearest lang is English (a screen reader would read it in an English voice)
CHINESE_IN_ENGLISH = """() => { const out = [], cjk = /[\\u3400-\\u9fff]/;
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) { const el = n.parentElement;
    if (!el || !cjk.test(n.data) || el.closest('script, style, title, option')) continue;
    const l = el.closest('[lang]'); if (l && l.getAttribute('lang').startsWith('en')) out.push(n.data.trim().slice(0, 40)); }
  return out; }"""


def open_at(walk: Walk, server: str, kind: str):
    url, status = PAGES[kind]
    walk.goto(server + url, status)
    if kind == "swagger":
        walk.page.wait_for_selector(".opblock-tag", timeout=UI_TIMEOUT)


@pytest.fixture(scope="module")
def axe_all():
    yield from report_to(AXE_ALL_REPORT)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("kind", list(PAGES))
def test_no_page_scrolls_sideways(browser, server, tasks_report, kind, size):
    walk = Walk(browser, size)
    open_at(walk, server, kind)
    assert walk.overflow() == 0
    walk.done(f"page-{kind}", tasks_report)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
@pytest.mark.parametrize("kind", list(PAGES))
def test_axe_with_every_rule_finds_nothing_serious(browser, server, axe_all, kind, size, scheme):
    """axe-core with every rule on (AAA contrast, target size, best practice, experimental): no serious or critical
    violation on any page type, Swagger UI's included, at phone and desktop sizes, light and dark."""
    walk = Walk(browser, size)
    walk.page.emulate_media(color_scheme=scheme)
    open_at(walk, server, kind)
    walk.page.evaluate(AXE.read_text(encoding="utf-8"))
    result = walk.page.evaluate(EVERY_RULE)
    found = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]]
    axe_all[f"{kind} {size} {scheme}"] = {"url": PAGES[kind][0], "axe": result["testEngine"]["version"],
                                          **{i: sum(n for _, imp, n in found if imp == i) for i in ("minor", "moderate", "serious", "critical")},
                                          "violations": [{"id": i, "impact": imp, "nodes": n} for i, imp, n in found]}
    walk.context.close()
    assert [v for v in found if v[1] in ("serious", "critical")] == []


@pytest.mark.parametrize("size", list(SIZES))
def test_chart_and_map_labels_are_12_px_or_more(browser, server, tasks_report, size):
    walk = Walk(browser, size)
    walk.goto(server + "/")
    sizes = walk.page.evaluate("""() => [...document.querySelectorAll('svg.bars text, svg.bars tspan, svg.tiles text')].map(t => {
        const svg = t.ownerSVGElement, scale = svg.getScreenCTM().a;
        return [t.textContent.trim(), parseFloat(getComputedStyle(t).fontSize) * scale]; })""")
    assert len(sizes) > 100
    assert [(text, round(px, 1)) for text, px in sizes if px < 12] == []
    assert walk.overflow() == 0
    walk.done("labels", tasks_report)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_the_filters_fold_away_on_a_phone(browser, server, tasks_report, size, js):
    """On a phone the filters are one line (a <details>) and the first result is on the first screen; one tap opens
    them, with or without JavaScript. On a desktop they are open."""
    walk = Walk(browser, size, js=js)
    walk.goto(server + "/initiatives?region=江苏&year=2025")
    page = walk.page
    first = page.locator("li.record").first.bounding_box()
    assert first["y"] < SIZES[size][1], "the first result is on the first screen"
    if size == "desktop":
        assert page.is_visible("#f-region") and not page.is_visible("details.filters-fold > summary")
    else:
        assert not page.is_visible("#f-region")
        assert "已选 2 项" in page.inner_text("details.filters-fold > summary")
        walk.steps += 1
        page.click("details.filters-fold > summary")
        assert page.is_visible("#f-region") and page.locator("#f-region").input_value() == "江苏"
    walk.done(f"filters-{'js' if js else 'nojs'}", tasks_report)


def test_focus_on_a_bar_and_a_tile_is_an_outline(browser, server):
    walk = Walk(browser, "desktop")
    walk.goto(server + "/")
    page = walk.page
    page.focus('svg.bars a[href="/initiatives?kind=hotline"]')
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    stroke = page.evaluate("""() => { const hit = document.activeElement.querySelector('.hit'); const s = getComputedStyle(hit);
        return [s.stroke, s.strokeWidth]; }""")
    assert stroke[0] not in ("none", "") and float(stroke[1].removesuffix("px")) >= 2, stroke
    page.focus('svg.tiles a[data-code="510000"]')
    assert page.evaluate("getComputedStyle(document.activeElement.querySelector('rect')).strokeWidth") == "3px"
    walk.context.close()


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_articles_reference_links_are_24_px_targets(browser, server, tasks_report, size):
    walk = Walk(browser, size)
    walk.goto(server + "/sources/xinhua-2026-01-25-social-work")
    boxes = walk.page.eval_on_selector_all("a.pnum, ul.also a", "as => as.map(a => [a.getAttribute('href'), a.getBoundingClientRect().width, a.getBoundingClientRect().height])")
    assert len(boxes) > 40
    assert [b for b in boxes if b[1] < 24 or b[2] < 24] == []
    also = walk.page.eval_on_selector_all("ul.also a", "as => as.map(a => a.textContent.replace(/\\s+/g, ' ').trim())")
    assert also and all(a[0].isdigit() and len(a) > 4 for a in also), "each record is named, not only numbered"
    walk.steps += 1
    with walk.page.expect_navigation():
        walk.page.click("ul.also a >> nth=0")
    assert urlsplit(walk.page.url).path.startswith("/initiatives/")
    walk.done("references", tasks_report)


def test_the_map_legend_names_what_each_shade_counts(browser, server):
    walk = Walk(browser, "phone")
    walk.goto(server + "/map")
    legend = walk.page.eval_on_selector_all(".map .legend .keys li", "ls => ls.map(l => [l.dataset.shade, l.textContent.replace(/\\s+/g, ' ').trim()])")
    assert legend == [["0", "0 项 initiatives"], ["1", "1 项 initiative"], ["2", "2 项 initiatives"], ["3", "3 项 initiatives"]]
    counts = walk.page.eval_on_selector_all("svg.tiles a", "as => as.map(a => [Number(a.dataset.count), a.getAttribute('class')])")
    assert {c: cls for c, cls in counts} == {0: "tile shade-0", 1: "tile shade-1", 2: "tile shade-2", 3: "tile shade-3"}
    walk.context.close()


@pytest.mark.parametrize("kind", ["landing", "list", "record", "record-law", "source", "map"])
def test_chinese_inside_english_text_is_marked(browser, server, kind):
    walk = Walk(browser, "desktop")
    open_at(walk, server, kind)
    assert walk.page.evaluate(CHINESE_IN_ENGLISH) == []
    walk.context.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_an_unknown_address_is_the_sites_page_and_a_problem_can_be_reported(browser, server, tasks_report, size):
    """A mistyped address in a browser: the site's 404 page with its header (not raw JSON); from a record, the footer's
    "report a problem" leads to a page about that record."""
    walk = Walk(browser, size)
    walk.goto(server + "/initiative/beijing-12345-hotline", 404)
    page = walk.page
    assert page.inner_text("h1").startswith("找不到该页面")
    assert page.is_visible("header.masthead nav a[href='/initiatives']")
    walk.click("main a[href='/initiatives']")
    assert urlsplit(page.url).path == "/initiatives"
    walk.goto(server + "/initiatives/beijing-12345-hotline")
    walk.click("#report-link")
    assert parse_qs(urlsplit(page.url).query) == {"page": ["/initiatives/beijing-12345-hotline"]}
    assert page.inner_text("#report-record") == "beijing-12345-hotline"
    assert page.get_attribute("#report-page", "href") == "/initiatives/beijing-12345-hotline"
    walk.done("not-found-report", tasks_report)


def test_a_printed_record_has_no_navigation_and_shows_its_links(browser, server, tasks_report):
    walk = Walk(browser, "desktop")
    walk.goto(server + "/initiatives/beijing-12345-hotline")
    walk.page.emulate_media(media="print")
    page = walk.page
    assert [page.is_visible(s) for s in ("header.masthead nav", "#report-link", "#record-title")] == [False, False, True]
    after = page.evaluate("getComputedStyle(document.querySelector('#record-json'), '::after').content")
    assert after.startswith('" <') and "/api/v1/initiatives/beijing-12345-hotline" in after
    walk.page.pdf(path=str(ROOT / "test-artifacts" / "record-print.pdf"))
    walk.done("print", tasks_report)


@pytest.mark.parametrize("size", list(SIZES))
def test_share_a_record_and_cite_one_quote(browser, server, tasks_report, size):
    """Open a record, copy its link (the clipboard holds the canonical address), open a quote's citation and copy it."""
    walk = Walk(browser, size)
    walk.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    walk.goto(server + f"/initiatives/beijing-12345-hotline?{WECHAT}")
    page = walk.page
    walk.steps += 1
    page.click("#share button.copy")
    page.wait_for_function("document.getElementById('copy-status').textContent.length > 0")
    assert page.evaluate("navigator.clipboard.readText()") == server + "/initiatives/beijing-12345-hotline"
    assert page.inner_text("#copy-status") == "已复制 Copied"
    walk.steps += 2
    page.click("#quote-1 > summary")
    page.click('#quote-1 button[data-copy="cite-quote-1-zh"]')
    page.wait_for_function("navigator.clipboard.readText().then(t => t.startsWith('新华社'))")
    assert "第 27 段" in page.evaluate("navigator.clipboard.readText()")
    assert walk.overflow() == 0
    walk.done("share-cite", tasks_report)


def test_without_javascript_the_copy_buttons_stay_hidden_and_the_link_is_there(browser, server):
    walk = Walk(browser, "phone", js=False)
    walk.goto(server + "/initiatives/beijing-12345-hotline")
    assert walk.page.locator("button.copy").count() > 5 and walk.page.locator("button.copy:visible").count() == 0
    assert walk.page.inner_text("#share-url") == server + "/initiatives/beijing-12345-hotline"
    walk.context.close()
