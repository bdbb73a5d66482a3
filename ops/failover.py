"""Two API instances behind nginx (deploy/nginx.conf): SIGKILL one under load with zero failed requests; per-client 429s.

    .venv/bin/python -m ops.failover                    # 64 clients, 20 s, kill instance A at 10 s
    .venv/bin/python -m ops.failover --duration 8 --kill-at 4

Needs Debian's nginx (`apt-get install -y nginx`; installed automatically when missing and run as root).
nginx runs in the foreground as a child (-p TMP -c TMP/nginx.conf -g 'daemon off;'), its pid, logs and
temp files inside TMP. The 64 load clients each have their own source address (127.0.0.2 ... 127.0.0.65),
so each stays under the per-client limit; then one client (127.0.0.66) blasts past it and must get 429s
as problem+json with Retry-After. nginx's own errors (400/413/414/431/502) are checked for problem+json too.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import servers
from ops import loadclient as lc
from ops import reporting, script

TEMPLATE = servers.ROOT / "deploy" / "nginx.conf"
# Well above what a load client sends now that cached answers come at nginx speed; the blasting client still hits it.
RATE, BURST = "500r/s", "1000"
PATHS = [
    ("list", "/api/v1/initiatives?limit=5"), ("list", "/api/v1/initiatives?region=四川"),
    ("list", "/api/v1/initiatives?year=2025&kind=hotline,campaign"), ("detail", "/api/v1/initiatives/beijing-12345-hotline"),
    ("detail", "/api/v1/initiatives/zhejiang-courier-academy"), ("search", "/api/v1/initiatives?q=驿站"),
    ("search", "/api/v1/initiatives?q=12345热线"), ("csv", "/api/v1/initiatives?region=江苏&format=csv"),
    ("other", "/api/v1"), ("other", "/api/v1/kinds"), ("other", "/api/v1/regions/510000"),
    ("other", "/api/v1/facets?region=四川"),
]
BAD = [("/api/v1/initiatives?region=火星", 400), ("/api/v1/initiatives?limit=0", 400),
       ("/api/v1/initiatives/no-such-id", 404)]


def ensure_nginx() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path:
        return path
    if os.geteuid() != 0:
        raise SystemExit("nginx is missing: run `sudo apt-get install -y nginx` (Debian's package) and retry")
    reporting.out("nginx is missing: apt-get install -y nginx")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env, timeout=600)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def render(template: str, values: dict) -> str:
    text = template
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    left = sorted(set(re.findall(r"\$\{SW_[A-Z0-9_]+\}", text)))
    if left:
        raise SystemExit(f"unfilled placeholders in {TEMPLATE}: {left}")
    return text


def problem_ok(status, hdrs, body, want_status, retry_after=False) -> str | None:
    """None if this is an RFC 9457 problem+json answer with the wanted status, else what is wrong."""
    if status != want_status:
        return f"status {status}, wanted {want_status}: {body[:150]!r}"
    if not hdrs.get("content-type", "").startswith("application/problem+json"):
        return f"content-type {hdrs.get('content-type')!r}"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"body is not JSON: {body[:150]!r}"
    missing = [k for k in ("type", "title", "status", "detail") if k not in doc]
    if missing or doc["status"] != want_status:
        return f"problem body missing {missing} or status {doc.get('status')}"
    if retry_after and not hdrs.get("retry-after", "").isdigit():
        return "no Retry-After"
    return None


def raw_request(port: int, data: bytes, source: str = "127.0.0.70", timeout: float = 5):
    """Send bytes as-is (for requests http.client refuses to send) and parse the status line, headers and body."""
    with socket.create_connection((servers.LOOPBACK, port), timeout=timeout, source_address=(source, 0)) as s:
        s.sendall(data)
        chunks, t_end = [], time.monotonic() + timeout
        while time.monotonic() < t_end:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
            blob = b"".join(chunks)
            if b"\r\n\r\n" in blob:
                head, _, rest = blob.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(rest) >= int(m[1]):
                    break
    blob = b"".join(chunks)
    head, _, body = blob.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else None
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, hdrs, body


def main(argv=None) -> int:
    ap = script.load_parser(__doc__, clients=64, duration=20.0, workers=2, workers_help="gunicorn workers per instance (1-2)")
    ap.add_argument("--kill-at", type=float, default=10.0)
    ap.add_argument("--blast-seconds", type=float, default=3.0)
    ap.add_argument("--blast-threads", type=int, default=4)
    args = script.parse(ap, argv)
    if not 1 <= args.clients <= 64:
        raise SystemExit("--clients: 1 to 64 (one source address each, 127.0.0.2 ... 127.0.0.65)")
    nginx_bin = ensure_nginx()

    failures: list[str] = []
    a = b = nginx = None
    tmp = Path(tempfile.mkdtemp(prefix="sw-failover-"))
    try:
        os.chmod(tmp, 0o755)  # nginx workers run as an unprivileged user and write temp files here
        (tmp / "tmp").mkdir()
        db = tmp / "socialwork.db"
        script.build_db(servers.ROOT, db)
        os.chmod(db, 0o644)
        pa, pb, pn = servers.free_port(), servers.free_port(), servers.free_port()
        a = servers.start_gunicorn(db, pa, tmp / "a.log", workers=args.workers, name="A")
        b = servers.start_gunicorn(db, pb, tmp / "b.log", workers=args.workers, name="B")
        servers.wait_ready(pa, a.proc)
        servers.wait_ready(pb, b.proc)
        user = "www-data" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        conf = render(TEMPLATE.read_text(), {
            "SW_PREFIX": str(tmp), "SW_USER": user, "SW_LISTEN": f"{servers.LOOPBACK}:{pn}",
            "SW_UPSTREAM_1": f"{servers.LOOPBACK}:{pa}", "SW_UPSTREAM_2": f"{servers.LOOPBACK}:{pb}",
            "SW_RATE": RATE, "SW_BURST": BURST,
        })
        if os.geteuid() != 0:
            conf = re.sub(r"(?m)^user .*;\n", "", conf)
        (tmp / "nginx.conf").write_text(conf)
        nginx_cmd = [nginx_bin, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"]
        test = subprocess.run(nginx_cmd + ["-t"], capture_output=True, text=True, timeout=30)
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{test.stderr}")
        with open(tmp / "nginx.stderr", "wb") as fh:
            nginx = subprocess.Popen(nginx_cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        servers.wait_ready(pn, nginx)
        reporting.out(f"instances A :{pa} (pid {a.proc.pid}) and B :{pb} (pid {b.proc.pid}), {args.workers} workers each; "
              f"nginx :{pn} (pid {nginx.pid}), rate {RATE} burst {BURST} per client address")

        # -- the app's headers pass through nginx
        cl = lc.Client(servers.LOOPBACK, pn, source="127.0.0.67")
        try:
            st, h, body = cl.get("/api/v1/initiatives?region=四川&limit=1")
            for name in ("etag", "link", "access-control-allow-origin", "access-control-expose-headers",
                         "x-content-type-options", "cache-control", "vary"):
                if name not in h:
                    failures.append(f"nginx dropped the app's {name} header")
            st304, h304, _ = cl.get("/api/v1/initiatives?region=四川&limit=1", {"If-None-Match": h.get("etag", "")})
            if st304 != 304 or h304.get("etag") != h.get("etag"):
                failures.append(f"conditional GET through nginx gave {st304}, not 304 with the same ETag")
            st_opt, h_opt, _ = cl.get("/api/v1/initiatives", {"Origin": "https://example.org",
                                                               "Access-Control-Request-Method": "GET"}, method="OPTIONS")
            if "access-control-allow-methods" not in h_opt:
                failures.append(f"CORS preflight through nginx: {st_opt} without Access-Control-Allow-Methods")
            st4, h4, b4 = cl.get("/api/v1/initiatives?regoin=四川")
            err = problem_ok(st4, h4, b4, 400)
            if err:
                failures.append(f"app's 400 through nginx: {err}")
            reporting.out(f"pass-through: ETag {h.get('etag')}, Link {h.get('link', '')[:60]}..., "
                  f"ACAO {h.get('access-control-allow-origin')}; 304 {st304}; OPTIONS {st_opt}; app 400 {st4} {h4.get('content-type')}")
        finally:
            cl.close()

        # -- load through nginx, SIGKILL instance A in the middle
        def next_request(rng, state, last):
            if rng.random() < 0.08:
                path, status = rng.choice(BAD)
                return lc.Request("expected-4xx", path, expect=(status,))
            label, path = rng.choice(PATHS)
            return lc.Request(label, path)

        sources = [f"127.0.0.{i}" for i in range(2, 2 + args.clients)]
        run = lc.LoadRun(servers.LOOPBACK, pn, args.clients, args.duration, next_request, sources=sources, seed=3)
        killed: dict = {}

        def kill_a():
            time.sleep(args.kill_at)
            killed["workers"] = servers.worker_pids(a.proc.pid)
            killed["t"] = time.monotonic()
            os.killpg(a.proc.pid, signal.SIGKILL)  # master and workers at once, no graceful shutdown
            a.proc.wait(10)

        killer = threading.Thread(target=kill_a, daemon=True)
        killer.start()
        run.run()
        killer.join(30)
        results = run.all()
        summary = reporting.summarize(results, run.t1 - run.t0)
        after_kill = [r for r in results if "t" in killed and r.t_start >= killed["t"]]
        per_client = [len(rs) / (run.t1 - run.t0) for rs in run.results]
        log = (tmp / "access.log").read_text(errors="replace").splitlines()
        retried = [ln for ln in log if re.search(r"upstream=\S+, ", ln)]
        reporting.print_summary(f"failover: {args.clients} clients (own source addresses) x {args.duration:.0f} s via nginx, "
                        f"SIGKILL instance A at {args.kill_at:.0f} s", summary, {
            "instance A killed": f"master {a.proc.pid} + workers {killed.get('workers')} "
                                 f"(exit {a.proc.returncode}); {len(after_kill)} requests after the kill, "
                                 f"{sum(1 for r in after_kill if not r.ok)} failed",
            "requests nginx retried on the other instance": f"{len(retried)} (access log, upstream=A, B)",
            "per-client rate": f"max {max(per_client):.1f} req/s (limit {RATE}, burst {BURST})",
            "429s to load clients": summary["statuses"].get("429", 0),
        })
        reporting.show_failures(results)
        if summary["connection_errors"] or summary["unexpected"]:
            failures.append(f"{summary['connection_errors']} connection errors and {summary['unexpected']} failed "
                            f"responses through nginx")
        if "t" not in killed:
            failures.append("instance A was not killed")
        if b.proc.poll() is not None:
            failures.append("instance B died")

        # -- one client blasting past its limit
        blast = lc.LoadRun(servers.LOOPBACK, pn, args.blast_threads, args.blast_seconds,
                          lambda rng, s, last: lc.Request("blast", "/api/v1/kinds", expect=(200, 429)),
                          sources=["127.0.0.66"] * args.blast_threads, keep_headers=("content-type", "retry-after"),
                          keep_body=False, seed=9)

        def check_429(res):
            if res.status == 429:
                return problem_ok(res.status, res.headers, res.body, 429, retry_after=True)
            return None

        blast.check = check_429
        blast.run()
        bres = blast.all()
        bsum = reporting.summarize(bres, blast.t1 - blast.t0)
        n429 = bsum["statuses"].get("429", 0)
        reporting.print_summary(f"rate limit: one client (127.0.0.66, {args.blast_threads} connections) for "
                        f"{args.blast_seconds:.0f} s", bsum, {"429 responses": n429,
                                                               "200 responses": bsum["statuses"].get("200", 0)})
        reporting.show_failures(bres, 3)
        if n429 == 0:
            failures.append("the blasting client got no 429")
        if bsum["unexpected"] or bsum["connection_errors"]:
            failures.append(f"rate-limit run: {bsum['unexpected']} bad responses, {bsum['connection_errors']} errors")
        # Another client is not affected by the blaster's limit.
        st, _, _ = lc.fetch_json(servers.LOOPBACK, pn, "/api/v1/kinds")
        if st != 200:
            failures.append(f"a fresh client got {st} right after the blast")

        # -- nginx's own errors as problem+json
        checks = {}
        checks["400 bad request line"] = problem_ok(*raw_request(pn, b"GET /\x01\x02 HTTP/1.1\r\nHost: x\r\n\r\n"), 400)
        checks["413 request body"] = problem_ok(*raw_request(
            pn, b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n" + b"x" * 4096), 413)
        checks["414 request line 10 KB"] = problem_ok(*raw_request(
            pn, b"GET /api/v1/initiatives?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 414)
        checks["431 header 10 KB"] = problem_ok(*raw_request(
            pn, b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\nConnection: close\r\n\r\n"), 431)
        servers.stop(b.proc, timeout=10)  # now both instances are gone: nginx itself must answer
        checks["502 both instances down"] = problem_ok(*raw_request(
            pn, b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 502, retry_after=True)
        for name, err in checks.items():
            reporting.out(f"   nginx {name}: {'problem+json OK' if err is None else 'FAIL ' + err}")
            if err:
                failures.append(f"nginx {name}: {err}")
        errlog = (tmp / "error.log").read_text(errors="replace").splitlines()
        emerg = [ln for ln in errlog if "[emerg]" in ln or "[alert]" in ln]
        if emerg:
            failures.append(f"nginx error log: {emerg[0][:200]}")
        findings = reporting.log_findings(tmp / "b.log")
        if findings:
            failures.append(f"{len(findings)} error lines in instance B's log, e.g. {findings[0]}")
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{type(exc).__name__}: {exc}")
        for p in ("nginx.stderr", "error.log", "a.log", "b.log"):
            if (tmp / p).exists():
                reporting.out(f"--- {p}\n{servers.tail(tmp / p, 15)}")
    finally:
        servers.stop(nginx, timeout=10, sig=signal.SIGQUIT)
        servers.stop(a.proc if a else None)
        servers.stop(b.proc if b else None)
        shutil.rmtree(tmp, ignore_errors=True)
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
