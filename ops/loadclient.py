"""The ops scripts' HTTP load client: keep-alive connections on 127.0.0.0/8, requests, results, N client threads.

    run = LoadRun(LOOPBACK, port, clients=64, duration=30, next_request=mix).run()
    results = run.all()

Every loop is bounded in count and time.
"""
from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from harness.servers import check_loopback


def quote_path(path: str) -> str:
    """Percent-encode non-ASCII (Chinese query values) but keep the URL's structure."""
    return urllib.parse.quote(path, safe="/?=&,.:-_~%+*")


@dataclass
class Result:
    t_start: float          # monotonic
    latency: float          # seconds
    status: int | None      # None: connection-level error
    error: str | None
    label: str
    path: str
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    ok: bool = True         # status in the request's expected set and no error
    note: str = ""
    facts: dict = field(default_factory=dict)  # what a check() extracted from the body, kept after the body is dropped


class Client:
    """One keep-alive HTTP/1.1 connection, optionally bound to its own loopback source address.

    A request that fails on a *reused* connection before any response byte (the server closed an idle
    keep-alive connection) is retried once on a fresh connection, as browsers and urllib3 do; such
    retries are counted in stale_retries, never hidden.
    """

    def __init__(self, host: str, port: int, source: str | None = None, timeout: float = 30):
        check_loopback(host)
        if source:
            check_loopback(source)
        self.host, self.port, self.source, self.timeout = host, port, source, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0
        self.stale_retries = 0
        self.connects = 0

    def _connect(self):
        self.close()
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                               source_address=(self.source, 0) if self.source else None)
        self.conn.connect()
        self.connects += 1
        self.used = 0

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.conn = None

    def get(self, path: str, headers: dict | None = None, method: str = "GET", keep_body: bool = True):
        """-> (status, headers{lower: value}, body). Raises OSError/HTTPException on failure."""
        for attempt in (0, 1):
            if self.conn is None or self.conn.sock is None:
                self._connect()
            reused = self.used > 0
            try:
                self.conn.request(method, quote_path(path), headers=headers or {})
                resp = self.conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    self.stale_retries += 1
                    continue
                raise exc
            except Exception:
                self.close()
                raise
            try:
                body = resp.read()
            except Exception:
                self.close()
                raise
            self.used += 1
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                self.close()
            return resp.status, hdrs, body if keep_body else b""
        raise RuntimeError("unreachable")


@dataclass
class Request:
    label: str
    path: str
    expect: tuple = (200,)
    headers: dict | None = None
    method: str = "GET"


class LoadRun:
    """N client threads, each with its own keep-alive connection (and optionally source address), until a deadline.

    next_request(rng, state, last_result) -> Request, called per iteration; state is a per-client dict.
    check(result) -> str | None: an extra per-response verdict (None = fine), e.g. a consistency check.
    """

    def __init__(self, host: str, port: int, clients: int, duration: float, next_request, check=None,
                 sources: list[str] | None = None, max_requests_per_client: int = 1_000_000,
                 keep_headers: tuple = ("etag", "content-type", "retry-after"), keep_body: bool = False,
                 seed: int = 1, timeout: float = 30):
        self.host, self.port, self.clients, self.duration = host, port, clients, duration
        self.next_request, self.check = next_request, check
        self.sources = sources
        self.max_requests = max_requests_per_client
        self.keep_headers, self.keep_body = keep_headers, keep_body
        self.seed, self.timeout = seed, timeout
        self.results: list[list[Result]] = [[] for _ in range(clients)]
        self._client_stats = [(0, 0)] * clients
        self.t0 = self.t1 = 0.0
        self.stop_event = threading.Event()

    def _worker(self, i: int, barrier: threading.Barrier):
        rng = random.Random(self.seed * 1000 + i)
        client = Client(self.host, self.port, self.sources[i] if self.sources else None, timeout=self.timeout)
        out = self.results[i]
        state: dict = {}
        last: Result | None = None
        try:
            barrier.wait(10)
        except threading.BrokenBarrierError:
            return
        deadline = self.t0 + self.duration
        try:
            for _ in range(self.max_requests):
                now = time.monotonic()
                if now >= deadline or self.stop_event.is_set():
                    break
                req = self.next_request(rng, state, last)
                t = time.monotonic()
                try:
                    status, hdrs, body = client.get(req.path, req.headers, req.method)
                    lat = time.monotonic() - t
                    res = Result(t, lat, status, None, req.label, req.path,
                                 {k: hdrs[k] for k in self.keep_headers if k in hdrs} if self.keep_headers != "all" else hdrs,
                                 body)
                    res.ok = status in req.expect
                    if not res.ok:
                        res.note = f"unexpected status {status} (expected {req.expect}): {body[:200]!r}"
                    elif 400 <= status < 600 and not hdrs.get("content-type", "").startswith("application/problem+json"):
                        res.ok = False
                        res.note = f"{status} without problem+json: {hdrs.get('content-type')}"
                    if res.ok and self.check is not None:
                        verdict = self.check(res)
                        if verdict:
                            res.ok, res.note = False, verdict
                except Exception as exc:  # noqa: BLE001 - every client-side failure is a finding to count
                    lat = time.monotonic() - t
                    res = Result(t, lat, None, f"{type(exc).__name__}: {exc}"[:200], req.label, req.path, ok=False)
                    time.sleep(0.01)  # bounded back-off so a dead server does not spin the loop
                last = res  # the body is handed to next_request (links.next), then dropped unless kept
                out.append(res)
                if not self.keep_body:
                    res = Result(res.t_start, res.latency, res.status, res.error, res.label, res.path,
                                 res.headers, b"", res.ok, res.note, res.facts)
                    out[-1] = res
        finally:
            self._client_stats[i] = (client.stale_retries, client.connects)
            client.close()

    def run(self) -> "LoadRun":
        barrier = threading.Barrier(self.clients + 1)
        threads = [threading.Thread(target=self._worker, args=(i, barrier), daemon=True) for i in range(self.clients)]
        for t in threads:
            t.start()
        self.t0 = time.monotonic()
        barrier.wait(10)
        for t in threads:
            t.join(self.duration + self.timeout + 15)
        self.t1 = time.monotonic()
        if any(t.is_alive() for t in threads):
            self.stop_event.set()
            raise RuntimeError("client threads did not finish in time")
        return self

    @property
    def stale_retries(self) -> int:
        return sum(a for a, _ in self._client_stats)

    @property
    def connects(self) -> int:
        return sum(b for _, b in self._client_stats)

    def all(self) -> list[Result]:
        return [r for rs in self.results for r in rs]


def fetch_json(host: str, port: int, path: str, headers: dict | None = None):
    c = Client(host, port)
    try:
        status, hdrs, body = c.get(path, headers)
    finally:
        c.close()
    return status, hdrs, (json.loads(body) if body and "json" in hdrs.get("content-type", "") else body)
