"""deploy/nginx.conf's cache tier, run for real: Debian's nginx in front of a stand-in instance on loopback.

The stand-in answers GET /api/v1 and a few URLs with the app's ETag shape ('"<version>-<hash>"'), so the
version it serves can be changed between requests. What is asserted is the cache's behaviour: an entry is
keyed by the version the instance states, an answer of another version is never stored, one stored version
serves every client whatever its Accept, a version change reaches every URL, and with no instance left the
stored answers still come while a URL never stored gets nginx's 502 problem+json. ops/cache_check.py runs
the same against the real app under load. Skipped when nginx is missing, unless REQUIRE_NGINX=1 (.ci/run).
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from harness import servers


class Instance:
    """A stand-in API instance: its dataset version can change; it counts what reached it."""

    def __init__(self):
        self.version = "v1aaaaaaaaaaaaaa"
        self.hits: list[str] = []
        self.wrong_version_for: set[str] = set()  # paths answered with another version than /api/v1's
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.hits.append(self.path)
                version = outer.version
                if self.path in outer.wrong_version_for:
                    version = "v9zzzzzzzzzzzzzz"
                body = json.dumps({"path": self.path, "version": version, "accept": self.headers.get("Accept")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", f'"{version}-0123456789abcdef"')
                self.send_header("Cache-Control", "public, max-age=300")
                self.send_header("Vary", "Accept")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((servers.LOOPBACK, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


get = functools.partial(servers.http_get, timeout=10)  # (port, path, headers=None) -> status, headers, body


@pytest.fixture()
def tier():
    binary = servers.nginx_or_skip()
    instance = Instance()
    prefix = Path(tempfile.mkdtemp(prefix="sw-test-cache-"))  # under /tmp: nginx's workers (www-data) reach it
    port = servers.free_port()
    nginx = None
    try:
        conf = servers.render_nginx_conf(servers.nginx_values(prefix, port, [instance.port], "10000r/s", "10000"))
        nginx = servers.start_nginx(conf, prefix, port, binary=binary)
        nginx.wait_ready("/ready", timeout=20)
        yield instance, port, prefix
    finally:
        if nginx is not None:
            nginx.stop()
        instance.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def keys(prefix: Path) -> list[str]:
    out = []
    for f in (prefix / "cache").rglob("*"):
        if f.is_file():
            head = f.read_bytes()[:2048]
            if b"\nKEY: " in head:
                out.append(head.split(b"\nKEY: ", 1)[1].split(b"\n", 1)[0].decode())
    return out


def test_the_template_passes_nginx_t():
    binary = servers.nginx_or_skip()
    prefix = Path(tempfile.mkdtemp(prefix="sw-test-nginx-t-"))
    try:
        (prefix / "tmp").mkdir()
        conf = servers.render_nginx_conf(servers.nginx_values(prefix, servers.free_port(), [8001, 8002]))
        (prefix / "nginx.conf").write_text(conf)
        test = subprocess.run([binary, "-t", "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
                              capture_output=True, text=True, timeout=30)
        assert test.returncode == 0, test.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def test_entries_are_keyed_by_the_version_and_never_hold_another(tier):
    instance, port, prefix = tier
    first, second = get(port, "/x"), get(port, "/x")
    assert (first[1]["x-cache-status"], second[1]["x-cache-status"]) == ("MISS", "HIT")
    assert first[2] == second[2] and second[1]["etag"] == '"v1aaaaaaaaaaaaaa-0123456789abcdef"'
    assert "v1aaaaaaaaaaaaaa http://127.0.0.1:%d/x" % port in keys(prefix)

    # An instance answering another version than the one the cache holds: passed on, never stored.
    instance.wrong_version_for.add("/y")
    statuses = [get(port, "/y")[1]["x-cache-status"] for _ in range(3)]
    assert statuses == ["MISS", "MISS", "MISS"]
    assert instance.hits.count("/y") == 3


def test_one_version_for_every_accept(tier):
    instance, port, prefix = tier
    for accept in ("application/json", "text/csv", "*/*", "application/geo+json"):
        assert get(port, "/x", {"Accept": accept})[0] == 200
    assert keys(prefix).count("dataset version") == 1
    # The URL itself keeps one variant per Accept (the app's Vary: Accept).
    s1, h1, b1 = get(port, "/x", {"Accept": "text/csv"})
    assert h1["x-cache-status"] == "HIT" and json.loads(b1)["accept"] == "text/csv"


def test_a_new_version_reaches_every_url_and_the_old_never_comes_back(tier):
    instance, port, prefix = tier
    variants = [(p, {"Accept": a} if a else {}) for p in ("/a", "/b", "/c") for a in (None, "text/csv")]
    for path, headers in variants:
        get(port, path, headers)
        assert get(port, path, headers)[1]["x-cache-status"] == "HIT"
    instance.version = "v2bbbbbbbbbbbbbb"
    deadline = time.monotonic() + 6   # the version is kept for 1-2 s; bounded, not a timing assert
    while time.monotonic() < deadline and json.loads(get(port, "/a")[2])["version"] != instance.version:
        time.sleep(0.05)
    seen = [json.loads(get(port, path, headers)[2])["version"] for _ in range(3) for path, headers in variants]
    assert set(seen) == {"v2bbbbbbbbbbbbbb"}


def test_with_no_instance_stored_answers_still_come(tier):
    instance, port, prefix = tier
    stored = get(port, "/x")
    assert get(port, "/x")[1]["x-cache-status"] == "HIT"
    instance.stop()
    time.sleep(2.1)  # the stored version is now past its 1 s: the version subrequest finds no instance
    status, headers, body = get(port, "/x")
    assert (status, body, headers["etag"]) == (200, stored[2], stored[1]["etag"])
    status, headers, body = get(port, "/never-stored")
    assert status == 502 and headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 502
