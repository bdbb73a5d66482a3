"""The real server (gunicorn with the repository's settings): what a client meets before the app runs."""
from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from api.web import gunicorn_patches as serving
from harness import servers

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def raw_request(base: str, request: bytes) -> tuple[int, dict, bytes]:
    parts = urlsplit(base)
    return servers.raw_request(parts.port, request, host=parts.hostname)


# (label, raw request, status, problem type)
CASES = [
    ("raw UTF-8 in the URL", "GET /api/v1/initiatives?region=江苏 HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400, "bad-request"),
    ("garbage request line", b"GARBAGE\r\n\r\n", 400, "bad-request"),
    ("request line over 8 KB", b"GET /api/v1/initiatives?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request-too-large"),
    ("header over 8 KB", b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"x" * 9000 + b"\r\n\r\n", 431, "request-too-large"),
    ("too many headers", b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n", 431, "request-too-large"),
]


TITLES = {"bad-request": "Bad request", "request-too-large": "Request too large"}
# What every response carries, the app's and gunicorn's own (README: CORS, nosniff, Referrer-Policy).
SECURITY_HEADERS = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer"}


def problem_validator():
    """The contract's Problem schema, its $refs resolved against openapi.yaml."""
    return OAS30Validator({**SPEC["components"]["schemas"]["Problem"], "components": SPEC["components"]})


@pytest.mark.parametrize("label, request_bytes, status, kind", CASES, ids=[c[0] for c in CASES])
def test_errors_gunicorn_answers_itself_are_problem_json(live_server, label, request_bytes, status, kind):
    code, headers, body = raw_request(live_server, request_bytes)
    assert code == status
    assert headers["content-type"] == "application/problem+json"
    assert {k: headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    assert headers["cache-control"] == "no-store"
    problem = json.loads(body)
    assert sorted(problem) == ["detail", "instance", "status", "title", "type"]
    assert (problem["type"], problem["title"], problem["status"]) == ("/api/v1/problems/" + kind, TITLES[kind], status)
    # No path was read (or none is passed on): the occurrence is named by a fresh URN, logged by the server.
    assert re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", problem["instance"])
    assert list(problem_validator().iter_errors(problem)) == []
    assert "江苏".encode() not in body and b"GARBAGE" not in body, "the request is not echoed back"


def test_each_server_error_names_its_own_occurrence(live_server):
    first, second = (json.loads(raw_request(live_server, b"GARBAGE\r\n\r\n")[2])["instance"] for _ in range(2))
    assert first != second


def test_the_contract_declares_the_servers_own_errors_as_problem_json():
    for name in ("BadRequest", "UriTooLong"):
        response = SPEC["components"]["responses"][name]
        assert list(response["content"]) == ["application/problem+json"]
        assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert sorted(response["headers"]) == ["Access-Control-Allow-Origin", "Cache-Control"]


def test_the_apps_own_problems_match_the_contract(live_server):
    """The app's 400, 404 and 405, through the same server, against the same Problem schema."""
    for method, path, status in [("GET", "/api/v1/initiatives?limit=0", 400), ("GET", "/api/v1/nothing-here", 404),
                                 ("DELETE", "/api/v1/initiatives", 405)]:
        code, headers, body = raw_request(live_server, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert (code, headers["content-type"]) == (status, "application/problem+json")
        assert {k: headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
        problem = json.loads(body)
        assert problem["instance"] == path.split("?")[0]
        assert list(problem_validator().iter_errors(problem)) == []


def test_raw_utf8_error_says_how_to_send_chinese(live_server):
    _, _, body = raw_request(live_server, "GET /api/v1/initiatives?region=江苏 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert "percent-encoded" in json.loads(body)["detail"]


def test_the_same_query_percent_encoded_is_answered(live_server):
    url = live_server + "/api/v1/initiatives?region=%E6%B1%9F%E8%8B%8F&year=2025"
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert body["meta"]["total"] == 3


def test_the_gunicorn_patches_refuse_a_gunicorn_they_were_not_checked_against(monkeypatch):
    import gunicorn
    from gunicorn import util
    from gunicorn.http.wsgi import Response

    monkeypatch.setattr(util, "write_error", util.write_error)   # restored after the test, whatever install() does
    monkeypatch.setattr(Response, "write", Response.write)
    before = (util.write_error, Response.write)
    monkeypatch.setattr(gunicorn, "__version__", "23.0.0")
    with pytest.raises(serving.GunicornVersionError) as err:
        serving.install()
    assert f"gunicorn {serving.CHECKED_GUNICORN} (" in str(err.value)
    assert "gunicorn 23.0.0 is installed" in str(err.value)
    assert (util.write_error, Response.write) == before, "nothing is patched"


def test_the_checked_gunicorn_is_the_one_installed_pinned_and_constrained():
    import gunicorn

    assert gunicorn.__version__ == serving.CHECKED_GUNICORN
    assert f'"gunicorn=={serving.CHECKED_GUNICORN}"' in (ROOT / "pyproject.toml").read_text()
    assert f"\ngunicorn=={serving.CHECKED_GUNICORN}\n" in (ROOT / "constraints.txt").read_text()


def test_a_response_that_frames_its_own_output_keeps_gunicorns_write():
    from gunicorn.http.wsgi import Response

    sent = []

    class Framed(Response):   # as gunicorn's HTTP2Response: its own headers and body framing
        def send_headers(self):
            sent.append("headers")
            self.headers_sent = True

        def _emit_body(self, data):
            sent.append(data)

    resp = Framed.__new__(Framed)
    resp.headers_sent, resp.chunked, resp._omits_body, resp.response_length, resp.sent = False, False, False, None, 0
    serving.write_whole(resp, b"body")
    assert sent == ["headers", b"body"]
