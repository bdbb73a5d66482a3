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
        """How far the page scrolls sideways, in CSS pixels."""
        return self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    def done(self, task: str, report: dict) -> None:
        screenshot(self.page, f"phone-{task}-{self.size}.png")
        report.setdefault(task, {})[self.size] = {"steps": self.steps,
                                                 "screenshot": f"test-artifacts/screenshots/phone-{task}-{self.size}.png"}
        assert self.page.evaluate("window.cspViolations || []") == []
        assert self.foreign == []
        self.context.close()


@pytest.fixture(scope="module")
def tasks_report():
    report: dict = {}
    yield report
    TASKS_REPORT.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(TASKS_REPORT.read_text(encoding="utf-8")) if TASKS_REPORT.exists() else {}
    for task, sizes in report.items():
        old.setdefault(task, {}).update(sizes)
    TASKS_REPORT.write_text(json.dumps(old, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


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
