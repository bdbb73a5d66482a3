"""The v1 API as HTTP clients see it: filters, errors, formats, pagination and HTTP semantics, as tables."""
from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest

API = "/api/v1"
NATIONAL = 19  # initiatives of national scope in data/


def ids(resp):
    return sorted(r["id"] for r in resp.get_json()["data"])


# (url, expected status, a check on the JSON body)
FILTERS = [
    ("/initiatives?region=江苏&year=2025", 200, lambda b: {r["id"] for r in b["data"]} == {
        "jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
        "nantong-textile-association-industry-platform"}),
    ("/initiatives?region=四川", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=四川省", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=sichuan", 200, lambda b: b["meta"]["total"] == 3 and b["meta"]["regions"][0]["code"] == "510000"),
    ("/initiatives?region=SICHUAN", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=510000", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=成都市", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=锦江区", 200, lambda b: [r["id"] for r in b["data"]] == ["chengdu-jinjiang-guoce-secretary-studio"]),
    ("/initiatives?region=510116", 200, lambda b: b["meta"]["total"] == 2),
    ("/initiatives?region=北京,Gansu", 200, lambda b: {r["id"] for r in b["data"]} == {"beijing-12345-hotline", "gansu-suggestion-platform-gankuaiban"}),
    ("/initiatives?region=浙江", 200, lambda b: b["meta"]["total"] == 3),
    ("/initiatives?region=Xizang", 200, lambda b: b["data"] == [] and b["meta"]["total"] == 0),
    ("/initiatives?region=500105", 200, lambda b: b["meta"]["regions"][0] == {"input": "500105", "code": "500157", "alias_of": "500105"}),
    ("/initiatives?year=2025", 200, lambda b: b["meta"]["total"] == 36),
    ("/initiatives?year=2024", 200, lambda b: b["meta"]["total"] == 0),
    ("/initiatives?year=2024..2025&limit=200", 200, lambda b: b["meta"]["total"] == 36),
    ("/initiatives?year=..2024", 200, lambda b: b["meta"]["total"] == 0),
    ("/initiatives?year=2025..", 200, lambda b: b["meta"]["total"] == 36),
    ("/initiatives?kind=hotline", 200, lambda b: [r["id"] for r in b["data"]] == ["beijing-12345-hotline"]),
    ("/initiatives?kind=fund,academy", 200, lambda b: b["meta"]["total"] == 2),
    ("/initiatives?theme=grassroots", 200, lambda b: b["meta"]["total"] == 9),
    ("/initiatives?scope=national", 200, lambda b: b["meta"]["total"] == NATIONAL and all(not r["regions"] for r in b["data"])),
    ("/initiatives?scope=local&limit=200", 200, lambda b: b["meta"]["total"] == 36 - NATIONAL and all(r["regions"] for r in b["data"])),
    ("/initiatives?q=驿站", 200, lambda b: {"chengdu-zhonghe-fengchao-worker-station", "liaoning-care-stations-drivers-homes"} <= {r["id"] for r in b["data"]}),
    ("/initiatives?q=12345热线", 200, lambda b: [r["id"] for r in b["data"]] == ["beijing-12345-hotline"]),
    ("/initiatives?q=hotline", 200, lambda b: b["data"][0]["id"] == "beijing-12345-hotline" and "name_en" in b["data"][0]["match"]["fields"]),
    ("/initiatives?q=HOTLINE", 200, lambda b: b["meta"]["total"] >= 1),
    ("/initiatives?q=小哥", 200, lambda b: {"zhejiang-courier-academy", "zhejiang-courier-care-fund"} <= {r["id"] for r in b["data"]}),
    ("/initiatives?q=courier fund", 200, lambda b: [r["id"] for r in b["data"]] == ["zhejiang-courier-care-fund"]),
    ("/initiatives?q=\"OR 1=1", 200, lambda b: b["meta"]["total"] == 0),
    ("/initiatives?region=江苏&kind=campaign&theme=grassroots&year=2025", 200,
     lambda b: [r["id"] for r in b["data"]] == ["jiangsu-party-led-residential-compound-governance"]),
    ("/initiatives?sort=-year,name_en&limit=3", 200, lambda b: b["meta"]["sort"] == "-year,name_en" and len(b["data"]) == 3),
    ("/metrics?region=北京", 200, lambda b: [(m["value"], m["unit"]) for m in b["data"]] == [(25802000, "requests")]),
    ("/metrics?kind=exam", 200, lambda b: sorted(m["value"] for m in b["data"]) == [18.4, 2236000]),
    ("/metrics?region=四川&sort=-value", 200, lambda b: [m["value"] for m in b["data"]] == [4110, 200, 82]),
    ("/metrics?initiative=liaoning-care-stations-drivers-homes", 200, lambda b: b["data"][0]["qualifier"] == "more than"),
    ("/facets?region=江苏", 200, lambda b: b["data"]["province"] == [{"code": "320000", "name_zh": "江苏省", "name_en": "Jiangsu", "count": 3}]),
    ("/facets", 200, lambda b: b["meta"]["total"] == 36 and sum(k["count"] for k in b["data"]["kind"]) == 36),
    ("/regions?level=province&limit=200", 200, lambda b: b["meta"]["total"] == 33),
    ("/regions?parent=510100&limit=200", 200, lambda b: "510104" in {r["code"] for r in b["data"]}),
    ("/regions?q=锦江", 200, lambda b: "510104" in {r["code"] for r in b["data"]}),
    ("/regions?q=jinjiang", 200, lambda b: "510104" in {r["code"] for r in b["data"]}),
    ("/regions?has_initiatives=true&level=province", 200, lambda b: {r["code"] for r in b["data"]} >= {"320000", "510000", "110000"}),
    ("/kinds", 200, lambda b: len(b["data"]) == 16 and b["data"][0]["name_zh"]),
    ("/themes", 200, lambda b: [t["id"] for t in b["data"]] == ["new-sectors", "grassroots", "co-governance"]),
    ("/sources", 200, lambda b: b["data"][0]["publisher_en"] == "Xinhua News Agency" and b["data"][0]["initiative_count"] == 36),
    ("", 200, lambda b: b["counts"]["initiatives"] == 36 and b["licence"]["name"] == "CC BY 4.0"),
]


@pytest.mark.parametrize("url, status, check", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters(client, url, status, check):
    resp = client.get(API + url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    assert check(resp.get_json())


# (url, status, problem type, the parameter named in errors, a phrase in detail)
ERRORS = [
    ("/initiatives?regoin=四川", 400, "unknown-parameter", "regoin", "Allowed: cursor, format, kind"),
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
    ("/initiatives?region=四川&region=江苏", 400, "invalid-parameter", "region", "given 2 times"),
    ("/initiatives?q=%00", 400, "invalid-parameter", "q", "control characters"),
    ("/initiatives?q=" + "x" * 600, 400, "invalid-parameter", "q", "at most 500"),
    ("/initiatives/no-such-thing", 404, "not-found", None, "no-such-thing"),
    ("/regions/999999", 404, "not-found", None, "999999"),
    ("/regions?level=city", 400, "invalid-parameter", "level", "province, prefecture, county"),
    ("/metrics?sort=name", 400, "invalid-parameter", "sort", "value"),
    ("/facets?limit=3", 400, "unknown-parameter", "limit", "Allowed:"),
    ("/kinds?q=x", 400, "unknown-parameter", "q", "Allowed: format"),
    ("/nowhere", 404, "not-found", None, "/api/v1"),
]


@pytest.mark.parametrize("url, status, kind, param, phrase", ERRORS, ids=[e[0][:60] for e in ERRORS])
def test_errors_are_problem_json_naming_the_parameter(client, url, status, kind, param, phrase):
    resp = client.get(API + url)
    assert resp.status_code == status
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["type"].endswith("/" + kind) and body["status"] == status and body["title"]
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
    assert rec["name_zh"] == "“中和·蜂巢”职工驿站" and rec["name_en"]
    (region,) = rec["regions"]
    assert region["code"] == "510116" and [c["code"] for c in region["chain"]] == ["510000", "510100", "510116"]
    assert region["centroid"] is None or set(region["centroid"]) == {"lat", "lng"}
    assert rec["place"]["zh"] == "四川成都高新区中和街道"
    assert [(m["value"], m["qualifier"]) for m in rec["metrics"]] == [(82, "exact"), (4110, "exact"), (200, "exact")]
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
        assert len(seen) == len(set(seen)) == 36, sort
        full = ids(client.get(f"{API}/initiatives?limit=200&sort={sort}"))
        assert sorted(seen) == full


def test_prev_link_returns_the_previous_page(client):
    first = client.get(API + "/initiatives?limit=5&sort=-name_en").get_json()
    second = client.get(first["links"]["next"]).get_json()
    back = client.get(second["links"]["prev"]).get_json()
    assert [r["id"] for r in back["data"]] == [r["id"] for r in first["data"]]
    assert first["links"]["prev"] is None and second["links"]["prev"]


def test_cursor_from_another_query_is_refused(client):
    nxt = client.get(API + "/initiatives?limit=2&sort=id").get_json()["links"]["next"]
    cursor = nxt.split("cursor=")[1]
    resp = client.get(f"{API}/initiatives?limit=2&sort=-id&cursor={cursor}")
    assert resp.status_code == 400 and "different query" in resp.get_json()["detail"]


def test_link_header_matches_body_links(client):
    resp = client.get(API + "/initiatives?limit=5")
    links = resp.get_json()["links"]
    assert f'<{links["next"]}>; rel="next"' in resp.headers["Link"]
    assert 'rel="self"' in resp.headers["Link"]


@pytest.mark.parametrize("how", ["format=csv", "accept"])
def test_csv_is_the_whole_filtered_result(client, how):
    url = API + "/initiatives?scope=national&limit=2"
    resp = client.get(url + "&format=csv") if how == "format=csv" else client.get(url, headers={"Accept": "text/csv"})
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
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
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = json.loads(resp.get_data(as_text=True))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    jinjiang = next(f for f in fc["features"] if f["id"] == "chengdu-jinjiang-guoce-secretary-studio")
    lng, lat = jinjiang["geometry"]["coordinates"]
    assert jinjiang["geometry"]["type"] == "Point" and 30 < lat < 31 and 104 < lng < 105
    national = json.loads(client.get(API + "/initiatives?scope=national&format=geojson").get_data(as_text=True))
    assert all(f["geometry"] is None for f in national["features"])


@pytest.mark.parametrize("url", ["/initiatives?region=江苏&year=2025", "/initiatives/beijing-12345-hotline",
                                 "/regions/510104", "/metrics", "/facets", "/kinds", ""])
def test_etag_and_304(client, url):
    first = client.get(API + url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith('W/')
    assert "public" in first.headers["Cache-Control"] and "max-age" in first.headers["Cache-Control"]
    again = client.get(API + url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.get_data() == b""
    other = client.get(API + url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_etag_differs_by_representation(client):
    a = client.get(API + "/initiatives?region=四川").headers["ETag"]
    b = client.get(API + "/initiatives?region=四川&format=csv").headers["ETag"]
    c = client.get(API + "/initiatives?region=四川", headers={"Accept": "text/csv"}).headers["ETag"]
    assert a != b and b == c


@pytest.mark.parametrize("url", ["", "/initiatives", "/initiatives/beijing-12345-hotline", "/regions", "/regions/510000",
                                 "/metrics", "/facets", "/kinds", "/themes", "/sources"])
def test_head_cors_and_security_headers_on_every_route(client, url):
    get = client.get(API + url, headers={"Origin": "https://example.org"})
    head = client.head(API + url)
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert get.headers["Access-Control-Allow-Origin"] == "*"
    assert "Link" in get.headers["Access-Control-Expose-Headers"] and "ETag" in get.headers["Access-Control-Expose-Headers"]
    assert get.headers["X-Content-Type-Options"] == "nosniff"
    pre = client.options(API + url, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 200 and "GET" in pre.headers["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writes_are_405_with_allow(client, method):
    resp = getattr(client, method)(API + "/initiatives")
    assert resp.status_code == 405 and resp.mimetype == "application/problem+json"
    assert "GET" in resp.headers["Allow"] and "POST" not in resp.headers["Allow"]


def test_unacceptable_accept_is_406(client):
    resp = client.get(API + "/initiatives", headers={"Accept": "image/png"})
    assert resp.status_code == 406 and resp.mimetype == "application/problem+json"


def test_region_detail_resolves_alias_and_has_chain_children_counts(client):
    resp = client.get(API + "/regions/500105")
    body = resp.get_json()
    assert resp.status_code == 200 and body["code"] == "500157" and body["resolved_from"]["code"] == "500105"
    sichuan = client.get(API + "/regions/510000").get_json()
    assert sichuan["initiative_count"] == 3 and sichuan["chain"][0]["code"] == "510000"
    chengdu = next(c for c in sichuan["children"] if c["code"] == "510100")
    assert chengdu["initiative_count"] == 3


def test_year_range_includes_records_whose_year_is_inside(client):
    assert client.get(API + "/initiatives?year=2020..2030").get_json()["meta"]["total"] == 36


def test_search_terms_are_shown_where_they_matched(client):
    body = client.get(API + "/initiatives?q=" + quote("驿站")).get_json()
    for rec in body["data"]:
        assert rec["match"]["fields"]
        assert all("驿站" in rec["match"]["snippets"][f] for f in rec["match"]["fields"])


def test_a_query_past_the_time_limit_is_503_and_the_worker_keeps_serving(built_db):
    from api import create_app

    slow = create_app({"DATABASE": str(built_db), "QUERY_TIMEOUT": 1e-9, "QUERY_CHECK_EVERY": 10}).test_client()
    resp = slow.get(API + "/initiatives?q=社会工作&region=四川,江苏,北京&limit=200")
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
    assert resp.get_json()["type"].endswith("/query-timeout") and int(resp.headers["Retry-After"]) > 0
    fast = create_app({"DATABASE": str(built_db)}).test_client()
    assert fast.get(API + "/initiatives?q=社会工作").status_code == 200


@pytest.mark.parametrize("url", ["/initiatives?region=四川", "/kinds", ""])
def test_weak_and_star_if_none_match_revalidate(client, built_db, url):
    from api import create_app

    etag = client.get(API + url).headers["ETag"]
    assert client.get(API + url, headers={"If-None-Match": "W/" + etag}).status_code == 304
    assert client.get(API + url, headers={"If-None-Match": f'"other", {etag}'}).status_code == 304
    for fresh in (client, create_app({"DATABASE": str(built_db)}).test_client()):  # stored answer, and first sight
        resp = fresh.get(API + url, headers={"If-None-Match": "*"})
        assert resp.status_code == 304 and resp.headers["ETag"] == etag


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
    assert doc.status_code == 200 and doc.get_json()["status"] == 400 and "candidates" in doc.get_json()["description"]
    assert client.get(API + "/problems/nope").status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "geojson", "json"])
def test_an_export_past_the_time_limit_is_a_503_before_any_byte(built_db, fmt):
    from api import create_app

    slow = create_app({"DATABASE": str(built_db), "QUERY_TIMEOUT": 1e-9, "QUERY_CHECK_EVERY": 1}).test_client()
    resp = slow.get(f"{API}/initiatives?q=驿站&format={fmt}")
    assert resp.status_code == 503 and resp.mimetype == "application/problem+json"
    assert resp.headers["Retry-After"]


def test_links_keep_the_query_as_sent_and_stay_valid_header_values(client):
    # curl sends Chinese as raw UTF-8 in the request line; browsers percent-encode it.
    for raw in ("region=江苏&limit=1".encode(), b"region=%E6%B1%9F%E8%8B%8F&limit=1"):
        resp = client.get(API + "/initiatives", environ_overrides={"QUERY_STRING": raw.decode("latin-1")})
        links = resp.get_json()["links"]
        assert links["self"] == API + "/initiatives?region=%E6%B1%9F%E8%8B%8F&limit=1"
        assert links["next"].startswith(links["self"] + "&cursor=")
        assert all(ord(ch) < 128 and ch not in "\r\n" for ch in resp.headers["Link"])
        assert client.get(links["next"]).status_code == 200


@pytest.mark.parametrize("url", [API + "/initiatives", API + "/initiatives?region=Atlantis", "/", "/apidocs/", "/downloads/"])
def test_no_header_is_sent_twice(client, url):
    names = [k.lower() for k, _ in client.get(url).headers.items() if k.lower() != "vary"]
    assert len(names) == len(set(names)), names
