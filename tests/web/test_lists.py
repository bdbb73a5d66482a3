"""Every list as a client sees it: one envelope, one link form, the sort in force, the format however it is written."""
from __future__ import annotations

import pytest

SICHUAN = "%E5%9B%9B%E5%B7%9D"  # 四川, percent-encoded as a browser sends it
BASE = "http://localhost"  # the test client's scheme and Host: every link is absolute

# (url as sent, the body's links.self, the Link header's rel="self")
SELF_LINKS = [
    (f"/api/v1/initiatives?region={SICHUAN}", f"/api/v1/initiatives?region={SICHUAN}"),
    ("/api/v1/initiatives?region=四川", f"/api/v1/initiatives?region={SICHUAN}"),
    (f"/api/v1/metrics?region={SICHUAN}", f"/api/v1/metrics?region={SICHUAN}"),
    ("/api/v1/regions?q=%E9%94%A6%E6%B1%9F", "/api/v1/regions?q=%E9%94%A6%E6%B1%9F"),
    ("/api/v1/facets?region=四川", f"/api/v1/facets?region={SICHUAN}"),
    (f"/api/v1/facets?region={SICHUAN}", f"/api/v1/facets?region={SICHUAN}"),
    ("/api/v1/kinds", "/api/v1/kinds"),
    ("/api/v1/kinds?format=json", "/api/v1/kinds?format=json"),
    ("/api/v1/problems", "/api/v1/problems"),
    ("/downloads/", "/downloads/"),
]


@pytest.mark.parametrize("url, expected", SELF_LINKS)
def test_every_list_links_to_itself_in_one_form(client, url, expected):
    resp = client.get(url)
    assert resp.status_code == 200
    assert resp.get_json()["links"]["self"] == BASE + expected
    assert f'<{BASE}{expected}>; rel="self"' in resp.headers["Link"].split(", ")


def test_facets_link_to_the_same_selection_of_initiatives(client):
    links = client.get("/api/v1/facets?region=四川&year=2025").get_json()["links"]
    assert links == {"self": f"{BASE}/api/v1/facets?region={SICHUAN}&year=2025",
                     "initiatives": f"{BASE}/api/v1/initiatives?region={SICHUAN}&year=2025"}


# (url, meta without the regions resolution)
METAS = [
    ("/api/v1/initiatives?limit=1", {"total": 45, "total_exact": True, "count": 1, "limit": 1, "sort": "id"}),
    ("/api/v1/initiatives?limit=1&sort=-year,name_en", {"total": 45, "total_exact": True, "count": 1, "limit": 1,
                                                         "sort": "-year,name_en"}),
    ("/api/v1/metrics?limit=2", {"total": 9, "total_exact": True, "count": 2, "limit": 2, "sort": "initiative"}),
    ("/api/v1/metrics?limit=2&sort=-value", {"total": 9, "total_exact": True, "count": 2, "limit": 2, "sort": "-value"}),
    ("/api/v1/regions?level=province&limit=5", {"total": 33, "total_exact": True, "count": 5, "limit": 5, "sort": "code"}),
    ("/api/v1/regions?level=province&limit=5&sort=-initiative_count,code",
     {"total": 33, "total_exact": True, "count": 5, "limit": 5, "sort": "-initiative_count,code"}),
    ("/api/v1/kinds", {"total": 16, "total_exact": True, "count": 16}),
    ("/api/v1/problems", {"total": 19, "total_exact": True, "count": 19}),
    ("/api/v1/facets?region=四川", {"total": 3, "total_exact": True}),
]


@pytest.mark.parametrize("url, expected", METAS)
def test_every_list_has_one_meta_shape(client, url, expected):
    meta = client.get(url).get_json()["meta"]
    meta.pop("regions", None)
    assert meta == expected


def test_the_downloads_list_has_the_same_meta_with_its_version(client):
    meta = client.get("/downloads/").get_json()["meta"]
    version = client.get("/api/v1").get_json()["version"]
    assert meta == {"total": 16, "total_exact": True, "count": 16, "version": version}


# format= is read as parsed (NFKC): fullwidth ｃｓｖ is csv, as it is for every other parameter
FORMATS = {
    "/api/v1/initiatives?region=四川&format=ｃｓｖ": "text/csv",
    "/api/v1/metrics?format=ｃｓｖ": "text/csv",
    "/api/v1/kinds?format=ｃｓｖ": "text/csv",
    "/api/v1/initiatives?region=四川&format=ｇｅｏｊｓｏｎ": "application/geo+json",
    "/api/v1/regions?level=province&format=ｃｓｖ": "text/csv",
}


@pytest.mark.parametrize("url, mimetype", FORMATS.items())
def test_a_fullwidth_format_is_the_format_it_looks_like(client, url, mimetype):
    resp = client.get(url)
    assert (resp.status_code, resp.mimetype) == (200, mimetype)


def test_a_format_outside_the_routes_formats_is_a_400_naming_it(client):
    resp = client.get("/api/v1/kinds?format=geojson")
    assert (resp.status_code, resp.get_json()["errors"]) == (400, {"format": ["must be one of json, csv"]})


@pytest.mark.parametrize("q", ["!!!", "·", "--"])
def test_a_region_search_with_nothing_to_search_for_is_a_400_naming_q(client, q):
    resp = client.get("/api/v1/regions", query_string={"q": q})
    assert (resp.status_code, resp.get_json()["errors"]) == (
        400, {"q": ["has no letters or digits to search for; give part of a name: 锦江, Jinjiang"]})


def test_the_csv_of_metrics_lists_region_codes_like_every_csv(client):
    rows = client.get("/api/v1/metrics?region=四川&format=csv&sort=-value").get_data(as_text=True).splitlines()
    assert [r.rsplit(",", 1)[-1] for r in rows] == ["region_codes", "510100", "510100", "510100"]


# (list, format, query): /api/v1/<list>.<format>?<query> gives the bytes of /api/v1/<list>?<query>&format=<format>
EXPORTS = [("initiatives", "csv", "region=四川&sort=-year"), ("initiatives", "geojson", "kind=hotline"),
           ("metrics", "csv", "region=北京"), ("regions", "csv", "level=province")]


@pytest.mark.parametrize("name, fmt, query", EXPORTS)
def test_each_export_has_its_own_address_with_the_same_bytes(client, name, fmt, query):
    a, b = client.get(f"/api/v1/{name}.{fmt}?{query}"), client.get(f"/api/v1/{name}?{query}&format={fmt}")
    assert (a.status_code, a.mimetype, a.get_data()) == (200, b.mimetype, b.get_data())
    assert a.headers.get("Content-Disposition") == b.headers.get("Content-Disposition")


@pytest.mark.parametrize("url, param", [("/api/v1/initiatives.csv?format=json", "format"),
                                        ("/api/v1/metrics.csv?limit=5", "limit"),
                                        ("/api/v1/regions.csv?cursor=abc", "cursor")])
def test_an_export_takes_no_format_or_paging(client, url, param):
    resp = client.get(url)
    assert (resp.status_code, resp.get_json()["type"].rsplit("/", 1)[1], list(resp.get_json()["errors"])) == (
        400, "unknown-parameter", [param])


@pytest.mark.parametrize("url, accept, media_type", [
    ("/api/v1/initiatives.csv", "application/json", "text/csv"),
    ("/api/v1/initiatives.geojson", "text/plain, application/json", "application/geo+json"),   # what GDAL sends
    ("/api/v1/metrics.csv", "image/png", "text/csv"),
])
def test_an_export_answers_its_one_media_type_whatever_accept_says(client, url, accept, media_type):
    """The address names the representation (RFC 9110 12.5.1: a server may disregard Accept): GDAL's ogrinfo and
    /vsicurl/ read a .geojson URL, with its Content-Length, instead of getting a 406."""
    resp = client.get(url, headers={"Accept": accept})
    assert (resp.status_code, resp.mimetype, resp.headers["Content-Length"]) == (200, media_type, str(len(resp.data)))


BOM = "\ufeff".encode()


@pytest.mark.parametrize("url", ["/api/v1/initiatives.csv?bom=1", "/api/v1/initiatives?format=csv&bom=true",
                                 "/api/v1/metrics.csv?bom=1", "/api/v1/regions.csv?level=province&bom=1",
                                 "/api/v1/kinds?format=csv&bom=1", "/api/v1/changelog?format=csv&bom=1",
                                 "/downloads/metrics-table.csv?bom=1"])
def test_every_csv_takes_bom(client, url):
    plain = client.get(url.replace("bom=1", "bom=0").replace("bom=true", "bom=false"))
    resp = client.get(url)
    assert (resp.status_code, resp.data[:3], resp.data[3:] == plain.data, resp.headers["ETag"] != plain.headers["ETag"]) == (
        200, BOM, True, True)


@pytest.mark.parametrize("url", ["/api/v1/initiatives?bom=1", "/api/v1/kinds?bom=1", "/api/v1/initiatives.geojson?bom=1"])
def test_bom_without_csv_is_a_400_naming_it(client, url):
    resp = client.get(url)
    assert (resp.status_code, list(resp.get_json()["errors"])) == (400, ["bom"])
