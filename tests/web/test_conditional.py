"""Conditional GETs and the response store as a client sees them: the same answer and the same 304 whichever path answers."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from api import query
from api.app import create_app
from api.build import build
from api.web import headers
from api.web.conditional import ConditionalResponses, ResponseStore

ROOT = Path(__file__).resolve().parents[2]
URLS = ["/api/v1/initiatives?region=四川&year=2025", "/api/v1/initiatives/beijing-12345-hotline", "/api/v1/facets",
        "/api/v1/regions/510000", "/api/v1/kinds?format=csv", "/", "/downloads/", "/openapi.json"]
VOLATILE = {"Date"}
# What every 304 carries (RFC 9110 15.4.5 plus CORS and nosniff), whichever code answered it.
NOT_MODIFIED = ["Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Cache-Control", "ETag",
                "Referrer-Policy", "X-Content-Type-Options"]


def _headers(resp):
    return {k: v for k, v in resp.headers.items() if k not in VOLATILE}


def _names(resp):
    return sorted(resp.headers.keys())


def _fetch(client, url, **kw):
    resp = client.get(url, **kw)
    resp.get_data()
    resp.close()
    return resp


@pytest.mark.parametrize("url", URLS)
def test_a_repeated_request_gets_the_same_answer(app, url):
    client = app.test_client()
    first, second = _fetch(client, url), _fetch(client, url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_data() == first.get_data()
    assert _headers(second) == _headers(first)
    head = client.head(url)
    assert (head.status_code, head.get_data(), head.headers["ETag"]) == (200, b"", first.headers["ETag"])


# (url, the 304's header names beyond NOT_MODIFIED)
NOT_MODIFIED_CASES = [
    ("/api/v1/initiatives?region=四川&year=2025", ["Vary"]),   # a list: no Link, no Content-Type
    ("/api/v1/regions/500105", ["Content-Location", "Vary"]),   # a retired code: where the answer lives
    ("/api/v1/kinds?format=csv", ["Vary"]),
    ("/", []),                                                 # a page: no CSP, no X-Frame-Options
    ("/downloads/", []),
    ("/downloads/socialwork.db", []),
]


@pytest.mark.parametrize("url, extra", NOT_MODIFIED_CASES)
@pytest.mark.parametrize("store", [True, False], ids=["stored", "produced"])
def test_a_304_has_the_same_headers_whichever_path_answers(built_db, url, extra, store):
    app = create_app({"DATABASE": str(built_db), "RESPONSE_STORE_BYTES": 1 << 20 if store else 0})
    client = app.test_client()
    etag = _fetch(client, url).headers["ETag"]
    for inm in (etag, f"W/{etag}", "*", f'"other", {etag}'):
        resp = _fetch(client, url, headers={"If-None-Match": inm})
        assert (resp.status_code, resp.get_data(), _names(resp)) == (304, b"", sorted(NOT_MODIFIED + extra)), inm
        assert resp.headers["ETag"] == etag


def test_a_304_for_a_range_request_is_still_a_304(client):
    etag = _fetch(client, "/downloads/socialwork.db").headers["ETag"]
    resp = _fetch(client, "/downloads/socialwork.db", headers={"If-None-Match": etag, "Range": "bytes=0-99"})
    assert (resp.status_code, resp.get_data()) == (304, b"")
    partial = _fetch(client, "/downloads/socialwork.db", headers={"If-None-Match": '"other"', "Range": "bytes=0-15"})
    assert (partial.status_code, partial.get_data()) == (206, b"SQLite format 3\x00")


def test_a_tag_that_does_not_match_gets_the_representation(client):
    url = "/api/v1/kinds"
    body = _fetch(client, url).get_data()
    for inm in ('"stale"', 'W/"stale"', ""):
        resp = _fetch(client, url, headers={"If-None-Match": inm})
        assert (resp.status_code, resp.get_data()) == (200, body), inm


def test_an_error_is_never_a_304_and_never_stored(built_db):
    app = create_app({"DATABASE": str(built_db)})
    client = app.test_client()
    for _ in range(2):
        resp = _fetch(client, "/api/v1/initiatives?region=Atlantis", headers={"If-None-Match": "*"})
        assert (resp.status_code, resp.mimetype) == (400, "application/problem+json")
    assert app.extensions["response_store"].stats()["entries"] == 0


def test_the_store_answers_the_second_request(built_db):
    app = create_app({"DATABASE": str(built_db)})
    client = app.test_client()
    for _ in range(3):
        _fetch(client, "/api/v1/kinds")
    assert app.extensions["response_store"].stats() | {"bytes": None} == {"entries": 1, "hits": 2, "misses": 1, "bytes": None}


def test_memory_is_bounded(built_db):
    app = create_app({"DATABASE": str(built_db), "RESPONSE_STORE_BYTES": 20_000})
    client = app.test_client()
    for year in range(1990, 2030):
        assert client.get(f"/api/v1/initiatives?year={year}&limit=200").status_code == 200
    stats = app.extensions["response_store"].stats()
    assert 0 < stats["bytes"] <= 20_000, stats
    assert 1 < stats["entries"] < 40, stats


class _Version:
    def version_or_none(self):
        return "v1"


def _varying_app(environ, start_response):
    """Answers in the language of X-Lang and says so in Vary, as a real multilingual resource would."""
    lang = environ.get("HTTP_X_LANG", "zh").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(lang))),
                              ("ETag", f'"v1-{lang.decode()}"'), ("Vary", "X-Lang")])
    return [lang]


def _call(app, headers):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "QUERY_STRING": "", **headers}
    seen = {}
    body = b"".join(app(environ, lambda status, hdrs, exc_info=None: seen.update(status=status)))
    return seen["status"], body


def test_the_store_keys_on_the_headers_the_response_varies_on():
    app = ConditionalResponses(_varying_app, _Version(), ResponseStore())
    answers = [_call(app, headers) for headers in ({"HTTP_X_LANG": "en"}, {"HTTP_X_LANG": "zh"}, {"HTTP_X_LANG": "en"}, {})]
    assert answers == [("200 OK", b"en"), ("200 OK", b"zh"), ("200 OK", b"en"), ("200 OK", b"zh")]
    assert app.store.stats()["entries"] == 3  # "en", "zh" and no X-Lang at all: three variants
    assert _call(app, {"HTTP_X_LANG": "en", "HTTP_IF_NONE_MATCH": '"v1-en"'}) == ("304 Not Modified", b"")
    assert _call(app, {"HTTP_X_LANG": "zh", "HTTP_IF_NONE_MATCH": '"v1-en"'}) == ("200 OK", b"zh")


def test_a_response_that_varies_on_everything_is_not_stored():
    def app_(environ, start_response):
        start_response("200 OK", [("Content-Length", "1"), ("ETag", '"v1-x"'), ("Vary", "*")])
        return [b"x"]

    app = ConditionalResponses(app_, _Version(), ResponseStore())
    assert [_call(app, {}) for _ in range(2)] == [("200 OK", b"x")] * 2
    assert app.store.stats()["entries"] == 0


@pytest.mark.parametrize("method, url", [
    ("GET", "/"), ("GET", "/api/v1/initiatives?region=四川"), ("GET", "/api/v1/initiatives?region=火星"),
    ("GET", "/apidocs/"), ("OPTIONS", "/api/v1/initiatives"), ("GET", "/downloads/kinds.csv"), ("GET", "/nowhere"),
])
def test_each_header_is_sent_once_however_often_the_hook_runs(built_db, method, url):
    once = create_app({"DATABASE": str(built_db)}).test_client().open(url, method=method)
    twice_app = create_app({"DATABASE": str(built_db)})
    twice_app.after_request(headers.response_headers)  # registered again, after and before everything else
    twice_app.after_request_funcs[None].insert(0, headers.response_headers)
    twice = twice_app.test_client().open(url, method=method)
    names = [k for k, _ in twice.headers.items() if k not in VOLATILE]
    assert sorted(names) == sorted(set(names)), names
    assert _headers(twice) == _headers(once)


def test_a_rebuild_is_served_without_restart(tmp_path):
    for sub in ("data", "seeds"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    db = tmp_path / "live.db"
    old = build(tmp_path, db)["version"]
    app = create_app({"DATABASE": str(db), "RECHECK_SECONDS": 0.0})
    client = app.test_client()
    url = "/api/v1/initiatives/beijing-12345-hotline"
    assert client.get(url).headers["ETag"].startswith(f'"{old}-')
    assert client.get(url).headers["ETag"].startswith(f'"{old}-')  # now from the store
    path = tmp_path / "data" / "initiatives" / "beijing-12345-hotline.yaml"
    rec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rec["summary_en"] += " [rebuilt]"
    path.write_text(yaml.safe_dump(rec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    new = build(tmp_path, db)["version"]
    assert new != old
    time.sleep(0.01)
    resp = client.get(url)
    assert (resp.headers["ETag"][1:17], resp.get_json()["summary_en"].endswith("[rebuilt]")) == (new, True)


# --- absolute links: the scheme and host are part of what a stored answer is for ------------------

# (url, the link it holds: a field, or a header)
HOST_LINKS = [
    ("/api/v1/initiatives?kind=hotline", lambda r: r.get_json()["links"]["self"], "/api/v1/initiatives?kind=hotline"),
    ("/api/v1/initiatives?kind=hotline", lambda r: r.get_json()["data"][0]["url"], "/api/v1/initiatives/beijing-12345-hotline"),
    ("/api/v1", lambda r: r.get_json()["links"]["kinds"], "/api/v1/kinds"),
    ("/api/v1/regions/500105", lambda r: r.headers["Content-Location"], "/api/v1/regions/500157"),
    ("/downloads/", lambda r: r.get_json()["data"][-1]["url"].rsplit("/", 1)[0], "/downloads"),
]


@pytest.mark.parametrize("url, link, path", HOST_LINKS, ids=[f"{u} {p}" for u, _, p in HOST_LINKS])
def test_two_hosts_get_their_own_links_from_the_store(built_db, url, link, path):
    app = create_app({"DATABASE": str(built_db), "TESTING": True})
    client = app.test_client()
    got = [link(_fetch(client, url, base_url=base)) for base in
           ("http://a.example", "https://b.example:8443", "http://a.example", "https://b.example:8443")]
    assert got == ["http://a.example" + path, "https://b.example:8443" + path] * 2
    assert app.extensions["response_store"].stats()["hits"] == 2


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "data.example.org", "X-Forwarded-Prefix": "/socialwork"}


@pytest.mark.parametrize("trusted, expected", [
    (0, "http://localhost/api/v1/kinds"),                              # the default: forwarded headers ignored
    (1, "https://data.example.org/socialwork/api/v1/kinds"),           # SOCIALWORK_TRUSTED_PROXIES=1
])
def test_forwarded_headers_count_only_from_a_trusted_proxy(built_db, trusted, expected):
    app = create_app({"DATABASE": str(built_db), "TESTING": True, "TRUSTED_PROXIES": trusted})
    client = app.test_client()
    plain = _fetch(client, "/api/v1/kinds").get_json()["links"]["self"]
    forwarded = [_fetch(client, "/api/v1/kinds", headers=FORWARDED).get_json()["links"]["self"] for _ in range(2)]
    assert (plain, forwarded) == ("http://localhost/api/v1/kinds", [expected, expected])


def test_the_trusted_proxy_count_comes_from_the_environment(built_db, monkeypatch):
    monkeypatch.setenv("SOCIALWORK_TRUSTED_PROXIES", "1")
    client = create_app({"DATABASE": str(built_db), "TESTING": True}).test_client()
    resp = _fetch(client, "/api/v1/regions/500105", headers=FORWARDED)
    assert resp.headers["Content-Location"] == "https://data.example.org/socialwork/api/v1/regions/500157"


def test_an_export_keeps_the_requests_host_in_batches_streamed_after_the_view(built_db, monkeypatch):
    monkeypatch.setattr(query.walk, "__defaults__", (10,))  # 45 initiatives: 5 batches, 4 of them after the view
    client = create_app({"DATABASE": str(built_db), "TESTING": True}).test_client()
    features = client.get("/api/v1/initiatives?format=geojson", base_url="https://c.example").get_json()["features"]
    urls = [f["properties"]["url"] for f in features]
    assert (len(urls), [u for u in urls if not u.startswith("https://c.example/api/v1/initiatives/")]) == (45, [])
