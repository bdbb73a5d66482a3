"""Shared by the ops/ scripts: free ports, gunicorn start/ready/stop, and a threaded keep-alive HTTP load client.

Everything here talks to 127.0.0.0/8 only, and every loop is bounded in count and time.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
LOOPBACK = "127.0.0.1"
CORES = os.cpu_count() or 1


# --------------------------------------------------------------------------- processes

def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_loopback(host: str):
    if not host.startswith("127."):
        raise SystemExit(f"refusing to talk to {host}: the ops scripts use 127.0.0.0/8 only")


def build_db(root: Path, db: Path, timeout: float = 600) -> dict:
    """Run the real build command (`flask --app api build --data ROOT --db PATH`) and return its JSON report."""
    out = subprocess.run([str(VENV_BIN / "flask"), "--app", "api", "build", "--data", str(root), "--db", str(db)],
                         cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"build failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log: Path
    name: str = "gunicorn"

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def start_gunicorn(db: Path, port: int, log: Path, workers: int = CORES, env: dict | None = None,
                   name: str = "gunicorn") -> Server:
    """The real server: `gunicorn -c gunicorn.conf.py` with workers, bind and control socket overridden."""
    full_env = {**os.environ, "SOCIALWORK_DB": str(db), **(env or {})}
    full_env.pop("WEB_CONCURRENCY", None)
    cmd = [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", str(workers),
           "--bind", f"{LOOPBACK}:{port}", "--no-control-socket", "api:create_app()"]
    fh = open(log, "ab")
    try:
        # A new session: the master and its workers form one process group we can signal as a whole.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        fh.close()
    return Server(proc, port, log, name)


def wait_ready(port: int, proc: subprocess.Popen | None = None, path: str = "/api/v1", timeout: float = 30,
               expect=(200,), host: str = LOOPBACK) -> float:
    """Poll until GET path answers one of expect; raise if the process dies or timeout passes. Returns seconds waited."""
    _check_loopback(host)
    t0 = time.monotonic()
    last = None
    for _ in range(int(timeout / 0.05) + 1):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode} before it was ready")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status in expect:
                return time.monotonic() - t0
            last = f"status {resp.status}"
        except OSError as exc:
            last = repr(exc)
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready after {timeout:.0f}s ({last})")


def stop(proc: subprocess.Popen | None, timeout: float = 10, sig: int = signal.SIGTERM) -> int | None:
    """Signal the process group we started (TERM, then KILL after timeout) and reap it."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
    # Workers of a SIGKILLed master are orphans still in its group: sweep the group once more.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.returncode


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn worker pids (children of the master), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master_pid:
                out.append(int(entry.name))
    return sorted(out)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_findings(path: Path) -> list[str]:
    """Lines in a server log that show the app failed (tracebacks, worker timeouts/crashes)."""
    bad = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return bad
    for line in text.splitlines():
        if any(s in line for s in ("Traceback", "WORKER TIMEOUT", "[ERROR]", "unhandled error", "[CRITICAL]")):
            bad.append(line[:300])
    return bad


# --------------------------------------------------------------------------- HTTP client

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
        _check_loopback(host)
        if source:
            _check_loopback(source)
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


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def summarize(results: list[Result], elapsed: float) -> dict:
    lat = sorted(r.latency for r in results if r.status is not None)
    statuses = Counter(str(r.status) if r.status is not None else "conn-error" for r in results)
    return {
        "requests": len(results),
        "elapsed_s": round(elapsed, 2),
        "req_per_s": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p90_ms": round(percentile(lat, 90) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1) if lat else float("nan"),
        "statuses": dict(sorted(statuses.items())),
        "connection_errors": sum(1 for r in results if r.status is None),
        "unexpected": sum(1 for r in results if r.status is not None and not r.ok),
        "by_label": dict(sorted(Counter(r.label for r in results).items())),
    }


def print_summary(title: str, s: dict, extra: dict | None = None):
    print(f"== {title}")
    print(f"   requests {s['requests']} in {s['elapsed_s']} s = {s['req_per_s']} req/s; "
          f"latency p50 {s['p50_ms']} ms, p90 {s['p90_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms")
    print(f"   statuses {s['statuses']}")
    print(f"   by kind {s['by_label']}")
    print(f"   connection errors {s['connection_errors']}, unexpected responses {s['unexpected']}")
    for k, v in (extra or {}).items():
        print(f"   {k}: {v}")


def show_failures(results: list[Result], limit: int = 10):
    bad = [r for r in results if not r.ok]
    for r in bad[:limit]:
        print(f"   FAIL {r.label} {r.path[:150]} -> {r.status or r.error} {r.note[:300]}")
    if len(bad) > limit:
        print(f"   ... and {len(bad) - limit} more")


def fetch_json(host: str, port: int, path: str, headers: dict | None = None):
    c = Client(host, port)
    try:
        status, hdrs, body = c.get(path, headers)
    finally:
        c.close()
    return status, hdrs, (json.loads(body) if body and "json" in hdrs.get("content-type", "") else body)


def etag_version(etag: str | None) -> str | None:
    """'"<version>-<hash>"' (or W/"...") -> version."""
    if not etag:
        return None
    tag = etag[2:] if etag.startswith("W/") else etag
    tag = tag.strip('"')
    return tag.rsplit("-", 1)[0] if "-" in tag else None


@contextlib.contextmanager
def supervised(failures: list[str], servers):
    """Run a script's body: an exception becomes a failure (with the first server's log tail), and every
    server it started is stopped. servers() is read on the way out, after the body has started them."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{type(exc).__name__}: {exc}")
        started = [srv for srv in servers() if srv]
        if started:
            out(tail(started[0].log))
    finally:
        for srv in servers():
            stop(srv.proc if srv else None)


def check_log(server: Server, failures: list[str]) -> None:
    """A failure for each run whose server log shows the app failing."""
    findings = log_findings(server.log)
    if findings:
        failures.append(f"{len(findings)} error lines in the server log, e.g. {findings[0]}")


def verdict(failures: list[str]) -> int:
    if failures:
        print("RESULT: FAIL")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("RESULT: PASS")
    return 0


def die_on_signals():
    """Turn SIGTERM/SIGHUP into SystemExit so the scripts' finally blocks stop what they started."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def out(*args):
    print(*args, flush=True)
    sys.stdout.flush()
