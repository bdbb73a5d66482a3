"""The cache tier's benchmark: the hot list through nginx's cache (deploy/nginx.conf) against nginx serving a static file of the same bytes.

    .venv/bin/python -m bench.cache [--db var/socialwork.db] [--seconds 2] [--rounds 7] [--connections 16]
                                    [--load auto|wrk|python] [--out bench/out/cache]

Starts on 127.0.0.1 two API instances (gunicorn, one worker each) and one nginx: deploy/nginx.conf as it is
(the per-client rate set to 1,000,000 r/s, since all the load comes from one address) plus one server of
its own on another port that serves the hot list's body as a file (`root`, the same bytes). The same nginx
process, the same workers and the same access log serve both, so the static file is the machine's HTTP
limit for this body and the ratio is the cost of the cache tier: the version subrequest, the key, the
cache lookup, the stored headers. For scale it also drives one instance directly (gunicorn, one sync
worker, what bench/run.py calls the API). Each round runs cache and static file back to back (in turn
first) and then the instance, so drift hits them alike; each ratio is taken per round, then the median. Writes results.json and results.md to --out.
Exits 2 when the cache answered anything but 200 HITs. Target: cache/static >= 0.5 (printed, not an exit code).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import cases as casemod
from bench import load
from bench.servers import code_state
from harness import servers

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

TARGET = 0.5  # cache / static file (issue 13)
STATIC_NAME = "hot.json"


def head_bytes(port: int, path: str) -> int:
    """The size of the status line and headers of one answer, as sent (for the table: body alone is the same)."""
    with socket.create_connection((servers.LOOPBACK, port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {servers.LOOPBACK}:{port}\r\nConnection: close\r\n\r\n".encode())
        blob = b""
        while b"\r\n\r\n" not in blob:
            chunk = s.recv(65536)
            if not chunk:
                break
            blob += chunk
    return blob.find(b"\r\n\r\n") + 4


def static_server(port: int, root: Path) -> str:
    """A server block for the same nginx: the hot body as a file, with the type the API gives it."""
    return f"""
    server {{
        listen {servers.LOOPBACK}:{port};
        location = /{STATIC_NAME} {{
            root {root};
            types {{ }}
            default_type application/json;
        }}
    }}
"""


def summarise(runs: list[dict]) -> dict:
    return {"rps": round(statistics.median(r["rps"] for r in runs), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "requests": sum(r["requests"] for r in runs), "rounds": [r["rps"] for r in runs]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", type=Path, default=Path(os.environ.get("SOCIALWORK_DB", REPO / "var" / "socialwork.db")))
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--out", type=Path, default=BENCH / "out" / "cache")
    p.add_argument("--budget", type=float, default=150, help="stop starting runs after this many seconds in all")
    a = p.parse_args(argv)
    t_begin = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tool = load.pick_tool(a.load)
    if tool != "wrk":
        print("bench.cache: without wrk (apt-get install wrk) the Python generator, about 5,000 req/s on one "
              "core, is the limit of both sides and the ratio says little", file=sys.stderr)
    db = a.db.resolve()
    if not db.exists():
        print(f"{db} does not exist; building it", file=sys.stderr)
        subprocess.run([str(servers.PYTHON), "-m", "api.build", "--db", str(db)], cwd=REPO, check=True)
    nginx_bin = servers.nginx_binary()
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    db_version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
    conn.close()
    hot = casemod.api_url(casemod.HOT)

    tmp = Path(tempfile.mkdtemp(prefix="sw-bench-cache-"))
    started: list[servers.Server] = []
    problems: list[str] = []
    runs: list[dict] = []
    sizes: dict = {}
    meta = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(x) for x in [".venv/bin/python", "-m", "bench.cache", *sys.argv[1:]]),
            "db": str(db), "db_version": db_version, "load": tool, "connections": a.connections, "seconds": a.seconds,
            "rounds": a.rounds, "cores": os.cpu_count(), "code": code_state(),
            "nginx": subprocess.run([nginx_bin, "-v"], capture_output=True, text=True).stderr.strip(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    try:
        os.chmod(tmp, 0o755)
        # A private snapshot (as bench/run.py): a rebuild during the run renames a new file over the path.
        snap = tmp / "snapshot.db"
        try:
            os.link(db, snap)
        except OSError:
            shutil.copy2(db, snap)
        ports = [servers.free_port() for _ in range(4)]
        pa, pb, pn, ps = ports
        for name, port in (("A", pa), ("B", pb)):
            srv = servers.start_gunicorn(snap, port, tmp / f"{name}.log", workers=1, name=name)
            started.append(srv)
        for srv in started:
            srv.wait_ready()
        root = tmp / "static"
        root.mkdir()
        os.chmod(root, 0o755)
        prefix = tmp / "nginx"
        conf = servers.render_nginx_conf(servers.nginx_values(prefix, pn, [pa, pb], "1000000r/s", "1000000"))
        end = conf.rstrip().rfind("}")  # the http block's closing brace
        conf = conf[:end] + static_server(ps, root) + conf[end:]
        nginx = servers.start_nginx(conf, prefix, pn, binary=nginx_bin)
        started.append(nginx)
        servers.wait_ready(pn, nginx.proc, "/api/v1/kinds")
        # The static file is the cache's answer (its links name the nginx port, as wrk's Host does).
        s1, h1, body = servers.http_get(pn, hot)
        if s1 != 200:
            raise RuntimeError(f"the cache answered {s1} for {hot}")
        (root / STATIC_NAME).write_bytes(body)
        os.chmod(root / STATIC_NAME, 0o644)

        # Both sides answer the same bytes; the cache answers from its store.
        s2, h2, b2 = servers.http_get(pn, hot)
        s3, h3, b3 = servers.http_get(ps, f"/{STATIC_NAME}")
        if (s2, s3) != (200, 200) or not (b2 == b3 == body):
            problems.append(f"cache/static answers differ: statuses {s2} {s3}, bodies equal {b2 == b3 == body}")
        if h2.get("x-cache-status") != "HIT":
            problems.append(f"the second request through the cache was {h2.get('x-cache-status')}, not HIT")
        sizes.update({"body": len(body), "cache_headers": head_bytes(pn, hot),
                      "static_headers": head_bytes(ps, f"/{STATIC_NAME}"), "instance_headers": head_bytes(pa, hot)})
        targets = {"cache": (pn, hot), "static": (ps, f"/{STATIC_NAME}"), "instance": (pa, hot)}
        for name, (port, path) in targets.items():  # warm-up
            load.run_python(servers.LOOPBACK, port, [path], 2, 2, max_requests=300)
        print(f"ready ({time.monotonic() - t_begin:.0f} s): body {len(body):,} bytes, {tool}, {a.connections} connections",
              file=sys.stderr, flush=True)
        for rnd in range(a.rounds):
            # cache and static file side by side, in turn first, so a drift in the round hits both alike
            order = ["cache", "static", "instance"] if rnd % 2 == 0 else ["static", "cache", "instance"]
            for name in order:
                port, path = targets[name]
                if time.monotonic() - t_begin + a.seconds > a.budget:
                    problems.append(f"time budget of {a.budget:.0f} s reached: round {rnd + 1} {name} and later skipped")
                    raise StopIteration
                r = load.run(tool, servers.LOOPBACK, port, [path], a.seconds, a.connections)
                runs.append({"round": rnd + 1, "target": name, **r.as_dict()})
                bad = {k: v for k, v in r.statuses.items() if k != "200"}
                print(f"  round {rnd + 1} {name:8} {r.rps:10,.1f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms"
                      f"{'  unexpected ' + str(bad) + ' ' + str(r.errors) if bad or r.errors else ''}",
                      file=sys.stderr, flush=True)
                if bad or r.errors:
                    problems.append(f"{name} round {rnd + 1}: statuses {r.statuses}, errors {r.errors}")
        # The cache still answered from its store at the end (no expiry, no pass-through during the rounds).
        s, h, _ = servers.http_get(pn, hot)
        if h.get("x-cache-status") != "HIT":
            problems.append(f"after the rounds the cache answered {s} {h.get('x-cache-status')}")
        access = (prefix / "access.log").read_text(errors="replace").splitlines()
        upstream_hits = sum(1 for ln in access if "/api/v1/initiatives" in ln and " upstream=127." in ln)
        meta["requests_passed_to_an_instance"] = upstream_hits
    except StopIteration:
        pass
    except KeyboardInterrupt:
        problems.append("interrupted")
    finally:
        for srv in reversed(started):
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    def paired(other):
        base = {r["round"]: r["rps"] for r in runs if r["target"] == other}
        ratios = [r["rps"] / base[r["round"]] for r in runs if r["target"] == "cache" and base.get(r["round"])]
        return round(statistics.median(ratios), 3) if ratios else None

    summary = {t: summarise([r for r in runs if r["target"] == t]) for t in ("cache", "static", "instance")
               if any(r["target"] == t for r in runs)}
    ratios = {"cache_static": paired("static"), "cache_instance": paired("instance")}
    meta["wall_seconds"] = round(time.monotonic() - t_begin, 1)
    meta["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results = {"meta": meta, "sizes": sizes, "summary": summary, "ratios": ratios, "runs": runs,
               "problems": problems}
    rows = [("hot list through the cache (HIT)", "cache"), ("nginx, static file of the same bytes", "static"),
            ("one instance directly (gunicorn, 1 sync worker)", "instance")]
    sz = sizes
    header_of = {"cache": sz.get("cache_headers"), "static": sz.get("static_headers"), "instance": sz.get("instance_headers")}
    lines = ["| target | req/s | p50 ms | p99 ms | headers + body bytes |", "|---|---:|---:|---:|---:|"]
    for title, key in rows:
        s = summary.get(key)
        if s:
            lines.append(f"| {title} | {s['rps']:,.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
                         f"{header_of[key] or 0:,} + {sz.get('body', 0):,} |")
    table = "\n".join(lines)
    r = ratios["cache_static"]
    verdict = (f"cache / static file = {r:.2f} (target >= {TARGET}) {'PASS' if r >= TARGET else 'FAIL'}"
               if r is not None else "cache / static file: not measured")
    if ratios["cache_instance"] is not None:
        verdict += f"; cache / one instance = {ratios['cache_instance']:.1f}x"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (a.out / "results.md").write_text(
        f"# Cache tier benchmark\n\n- date: {meta['date']}\n- command: `{meta['command']}`\n- {meta['nginx']}, "
        f"{meta['cores']} cores, load {tool} with {a.connections} connections, {a.rounds} rounds x {a.seconds} s\n"
        f"- code: commit {meta['code']['commit'] or 'unknown'}\n"
        f"- database: {db} (version {db_version}); URL {hot}\n- load average before/after: {meta['loadavg_before']} / "
        f"{meta['loadavg_after']}\n\n{table}\n\n{verdict}\n")
    print()
    print(table)
    print()
    print(verdict)
    print(f"requests the cache passed to an instance during the run: {meta.get('requests_passed_to_an_instance')}")
    print(f"\nwrote {a.out / 'results.json'} and {a.out / 'results.md'} ({meta['wall_seconds']} s)")
    for prob in problems:
        print(f"PROBLEM: {prob}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
