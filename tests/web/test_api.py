"""The v1 API as HTTP clients see it: filters, errors, formats, pagination and HTTP semantics, as tables."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from urllib.parse import quote

import pytest

from api.app import create_app

API = "/api/v1"
TOTAL = 45     # initiatives in data/
IN_2025 = 41   # of them with year 2025: not the two laws (2026, in force) nor the two the article does not date (近年来)
NATIONAL = 28  # of national scope


def ids(resp):
    return sorted(r["id"] for r in resp.get_json()["data"])


def project(body, paths):
    """The parts of a JSON body named by paths, as {path: value}: `project(body, expected) == expected` prints both sides.

    A path is keys and list indexes, "meta.total" or "data[0].id"; "[]" maps the rest of the path over a list,
    "data[].value"; "len(...)", "sum(...)" and "sorted(...)" apply to what the inner path names; "ids" is
    "sorted(data[].id)", the ids of the records, in id order.
    """
    return {path: _at(body, path) for path in paths}


_FUNCTIONS = {"len": len, "sum": sum, "sorted": sorted}
_ALIASES = {"ids": "sorted(data[].id)"}


def _at(node, path):
    path = _ALIASES.get(path, path)
    call = re.fullmatch(r"(\w+)\((.+)\)", path)
    if call:
        return _FUNCTIONS[call[1]](_at(node, call[2]))
    return _walk(node, re.findall(r"\[\d*\]|[^.\[\]]+", path))


def _walk(node, steps):
    for i, step in enumerate(steps):
        if step == "[]":
            return [_walk(item, steps[i + 1:]) for item in node]
        node = node[int(step[1:-1])] if step.startswith("[") else node[step]
    return node


JIANGSU_2025 = ["jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
                "nantong-textile-association-industry-platform"]
# The region codes of each local initiative, in id order: every one has at least one.
LOCAL_REGION_CODES = [["110000"], ["220100"], ["510104"], ["510100"], ["510100"], ["350000"], ["350000"], ["620000"],
                      ["320000"], ["320700"], ["210000"], ["320600"], ["440200"], ["420100", "330700"], ["530000"],
                      ["330000"], ["330000"]]
CHENGDU_COUNTIES = ["510104", "510105", "510106", "510107", "510108", "510112", "510113", "510114", "510115", "510116",
                    "510117", "510118", "510121", "510129", "510131", "510181", "510182", "510183", "510184", "510185"]
PROVINCES_WITH_INITIATIVES = ["110000", "210000", "220000", "320000", "330000", "350000", "420000", "440000", "510000",
                              "530000", "620000"]

# (url, expected status, expected parts of the JSON body as {path: value}; see project())
FILTERS = [
    ("/initiatives?region=江苏&year=2025", 200, {"ids": JIANGSU_2025}),
    ("/initiatives?region=四川", 200, {"meta.total": 3}),
    ("/initiatives?region=四川省", 200, {"meta.total": 3}),
    ("/initiatives?region=sichuan", 200, {"meta.total": 3, "meta.regions[0].code": "510000"}),
    ("/initiatives?region=SICHUAN", 200, {"meta.total": 3}),
    ("/initiatives?region=510000", 200, {"meta.total": 3}),
    ("/initiatives?region=成都市", 200, {"meta.total": 3}),
    ("/initiatives?region=锦江区", 200, {"data[].id": ["chengdu-jinjiang-guoce-secretary-studio"]}),
    # 成都高新区中和街道 is coded at 成都市, the finest division the article names; nothing is coded at 510116 双流区.
    ("/initiatives?region=510116", 200, {"meta.total": 0}),
    ("/initiatives?region=北京,Gansu", 200, {"ids": ["beijing-12345-hotline", "gansu-suggestion-platform-gankuaiban"]}),
    ("/initiatives?region=浙江", 200, {"meta.total": 3}),
    ("/initiatives?region=Xizang", 200, {"data": [], "meta.total": 0}),
    ("/initiatives?region=500105", 200, {"meta.regions[0]": {"input": "500105", "code": "500157", "alias_of": "500105"}}),
    ("/initiatives?year=2025", 200, {"meta.total": IN_2025}),
    ("/initiatives?year=2024", 200, {"meta.total": 0}),
    ("/initiatives?year=2024..2025&limit=200", 200, {"meta.total": IN_2025}),
    ("/initiatives?year=..2024", 200, {"meta.total": 0}),
    ("/initiatives?year=..2026", 200, {"meta.total": TOTAL - 2}),   # an open end still leaves out the records with no year
    ("/initiatives?year=2025..", 200, {"meta.total": IN_2025 + 2}),
    ("/initiatives?kind=hotline", 200, {"data[].id": ["beijing-12345-hotline"]}),
    ("/initiatives?kind=fund,academy", 200, {"meta.total": 2}),
    ("/initiatives?theme=grassroots", 200, {"meta.total": 11}),
    ("/initiatives?scope=national&limit=200", 200, {"meta.total": NATIONAL, "data[].regions": [[]] * NATIONAL}),
    ("/initiatives?scope=local&limit=200", 200, {"meta.total": TOTAL - NATIONAL, "data[].regions[].code": LOCAL_REGION_CODES}),
    ("/initiatives?q=驿站", 200, {"ids": ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class",
                                        "liaoning-care-stations-drivers-homes"]}),
    ("/initiatives?q=12345热线", 200, {"data[].id": ["beijing-12345-hotline"]}),
    ("/initiatives?q=hotline", 200, {"data[0].id": "beijing-12345-hotline", "data[0].match.fields": ["name_en", "summary_en"]}),
    ("/initiatives?q=HOTLINE", 200, {"ids": ["beijing-12345-hotline"]}),
    # 小哥 in a summary, and in 刘强's role (成都外卖小哥): q searches the people too.
    ("/initiatives?q=小哥", 200, {"ids": ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class",
                                        "npc-jiangsu-delegation-remarks-on-social-work", "zhejiang-courier-academy",
                                        "zhejiang-courier-care-fund"]}),
    ("/initiatives?q=李肖娜", 200, {"data[].id": ["lianyungang-hailian-community-new-employment-services"],
                                   "data[0].match.fields": ["summary_zh", "people"]}),
    # Every word: the academy's and the fund's records share the sentence that names both.
    ("/initiatives?q=xiaoge fund", 200, {"data[].id": ["zhejiang-courier-academy", "zhejiang-courier-care-fund"]}),
    ("/initiatives?q=\"OR 1=1", 200, {"meta.total": 0}),
    ("/initiatives?region=江苏&kind=campaign&theme=grassroots&year=2025", 200,
     {"data[].id": ["jiangsu-party-led-residential-compound-governance"]}),
    ("/initiatives?sort=-year,name_en&limit=3", 200, {"meta.sort": "-year,name_en", "data[].id": [
        "urban-residents-committees-organic-law-revision", "villagers-committees-organic-law-amendment",
        "social-worker-qualification-exam-2025"]}),
    ("/metrics?region=北京", 200, {"data[].value": [25802000], "data[].unit": ["requests"]}),
    ("/metrics?kind=exam", 200, {"sorted(data[].value)": [18.4, 2236000]}),
    ("/metrics?region=四川&sort=-value", 200, {"data[].value": [4110, 200, 82]}),
    ("/metrics?initiative=liaoning-care-stations-drivers-homes", 200, {"data[0].qualifier": "more than"}),
    ("/facets?region=江苏", 200, {"data.province": [{"code": "320000", "name_zh": "江苏省", "name_en": "Jiangsu", "count": 3}]}),
    ("/facets", 200, {"meta.total": TOTAL, "sum(data.kind[].count)": TOTAL}),
    ("/regions?level=province&limit=200", 200, {"meta.total": 33}),
    ("/regions?parent=510100&limit=200", 200, {"data[].code": CHENGDU_COUNTIES}),
    ("/regions?q=锦江", 200, {"data[].code": ["510104"]}),
    ("/regions?q=jinjiang", 200, {"data[].code": ["350582", "510104"]}),
    ("/regions?has_initiatives=true&level=province", 200, {"data[].code": PROVINCES_WITH_INITIATIVES}),
    ("/kinds", 200, {"len(data)": 16, "data[0].name_zh": "学院"}),
    ("/themes", 200, {"data[].id": ["new-sectors", "grassroots", "co-governance"]}),
    ("/sources", 200, {"data[0].publisher_en": "Xinhua News Agency", "data[0].initiative_count": TOTAL}),
    ("", 200, {"counts.initiatives": TOTAL, "counts.people": 4, "counts.events": 2, "licence.name": "CC BY 4.0"}),
]


@pytest.mark.parametrize("url, status, expected", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(client, url, status, expected):
    resp = client.get(API + url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    assert project(resp.get_json(), expected) == expected


def test_project_reads_paths_maps_lists_and_applies_functions():
    body = {"meta": {"total": 2}, "data": [{"id": "b", "n": [1, 2]}, {"id": "a", "n": [3]}]}
    assert project(body, ["meta.total", "data[1].id", "data[].n", "data[].n[0]", "len(data)", "sum(data[].n[0])", "ids"]) == {
        "meta.total": 2, "data[1].id": "a", "data[].n": [[1, 2], [3]], "data[].n[0]": [1, 3], "len(data)": 2,
        "sum(data[].n[0])": 4, "ids": ["a", "b"]}


# (url, status, problem type, the parameter named in errors, a phrase in detail)
ERRORS = [
    ("/initiatives?regoin=四川", 400, "unknown-parameter", "regoin", "Allowed: bom, cursor, format, include_national, kind"),
    ("/initiatives?region=Atlantis", 400, "unknown-region", "region", "'Atlantis'"),
    ("/initiatives?region=Sichaun", 400, "unknown-region", "region", "did you mean"),
    ("/initiatives?region=999999", 400, "unknown-region", "region", "999999"),
    ("/initiatives?region=朝阳", 400, "ambiguous-region", "region", "110105"),
    ("/initiatives?region=", 400, "invalid-parameter", "region", "empty"),
    ("/initiatives?region=四川,,江苏", 400, "invalid-parameter", "region", "empty value"),
    ("/initiatives?year=twenty", 400, "invalid-parameter", "year", "2024..2025"),
    ("/initiatives?year=2026..2024", 400, "invalid-parameter", "year", "empty"),
    ("/initiatives?year=1800", 400, "invalid-parameter", "year", "between 1900 and 2100"),
    ("/initiatives?kind=hotlines", 400, "invalid-parameter", "kind", "allowed: academy"),
    ("/initiatives?theme=x", 400, "invalid-parameter", "theme", "allowed: new-sectors"),
    ("/initiatives?scope=global", 400, "invalid-parameter", "scope", "allowed: national, local"),
    ("/initiatives?limit=0", 400, "invalid-parameter", "limit", "from 1 to 200"),
    ("/initiatives?limit=201", 400, "invalid-parameter", "limit", "from 1 to 200"),
    ("/initiatives?limit=ten", 400, "invalid-parameter", "limit", "from 1 to 200"),
    ("/initiatives?sort=colour", 400, "invalid-parameter", "sort", "use id, year"),
    ("/initiatives?cursor=garbage", 400, "invalid-cursor", "cursor", "not a cursor"),
    ("/initiatives?format=xml", 400, "invalid-parameter", "format", "json, csv, geojson"),
    ("/initiatives?year=2025&year=2024", 400, "invalid-parameter", "year", "given 2 times"),  # lists may repeat: test_arrays
    ("/initiatives?q=%00", 400, "invalid-parameter", "q", "control characters"),
    ("/initiatives?q=" + "x" * 600, 400, "invalid-parameter", "q", "at most 500"),
    ("/initiatives/no-such-thing", 404, "not-found", None, "no-such-thing"),
    ("/regions/999999", 404, "not-found", None, "999999"),
    ("/regions?level=city", 400, "invalid-parameter", "level", "province, prefecture, county"),
    ("/metrics?sort=name", 400, "invalid-parameter", "sort", "value"),
    ("/facets?limit=3", 400, "unknown-parameter", "limit", "Allowed:"),
    ("/kinds?q=x", 400, "unknown-parameter", "q", "Allowed: bom, format"),
    ("/nowhere", 404, "not-found", None, "/api/v1"),
]


@pytest.mark.parametrize("url, status, kind, param, phrase", ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_errors_are_problem_json_naming_the_parameter(client, url, status, kind, param, phrase):
    resp = client.get(API + url)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert project(body, ["type", "status"]) == {"type": API + "/problems/" + kind, "status": status}
    assert body["title"]
    assert phrase in body["detail"] or any(phrase in m for ms in body.get("errors", {}).values() for m in ms), body
    if param:
        assert param in body["errors"]
    text = resp.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text and "/work/" not in text


def test_ambiguous_region_lists_the_candidates_with_codes(client):
    body = client.get(API + "/initiatives?region=朝阳区").get_json()
    assert {c["code"] for c in body["candidates"]} == {"110105", "220104"}


def test_record_has_everything(client, seed_text):
    resp = client.get(API + "/initiatives/chengdu-zhonghe-fengchao-worker-station")
    assert resp.status_code == 200
    rec = resp.get_json()
    assert project(rec, ["name_zh", "name_en"]) == {"name_zh": "“中和·蜂巢”职工驿站", "name_en": "“Zhonghe Beehive” workers’ station"}
    assert project(rec, ["regions[].code", "regions[0].chain[].code", "regions[0].centroid"]) == {
        "regions[].code": ["510100"], "regions[0].chain[].code": ["510000", "510100"],
        "regions[0].centroid": {"lat": 30.572893, "lng": 104.066794}}
    assert rec["place"]["zh"] == "四川成都高新区中和街道"
    assert [(m["value"], m["qualifier"], m["measure"]) for m in rec["metrics"]] == [
        (82, "exact", "stock"), (4110, "exact", "stock"), (200, "exact", "flow")]
    assert [(p["name_zh"], p["name_en"]) for p in rec["people"]] == [("刘强", "Liu Qiang")]
    assert rec["evidence"] != []
    for ev in rec["evidence"]:
        assert seed_text[ev["start"]:ev["end"]] == ev["quote"]
        assert ev["source"]["publisher_zh"] == "新华社"


def test_chinese_is_sent_as_utf8_not_escapes(client):
    raw = client.get(API + "/initiatives/beijing-12345-hotline").get_data()
    assert "12345热线接诉即办".encode() in raw and b"\\u" not in raw


def test_cursor_pagination_walks_every_record_once_under_any_sort(client):
    for sort in ("id", "-id", "-year", "year", "name_en", "-name_zh", "id,year", "-year,name_en", "kind,-name_zh", "-scope,theme"):
        seen, url = [], f"{API}/initiatives?limit=7&sort={sort}"
        while url:
            body = client.get(url).get_json()
            seen += [r["id"] for r in body["data"]]
            url = body["links"]["next"]
        assert len(seen) == len(set(seen)) == TOTAL, sort
        full = ids(client.get(f"{API}/initiatives?limit=200&sort={sort}"))
        assert sorted(seen) == full


def test_prev_link_returns_the_previous_page(client):
    first = client.get(API + "/initiatives?limit=5&sort=-name_en").get_json()
    second = client.get(first["links"]["next"]).get_json()
    back = client.get(second["links"]["prev"]).get_json()
    assert [r["id"] for r in back["data"]] == [r["id"] for r in first["data"]]
    assert first["links"]["prev"] is None
    assert second["links"]["prev"]


def test_cursor_from_another_query_is_refused(client):
    nxt = client.get(API + "/initiatives?limit=2&sort=id").get_json()["links"]["next"]
    cursor = nxt.split("cursor=")[1]
    resp = client.get(f"{API}/initiatives?limit=2&sort=-id&cursor={cursor}")
    assert resp.status_code == 400
    assert "different query" in resp.get_json()["detail"]


def test_link_header_matches_body_links(client):
    resp = client.get(API + "/initiatives?limit=5")
    links = resp.get_json()["links"]
    assert f'<{links["next"]}>; rel="next"' in resp.headers["Link"]
    assert 'rel="self"' in resp.headers["Link"]


@pytest.mark.parametrize("how", ["format=csv", "accept"])
def test_csv_is_the_whole_filtered_result(client, how):
    url = API + "/initiatives?scope=national&limit=2"
    resp = client.get(url + "&format=csv") if how == "format=csv" else client.get(url, headers={"Accept": "text/csv"})
    assert (resp.status_code, resp.mimetype) == (200, "text/csv")
    assert "Accept" in resp.headers["Vary"]
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == NATIONAL
    assert {"id", "name_zh", "name_en", "year", "region_codes"} <= set(rows[0])


def test_metrics_csv_has_numbers_clients_can_sum(client):
    rows = list(csv.DictReader(io.StringIO(client.get(API + "/metrics?format=csv").get_data(as_text=True))))
    assert len(rows) == 9
    assert {r["value"] for r in rows} >= {"25802000", "12000", "18.4"}


def test_geojson_points_at_region_centroids(client):
    resp = client.get(API + "/initiatives?region=四川&format=geojson")
    assert (resp.status_code, resp.mimetype) == (200, "application/geo+json")
    fc = json.loads(resp.get_data(as_text=True))
    assert (fc["type"], len(fc["features"])) == ("FeatureCollection", 3)
    jinjiang = next(f for f in fc["features"] if f["id"] == "chengdu-jinjiang-guoce-secretary-studio")
    lng, lat = jinjiang["geometry"]["coordinates"]
    assert jinjiang["geometry"]["type"] == "Point"
    assert 30 < lat < 31 and 104 < lng < 105, (lat, lng)
    national = json.loads(client.get(API + "/initiatives?scope=national&format=geojson").get_data(as_text=True))
    assert [f["geometry"] for f in national["features"]] == [None] * NATIONAL


@pytest.mark.parametrize("url", ["/initiatives?region=江苏&year=2025", "/initiatives/beijing-12345-hotline",
                                 "/regions/510104", "/metrics", "/facets", "/kinds", ""])
def test_etag_and_304(client, url):
    first = client.get(API + url)
    etag = first.headers["ETag"]
    assert etag.startswith('"'), "a strong tag, not W/"
    assert "public" in first.headers["Cache-Control"] and "max-age" in first.headers["Cache-Control"]
    again = client.get(API + url, headers={"If-None-Match": etag})
    assert (again.status_code, again.headers.get("ETag"), again.get_data()) == (304, etag, b"")
    other = client.get(API + url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_etag_differs_by_representation(client):
    a = client.get(API + "/initiatives?region=四川").headers["ETag"]
    b = client.get(API + "/initiatives?region=四川&format=csv").headers["ETag"]
    c = client.get(API + "/initiatives?region=四川", headers={"Accept": "text/csv"}).headers["ETag"]
    assert a != b, "JSON and CSV have different tags"
    assert b == c, "?format=csv and Accept: text/csv are the same representation"


@pytest.mark.parametrize("url", ["", "/initiatives", "/initiatives/beijing-12345-hotline", "/regions", "/regions/510000",
                                 "/metrics", "/facets", "/kinds", "/themes", "/sources"])
def test_head_cors_and_security_headers_on_every_route(client, url):
    get = client.get(API + url, headers={"Origin": "https://example.org"})
    head = client.head(API + url)
    assert (head.status_code, head.get_data()) == (200, b"")
    assert head.headers["ETag"] == get.headers["ETag"]
    assert get.headers["Access-Control-Allow-Origin"] == "*"
    assert "Link" in get.headers["Access-Control-Expose-Headers"] and "ETag" in get.headers["Access-Control-Expose-Headers"]
    assert get.headers["X-Content-Type-Options"] == "nosniff"
    pre = client.options(API + url, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200
    assert "GET" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_405_with_allow(client, method):
    resp = getattr(client, method)(API + "/initiatives")
    assert (resp.status_code, resp.mimetype) == (405, "application/problem+json")
    assert "GET" in resp.headers["Allow"]
    assert "POST" not in resp.headers["Allow"]


def test_unacceptable_accept_is_406(client):
    resp = client.get(API + "/initiatives", headers={"Accept": "image/png"})
    assert (resp.status_code, resp.mimetype) == (406, "application/problem+json")


def test_region_detail_resolves_alias_and_has_chain_children_counts(client):
    resp = client.get(API + "/regions/500105")
    body = resp.get_json()
    assert resp.status_code == 200
    assert project(body, ["code", "resolved_from.code"]) == {"code": "500157", "resolved_from.code": "500105"}
    sichuan = client.get(API + "/regions/510000").get_json()
    assert project(sichuan, ["initiative_count", "chain[0].code"]) == {"initiative_count": 3, "chain[0].code": "510000"}
    chengdu = next(c for c in sichuan["children"] if c["code"] == "510100")
    assert chengdu["initiative_count"] == 3


def test_year_range_includes_records_whose_year_is_inside(client):
    assert client.get(API + "/initiatives?year=2020..2030").get_json()["meta"]["total"] == TOTAL - 2   # 2 have no year


def test_search_terms_are_shown_where_they_matched(client):
    body = client.get(API + "/initiatives?q=" + quote("驿站")).get_json()
    assert len(body["data"]) == 3
    for rec in body["data"]:
        assert rec["match"]["fields"], rec["id"]
        assert [f for f in rec["match"]["fields"] if "驿站" not in rec["match"]["snippets"][f]] == [], rec["match"]


def test_a_query_past_the_time_limit_is_503_and_the_worker_keeps_serving(built_db):

    slow = create_app({"DATABASE": str(built_db), "QUERY_TIMEOUT": 1e-9, "QUERY_CHECK_EVERY": 10}).test_client()
    resp = slow.get(API + "/initiatives?q=社会工作&region=四川,江苏,北京&limit=200")
    assert (resp.status_code, resp.mimetype) == (503, "application/problem+json")
    assert resp.get_json()["type"] == API + "/problems/query-timeout"
    assert int(resp.headers["Retry-After"]) > 0
    fast = create_app({"DATABASE": str(built_db)}).test_client()
    assert fast.get(API + "/initiatives?q=社会工作").status_code == 200


@pytest.mark.parametrize("url", ["/initiatives?region=四川", "/kinds", ""])
def test_weak_and_star_if_none_match_revalidate(client, built_db, url):

    etag = client.get(API + url).headers["ETag"]
    assert client.get(API + url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert client.get(API + url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    for fresh in (client, create_app({"DATABASE": str(built_db)}).test_client()):  # stored answer, and first sight
        resp = fresh.get(API + url, headers={"If-None-Match": "*"})
        assert (resp.status_code, resp.headers.get("ETag")) == (304, etag)


def test_star_does_not_hide_a_bad_request(client):
    resp = client.get(API + "/initiatives?region=Atlantis", headers={"If-None-Match": "*"})
    assert resp.status_code == 400


def test_allow_header_is_in_a_stable_order(client):
    assert client.post(API + "/initiatives").headers["Allow"] == "GET, HEAD, OPTIONS"


def test_every_problem_type_is_documented_at_its_address(client):
    listed = client.get(API + "/problems").get_json()["data"]
    assert {p["id"] for p in listed} >= {"invalid-parameter", "unknown-region", "ambiguous-region", "query-timeout"}
    problem = client.get(API + "/initiatives?region=朝阳").get_json()
    doc = client.get(problem["type"])
    assert doc.status_code == 200
    assert doc.get_json()["status"] == 400
    assert "candidates" in doc.get_json()["description"]
    assert client.get(API + "/problems/nope").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "geojson", "json"])
def test_an_export_past_the_time_limit_is_a_503_before_any_byte(built_db, fmt):

    slow = create_app({"DATABASE": str(built_db), "QUERY_TIMEOUT": 1e-9, "QUERY_CHECK_EVERY": 1}).test_client()
    resp = slow.get(f"{API}/initiatives?q=驿站&format={fmt}")
    assert (resp.status_code, resp.mimetype) == (503, "application/problem+json")
    assert resp.headers["Retry-After"]


def test_links_keep_the_query_as_sent_and_stay_valid_header_values(client):
    # curl sends Chinese as raw UTF-8 in the request line; browsers percent-encode it.
    for raw in ("region=江苏&limit=1".encode(), b"region=%E6%B1%9F%E8%8B%8F&limit=1"):
        resp = client.get(API + "/initiatives", environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
        links = resp.get_json()["links"]
        assert links["self"] == "http://localhost" + API + "/initiatives?region=%E6%B1%9F%E8%8B%8F&limit=1"
        assert links["next"].startswith(links["self"] + "&cursor=")
        assert [ch for ch in resp.headers["Link"] if ord(ch) >= 128 or ch in "\r\n"] == []
        assert client.get(links["next"]).status_code == 200


@pytest.mark.parametrize("url", [API + "/initiatives", API + "/initiatives?region=Atlantis", "/", "/apidocs/", "/downloads/"])
def test_no_header_is_sent_twice(client, url):
    names = [k.lower() for k, _ in client.get(url).headers.items() if k.lower() != "vary"]
    assert len(names) == len(set(names)), names


def test_a_source_by_id_says_where_its_text_is(client):
    resp = client.get("/api/v1/sources/xinhua-2026-01-25-social-work")
    body = resp.get_json()
    links = {k: body[k] for k in ("url", "text_url", "page_url")}
    assert (resp.status_code, links) == (200, {
        "url": "http://localhost/api/v1/sources/xinhua-2026-01-25-social-work",
        "text_url": "http://localhost/sources/xinhua-2026-01-25-social-work.txt",
        "page_url": "http://localhost/sources/xinhua-2026-01-25-social-work"})
    text = client.get("/sources/xinhua-2026-01-25-social-work.txt").data
    assert hashlib.sha256(text).hexdigest() == body["sha256"]


def test_every_quote_names_its_source_by_its_own_address(client):
    record = client.get("/api/v1/initiatives/beijing-12345-hotline").get_json()
    urls = {e["source"]["url"] for e in record["evidence"]}
    assert urls == {"http://localhost/api/v1/sources/xinhua-2026-01-25-social-work"}
    assert client.get("/api/v1/sources/xinhua-2026-01-25-social-work").status_code == 200


def test_an_unknown_source_is_a_404_problem(client):
    resp = client.get("/api/v1/sources/no-such-source")
    assert (resp.status_code, resp.mimetype, resp.get_json()["type"]) == (404, "application/problem+json",
                                                                         "/api/v1/problems/not-found")
