"""The site in a real browser: Debian's Chromium driven by playwright against the real server (gunicorn) on loopback.

Skipped when Chromium is missing, unless REQUIRE_BROWSER=1 (set by .ci/run), where that is a failure.
Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}
EXTERNAL_LINKS = {"https://creativecommons.org/licenses/by/4.0/"}  # shown, never requested
UI_TIMEOUT = 15_000  # ms
# A parameter's own input in Swagger UI's Try it out (not its "Examples" chooser).
VALUE_FIELD = "xpath=./td[contains(@class, 'parameters-col_description')]/*[self::input or self::select or self::textarea]"


@pytest.fixture(scope="module")
def playwright_api():
    """playwright's sync API, or a skip (a failure under REQUIRE_BROWSER=1) saying what is missing."""
    missing = None
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing = f"{CHROMIUM} not found: apt-get install chromium fonts-wqy-zenhei"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            missing = f"the playwright package is not installed ({exc}): pip install -e '.[test]'"
    if missing:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {missing}", pytrace=False)
        pytest.skip(missing)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_api):
    b = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
    yield b
    b.close()


@pytest.fixture(scope="module")
def server(live_server, playwright_api):
    """The real gunicorn (tests/conftest.py), asked for only once a browser is known to be there."""
    return live_server


class Watched:
    """A page with every request URL, console error and page error it produced."""

    def __init__(self, context):
        self.page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def foreign_requests(self) -> list[str]:
        return [u for u in self.requests if urlsplit(u).scheme not in ("data", "blob")
                and urlsplit(u).hostname not in LOCAL_HOSTS]


@pytest.fixture()
def watched(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(UI_TIMEOUT)
    w = Watched(context)
    yield w
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


# --- Swagger UI ---------------------------------------------------------------------------------

def test_swagger_ui_loads_the_contract_and_runs_a_query(server, watched):
    page = watched.page
    resp = page.goto(server + "/apidocs/", wait_until="networkidle")
    assert resp.status == 200, resp.text()[:300]
    op = page.locator(".opblock.opblock-get", has=page.locator('.opblock-summary-path[data-path="/api/v1/initiatives"]'))
    op.first.wait_for()
    assert any(u == server + "/openapi.json" for u in watched.requests), watched.requests

    op = op.first
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    # Try it out starts from the contract's examples (a search, a cursor, an If-None-Match...): clear them and
    # fill ours. A multiple choice cannot be emptied (Swagger UI then sends kind=, a 400), so every value is
    # chosen, which filters nothing.
    wanted = {"region": "江苏", "year": "2025"}
    for row in op.locator("tr[data-param-name]").all():
        name = row.get_attribute("data-param-name")
        field = row.locator(VALUE_FIELD)
        if field.evaluate("e => e.tagName") != "SELECT":
            field.fill(wanted.get(name, ""))
        elif field.evaluate("e => e.multiple"):
            field.select_option([v for v in field.evaluate("e => [...e.options].map(o => o.value)") if v])
        else:
            field.select_option(wanted.get(name, ""))
    assert set(wanted) <= {r.get_attribute("data-param-name") for r in op.locator("tr[data-param-name]").all()}
    op.locator("button.execute").click()
    body = op.locator(".responses-wrapper .live-responses-table .response-col_description pre").first
    body.wait_for()
    page.wait_for_function("el => el.textContent.includes('jiangsu-party-led-residential-compound-governance')",
                           arg=body.element_handle(), timeout=UI_TIMEOUT)
    text = body.inner_text()
    records = ("jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
               "nantong-textile-association-industry-platform")
    assert [record for record in records if record not in text] == [], text[:500]
    request_url = op.locator(".request-url pre").inner_text()
    assert [part for part in ("/api/v1/initiatives?", "year=2025") if part not in request_url] == [], request_url

    screenshot(page, "swagger.png")
    assert watched.errors == []
    assert watched.foreign_requests() == []


# --- the landing page ---------------------------------------------------------------------------

def facet_counts(page, server) -> dict[str, list[tuple[str, int]]]:
    data = page.request.get(server + "/api/v1/facets").json()["data"]
    years: dict = {}
    for r in data["year"]:
        years[r["year"]] = years.get(r["year"], 0) + r["count"]
    national = sum(s["count"] for s in data["scope"] if s["id"] == "national")
    return {
        "province": [("national", national)] + [(r["code"], r["count"]) for r in data["province"]],
        "kind": [(r["id"], r["count"]) for r in data["kind"]],
        "year": [(str(y), c) for y, c in years.items()],
    }


def test_landing_page_renders_its_charts_links_and_chinese(server, watched):
    page = watched.page
    resp = page.goto(server + "/", wait_until="networkidle")
    assert resp.status == 200

    drawn = page.eval_on_selector_all("svg.bars", """svgs => Object.fromEntries(svgs.map(s => [s.dataset.chart,
        {label: s.getAttribute('aria-label'), width: s.getBoundingClientRect().width,
         bars: [...s.querySelectorAll('g.bar')].map(g => [g.dataset.code, Number(g.dataset.count),
                g.querySelector('text.count').textContent.trim(), g.getBBox().width])}]))""")
    expected = facet_counts(page, server)
    assert sorted(drawn) == sorted(expected)
    for chart, want in expected.items():
        assert drawn[chart]["label"], chart
        assert drawn[chart]["width"] > 0, chart
        assert [(code, count) for code, count, _, _ in drawn[chart]["bars"]] == want, chart
        # Each bar shows its count as text and has a width.
        assert [(text, width > 0) for _, _, text, width in drawn[chart]["bars"]] == [(str(count), True) for _, count in want], chart

    # Chinese is laid out with real glyphs: two different characters draw differently (missing glyphs are all one box).
    heading = page.locator("h1 .zh")
    assert "中国社会工作举措开放数据" in heading.inner_text()
    assert heading.bounding_box()["width"] > 100
    glyphs = page.evaluate("""font => ['中', '国', '\\u4e00'].map(ch => {
        const c = document.createElement('canvas'); c.width = c.height = 48;
        const g = c.getContext('2d'); g.font = '40px ' + font; g.fillText(ch, 4, 40); return c.toDataURL(); })""",
                           page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily"))
    assert len(set(glyphs)) == 3, "CJK characters render as identical boxes: no CJK font"

    links = page.evaluate("""() => [...document.querySelectorAll('a[href], link[href]')]
        .map(a => new URL(a.getAttribute('href'), document.baseURI).href)""")
    local = sorted({u.split("#")[0] for u in links if urlsplit(u).hostname in LOCAL_HOSTS})
    assert {u for u in links if urlsplit(u).hostname not in LOCAL_HOSTS} <= EXTERNAL_LINKS
    assert len(local) >= 30
    failed = [(u, r.status) for u in local if (r := page.request.get(u, max_redirects=0)).status != 200]
    assert failed == []

    screenshot(page, "landing.png")
    assert watched.errors == []
    assert watched.foreign_requests() == []


def test_a_download_link_delivers_the_file(server, watched):
    page = watched.page
    page.goto(server + "/", wait_until="networkidle")
    with page.expect_download() as info:
        page.locator('a[href="/downloads/initiatives-table.csv"]').click()
    download = info.value
    assert download.suggested_filename == "initiatives-table.csv"
    text = Path(download.path()).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[:4] == ["id", "source_id", "name_zh", "name_en"]
    assert len(rows) == page.request.get(server + "/api/v1").json()["counts"]["initiatives"]
    assert watched.errors == []
    assert watched.foreign_requests() == []
