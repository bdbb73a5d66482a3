"""A query past the time limit is stopped inside the app (503 problem+json, Retry-After) while the worker keeps serving others.

    .venv/bin/python -m ops.slow_query                          # 100k synthetic initiatives, limit 0.05 s
    .venv/bin/python -m ops.slow_query --db /tmp/sq/100k.db     # reuse a database built earlier
    .venv/bin/python -m ops.slow_query --count 50000 --format yaml

The database: bench.scale.generate writes a synthetic project of --count initiatives (spread over
every division, years 2015-2025), as JSON Lines by default, and the real build command
(`python -m api.build --data ROOT --db PATH`) builds it, streaming the records through its worker
processes. --format yaml writes one YAML file per record, as data/initiatives/ holds them: much slower
to generate and to build.

gunicorn runs with 1 worker and SOCIALWORK_QUERY_TIMEOUT=--timeout. Heavy requests (a 2-character
term checked on every record of 10 provinces and 11 years, as api/query/search_plans.py plans it when a
region drives the query) alternate with light ones on a second connection. Targets: every heavy request ->
503 query-timeout with Retry-After; every light one -> 200; the single worker never restarts. A
control server without the tight limit shows the heavy requests are genuinely heavy. Heavy
CSV/GeoJSON exports are probed too.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from harness import servers
from harness.stats import percentile
from ops import loadclient as lc
from ops import reporting, script

PROVINCES = "440000,320000,370000,410000,510000,330000,420000,430000,130000,340000"
TERMS = ["驿站", "骑手", "热线", "志愿", "社区", "司机", "养老", "托育"]
YEARS = ["2015..2025", "2016..2025", "2015..2024", "2017..2025", "..2025"]


def heavy_paths(n: int) -> list[str]:
    out = []
    for i in range(n):
        term, years = TERMS[i % len(TERMS)], YEARS[(i // len(TERMS)) % len(YEARS)]
        out.append(f"/api/v1/initiatives?q={quote(term)}&region={PROVINCES}&year={years}")
    return out


def make_db(args, tmp: Path) -> Path:
    if args.db:
        return args.db
    root, db = tmp / "synthetic", tmp / "synthetic.db"
    t = time.monotonic()
    subprocess.run([str(servers.PYTHON), "-m", "bench.scale.generate", "--count", str(args.count),
                    "--format", args.format, "--out", str(root)],
                   check=True, cwd=servers.ROOT, timeout=1800, stdout=subprocess.DEVNULL)
    reporting.out(f"generated {args.count} synthetic initiatives ({args.format}) in {time.monotonic() - t:.0f} s")
    t = time.monotonic()
    report = script.build_db(root, db, timeout=7200)
    reporting.out(f"built {db} ({report['initiatives']} initiatives, version {report['version']}) "
                  f"with python -m api.build in {time.monotonic() - t:.0f} s")
    return db


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, help="a large database built earlier (skips generating one)")
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--format", choices=["jsonl", "yaml"], default="jsonl",
                    help="how the synthetic records are written (yaml: one file each, slow to build)")
    ap.add_argument("--timeout", type=float, default=0.05, help="SOCIALWORK_QUERY_TIMEOUT for the test server")
    ap.add_argument("--heavy", type=int, default=40, help="number of heavy requests")
    ap.add_argument("--max-seconds", type=float, default=120)
    args = script.parse(ap, argv)

    failures: list[str] = []
    server = control = None
    with tempfile.TemporaryDirectory(prefix="sw-slow-") as tmp:
        tmp = Path(tmp)
        with script.supervised(failures, lambda: (server, control)):
            db = make_db(args, tmp)
            port = servers.free_port()
            server = servers.start_gunicorn(db, port, tmp / "gunicorn.log", workers=1,
                                      env={"SOCIALWORK_QUERY_TIMEOUT": str(args.timeout)})
            servers.wait_ready(port, server.proc, path="/api/v1/kinds")
            worker_before = servers.worker_pids(server.proc.pid)
            _, _, page = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/initiatives?limit=100")
            ids = [r["id"] for r in page["data"]]
            _, _, regions = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/regions?level=prefecture&limit=200")
            codes = [r["code"] for r in regions["data"]]
            _, _, root = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/kinds")
            reporting.out(f"gunicorn pid {server.proc.pid}, 1 worker {worker_before}, SOCIALWORK_QUERY_TIMEOUT={args.timeout}; "
                  f"database {db}")

            heavy_results: list[lc.Result] = []
            light_results: list[lc.Result] = []
            done = threading.Event()
            t_end = time.monotonic() + args.max_seconds

            def heavy_loop():
                cl = lc.Client(servers.LOOPBACK, port, timeout=60)
                try:
                    for path in heavy_paths(args.heavy):
                        if time.monotonic() > t_end:
                            break
                        t = time.monotonic()
                        try:
                            st, h, body = cl.get(path)
                            r = lc.Result(t, time.monotonic() - t, st, None, "heavy", path, h, body)
                        except Exception as exc:  # noqa: BLE001
                            r = lc.Result(t, time.monotonic() - t, None, repr(exc), "heavy", path, ok=False)
                        heavy_results.append(r)
                        time.sleep(0.02)  # let the light client in between
                finally:
                    cl.close()
                    done.set()

            def light_loop():
                cl = lc.Client(servers.LOOPBACK, port, timeout=60)
                try:
                    for i in range(100_000):
                        if done.is_set() or time.monotonic() > t_end:
                            break
                        path = [f"/api/v1/initiatives/{ids[i % len(ids)]}", "/api/v1/kinds",
                                f"/api/v1/regions/{codes[i % len(codes)]}", "/api/v1/themes"][i % 4]
                        t = time.monotonic()
                        try:
                            st, h, body = cl.get(path)
                            r = lc.Result(t, time.monotonic() - t, st, None, "light", path, h, b"")
                        except Exception as exc:  # noqa: BLE001
                            r = lc.Result(t, time.monotonic() - t, None, repr(exc), "light", path, ok=False)
                        light_results.append(r)
                finally:
                    cl.close()

            threads = [threading.Thread(target=heavy_loop, daemon=True), threading.Thread(target=light_loop, daemon=True)]
            t0 = time.monotonic()
            for th in threads:
                th.start()
            for th in threads:
                th.join(args.max_seconds + 70)
            elapsed = time.monotonic() - t0

            def is_timeout_503(r: lc.Result) -> bool:
                if r.status != 503 or not r.headers.get("retry-after", "").isdigit():
                    return False
                if not r.headers.get("content-type", "").startswith("application/problem+json"):
                    return False
                try:
                    doc = json.loads(r.body)
                except ValueError:
                    return False
                return doc.get("type", "").endswith("/query-timeout") and doc.get("status") == 503

            heavy_ok = sum(1 for r in heavy_results if is_timeout_503(r))
            light_ok = sum(1 for r in light_results if r.status == 200)
            hl = sorted(r.latency for r in heavy_results if r.status)
            ll = sorted(r.latency for r in light_results if r.status)
            worker_after = servers.worker_pids(server.proc.pid)
            stopped_lines = sum(1 for ln in server.log.read_text(errors="replace").splitlines()
                                if "stopped by the time limit" in ln)
            reporting.out(f"== slow queries: {len(heavy_results)} heavy and {len(light_results)} light requests in {elapsed:.1f} s, 1 worker")
            reporting.out(f"   heavy: {dict(Counter(r.status or 'error' for r in heavy_results))}; 503 query-timeout with Retry-After: "
                  f"{heavy_ok}/{len(heavy_results)}; latency p50 {percentile(hl, 50) * 1000:.0f} ms, "
                  f"max {hl[-1] * 1000 if hl else float('nan'):.0f} ms (limit {args.timeout * 1000:.0f} ms)")
            reporting.out(f"   light: {dict(Counter(r.status or 'error' for r in light_results))}; 200: {light_ok}/{len(light_results)}; "
                  f"latency p50 {percentile(ll, 50) * 1000:.1f} ms, p99 {percentile(ll, 99) * 1000:.1f} ms, "
                  f"max {ll[-1] * 1000 if ll else float('nan'):.1f} ms")
            reporting.out(f"   worker before/after: {worker_before} / {worker_after}; 'stopped by the time limit' log lines: {stopped_lines}")
            for r in [r for r in heavy_results if not is_timeout_503(r)][:3]:
                reporting.out(f"   FAIL heavy {r.path} -> {r.status or r.error} {r.body[:200]!r}")
            for r in [r for r in light_results if r.status != 200][:3]:
                reporting.out(f"   FAIL light {r.path} -> {r.status or r.error}")
            if not heavy_results or heavy_ok != len(heavy_results):
                failures.append(f"{len(heavy_results) - heavy_ok} of {len(heavy_results)} heavy requests were not 503 query-timeout with Retry-After")
            if not light_results or light_ok != len(light_results):
                failures.append(f"{len(light_results) - light_ok} of {len(light_results)} light requests were not 200")
            if worker_after != worker_before:
                failures.append("the worker was replaced (killed by gunicorn's timeout or crashed)")

            # -- exports: a streamed CSV/GeoJSON of the same heavy filter under the same limit
            probe = lc.Client(servers.LOOPBACK, port, timeout=60)
            try:
                for fmt in ("csv", "geojson"):
                    path = heavy_paths(1)[0] + f"&format={fmt}"
                    t = time.monotonic()
                    try:
                        st, h, body = probe.get(path)
                        r = lc.Result(t, time.monotonic() - t, st, None, "export", path, h, body)
                        verdict_ok = is_timeout_503(r)
                        what = f"{st} {h.get('content-type')} {len(body)} bytes"
                    except Exception as exc:  # noqa: BLE001
                        verdict_ok, what = False, f"connection broken mid-response: {type(exc).__name__}: {exc}"
                        probe.close()
                    reporting.out(f"   heavy {fmt} export: {what} ({'OK' if verdict_ok else 'FAIL'})")
                    if not verdict_ok:
                        failures.append(f"heavy {fmt} export under the time limit gave {what}, not 503 query-timeout")
            finally:
                probe.close()
            findings = [ln for ln in reporting.log_findings(server.log)]
            if findings:
                reporting.out(f"   server log: {len(findings)} error lines, first: {findings[0]}")

            # -- control: the same heavy requests without the tight limit
            cport = servers.free_port()
            control = servers.start_gunicorn(db, cport, tmp / "control.log", workers=1, env={"SOCIALWORK_QUERY_TIMEOUT": "30"})
            servers.wait_ready(cport, control.proc, path="/api/v1/kinds")
            cl = lc.Client(servers.LOOPBACK, cport, timeout=60)
            lat, statuses = [], Counter()
            try:
                for path in heavy_paths(4):
                    t = time.monotonic()
                    st, _, _ = cl.get(path)
                    lat.append(time.monotonic() - t)
                    statuses[st] += 1
            finally:
                cl.close()
            reporting.out(f"   control (limit 30 s): the first 4 heavy requests took {', '.join(f'{x * 1000:.0f}' for x in lat)} ms, "
                  f"statuses {dict(statuses)}")
            if min(lat) < 5 * args.timeout:
                failures.append(f"the heavy requests are not clearly heavier than the limit ({min(lat) * 1000:.0f} ms)")
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
