"""Both array forms: kind=a,b and kind=a&kind=b (and a mix) mean the same for every list parameter; a
single-valued parameter given twice is a 400 naming it; cursors work whichever form issued them."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from api.web import args as schemas

API = "/api/v1"
BASE = "http://localhost"  # the test client's scheme and Host
HOTLINE_FUND = ["beijing-12345-hotline", "zhejiang-courier-care-fund"]
BEIJING_JIANGSU = ["beijing-12345-hotline", "jiangsu-party-led-residential-compound-governance",
                   "lianyungang-hailian-community-new-employment-services", "nantong-textile-association-industry-platform"]
EXAMS_AND_LAWS = ["social-worker-exam-syllabus-revision", "social-worker-qualification-exam-2025",
                  "urban-residents-committees-organic-law-revision", "villagers-committees-organic-law-amendment"]

# (label, the same query written several ways, total, the ids of the first page: initiative ids, region codes
# or, for metrics, initiative_id/unit)
SAME = [
    ("kind", ["kind=hotline,fund", "kind=hotline&kind=fund", "kind=fund&kind=hotline", "kind=hotline, fund"],
     2, HOTLINE_FUND),
    ("kind mixed", ["kind=hotline,fund,law", "kind=hotline,fund&kind=law", "kind=hotline&kind=fund&kind=law",
                    "kind=law&kind=fund,hotline"],
     4, ["beijing-12345-hotline", "urban-residents-committees-organic-law-revision",
         "villagers-committees-organic-law-amendment", "zhejiang-courier-care-fund"]),
    ("kind repeated with itself", ["kind=hotline", "kind=hotline&kind=hotline", "kind=hotline,hotline&kind=hotline"],
     1, ["beijing-12345-hotline"]),
    ("region", ["region=北京,江苏", "region=北京&region=江苏", "region=110000&region=Jiangsu", "region=北京，江苏"],
     4, BEIJING_JIANGSU),
    ("kind and theme", ["kind=exam,law&theme=co-governance,grassroots", "kind=exam&kind=law&theme=co-governance&theme=grassroots",
                        "theme=grassroots&kind=law&theme=co-governance&kind=exam"],
     4, EXAMS_AND_LAWS),
    ("scope", ["scope=national,local&limit=1", "scope=national&scope=local&limit=1"], 45,
     ["15th-five-year-plan-party-building-new-groups"]),
    ("twenty repeats", ["region=四川", "&".join(["region=四川"] * 20)], 3,
     ["chengdu-jinjiang-guoce-secretary-studio", "chengdu-zhonghe-fengchao-worker-station",
      "chengdu-zhonghe-summer-childcare-class"]),
]
SAME_ELSEWHERE = [
    ("regions level", "/regions", ["level=province,prefecture&limit=2", "level=province&level=prefecture&limit=2"],
     366, ["110000", "120000"]),
    ("metrics unit", "/metrics", ["unit=persons,requests", "unit=persons&unit=requests"],
     3, ["beijing-12345-hotline/requests", "chengdu-zhonghe-fengchao-worker-station/persons",
         "social-worker-qualification-exam-2025/persons"]),
    ("metrics initiative", "/metrics",
     ["initiative=beijing-12345-hotline,liaoning-care-stations-drivers-homes",
      "initiative=beijing-12345-hotline&initiative=liaoning-care-stations-drivers-homes"],
     2, ["beijing-12345-hotline/requests", "liaoning-care-stations-drivers-homes/stations"]),
]


def _ids(body) -> list[str]:
    return [d["initiative_id"] + "/" + d["unit"] if "initiative_id" in d else d.get("id", d.get("code"))
            for d in body["data"]]


@pytest.mark.parametrize("label, queries, total, ids", SAME, ids=[s[0] for s in SAME])
def test_both_array_forms_mean_the_same(client, label, queries, total, ids):
    for query in queries:
        body = client.get(f"{API}/initiatives?{query}").get_json()
        assert (query, body["meta"]["total"], _ids(body)) == (query, total, ids)


@pytest.mark.parametrize("label, path, queries, total, ids", SAME_ELSEWHERE, ids=[s[0] for s in SAME_ELSEWHERE])
def test_both_array_forms_mean_the_same_on_every_list(client, label, path, queries, total, ids):
    for query in queries:
        body = client.get(f"{API}{path}?{query}").get_json()
        assert (query, body["meta"]["total"], _ids(body)) == (query, total, ids)


def test_facets_take_both_forms(client):
    for query in ("kind=hotline,fund", "kind=hotline&kind=fund"):
        body = client.get(f"{API}/facets?{query}").get_json()
        assert (body["meta"]["total"], [k["id"] for k in body["data"]["kind"]]) == (2, ["fund", "hotline"])


ONCE = "given 2 times; it takes one value: give it once"
# (url, the problem's errors): a single-valued parameter given twice, and lists past their limit or with a bad repeat
REFUSED = [
    (f"{API}/initiatives?limit=1&limit=2", {"limit": [ONCE]}),
    (f"{API}/initiatives?cursor=a.b&cursor=c.d", {"cursor": [ONCE]}),
    (f"{API}/initiatives?sort=id&sort=-year",
     {"sort": [ONCE + "; several fields go in one value, separated by commas"]}),
    (f"{API}/initiatives?format=json&format=csv", {"format": [ONCE]}),
    (f"{API}/initiatives?q=a&q=b", {"q": [ONCE]}),
    (f"{API}/initiatives?year=2025&year=2024", {"year": [ONCE]}),
    (f"{API}/initiatives?year=2025&year=2025", {"year": [ONCE]}),
    (f"{API}/regions?parent=510000&parent=510100", {"parent": [ONCE]}),
    (f"{API}/regions?has_initiatives=true&has_initiatives=false", {"has_initiatives": [ONCE]}),
    (f"{API}/regions?q=锦江&q=Jin", {"q": [ONCE]}),
    (f"{API}/metrics?limit=1&limit=1", {"limit": [ONCE]}),
    (f"{API}/kinds?format=json&format=json", {"format": [ONCE]}),
    (f"{API}/initiatives?kind=hotline&kind=", {"kind": ["is empty; leave the parameter out to not filter"]}),
    (f"{API}/initiatives?kind=hotline&kind=fund,,law", {"kind": ["empty value; separate several values with single commas"]}),
    (f"{API}/initiatives?kind=hotline&kind=%00", {"kind": ["contains control characters"]}),
    (f"{API}/initiatives?kind=hotline&kind={'x' * 501}", {"kind": ["is 501 characters long; at most 500"]}),
    (f"{API}/initiatives?kind=hotline&kind=hotlines", {"kind": ["'hotlines' not allowed; allowed: " + ", ".join(
        ["academy", "campaign", "community-service", "event", "exam", "fund", "grievance-channel", "hotline", "law",
         "party-building", "pilot", "policy", "service-station", "suggestion-platform", "training", "volunteer-programme"])]}),
    (f"{API}/initiatives?scope=national&scope=global", {"scope": ["'global' not allowed; allowed: national, local"]}),
    # the limit counts every value of every repeat, before duplicates are dropped
    (f"{API}/initiatives?" + "&".join(["kind=hotline"] * 21), {"kind": ["given 21 times; at most 20 values in all"]}),
    (f"{API}/initiatives?" + "&".join(["kind=hotline,fund"] * 11), {"kind": ["at most 20 values"]}),
    (f"{API}/initiatives?kind={','.join(['fund'] * 15)}&kind={','.join(['law'] * 6)}", {"kind": ["at most 20 values"]}),
    # hostile: thousands of repeats (tests/web/test_hostile.py has the same row)
    (f"{API}/initiatives?" + "&".join(["region=四川"] * 3000), {"region": ["given 3000 times; at most 20 values in all"]}),
    (f"{API}/regions?" + "&".join(["level=county"] * 5000), {"level": ["given 5000 times; at most 20 values in all"]}),
    (f"{API}/initiatives?limit=1&" + "&".join(["limit=1"] * 2999), {"limit": ["given 3000 times; it takes one value: give it once"]}),
]


@pytest.mark.parametrize("url, errors", REFUSED, ids=[r[0][len(API):70] for r in REFUSED])
def test_a_repeat_that_does_not_fit_is_a_400_naming_the_parameter(client, url, errors):
    resp = client.get(url)
    body = resp.get_json()
    assert (resp.status_code, body["type"], body["errors"]) == (400, f"{API}/problems/invalid-parameter", errors)
    first = next(iter(errors))
    assert body["detail"] == f"{first}: {errors[first][0]}"


def _walk(client, url):
    """Every id of a list, following links.next as it is."""
    ids, pages = [], 0
    while url:
        body = client.get(url).get_json()
        ids += _ids(body)
        url, pages = body["links"]["next"], pages + 1
    return ids, pages


# (query, every id over every page, pages): both forms, a page at a time
WALKS = [
    ("kind=hotline&kind=fund&kind=law&limit=1", ["beijing-12345-hotline", "urban-residents-committees-organic-law-revision",
                                                 "villagers-committees-organic-law-amendment", "zhejiang-courier-care-fund"], 4),
    ("kind=hotline,fund&kind=law&limit=3", ["beijing-12345-hotline", "urban-residents-committees-organic-law-revision",
                                            "villagers-committees-organic-law-amendment", "zhejiang-courier-care-fund"], 2),
    ("region=北京&region=江苏&limit=2&sort=-id", list(reversed(BEIJING_JIANGSU)), 2),
]


@pytest.mark.parametrize("query, ids, pages", WALKS, ids=[w[0] for w in WALKS])
def test_links_next_as_issued_walks_every_page(client, query, ids, pages):
    assert _walk(client, f"{API}/initiatives?{query}") == (ids, pages)


def test_links_keep_the_form_the_client_wrote(client):
    links = client.get(f"{API}/initiatives?kind=hotline&kind=fund&limit=1").get_json()["links"]
    assert links["self"] == f"{BASE}{API}/initiatives?kind=hotline&kind=fund&limit=1"
    assert links["next"].startswith(f"{BASE}{API}/initiatives?kind=hotline&kind=fund&limit=1&cursor=")


def test_a_cursor_from_one_form_works_in_the_other(client):
    def cursor(query):
        nxt = client.get(f"{API}/initiatives?{query}&limit=1").get_json()["links"]["next"]
        return parse_qs(urlsplit(nxt).query)["cursor"][0]

    repeated, commas = cursor("kind=hotline&kind=fund"), cursor("kind=hotline,fund")
    assert repeated == commas
    for query in ("kind=hotline,fund", "kind=hotline&kind=fund"):
        body = client.get(f"{API}/initiatives?{query}&limit=1&cursor={repeated}").get_json()
        assert (query, _ids(body), body["links"]["next"]) == (query, ["zhejiang-courier-care-fund"], None)


def test_a_cursor_for_other_values_is_refused(client):
    nxt = client.get(f"{API}/initiatives?kind=hotline&kind=fund&limit=1").get_json()["links"]["next"]
    cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
    resp = client.get(f"{API}/initiatives?kind=hotline&kind=law&limit=1&cursor={cursor}")
    assert (resp.status_code, resp.get_json()["type"]) == (400, f"{API}/problems/invalid-cursor")


# --- the contract says what the app does ---------------------------------------------------------

SPEC = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi.yaml").read_text(encoding="utf-8"))
OPERATIONS = {"/api/v1/initiatives": schemas.InitiativeListArgs(), "/api/v1/metrics": schemas.MetricListArgs(),
              "/api/v1/regions": schemas.RegionListArgs(), "/api/v1/facets": schemas.FacetArgs()}
LISTS = {"/api/v1/initiatives": ["kind", "region", "scope", "theme"],
         "/api/v1/metrics": ["initiative", "kind", "region", "scope", "theme", "unit"],
         "/api/v1/regions": ["level"], "/api/v1/facets": ["kind", "region", "scope", "theme"]}


def _resolve(node):
    while "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _declared(path):
    return {p["name"]: p for p in map(_resolve, SPEC["paths"][path]["get"]["parameters"]) if p["in"] == "query"}


@pytest.mark.parametrize("path", OPERATIONS)
def test_the_contract_declares_the_repeated_form_for_every_list_parameter(path):
    assert sorted(schemas.list_params(OPERATIONS[path])) == LISTS[path]
    declared = _declared(path)
    forms = {name: (p.get("style"), p.get("explode"), p["schema"]["type"], p["schema"].get("maxItems"),
                    "comma" in p["description"] and "repeat the parameter" in p["description"])
             for name, p in declared.items() if name in LISTS[path]}
    assert forms == {name: ("form", True, "array", schemas.MAX_LIST_ITEMS, True) for name in LISTS[path]}
    singles = {name: p["schema"]["type"] for name, p in declared.items() if name not in LISTS[path]}
    assert [name for name, kind in singles.items() if kind == "array"] == []
