"""The site in a real browser: Debian's Chromium driven by playwright against the real server (gunicorn) on loopback.

Skipped when Chromium is missing, unless REQUIRE_BROWSER=1 (set by .ci/run), where that is a failure.
Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
LOCAL_HOSTS = {"127.0.0.1"}
EXTERNAL_LINKS = {"https://creativecommons.org/licenses/by/4.0/"}  # shown, never requested
UI_TIMEOUT = 15_000  # ms
# A parameter's own input in Swagger UI's Try it out (not its "Examples" chooser).
VALUE_FIELD = ("xpath=./td[contains(@class, 'parameters-col_description')]//*[self::input or self::select or self::textarea]"
               "[not(ancestor::*[contains(@class, 'examples-select')])]")


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

SWAGGER_UI_VERSION = "5.35.0"  # package.json
# A page's Content-Security-Policy violations, recorded where the page can be asked for them.
CSP_WATCH = """document.addEventListener('securitypolicyviolation', e =>
    (window.cspViolations = window.cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI))"""
# The operations whose answer is a list (or, for facets, counts) in `data`: each must show some.
LIST_OPERATIONS = {"listInitiatives", "listRegions", "listMetrics", "listProblemTypes", "listKinds", "listThemes",
                   "listSources", "listDownloads", "getFacets"}


def open_swagger_ui(watched, url: str):
    page = watched.page
    page.add_init_script(CSP_WATCH)
    resp = page.goto(url, wait_until="networkidle")
    assert resp.status == 200, resp.text()[:300]
    page.locator(".opblock.opblock-get").first.wait_for()
    return page


def contract_operations(page, server) -> dict[str, dict]:
    """Every GET operation of the contract, by path, as the server serves it, its parameters' $refs resolved."""
    spec = page.request.get(server + "/openapi.json").json()

    def resolve(obj):
        while "$ref" in obj:
            obj = spec["components"]["parameters"][obj["$ref"].rsplit("/", 1)[-1]]
        return obj
    return {path: {**item["get"], "parameters": [resolve(p) for p in item["get"].get("parameters", [])]}
            for path, item in spec["paths"].items() if "get" in item}


def operation_block(page, path: str):
    return page.locator(".opblock.opblock-get", has=page.locator(f'.opblock-summary-path[data-path="{path}"]')).first


def execute(op) -> tuple[str, str, str]:
    """Try it out and Execute with the form as offered: the status shown, the request URL and the body shown.

    Where the form offers a value its examples do not hold, the status is "[Modified value]".
    """
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    op.locator("button.execute").wait_for()
    if op.locator("select.examples-select-element").evaluate_all("ss => ss.some(s => s.value === '__MODIFIED__VALUE__')"):
        return "[Modified value]", "", ""
    op.locator("button.execute").click()
    status = op.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    body = op.locator("xpath=.//h5[normalize-space()='Response body']/..//pre")
    return status.inner_text().strip(), op.locator(".request-url pre").inner_text(), \
        body.first.inner_text() if body.count() else ""


def test_swagger_ui_is_the_pinned_version_and_runs_no_inline_code(server, watched):
    page = open_swagger_ui(watched, server + "/apidocs/")
    assert page.evaluate("window.versions.swaggerUI.version") == SWAGGER_UI_VERSION
    scripts = page.eval_on_selector_all("script", "ss => ss.map(s => [s.getAttribute('src'), s.textContent.trim()])")
    assert [s for s in scripts if not s[0] or s[1]] == [], "an inline script"
    assert {s for s, _ in scripts} == {"/apidocs/static/swagger-ui-bundle.js", "/apidocs/static/swagger-init.js"}
    bundle = page.request.get(server + "/apidocs/static/swagger-ui-bundle.js").text()
    assert f'PACKAGE_VERSION:"{SWAGGER_UI_VERSION}"' in bundle
    assert page.evaluate("window.cspViolations || []") == []
    assert watched.errors == []
    assert watched.foreign_requests() == []


def test_every_operation_answers_in_swagger_ui_as_offered(server, watched):
    """Expand, Try it out, Execute, for every GET operation, touching no field: each answers 200, each list has data."""
    page = open_swagger_ui(watched, server + "/apidocs/")
    operations = contract_operations(page, server)
    shown = page.eval_on_selector_all(".opblock.opblock-get .opblock-summary-path", "ps => ps.map(p => p.dataset.path)")
    assert sorted(shown) == sorted(operations)
    counts = page.request.get(server + "/api/v1").json()["counts"]
    walked, failed, bodies = [], [], {}
    for path, op in operations.items():
        block = operation_block(page, path)
        status, request_url, body = execute(block)
        walked.append((path, status))
        # The form as offered sends no filter: a query parameter is sent only with its schema's default.
        defaults = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query" and "default" in p.get("schema", {})}
        sent = {k for k, _ in parse_qsl(urlsplit(request_url).query, keep_blank_values=True)}
        if status != "200" or status not in op["responses"] or not sent <= defaults:
            failed.append((path, status, request_url, body[:200]))
        elif op["operationId"] in LIST_OPERATIONS:
            bodies[op["operationId"]] = answer = json.loads(body)
            data = answer["data"]
            if not data or (isinstance(data, dict) and not all(data.values())):
                failed.append((path, "empty data", request_url, body[:200]))
        block.locator(".opblock-summary").click()  # collapse: the page stays light
    assert failed == []
    assert len(walked) == len(operations) >= 17, walked
    assert sorted(bodies) == sorted(LIST_OPERATIONS)
    # No filter: every record counted (the first page shown), and facets over the whole dataset.
    for operation, what in (("listInitiatives", "initiatives"), ("listMetrics", "metrics"), ("listRegions", "regions")):
        assert bodies[operation]["meta"]["total"] == counts[what], operation
        assert len(bodies[operation]["data"]) == min(counts[what], bodies[operation]["meta"]["limit"]), operation
    assert sum(k["count"] for k in bodies["getFacets"]["data"]["kind"]) == counts["initiatives"]
    assert page.evaluate("window.cspViolations || []") == []
    assert watched.errors == []
    assert watched.foreign_requests() == []


HOSTILE_CONTRACT = {"openapi": "3.0.3", "info": {"title": "Hostile contract", "version": "6.6.6"},
                    "paths": {"/steal": {"get": {"summary": "Hostile operation", "responses": {"200": {"description": "x"}}}}}}


@pytest.mark.parametrize("query", ["url={evil}/openapi.json", "url={data}", "configUrl={evil}/config.json",
                                   "config={evil}/config.json"])
def test_swagger_ui_ignores_configuration_in_its_address(server, watched, query):
    """?url=, ?configUrl= and ?config= name another contract (on this origin, so only Swagger UI's setting can refuse it)."""
    page = watched.page
    evil = server + "/evil"
    served = []

    def hostile(route):
        served.append(route.request.url)
        body = {"url": evil + "/openapi.json"} if route.request.url.endswith("/config.json") else HOSTILE_CONTRACT
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(evil + "/**", hostile)
    data = "data:application/json;base64," + base64.b64encode(json.dumps(HOSTILE_CONTRACT).encode()).decode()
    page = open_swagger_ui(watched, server + "/apidocs/?" + query.format(evil=quote(evil, safe=""), data=quote(data, safe="")))
    title = page.locator(".info .title").inner_text()
    assert "China social-work initiatives API" in title and "Hostile" not in title
    assert operation_block(page, "/api/v1/initiatives").is_visible()
    assert page.locator("text=Hostile operation").count() == 0
    assert served == [] and [u for u in watched.requests if "/evil" in u or u.startswith("data:")] == []
    assert watched.errors == []


def test_swagger_ui_loads_the_contract_and_runs_a_query(server, watched):
    page = open_swagger_ui(watched, server + "/apidocs/")
    assert any(u == server + "/openapi.json" for u in watched.requests), watched.requests

    op = operation_block(page, "/api/v1/initiatives")
    op.locator(".opblock-summary").click()
    op.locator("button.try-out__btn").click()
    # Try it out offers no filter (only the defaults of sort and limit): fill ours.
    wanted = {"region": "江苏", "year": "2025"}
    for name, value in wanted.items():
        row = op.locator(f'tr[data-param-name="{name}"]')
        add = row.locator("button.json-schema-form-item-add")
        if add.count():  # a list parameter is an array (region=…&region=…): give it one item
            add.click()
        row.locator(VALUE_FIELD).first.fill(value)
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
    assert page.evaluate("window.cspViolations || []") == []
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
        "year": [("" if y is None else str(y), c) for y, c in years.items()],   # no year: the bar's code is empty
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
