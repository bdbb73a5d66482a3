"""Load generators: wrk when /usr/bin/wrk exists, else a single-threaded Python one over raw sockets.

Both take the same job: a fixed list of request paths cycled from an offset, extra headers, N concurrent
HTTP/1.1 connections, a duration and a request cap; both return the same Result (requests/s, p50/p99,
status counts). p50/p99 are the same statistic for both: harness.stats.percentile is wrk's definition.
The Python generator is one process with an epoll loop: non-blocking sockets, keep-alive when the server
allows it (gunicorn's sync worker closes after every response, Datasette keeps them), Content-Length and
chunked bodies, the latency of every request from its first byte sent to its last byte received (as wrk
measures it). Check that it is not the bottleneck: `python -m bench.run --check-load`.

    .venv/bin/python -m bench.load http://127.0.0.1:8000/api/v1/initiatives -c 8 -d 5 [--tool python|wrk]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import selectors
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.stats import percentile

WRK = "/usr/bin/wrk"
_CL = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.I)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[ \t]*chunked", re.I)
_CLOSE = re.compile(rb"\r\nconnection:[ \t]*close", re.I)


@dataclass
class Result:
    tool: str
    requests: int
    seconds: float
    statuses: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    bytes: int = 0
    client_cpu_us: float | None = None   # the generator's own CPU per request (Python generator only)
    used: int = 0       # how many paths of the list were sent, from the offset (to keep the distinct mix distinct)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {"tool": self.tool, "requests": self.requests, "seconds": round(self.seconds, 3), "rps": round(self.rps, 1),
                "p50_ms": round(self.p50_ms, 3), "p99_ms": round(self.p99_ms, 3), "mean_ms": round(self.mean_ms, 3),
                "statuses": self.statuses, "errors": self.errors, "bytes": self.bytes, "used": self.used,
                "client_cpu_us_per_request": None if self.client_cpu_us is None else round(self.client_cpu_us, 1)}


# ---------------------------------------------------------------------------------------------- python

class _Conn:
    __slots__ = ("sock", "status", "buf", "t0", "req", "hdr_end", "body_start", "cl", "chunked", "close", "cpos", "got", "reused")

    def __init__(self, sock):
        self.sock = sock
        self.reset()
        self.reused = False

    def reset(self):
        self.buf = bytearray()
        self.status = 0
        self.t0 = 0.0
        self.req = None
        self.hdr_end = -1
        self.body_start = 0
        self.cl = None
        self.chunked = False
        self.close = False
        self.cpos = 0
        self.got = False


def _chunks_done(c: _Conn) -> bool:
    buf = c.buf
    while True:
        eol = buf.find(b"\r\n", c.cpos)
        if eol < 0:
            return False
        size = int(bytes(buf[c.cpos:eol]).split(b";")[0], 16)
        if size == 0:
            return len(buf) >= eol + 4   # no trailers
        nxt = eol + 2 + size + 2
        if len(buf) < nxt:
            return False
        c.cpos = nxt


def run_python(host: str, port: int, paths: list[str], seconds: float, connections: int, headers: dict | None = None,
               start: int = 0, max_requests: int | None = None, timeout: float = 10.0) -> Result:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    reqs = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench-load\r\n{extra}\r\n".encode() for p in paths]
    n_paths = len(reqs)
    sel = selectors.DefaultSelector()
    statuses: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    latencies: list[float] = []
    nbytes = 0
    idx = start
    issued = 0
    perf = time.perf_counter
    cpu0 = time.process_time()
    t_start = perf()
    deadline = t_start + seconds
    cap = max_requests if max_requests is not None else 1 << 62

    def open_conn(retry_req=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = _Conn(s)
        c.req = retry_req
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        sel.register(s, selectors.EVENT_WRITE, c)

    def send_next(c: _Conn, first: bool) -> bool:
        nonlocal idx, issued
        if c.req is None:
            if perf() >= deadline or issued >= cap:
                return False
            c.req = reqs[idx % n_paths]
            idx += 1
            issued += 1
        c.t0 = perf()
        c.sock.send(c.req)
        if first:
            sel.modify(c.sock, selectors.EVENT_READ, c)
        return True

    def finish(c: _Conn):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def send_or_finish(c: _Conn, fresh: bool) -> bool:
        """Send c's next request; when that fails or nothing is left to send, close c. False when c is gone."""
        try:
            if send_next(c, fresh):
                return True
        except OSError as exc:
            errors[type(exc).__name__] += 1
        finish(c)
        return False

    for _ in range(connections):
        open_conn()
    open_count = connections
    while open_count:
        events = sel.select(0.5)
        now = perf()
        if not events:
            # A request stuck past the timeout is an error; its connection is dropped and replaced.
            for key in list(sel.get_map().values()):
                c = key.data
                if c.t0 and now - c.t0 > timeout:
                    errors["timeout"] += 1
                    finish(c)
                    open_count -= 1
                    if now < deadline:
                        open_conn()
                        open_count += 1
            if now > deadline + timeout:
                break
            continue
        for key, mask in events:
            c: _Conn = key.data
            if mask & selectors.EVENT_WRITE:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    errors[f"connect errno {err}"] += 1
                    finish(c)
                    open_count -= 1
                    if perf() < deadline:
                        time.sleep(0.01)
                        open_conn()
                        open_count += 1
                    continue
                if not send_or_finish(c, True):
                    open_count -= 1
                continue
            try:
                data = c.sock.recv(262144)
            except OSError as exc:
                data = None
                errors[type(exc).__name__] += 1
            if not data:
                # Closed by the server. With no byte of the answer yet on a reused connection, the server
                # dropped an idle keep-alive: resend on a fresh one. Read-until-close bodies end here.
                finish(c)
                open_count -= 1
                if data is not None and c.hdr_end >= 0 and c.cl is None and not c.chunked:
                    latencies.append(perf() - c.t0)
                    statuses[c.status] = statuses.get(c.status, 0) + 1
                    nbytes += len(c.buf)
                    if perf() < deadline and issued < cap:
                        open_conn()
                        open_count += 1
                elif data is not None and not c.got and c.reused:
                    open_conn(c.req)
                    open_count += 1
                else:
                    if data is not None:
                        errors["closed mid-response"] += 1
                    if perf() < deadline:
                        open_conn()
                        open_count += 1
                continue
            c.got = True
            c.buf += data
            if c.hdr_end < 0:
                he = c.buf.find(b"\r\n\r\n")
                if he < 0:
                    continue
                c.hdr_end = he
                c.body_start = c.cpos = he + 4
                head = bytes(c.buf[:he])
                c.status = int(head[9:12])
                m = _CL.search(head)
                c.cl = int(m.group(1)) if m else None
                c.chunked = bool(_CHUNKED.search(head))
                c.close = bool(_CLOSE.search(head)) or head.startswith(b"HTTP/1.0")
                if c.status == 304 or c.status == 204 or 100 <= c.status < 200:
                    c.cl = 0
            if c.cl is not None:
                done = len(c.buf) - c.body_start >= c.cl
            elif c.chunked:
                done = _chunks_done(c)
            else:
                continue   # read until close
            if not done:
                continue
            latencies.append(perf() - c.t0)
            statuses[c.status] = statuses.get(c.status, 0) + 1
            nbytes += len(c.buf)
            if c.close:
                finish(c)
                open_count -= 1
                if perf() < deadline and issued < cap:
                    open_conn()
                    open_count += 1
            else:
                c.reset()
                c.reused = True
                if not send_or_finish(c, False):
                    open_count -= 1
    elapsed = perf() - t_start
    for key in list(sel.get_map().values()):
        finish(key.data)
    sel.close()
    cpu = time.process_time() - cpu0
    latencies.sort()
    n = len(latencies)
    return Result("python", n, elapsed, {str(k): v for k, v in sorted(statuses.items())}, dict(errors),
                  percentile(latencies, 50) * 1000 if n else 0.0, percentile(latencies, 99) * 1000 if n else 0.0,
                  (sum(latencies) / n * 1000) if n else 0.0, nbytes, cpu / n * 1e6 if n else None, idx - start)


# ------------------------------------------------------------------------------------------------- wrk

_LUA = r"""
local paths = {}
local idx = 0
local first = 0
counts = {}
used = 0
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  idx = tonumber(args[2])
  first = idx
  for i = 3, #args, 2 do wrk.headers[args[i]] = args[i + 1] end
end
function request()
  local p = paths[(idx % #paths) + 1]
  idx = idx + 1
  used = idx - first
  return wrk.format("GET", p)
end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local parts = {}
  local maxused = 0
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
    local u = t:get("used")
    if u > maxused then maxused = u end
  end
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %f, "used": %d, "statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99), latency.mean,
    maxused, table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout))
end
"""


def have_wrk() -> bool:
    return os.access(WRK, os.X_OK)


def run_wrk(host: str, port: int, paths: list[str], seconds: float, connections: int, headers: dict | None = None,
            start: int = 0, max_requests: int | None = None, timeout: float = 10.0) -> Result:
    """wrk with one thread (the other core belongs to the server); the same path list, offset and headers."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script, listing = Path(tmp) / "cycle.lua", Path(tmp) / "paths.txt"
        script.write_text(_LUA)
        listing.write_text("\n".join(paths) + "\n")
        args = [str(listing), str(start)]
        for k, v in (headers or {}).items():
            args += [k, v]
        cmd = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", f"--timeout={int(timeout)}s",
               "-s", str(script), f"http://{host}:{port}", "--", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 30)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}\n{proc.stdout[-2000:]}")
    d = json.loads(line[len("BENCHJSON "):])
    errors = {k: v for k, v in d["errors"].items() if v}
    return Result("wrk", d["requests"], d["duration_us"] / 1e6, {str(k): v for k, v in sorted(d["statuses"].items())},
                  errors, d["p50_us"] / 1000, d["p99_us"] / 1000, d["mean_us"] / 1000, d["bytes"], None, d["used"])


def run(tool: str, *args, **kw) -> Result:
    return (run_wrk if tool == "wrk" else run_python)(*args, **kw)


def pick_tool(requested: str = "auto") -> str:
    if requested == "auto":
        return "wrk" if have_wrk() else "python"
    if requested == "wrk" and not have_wrk():
        raise SystemExit(f"--load wrk: {WRK} is not installed (apt-get install wrk)")
    return requested


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="http://127.0.0.1:PORT/path?query (127.0.0.1 only)")
    p.add_argument("-c", "--connections", type=int, default=8)
    p.add_argument("-d", "--seconds", type=float, default=5)
    p.add_argument("-n", "--max-requests", type=int, default=None)
    p.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    p.add_argument("--paths", type=Path, help="a file of paths to cycle instead of the URL's path")
    p.add_argument("--tool", choices=["auto", "python", "wrk"], default="python")
    a = p.parse_args(argv)
    u = urlsplit(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("this load generator only targets the loopback address")
    paths = a.paths.read_text().split() if a.paths else [u.path + ("?" + u.query if u.query else "")]
    headers = dict(h.split(":", 1) for h in a.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    tool = pick_tool(a.tool)
    r = run(tool, u.hostname, u.port or 80, paths, a.seconds, a.connections, headers,
            max_requests=a.max_requests)
    print(json.dumps(r.as_dict(), indent=2))


if __name__ == "__main__":
    main()
