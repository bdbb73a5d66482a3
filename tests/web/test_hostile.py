"""A catalogue of hostile requests: each gets its exact status and problem type, never a 5xx, a traceback, SQL or a path."""
from __future__ import annotations

import pytest

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
