"""A catalogue of hostile requests: each gets its exact status and problem type, never a 5xx, a traceback, SQL or a path."""
from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import logging

import pytest

from api.app import create_app
from api.web.cursors import query_fingerprint
from api.web.errors import printable
from api.web.responses import csv_chunks

API = "/api/v1"
SQL = ["' OR '1'='1", "1; DROP TABLE initiatives;--", "\" UNION SELECT sql FROM sqlite_master--", "*/ OR 1=1 /*"]
BIG = "四" * 10_000
REPEATED = "&".join(["region=四川"] * 3000)

# (label, method, url, headers, expected status, expected problem type or None for a success)
CASES = [
    # SQL fragments in every parameter
    *[(f"sql in region {i}", "GET", f"{API}/initiatives?region={s}", {}, 400, "unknown-region") for i, s in enumerate(SQL)],
    *[(f"sql in q {i}", "GET", f"{API}/initiatives?q={s}", {}, 200, None) for i, s in enumerate(SQL)],
    ("sql in year", "GET", f"{API}/initiatives?year=2025 OR 1=1", {}, 400, "invalid-parameter"),
    ("sql in kind", "GET", f"{API}/initiatives?kind=hotline' OR '1'='1", {}, 400, "invalid-parameter"),
    ("sql in theme", "GET", f"{API}/initiatives?theme=x);--", {}, 400, "invalid-parameter"),
    ("sql in scope", "GET", f"{API}/initiatives?scope=local--", {}, 400, "invalid-parameter"),
    ("sql in sort", "GET", f"{API}/initiatives?sort=year;DROP TABLE x", {}, 400, "invalid-parameter"),
    ("sql in sort desc", "GET", f"{API}/initiatives?sort=-(SELECT 1)", {}, 400, "invalid-parameter"),
    ("sql in limit", "GET", f"{API}/initiatives?limit=1 OR 1=1", {}, 400, "invalid-parameter"),
    ("sql in id", "GET", f"{API}/initiatives/x' OR '1'='1", {}, 404, "not-found"),
    ("sql in region code path", "GET", f"{API}/regions/510000' OR 1=1", {}, 404, "not-found"),
    ("sql in metrics initiative", "GET", f"{API}/metrics?initiative=a' OR 1=1", {}, 400, "invalid-parameter"),
    ("sql in regions q", "GET", f"{API}/regions?q=' OR 1=1 --", {}, 200, None),
    ("fts syntax in q", "GET", f"{API}/initiatives?q=NEAR(a b) OR \"x\"*", {}, 200, None),
    # NUL and control characters, invalid UTF-8
    ("nul in q", "GET", f"{API}/initiatives?q=a%00b", {}, 400, "invalid-parameter"),
    ("nul in region", "GET", f"{API}/initiatives?region=%00", {}, 400, "invalid-parameter"),
    ("newline in region", "GET", f"{API}/initiatives?region=四川%0d%0aX-Injected:%201", {}, 400, "invalid-parameter"),
    ("escape in sort", "GET", f"{API}/initiatives?sort=%1bid", {}, 400, "invalid-parameter"),
    ("invalid utf-8 in q", "GET", f"{API}/initiatives?q=%ff%fe", {}, 200, None),
    ("invalid utf-8 in region", "GET", f"{API}/initiatives?region=%c3%28", {}, 400, "unknown-region"),
    ("invalid utf-8 in id", "GET", f"{API}/initiatives/%ff", {}, 404, "not-found"),
    ("overlong utf-8", "GET", f"{API}/initiatives?region=%c0%af", {}, 400, "unknown-region"),
    # size
    ("10 KB region", "GET", f"{API}/initiatives?region={BIG}", {}, 400, "invalid-parameter"),
    ("10 KB q", "GET", f"{API}/initiatives?q={BIG}", {}, 400, "invalid-parameter"),
    ("10 KB id", "GET", f"{API}/initiatives/{'a' * 10_000}", {}, 404, "not-found"),
    ("10 KB cursor", "GET", f"{API}/initiatives?cursor={'A' * 10_000}", {}, 400, "invalid-parameter"),
    # region may be repeated (region=a&region=b), but 3,000 repeats are 3,000 values, past the 20 a list takes
    ("thousands of repeated parameters", "GET", f"{API}/initiatives?{REPEATED}", {}, 400, "invalid-parameter"),
    ("many regions in one value", "GET", f"{API}/initiatives?region={','.join(['四川'] * 50)}", {}, 400, "invalid-parameter"),
    ("thousands of unknown parameters", "GET", f"{API}/initiatives?" + "&".join(f"p{i}=1" for i in range(2000)), {}, 400, "unknown-parameter"),
    # limits and years
    ("negative limit", "GET", f"{API}/initiatives?limit=-1", {}, 400, "invalid-parameter"),
    ("zero limit", "GET", f"{API}/initiatives?limit=0", {}, 400, "invalid-parameter"),
    ("huge limit", "GET", f"{API}/initiatives?limit=99999999999999999999999", {}, 400, "invalid-parameter"),
    ("float limit", "GET", f"{API}/initiatives?limit=1.5", {}, 400, "invalid-parameter"),
    ("non-numeric limit", "GET", f"{API}/initiatives?limit=NaN", {}, 400, "invalid-parameter"),
    ("negative year", "GET", f"{API}/initiatives?year=-2025", {}, 400, "invalid-parameter"),
    ("zero year", "GET", f"{API}/initiatives?year=0", {}, 400, "invalid-parameter"),
    ("huge year", "GET", f"{API}/initiatives?year=99999999999", {}, 400, "invalid-parameter"),
    ("non-numeric year", "GET", f"{API}/initiatives?year=last", {}, 400, "invalid-parameter"),
    ("open range both sides", "GET", f"{API}/initiatives?year=..", {}, 400, "invalid-parameter"),
    ("fullwidth digits year", "GET", f"{API}/initiatives?year=２０２５", {}, 200, None),
    # cursors
    ("tampered cursor", "GET", f"{API}/initiatives?cursor=eyJrIjpbIngiLDFdLCJiIjowLCJmIjoiMDAwMDAwMDAwMDAwIn0.0000000000", {}, 400, "invalid-cursor"),
    ("cursor not base64", "GET", f"{API}/initiatives?cursor=!!!.abc", {}, 400, "invalid-cursor"),
    ("cursor without checksum", "GET", f"{API}/initiatives?cursor=eyJrIjpbXX0", {}, 400, "invalid-cursor"),
    # sort
    ("unknown sort field", "GET", f"{API}/initiatives?sort=summary_en", {}, 400, "invalid-parameter"),
    ("double minus sort", "GET", f"{API}/initiatives?sort=--id", {}, 400, "invalid-parameter"),
    ("empty sort item", "GET", f"{API}/initiatives?sort=id,", {}, 400, "invalid-parameter"),
    # path traversal
    ("traversal in id", "GET", f"{API}/initiatives/..%2F..%2Fetc%2Fpasswd", {}, 404, "not-found"),
    ("traversal in region", "GET", f"{API}/regions/..%2f..%2f", {}, 404, "not-found"),
    ("traversal in static", "GET", "/apidocs/static/..%2F..%2F..%2Fapi%2F__init__.py", {}, 404, "not-found"),
    ("dot dot path", "GET", f"{API}/../../etc/passwd", {}, 404, "not-found"),
    # Unicode confusables in region names
    ("fullwidth latin region", "GET", f"{API}/initiatives?region=Ｓｉｃｈｕａｎ", {}, 200, None),
    ("cyrillic a in region", "GET", f"{API}/initiatives?region=Sichu\u0430n", {}, 400, "unknown-region"),
    ("zero-width space in region is ignored", "GET", f"{API}/initiatives?region=四\u200b川", {}, 200, None),
    ("traditional characters region", "GET", f"{API}/initiatives?region=廣東", {}, 400, "unknown-region"),
    ("fullwidth digits code", "GET", f"{API}/initiatives?region=５１００００", {}, 200, None),
    # wrong methods
    ("POST list", "POST", f"{API}/initiatives", {}, 405, "method-not-allowed"),
    ("DELETE record", "DELETE", f"{API}/initiatives/beijing-12345-hotline", {}, 405, "method-not-allowed"),
    ("PUT root", "PUT", f"{API}", {}, 405, "method-not-allowed"),
    ("PATCH regions", "PATCH", f"{API}/regions/510000", {}, 405, "method-not-allowed"),
    ("TRACE", "TRACE", f"{API}/initiatives", {}, 405, "method-not-allowed"),
    # absurd Accept headers
    ("accept image", "GET", f"{API}/initiatives", {"Accept": "image/png"}, 406, "not-acceptable"),
    ("malformed accept is disregarded", "GET", f"{API}/initiatives", {"Accept": "%%%;;;q=abc"}, 200, None),
    ("accept huge", "GET", f"{API}/initiatives", {"Accept": ",".join(f"x/y{i}" for i in range(500))}, 406, "not-acceptable"),
    ("accept q zero json", "GET", f"{API}/initiatives", {"Accept": "application/json;q=0"}, 406, "not-acceptable"),
    ("accept wildcard", "GET", f"{API}/initiatives", {"Accept": "*/*"}, 200, None),
    # headers
    ("oversized header value", "GET", f"{API}/initiatives", {"X-Junk": "x" * 20_000}, 200, None),
    ("garbage if-none-match", "GET", f"{API}/initiatives", {"If-None-Match": "\"\x01\x02" + "x" * 5000}, 200, None),
]


@pytest.mark.parametrize("label, method, url, headers, status, kind", CASES, ids=[c[0] for c in CASES])
def test_hostile_request(client, label, method, url, headers, status, kind):
    resp = client.open(url, method=method, headers=headers)
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, text[:300]
    # The client's own input may be echoed back; our internals never are.
    leaks = ("Traceback", "sqlite3.", "OperationalError", "initiative_area", "/work/", "File \"", "site-packages")
    assert [leak for leak in leaks if leak in text] == []
    if kind:
        assert resp.mimetype == "application/problem+json"
        body = resp.get_json()
        assert (body["type"], body["status"]) == (f"{API}/problems/{kind}", status)
    else:
        assert resp.mimetype == "application/json"


def test_injected_header_is_not_reflected(client):
    resp = client.get(f"{API}/initiatives?region=四川%0d%0aX-Injected:%201")
    assert "X-Injected" not in resp.headers


# --- the outside attack's reproductions ----------------------------------------------------------------------------
# Each row is one request the attack sent and what it must get now; the closing note of the hardening issue gives what
# each got before. (label, app config, method, url, headers, status, media type, headers that must be so: a value, or
# None for a header that must be absent)

FINGERPRINT = query_fingerprint({})   # what a cursor of /api/v1/initiatives without filters is bound to


def _body(key: str) -> bytes:
    """A cursor's payload with key as JSON text, as an attacker writes it (1e400, NaN and all)."""
    return ('{"k":%s,"b":0,"f":"%s"}' % (key, FINGERPRINT)).encode()


def _unkeyed(key: str) -> str:
    """A cursor forged as the unkeyed checksum of release 1.1 allowed: anyone could compute it."""
    body = _body(key)
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + hashlib.sha256(b"socialwork-cursor:" + body).hexdigest()[:10]


def _signed(key: str, secret: str = "socialwork-cursor") -> str:
    """A cursor signed as this API signs them (with the default key, which the test app has): what is checked behind
    the signature is the key's values."""
    body = _body(key)
    return base64.urlsafe_b64encode(body).decode().rstrip("=") + "." + hmac.new(
        secret.encode(), b"socialwork-cursor:" + body, hashlib.sha256).hexdigest()[:16]


PROXIED = {"TRUSTED_PROXIES": 1}
CANONICAL = {"BASE_URL": "https://data.example.org/socialwork"}
JSON_TYPE, PROBLEM, CSV_TYPE = "application/json", "application/problem+json", "text/csv"
ATTACK = [
    # Accept is negotiated on the media type: parameters do not make a 406, q-values are honoured
    ("accept json with a charset", {}, "GET", f"{API}/initiatives?limit=1", {"Accept": "application/json; charset=utf-8"},
     200, JSON_TYPE, {}),
    ("accept the API's own CSV type echoed back", {}, "GET", f"{API}/initiatives?limit=1",
     {"Accept": "text/csv; charset=utf-8; header=present"}, 200, CSV_TYPE, {}),
    ("accept q-values prefer CSV", {}, "GET", f"{API}/initiatives?limit=1", {"Accept": "application/json;q=0.1, text/csv;q=0.9"},
     200, CSV_TYPE, {}),
    ("accept geojson with a parameter", {}, "GET", f"{API}/initiatives?limit=1",
     {"Accept": "application/geo+json; charset=utf-8"}, 200, "application/geo+json", {}),
    ("accept a refused type with parameters is still a 406", {}, "GET", f"{API}/initiatives", {"Accept": "image/png; q=1"},
     406, PROBLEM, {}),
    ("accept with a broken range among good ones", {}, "GET", f"{API}/kinds", {"Accept": "nonsense, text/csv;q=0.5"},
     200, CSV_TYPE, {}),
    # cursors: signed with the deployment's key; every key value checked; a bad cursor is a 400
    *[(f"cursor forged with the old unkeyed checksum, key {key}", {}, "GET", f"{API}/initiatives?cursor=" + _unkeyed(key),
       {}, 400, PROBLEM, {}) for key in ('[1180591620717411303424,"x"]', '[NaN,"x"]', '[1e400,"x"]', '[null,"x"]')],
    *[(f"cursor signed with this key, key {key}", {}, "GET", f"{API}/initiatives?cursor=" + _signed(key), {}, 400, PROBLEM, {})
      for key in ('[1180591620717411303424,"x"]', '[NaN,"x"]', '[1e400,"x"]', '[null,"x"]', '[1,"%s"]' % ("x" * 1001))],
    ("cursor signed with another deployment's key", {}, "GET", f"{API}/initiatives?cursor=" + _signed('[1,"x"]', "other"),
     {}, 400, PROBLEM, {}),
    # CR/LF in a record id: the 303 to its page carries it percent-encoded
    ("CR LF in a record id, Accept: text/html", {}, "GET", f"{API}/initiatives/a%0d%0aSet-Cookie:%20x=1", {"Accept": "text/html"},
     303, "text/html", {"Location": "/initiatives/a%0D%0ASet-Cookie%3A%20x%3D1", "Set-Cookie": None}),
    # Host: an invalid one is a 400; with a canonical base URL every link is built from it whatever Host says
    ("Host with a space", {}, "GET", f"{API}", {"Host": "exa mple.org"}, 400, PROBLEM, {}),
    ("Host empty", {}, "GET", f"{API}", {"Host": ""}, 400, PROBLEM, {}),
    ("Host with a path", {}, "GET", f"{API}", {"Host": "example.org/evil"}, 400, PROBLEM, {}),
    ("Host with a bad port", {}, "GET", f"{API}", {"Host": "example.org:99999x"}, 400, PROBLEM, {}),
    ("links from the canonical base, not from Host", CANONICAL, "GET", f"{API}/initiatives?limit=1", {"Host": "evil.example"},
     200, JSON_TYPE, {"Link": '<https://data.example.org/socialwork/api/v1/initiatives?limit=1>; rel="self"'}),
    # X-Forwarded-Proto from a trusted proxy: http or https only
    ("X-Forwarded-Proto javascript", PROXIED, "GET", f"{API}/initiatives?limit=1", {"X-Forwarded-Proto": "javascript"},
     400, PROBLEM, {}),
    ("X-Forwarded-Proto of another host's URL", PROXIED, "GET", f"{API}/initiatives?limit=1",
     {"X-Forwarded-Proto": "https://evil.example/x"}, 400, PROBLEM, {}),
    ("X-Forwarded-Proto https", PROXIED, "GET", f"{API}/initiatives?limit=1", {"X-Forwarded-Proto": "https"},
     200, JSON_TYPE, {"Link": '<https://localhost/api/v1/initiatives?limit=1>; rel="self"'}),
    # OPTIONS: one sorted Allow, no body and so no Content-Type and no page CSP
    ("OPTIONS on a list", {}, "OPTIONS", f"{API}/initiatives", {}, 200, None,
     {"Allow": "GET, HEAD, OPTIONS", "Content-Type": None, "Content-Security-Policy": None}),
    ("OPTIONS on a page", {}, "OPTIONS", "/initiatives", {}, 200, None,
     {"Allow": "GET, HEAD, OPTIONS", "Content-Type": None, "Content-Security-Policy": None}),
    # one parameter rule for every API route: unknown or repeated parameters refused; ASCII digits after NFKC
    ("unknown parameter on the landing page: an HTML page ignores it", {}, "GET", "/?foo=1", {}, 200, "text/html", {}),
    ("unknown parameter on the downloads page", {}, "GET", "/downloads/?foo=1", {}, 400, PROBLEM, {}),
    ("unknown parameter on a download", {}, "GET", "/downloads/socialwork.db?foo=1", {}, 400, PROBLEM, {}),
    ("unknown parameter on the contract", {}, "GET", "/openapi.json?foo=1", {}, 400, PROBLEM, {}),
    ("unknown parameter on the contract in YAML", {}, "GET", "/openapi.yaml?foo=1", {}, 400, PROBLEM, {}),
    ("year in Arabic-Indic digits", {}, "GET", f"{API}/initiatives?year=٢٠٢٥", {}, 400, PROBLEM, {}),
    ("limit in Devanagari digits", {}, "GET", f"{API}/initiatives?limit=१०", {}, 400, PROBLEM, {}),
    ("limit with an underscore", {}, "GET", f"{API}/initiatives?limit=1_0", {}, 400, PROBLEM, {}),
    ("limit with a plus sign", {}, "GET", f"{API}/initiatives?limit=%2B10", {}, 400, PROBLEM, {}),
    ("limit circled one is 1 after NFKC", {}, "GET", f"{API}/initiatives?limit=①", {}, 200, JSON_TYPE, {}),
]


@pytest.mark.parametrize("label, config, method, url, headers, status, media, expect", ATTACK, ids=[c[0] for c in ATTACK])
def test_the_attacks_reproductions(built_db, label, config, method, url, headers, status, media, expect):
    app = create_app({"DATABASE": str(built_db), "TESTING": True, **config})
    resp = app.test_client().open(url, method=method, headers=headers)
    got = {name: resp.headers.get(name) for name in expect}
    if expect.get("Link"):
        got["Link"] = resp.headers.get("Link", "").split(", ")[0]
    assert (resp.status_code, resp.mimetype or None, got) == (status, media, expect), resp.get_data(as_text=True)[:300]
    if media == PROBLEM:
        body = resp.get_json()
        assert body["status"] == status and body["errors"], body   # it names what was wrong


def test_a_logged_path_cannot_forge_a_log_line(built_db, caplog):
    """A client's decoded path with CR/LF in it is logged with them escaped: one failed request, one log line. (The
    attack's 500 on a CR/LF id logged `[CRITICAL]` on a line of its own; a view that fails stands in for it here.)"""
    app = create_app({"DATABASE": str(built_db), "TESTING": True})

    @app.route("/fails/<rest>")
    def fails(rest):
        raise RuntimeError("a failing view")

    with caplog.at_level(logging.ERROR):
        resp = app.test_client().get("/fails/x%0d%0a[CRITICAL]%20forged")
    assert (resp.status_code, resp.mimetype) == (500, PROBLEM)
    assert [r.getMessage() for r in caplog.records] == ["unhandled error on /fails/x\\x0d\\x0a[CRITICAL] forged"]
    assert printable("/x\r\n[CRITICAL] y\x1b[31m\u2028") == "/x\\x0d\\x0a[CRITICAL] y\\x1b[31m\\u2028"


@pytest.mark.parametrize("value, cell", [
    ("=HYPERLINK(\"http://evil.example\")", "'=HYPERLINK(\"http://evil.example\")"),
    ("+86 10 12345", "'+86 10 12345"), ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("12345热线", "12345热线"), (-5, "-5"), (25802000.0, "25802000"), (None, ""),
])
def test_a_csv_cell_that_a_spreadsheet_would_run_is_neutralised(value, cell):
    text = "".join(csv_chunks(["v"], [[value]]))
    assert list(csv.reader(io.StringIO(text))) == [["v"], [cell]]
