"""Range requests straight at the app (issue 22, item 9), each reproduction a row: /downloads/socialwork.db serves one
range of bytes (206) or refuses it (416, problem+json with Content-Range: bytes */N); any other Range is ignored and
the whole file sent (200): another unit (RFC 9110 14.2: MUST be ignored) and several ranges, overlapping or not.
nginx in front answers the same (tests/system/test_hostile_nginx.py)."""
from __future__ import annotations

import pytest

DB = "/downloads/socialwork.db"
SQLITE = "application/vnd.sqlite3"
PROBLEM = "application/problem+json"
ABSENT = None


def fetch(client, headers, path=DB):
    """GET path (the database) with headers; the body read and the file it streams from closed."""
    resp = client.get(path, headers=headers)
    resp.get_data()
    resp.close()
    return resp

# Range header, status, media type, headers ("{size}": the file's length; ABSENT: not sent), the whole file or not
CASES = [
    ("items=0-5", 200, SQLITE, {"Content-Range": ABSENT, "Accept-Ranges": "bytes"}, True),
    ("ITEMS=0-5", 200, SQLITE, {"Content-Range": ABSENT}, True),
    ("bytes=0-9,5-14", 200, SQLITE, {"Content-Range": ABSENT, "Accept-Ranges": "bytes"}, True),
    ("bytes=0-9,20-29", 200, SQLITE, {"Content-Range": ABSENT}, True),
    ("bytes=0-5,0-5,0-5", 200, SQLITE, {"Content-Range": ABSENT}, True),
    ("bytes=0-5,", 200, SQLITE, {"Content-Range": ABSENT}, True),
    ("bytes=999999999-", 416, PROBLEM, {"Content-Range": "bytes */{size}", "Cache-Control": "no-store",
                                        "Referrer-Policy": "no-referrer"}, False),
    ("bytes=999999999-1000000000", 416, PROBLEM, {"Content-Range": "bytes */{size}"}, False),
    ("bytes=abc", 416, PROBLEM, {"Content-Range": "bytes */{size}"}, False),
]


@pytest.mark.parametrize(("value", "status", "media_type", "headers", "whole"), CASES, ids=[c[0] for c in CASES])
def test_a_range_is_one_range_of_bytes_or_ignored(client, built_db, value, status, media_type, headers, whole):
    size = built_db.stat().st_size
    resp = fetch(client, {"Range": value})
    assert (resp.status_code, resp.mimetype) == (status, media_type)
    assert {k: resp.headers.get(k) for k in headers} == {
        k: v.replace("{size}", str(size)) if v else v for k, v in headers.items()}
    if whole:
        assert resp.data == built_db.read_bytes()
    if status == 416:
        assert resp.get_json()["type"] == "/api/v1/problems/range-not-satisfiable"
        assert resp.get_json()["status"] == 416


def test_one_range_of_bytes_is_still_served(client, built_db):
    resp = fetch(client, {"Range": "bytes=0-15"})
    assert (resp.status_code, resp.headers["Content-Range"]) == (206, f"bytes 0-15/{built_db.stat().st_size}")
    assert resp.data == built_db.read_bytes()[:16]


ASSET = "/apidocs/static/swagger-ui.css"


@pytest.mark.parametrize(("value", "status", "content_range"), [
    ("items=0-5", 200, ABSENT), ("bytes=0-9,5-14", 200, ABSENT), ("bytes=0-9", 206, "bytes 0-9/{size}"),
    ("bytes=999999999-", 416, "bytes */{size}"), ("bytes=abc", 416, "bytes */{size}"),
], ids=["another unit", "two ranges", "one range", "past the end", "not a range"])
def test_swagger_ui_assets_answer_a_range_as_the_downloads_do(client, value, status, content_range):
    whole = fetch(client, {}, ASSET).data
    resp = fetch(client, {"Range": value}, ASSET)
    expected = content_range.replace("{size}", str(len(whole))) if content_range else None
    assert (resp.status_code, resp.headers.get("Content-Range")) == (status, expected)
    assert resp.mimetype == ("application/problem+json" if status == 416 else "text/css")
    if status == 200:
        assert resp.data == whole


def test_swagger_ui_assets_still_answer_304(client):
    etag = fetch(client, {}, ASSET).headers["ETag"]
    assert fetch(client, {"If-None-Match": etag}, ASSET).status_code == 304
