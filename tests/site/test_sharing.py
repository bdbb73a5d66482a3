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
