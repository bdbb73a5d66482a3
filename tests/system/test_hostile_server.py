"""Hostile clients and hostile sizes straight at the real server: gunicorn as `make run` starts it (gunicorn.conf.py,
via harness/servers.py) on loopback, each test bounded in time.

- a file that is not the dataset answers 503 (pages in HTML), and the file deleted under running workers is served
  from the snapshot they hold;
- slow clients do not block an instance, a slow reader of a large export is not killed with its export cut, and an
  export is bounded in size and time (a problem before any byte, or a connection closed short of its Content-Length);
- a request without Host: HTTP/1.1 needs one, and HTTP/1.0's links come from the canonical base URL when one is set;
- at 20,000 generated records the landing page, the map and the sitemap stay bounded.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import threading
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

import pytest

from api.build import build
from bench.scale.generate import write_root
from harness import servers

BIG = 20_000  # generated records: past one sitemap file (10,000 URLs), 12 MB of CSV; built in about 10 s
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def big_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("big")
    write_root(root, BIG, seed=1, jobs=servers.CORES, fmt="jsonl")
    build(root, root / "big.db")
    return root / "big.db"


@contextmanager
def gunicorn(db: Path, log: Path, workers: int = 2, env: dict | None = None, extra=(), expect=(200,)):
    """The server as `make run` starts it on 2 cores (2 workers, gunicorn.conf.py), with env and extra options."""
    server = servers.start_gunicorn(db, servers.free_port(), log, workers=workers, env=env, extra=extra)
    try:
        try:
            server.wait_ready(timeout=30, expect=expect)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield server
    finally:
        server.stop()


def slow_read(port: int, path: str, per_read: int, pause: float, give_up: float) -> tuple[bytes, str]:
    """GET path, then read at most per_read bytes every pause seconds (a receive buffer of per_read) until the server
    closes the connection or give_up seconds pass: the bytes read, and which of the two ended it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, per_read)
        s.settimeout(give_up)
        s.connect((servers.LOOPBACK, port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data, t0 = b"", time.monotonic()
        while time.monotonic() - t0 < give_up:
            try:
                chunk = s.recv(per_read)
            except (ConnectionResetError, socket.timeout):
                return data, "closed"
            if not chunk:
                return data, "closed"
            data += chunk
            time.sleep(pause)
        return data, "gave up"


# ---------------------------------------------------------------- a file that is not the dataset

def test_a_server_on_a_file_that_is_not_sqlite_answers_503_pages_in_html(tmp_path):
    db = tmp_path / "socialwork.db"
    db.write_bytes(b"This is not an SQLite database.\n" * 200)
    with gunicorn(db, tmp_path / "gunicorn.log", expect=(503,)) as server:
        api = servers.http_get(server.port, "/api/v1", timeout=10)
        page = servers.http_get(server.port, "/initiatives", headers={"Accept": "text/html"}, timeout=10)
    assert (api[0], api[1]["content-type"], api[1]["retry-after"]) == (503, "application/problem+json", "30")
    assert json.loads(api[2])["type"] == "/api/v1/problems/service-unavailable"
    assert (page[0], page[1]["content-type"], page[1]["retry-after"]) == (503, "text/html; charset=utf-8", "30")
    assert "暂时无法提供服务" in page[2].decode()


def test_the_database_deleted_under_running_workers_is_served_from_their_snapshot(built_db, tmp_path):
    db = tmp_path / "socialwork.db"
    shutil.copy(built_db, db)
    # One thread, so the request after the deletion meets the snapshot the first one opened.
    with gunicorn(db, tmp_path / "gunicorn.log", workers=1, extra=["--threads", "1"]) as server:
        first = servers.http_get(server.port, "/downloads/socialwork.db", timeout=10)
        os.unlink(db)
        time.sleep(1.1)  # past RECHECK_SECONDS: the worker has looked for the file and found none
        again = servers.http_get(server.port, "/downloads/socialwork.db", timeout=10)
        listing = servers.http_get(server.port, "/api/v1/initiatives?kind=hotline", timeout=10)
    assert (first[0], again[0], listing[0]) == (200, 200, 200)
    assert again[1]["etag"] == first[1]["etag"]
    assert again[2] == built_db.read_bytes()


# ---------------------------------------------------------------- slow clients

SLOW = [
    ("connects and sends nothing", b"", b""),
    ("half a request line", b"GET /api/v1 HT", b""),
    ("headers that never end", b"GET /api/v1 HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: 1\r\n"),
]


@pytest.mark.parametrize("label, opening, trickle", SLOW, ids=[s[0] for s in SLOW])
def test_two_slow_clients_do_not_block_the_instance(built_db, tmp_path, label, opening, trickle):
    with gunicorn(built_db, tmp_path / "gunicorn.log") as server:
        stop = threading.Event()
        sockets = [socket.create_connection((servers.LOOPBACK, server.port), timeout=10) for _ in range(2)]

        def dribble():
            for s in sockets:
                s.sendall(opening)
            while not stop.wait(0.5):
                for s in sockets:
                    if trickle:
                        s.sendall(trickle)

        feeder = threading.Thread(target=dribble, daemon=True)
        feeder.start()
        try:
            time.sleep(0.5)
            answers = [servers.http_get(server.port, "/api/v1", timeout=5)[0] for _ in range(4)]
        finally:
            stop.set()
            feeder.join(5)
            for s in sockets:
                s.close()
    assert answers == [200, 200, 200, 200]


def test_a_slow_reader_gets_a_large_export_whole_past_the_worker_timeout(big_db, tmp_path):
    """About 4 s to read 12 MB (at most 3 MB/s), under a 2 s worker timeout: a sync worker was killed, the export cut."""
    with gunicorn(big_db, tmp_path / "gunicorn.log", extra=["--timeout", "2"]) as server:
        data, how = slow_read(server.port, "/api/v1/initiatives.csv", 65536, 0.02, give_up=60)
    status, headers, body = servers.parse_response(data)
    assert (status, how, headers.get("content-length")) == (200, "closed", str(len(body)))
    assert len(list(csv.DictReader(io.StringIO(body.decode())))) == BIG


# ---------------------------------------------------------------- exports bounded in size and time

EXPORT_MAX = 20_000  # bytes: the curated initiatives (45 rows) are more, one hotline is less

BOUNDED = [
    ("/api/v1/initiatives.csv", 400, "application/problem+json"),
    ("/api/v1/initiatives?format=csv", 400, "application/problem+json"),
    ("/api/v1/initiatives.geojson", 400, "application/problem+json"),
    ("/api/v1/regions.csv", 400, "application/problem+json"),
    ("/api/v1/initiatives.csv?kind=hotline", 200, "text/csv; charset=utf-8; header=present"),
    ("/api/v1/metrics.csv", 200, "text/csv; charset=utf-8; header=present"),
]


def test_an_export_is_whole_with_its_length_or_refused_before_any_byte(built_db, tmp_path):
    with gunicorn(built_db, tmp_path / "gunicorn.log", env={"SOCIALWORK_EXPORT_MAX_BYTES": str(EXPORT_MAX)}) as server:
        answers = [servers.http_get(server.port, url, timeout=10) for url, _, _ in BOUNDED]
    assert [(s, h["content-type"]) for s, h, _ in answers] == [(s, media) for _, s, media in BOUNDED]
    for (url, status, _), (_, headers, body) in zip(BOUNDED, answers):
        assert headers.get("content-length") == str(len(body)), url
        assert "transfer-encoding" not in headers, url
        if status == 400:
            problem = json.loads(body)
            assert (problem["type"], problem["status"], problem["max_bytes"]) == (
                "/api/v1/problems/export-too-large", 400, EXPORT_MAX), url
            assert headers["cache-control"] == "no-store"


def test_an_export_that_takes_too_long_to_make_is_a_503_before_any_byte(built_db, tmp_path):
    with gunicorn(built_db, tmp_path / "gunicorn.log", env={"SOCIALWORK_EXPORT_SECONDS": "0.000001"}) as server:
        status, headers, body = servers.http_get(server.port, "/api/v1/initiatives.csv", timeout=10)
    assert (status, headers["content-type"], headers["retry-after"]) == (503, "application/problem+json", "5")
    assert json.loads(body)["type"] == "/api/v1/problems/query-timeout"


def test_an_export_read_too_slowly_is_cut_short_of_its_length(big_db, tmp_path):
    """12 MB at 1 MB/s would take 12 s; the export has 6 s from its request to its last byte. The client reads what
    the kernel's buffers still hold after the server has closed (a few MB), then meets the end short of the length."""
    with gunicorn(big_db, tmp_path / "gunicorn.log", env={"SOCIALWORK_EXPORT_SECONDS": "6"}) as server:
        t0 = time.monotonic()
        data, how = slow_read(server.port, "/api/v1/initiatives.csv", 16384, 0.016, give_up=20)
        took = time.monotonic() - t0
        after = servers.http_get(server.port, "/api/v1", timeout=5)[0]
    status, headers, body = servers.parse_response(data)
    assert (status, how, after) == (200, "closed", 200)
    assert len(body) < int(headers["content-length"]), "the client can tell it did not get it all"
    assert took < 15


# ---------------------------------------------------------------- requests without Host

NO_HOST = [
    ("HTTP/1.1 without Host is a 400 (RFC 9112)", {}, b"GET /api/v1/initiatives?limit=1 HTTP/1.1\r\nConnection: close\r\n\r\n",
     400, "application/problem+json", None),
    ("HTTP/1.0 without Host: links from the canonical base URL", {"SOCIALWORK_BASE_URL": "https://data.example.org"},
     b"GET /api/v1/initiatives?limit=1 HTTP/1.0\r\n\r\n", 200, "application/json",
     '<https://data.example.org/api/v1/initiatives?limit=1>; rel="self"'),
    ("HTTP/1.1 with a forged Host: links from the canonical base URL", {"SOCIALWORK_BASE_URL": "https://data.example.org"},
     b"GET /api/v1/initiatives?limit=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 200,
     "application/json", '<https://data.example.org/api/v1/initiatives?limit=1>; rel="self"'),
]


@pytest.mark.parametrize("label, env, request_bytes, status, media, self_link", NO_HOST, ids=[c[0] for c in NO_HOST])
def test_a_request_without_host(built_db, tmp_path, label, env, request_bytes, status, media, self_link):
    with gunicorn(built_db, tmp_path / "gunicorn.log", workers=1, env=env) as server:
        got_status, headers, _ = servers.raw_request(server.port, request_bytes)
    link = headers.get("link", "").split(", ")[0] or None
    assert (got_status, headers["content-type"].split(";")[0], link) == (status, media, self_link)


# ---------------------------------------------------------------- pages bounded as the dataset grows

def test_pages_stay_bounded_at_twenty_thousand_records(big_db, tmp_path):
    """Cold (the first request of each page on a fresh server), under a 0.25 s query limit: before, the landing page
    was 4 MB (its changelog table) and its unfiltered facets read every record's area row (0.4 s here, 1 s at 50k)."""
    with gunicorn(big_db, tmp_path / "gunicorn.log", env={"SOCIALWORK_QUERY_TIMEOUT": "0.25"}) as server:
        home = servers.http_get(server.port, "/", timeout=10)
        tile_map = servers.http_get(server.port, "/map", timeout=10)
        index = servers.http_get(server.port, "/sitemap.xml", timeout=10)
        parts = [servers.http_get(server.port, f"/sitemaps/{name}.xml", timeout=10)
                 for name in ("pages", "initiatives-1", "initiatives-2")]
        beyond = servers.http_get(server.port, "/sitemaps/initiatives-3.xml", timeout=10)
    assert (home[0], home[1]["content-type"], tile_map[0]) == (200, "text/html; charset=utf-8", 200)
    assert len(home[2]) < 200_000 and len(tile_map[2]) < 50_000, (len(home[2]), len(tile_map[2]))
    assert f"The first 100 of {BIG} changes" in home[2].decode()
    tree = ET.fromstring(index[2])
    base = f"http://{servers.LOOPBACK}:{server.port}"
    assert (index[0], tree.tag) == (200, SITEMAP + "sitemapindex")
    assert [e.text for e in tree.iter(SITEMAP + "loc")] == [f"{base}/sitemaps/pages.xml"] + [
        f"{base}/sitemaps/initiatives-{k}.xml" for k in (1, 2)]
    locs = [[e.text for e in ET.fromstring(body).iter(SITEMAP + "loc")] for _, _, body in parts]
    assert [status for status, _, _ in parts] == [200, 200, 200]
    assert [len(x) for x in locs] == [8, 10_000, 10_000], "the pages (5 sources here), then the records by number"
    records = [u for x in locs[1:] for u in x]
    assert len(set(records)) == BIG and all(u.startswith(f"{base}/initiatives/") for u in records)
    assert beyond[0] == 404
