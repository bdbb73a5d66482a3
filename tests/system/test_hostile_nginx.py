"""Hostile requests through deploy/nginx.conf (issue 22, items 4, 8 and 9): each reproduction a row of CASES.

Two API instances (gunicorn as `make run` starts it, one worker each, serving the session's database) with nginx in
front, started as tests/system/test_cache_tier.py starts it (harness/servers.py: render_nginx_conf, start_nginx). A
row names the nginx it goes to:

- live: in front of both instances;
- dead: in front of two ports nothing listens on (no instance at all, a cold cache);
- full: in front of both instances, its cache (SW_PREFIX/cache) a 1 MB tmpfs filled to the last byte (item 4: a full
  cache disk). Mounting needs root: without it these rows skip, saying so.

Item 8: every answer nginx makes itself is application/problem+json (RFC 9457) with the app's security headers
(nosniff, Referrer-Policy), no version in `Server`, and a problem type whose documented status is its status.
Item 9: a Range is answered as the app answers it (tests/web/test_hostile_ranges.py for the app alone): one range of
bytes, or the whole file; a 416 carries Content-Range: bytes */N.

SW_NGINX_TEMPLATE=path runs the rows against another nginx.conf (e.g. `git show bf3f281:deploy/nginx.conf`), to see
them fail there. Skipped when nginx is missing, unless REQUIRE_NGINX=1 (.ci/run).
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from api.web.errors import DESCRIPTIONS, PROBLEM_BASE
from harness import servers

TEMPLATE = Path(os.environ.get("SW_NGINX_TEMPLATE") or servers.NGINX_TEMPLATE)
PROBLEM = "application/problem+json"
ABSENT = None  # an expected header value: the header is not there
SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store"}


@dataclass(frozen=True)
class Row:
    id: str
    tier: str                      # live, dead or full (see the module docstring)
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    status: int = 200
    media_type: str = ""
    expect: dict = field(default_factory=dict)  # header (lower case) -> value, or ABSENT; "{size}" is the file's length
    problem: str | None = None     # the problem type nginx (or the app) answers with
    whole: bool = False            # the body is complete: as long as Content-Length, and as the file when it is one
    warm: bool = False             # GET the path first, so the cache holds it


DB = "/downloads/socialwork.db"
CASES = [
    # item 8: nginx's own answers
    Row("sw-version-from-outside", "live", "GET", "/__sw_version", status=404, media_type=PROBLEM, problem="not-found"),
    Row("trace", "live", "TRACE", "/", status=405, media_type=PROBLEM, problem="method-not-allowed",
        expect={"allow": "GET, HEAD, OPTIONS"}),
    Row("invalid-host", "live", "GET", "/api/v1", {"Host": "bad/host"}, status=400, media_type=PROBLEM,
        problem="bad-request"),
    Row("request-body", "live", "GET", "/api/v1", {"Content-Length": "4096"}, status=413, media_type=PROBLEM,
        problem="request-too-large"),
    Row("request-line-9k", "live", "GET", "/api/v1?x=" + "a" * 9000, status=414, media_type=PROBLEM,
        problem="request-too-large"),
    Row("header-9k", "live", "GET", "/api/v1", {"X-Big": "a" * 9000}, status=431, media_type=PROBLEM,
        problem="request-too-large"),
    Row("no-instance", "dead", "GET", "/api/v1", status=502, media_type=PROBLEM, problem="bad-gateway",
        expect={"retry-after": "5"}),
    # item 9: Range through the cache, as the app answers it
    Row("range-past-the-end", "live", "GET", DB, {"Range": "bytes=999999999-"}, status=416, media_type=PROBLEM,
        problem="range-not-satisfiable", expect={"content-range": "bytes */{size}"}, warm=True),
    Row("ranges-overlapping", "live", "GET", DB, {"Range": "bytes=0-9,5-14"}, media_type="application/vnd.sqlite3",
        expect={"content-range": ABSENT, "accept-ranges": "bytes"}, whole=True, warm=True),
    Row("ranges-two", "live", "GET", DB, {"Range": "bytes=0-9,20-29"}, media_type="application/vnd.sqlite3",
        expect={"content-range": ABSENT}, whole=True, warm=True),
    Row("ranges-trailing-comma", "live", "GET", DB, {"Range": "bytes=0-5,"}, media_type="application/vnd.sqlite3",
        expect={"content-range": ABSENT, "accept-ranges": "bytes"}, whole=True, warm=True),
    # item 4: a full cache disk costs the entry, not the answer
    Row("full-cache-download", "full", "GET", DB, media_type="application/vnd.sqlite3",
        expect={"content-length": "{size}"}, whole=True),
    Row("full-cache-json", "full", "GET", "/api/v1/kinds", media_type="application/json", whole=True),
]


def fetch(port: int, method: str, path: str, headers: dict) -> tuple[int | None, list, bytes, str]:
    """One request on a connection of its own: status, headers (as sent, repeats kept), body, and what went wrong
    (an empty reply, a body cut short) or ""."""
    conn = http.client.HTTPConnection(servers.LOOPBACK, port, timeout=20)
    try:
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        resp = conn.getresponse()
        pairs = [(k.lower(), v) for k, v in resp.getheaders()]
        try:
            body = resp.read()
        except http.client.IncompleteRead as exc:
            return resp.status, pairs, exc.partial, f"body cut short at {len(exc.partial)} bytes"
        return resp.status, pairs, body, ""
    except (http.client.RemoteDisconnected, ConnectionError) as exc:
        return None, [], b"", f"no answer ({type(exc).__name__})"
    finally:
        conn.close()


def nginx_in_front(upstreams: list[int], prefix: Path) -> servers.Nginx:
    """TEMPLATE filled in and started on a free port in front of upstreams; ready once nginx answers anything."""
    port = servers.free_port()
    conf = servers.render_nginx_conf(servers.nginx_values(prefix, port, upstreams, "10000r/s", "10000"), template=TEMPLATE)
    nginx = servers.start_nginx(conf, prefix, port, binary=servers.nginx_or_skip())
    try:
        nginx.wait_ready("/__sw_version", timeout=20, expect=None)  # nginx's own answer: no instance, no cache
    except RuntimeError as exc:
        nginx.stop()
        pytest.fail(str(exc))
    return nginx


@pytest.fixture(scope="module")
def instances(built_db, tmp_path_factory):
    logs = tmp_path_factory.mktemp("hostile-nginx")
    started = [servers.start_gunicorn(built_db, servers.free_port(), logs / f"{n}.log", workers=1, name=n) for n in "AB"]
    try:
        for s in started:
            try:
                s.wait_ready(timeout=30)
            except RuntimeError as exc:
                pytest.fail(str(exc))
        yield [s.port for s in started]
    finally:
        for s in started:
            s.stop()


@pytest.fixture(scope="module")
def live(instances):
    servers.nginx_or_skip()
    prefix = Path(tempfile.mkdtemp(prefix="sw-test-hostile-"))  # under /tmp: nginx's workers (www-data) reach it
    nginx = nginx_in_front(instances, prefix)
    yield nginx.port
    nginx.stop()
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def dead():
    servers.nginx_or_skip()
    prefix = Path(tempfile.mkdtemp(prefix="sw-test-hostile-dead-"))
    nginx = nginx_in_front([servers.free_port(), servers.free_port()], prefix)
    yield nginx.port
    nginx.stop()
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def full(instances):
    """nginx whose cache directory is a 1 MB tmpfs with no byte left; unmounted and removed after."""
    servers.nginx_or_skip()
    prefix = Path(tempfile.mkdtemp(prefix="sw-test-hostile-full-"))
    cache = prefix / "cache"
    cache.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "sw-test-full", str(cache)],
                           capture_output=True, text=True, timeout=30) if shutil.which("mount") else None
    if mount is None or mount.returncode != 0:
        shutil.rmtree(prefix, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs for a full cache disk: {mount.stderr.strip() if mount else 'no mount'}")
    nginx = None
    try:
        with open(cache / "filler", "wb", buffering=0) as fh:  # every byte of the filesystem taken
            try:
                while fh.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        nginx = nginx_in_front(instances, prefix)
        yield nginx.port
    finally:
        if nginx is not None:
            nginx.stop()
        subprocess.run(["umount", str(cache)], capture_output=True, timeout=30)
        shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="module")
def size(built_db) -> int:
    return built_db.stat().st_size


def check(row: Row, status, pairs: list, body: bytes, error: str, size: int) -> list[str]:
    """What is wrong with one answer, for this row; empty when nothing is."""
    if error:
        return [error]
    wrong = []
    heads: dict[str, list[str]] = {}
    for k, v in pairs:
        heads.setdefault(k, []).append(v)
    one = {k: v[-1] for k, v in heads.items()}
    if status != row.status:
        wrong.append(f"status {status}, not {row.status}")
    media = one.get("content-type", "").split(";")[0].strip()
    if media != row.media_type:
        wrong.append(f"Content-Type {media!r}, not {row.media_type!r}")
    expect = dict(row.expect)
    if row.problem:
        expect = {**SECURITY, **expect}
    for name, value in expect.items():
        value = value.replace("{size}", str(size)) if value else value
        if one.get(name) != value:
            wrong.append(f"{name}: {heads.get(name)}, not {value!r}")
    # A list-based field may come in several lines (RFC 9110 5.3): the app's Vary: Accept and the tier's Vary:
    # Accept-Encoding. A singleton (X-Cache-Status, Cache-Control, Content-Type) may not.
    doubled = sorted(k for k, v in heads.items() if len(v) > 1 and k not in ("set-cookie", "vary"))
    if doubled:
        wrong.append(f"sent twice: {doubled}")
    if "/" in one.get("server", ""):
        wrong.append(f"Server names a version: {one['server']!r}")
    if row.problem:
        try:
            doc = json.loads(body)
        except ValueError:
            return [*wrong, f"body is not JSON: {body[:80]!r}"]
        kind = str(doc.get("type", "")).removeprefix(PROBLEM_BASE)
        if kind != row.problem or doc.get("status") != row.status:
            wrong.append(f"problem {doc.get('type')} status {doc.get('status')}, not {row.problem} {row.status}")
    if row.whole:
        if "content-length" in one and len(body) != int(one["content-length"]):
            wrong.append(f"{len(body)} bytes of a Content-Length of {one['content-length']}")
        if row.path == DB and len(body) != size:
            wrong.append(f"{len(body)} bytes of a {size}-byte file")
    return wrong


@pytest.mark.parametrize("row", CASES, ids=[r.id for r in CASES])
def test_hostile_through_nginx(row, request, size):
    port = request.getfixturevalue(row.tier)
    if row.warm:
        assert fetch(port, "GET", row.path, {})[0] == 200
        assert fetch(port, "GET", row.path, {})[0] == 200
    status, pairs, body, error = fetch(port, row.method, row.path, row.headers)
    wrong = check(row, status, pairs, body, error, size)
    assert not wrong, f"{row.method} {row.path[:60]} {row.headers if len(str(row.headers)) < 80 else '...'}: {wrong}"


# A Range is answered the same by the app alone and through nginx (item 9): the app decides, nginx passes it on.
RANGES = ["items=0-5", "bytes=0-9", "bytes=-10", "bytes=0-9,5-14", "bytes=0-9,20-29", "bytes=0-5,", "bytes=,0-5",
          "bytes=999999999-", "bytes=abc"]


@pytest.mark.parametrize("value", RANGES)
def test_a_range_through_nginx_is_answered_as_the_app_answers_it(value, live, instances):
    def seen(port):
        status, pairs, body, error = fetch(port, "GET", DB, {"Range": value})
        h = dict(pairs)
        return status, h.get("content-type"), h.get("content-range"), len(body), error
    fetch(live, "GET", DB, {})  # stored
    assert seen(live) == seen(instances[0])


def test_every_answer_nginx_makes_is_a_documented_problem():
    """Each error_page goes to a /__problem/ location that returns its status as problem+json with the app's security
    headers, of a type whose documented status is that status (request-too-large covers 413, 414 and 431, as in the
    app: api/web/errors.py _HTTP_KINDS)."""
    conf = TEMPLATE.read_text()
    pages = dict(re.findall(r"^\s*error_page (\d+)(?: =\d+)? (/__problem/\d+);", conf, re.M))
    assert {"400", "404", "405", "413", "414", "429", "494", "500", "502", "503", "504"} <= set(pages)
    blocks = dict(re.findall(r"location = (/__problem/\d+) \{(.*?)\n        \}", conf, re.S))
    for target in set(pages.values()):
        block = blocks[target]
        status = int(target.rsplit("/", 1)[1])
        body = json.loads(re.search(r"return (\d+) '(.*)\\n';", block).group(2))
        assert re.search(rf"return {status} ", block) and body["status"] == status, target
        for header in ("default_type application/problem+json", "add_header X-Content-Type-Options nosniff always",
                       "add_header Referrer-Policy no-referrer always", "add_header Cache-Control no-store always"):
            assert header in block, (target, header)
        kind = body["type"].removeprefix(PROBLEM_BASE)
        assert DESCRIPTIONS[kind][0] == status or (kind == "request-too-large" and status in (414, 431)), (target, kind)
    assert re.search(r"^\s*server_tokens off;", conf, re.M)


def test_http_1_0_without_host_never_links_to_an_instance(live, instances):
    """HTTP/1.0 needs no Host; nginx then sends none upstream, over HTTP/1.1, which is a 400 (RFC 9112) there: no link
    to an instance's address is built, and none is stored for the next client."""
    answers = [servers.raw_request(live, b"GET /api/v1/initiatives?limit=1 HTTP/1.0\r\n\r\n") for _ in range(2)]
    leaks = [str(p) for p in instances if any(str(p).encode() in a[2] or str(p) in str(a[1]) for a in answers)]
    got = [(status, headers.get("content-type"), json.loads(body).get("errors"), headers.get("x-cache-status"))
           for status, headers, body in answers]
    assert (got, leaks) == ([(400, PROBLEM, {"Host": ["required"]}, "MISS")] * 2, [])


COMPRESSED = [("/api/v1/initiatives?limit=20", "application/json"), ("/api/v1/initiatives.csv", "text/csv"),
              ("/api/v1/initiatives.geojson", "application/geo+json"), ("/openapi.yaml", "application/yaml"),
              ("/initiatives", "text/html")]   # (nginx compresses 200, 403 and 404 only: a problem stays as it is, small)


@pytest.mark.parametrize("path, media_type", COMPRESSED, ids=[p for p, _ in COMPRESSED])
def test_the_tier_compresses_and_the_etag_still_revalidates(live, path, media_type):
    """gzip at the tier (not in the app): the same bytes once decompressed, Vary: Accept-Encoding, the app's ETag
    marked weak, and that weak ETag answered with a 304."""
    plain = fetch(live, "GET", path, {})
    packed = fetch(live, "GET", path, {"Accept-Encoding": "gzip"})
    ph, gh = dict(plain[1]), dict(packed[1])
    vary = ", ".join(v for k, v in packed[1] if k == "vary")
    assert (gh.get("content-encoding"), gh["content-type"].split(";")[0], "Accept-Encoding" in vary) == ("gzip", media_type, True)
    assert gzip.decompress(packed[2]) == plain[2]
    if packed[0] == 200:
        assert gh["etag"] == "W/" + ph["etag"]
        again = fetch(live, "GET", path, {"Accept-Encoding": "gzip", "If-None-Match": gh["etag"]})
        assert again[0] == 304


def test_the_database_file_is_not_compressed(live):
    status, pairs, body, _ = fetch(live, "GET", DB, {"Accept-Encoding": "gzip"})
    assert (status, dict(pairs).get("content-encoding"), body[:16]) == (200, None, b"SQLite format 3\x00")
