"""Load test: N concurrent keep-alive clients against gunicorn (workers = cores) over lists, details, CSV, search and expected 4xx.

    .venv/bin/python -m ops.load                      # 64 clients, 30 s
    .venv/bin/python -m ops.load --clients 16 --duration 5

Target: zero responses outside 2xx/3xx/the expected 4xx, zero connection errors, no worker crash.
Exits non-zero when a target is missed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import quote

from harness import servers
from ops import loadclient as lc
from ops import reporting, script

REGIONS = ["江苏", "四川", "北京", "510000", "Zhejiang", "浙江省", "Sichuan", "320000", "辽宁", "湖北"]
YEARS = ["2025", "2024..2025", "..2025", "2024.."]
TERMS = ["驿站", "hotline", "12345热线", "快递", "志愿", "courier", "社会工作", "骑手", "riders", "党建", "rider station"]
OTHER = ["/api/v1", "/api/v1/kinds", "/api/v1/themes", "/api/v1/sources", "/api/v1/regions/510000",
         "/api/v1/regions?level=province&limit=50", "/api/v1/metrics?region=北京", "/api/v1/facets?region=四川",
         "/api/v1/regions/500105", "/api/v1/kinds?format=csv"]
BAD = [  # (path, expected status): every one must be a problem+json 4xx
    ("/api/v1/initiatives?region=火星", 400),
    ("/api/v1/initiatives?region=Atlantis", 400),
    ("/api/v1/initiatives?limit=0", 400),
    ("/api/v1/initiatives?limit=abc", 400),
    ("/api/v1/initiatives?limit=100000", 400),
    ("/api/v1/initiatives?limit=-5", 400),
    ("/api/v1/initiatives?year=20x5", 400),
    ("/api/v1/initiatives?format=xml", 400),
    ("/api/v1/initiatives?regoin=四川", 400),
    ("/api/v1/initiatives?cursor=bogus.123", 400),
    ("/api/v1/initiatives/no-such-initiative", 404),
    ("/api/v1/regions/999999", 404),
]


def make_mix(ids: list[str], kinds: list[str]):
    def filters(rng) -> str:
        parts = []
        if rng.random() < 0.5:
            parts.append("region=" + quote(rng.choice(REGIONS)))
        if rng.random() < 0.5:
            parts.append("year=" + rng.choice(YEARS))
        if rng.random() < 0.35:
            parts.append("kind=" + ",".join(rng.sample(kinds, rng.randint(1, 3))))
        return "&".join(parts)

    def next_request(rng, state, last):
        req = _next(rng, state, last)
        if req.label != "conditional":
            state["accept"] = (req.headers or {}).get("Accept")
        return req

    def _next(rng, state, last):
        # Follow links.next of the previous list page (a paginating client), at most 10 pages deep.
        if last is not None and last.label == "list" and last.status == 200 and state.get("depth", 0) < 10:
            try:
                nxt = json.loads(last.body)["links"]["next"]
            except (ValueError, KeyError, TypeError):
                nxt = None
            if nxt:
                state["depth"] = state.get("depth", 0) + 1
                return lc.Request("list", nxt)
        state["depth"] = 0
        etags = state.setdefault("etags", {})
        if last is not None and last.status == 200 and "etag" in last.headers:
            # The ETag names one representation: replay the same Accept header with it.
            etags[(last.path, state.get("accept"))] = last.headers["etag"]
            if len(etags) > 50:
                etags.pop(next(iter(etags)))
        x = rng.random()
        if x < 0.30:
            f = filters(rng)
            return lc.Request("list", f"/api/v1/initiatives?limit={rng.choice([2, 5, 10, 20])}" + (f"&{f}" if f else ""))
        if x < 0.50:
            return lc.Request("detail", f"/api/v1/initiatives/{rng.choice(ids)}")
        if x < 0.58:
            f = filters(rng)
            if rng.random() < 0.5:
                return lc.Request("csv", "/api/v1/initiatives?format=csv" + (f"&{f}" if f else ""))
            return lc.Request("csv", "/api/v1/initiatives" + (f"?{f}" if f else ""), headers={"Accept": "text/csv"})
        if x < 0.73:
            q = rng.choice(TERMS)
            extra = ("&region=" + quote(rng.choice(REGIONS))) if rng.random() < 0.3 else ""
            return lc.Request("search", f"/api/v1/initiatives?q={quote(q)}{extra}")
        if x < 0.80 and etags:
            path, accept = key = rng.choice(list(etags))
            state["accept"] = None
            return lc.Request("conditional", path, expect=(304,),
                             headers={"If-None-Match": etags[key], **({"Accept": accept} if accept else {})})
        if x < 0.90:
            return lc.Request("other", rng.choice(OTHER))
        path, status = rng.choice(BAD)
        return lc.Request("expected-4xx", path, expect=(status,))

    return next_request


def check(res: lc.Result) -> str | None:
    ctype = res.headers.get("content-type", "")
    if res.label == "csv" and res.status == 200 and not ctype.startswith("text/csv"):
        return f"CSV request answered with {ctype}"
    if res.status == 200 and "etag" not in res.headers:
        return "200 without ETag"
    return None


def main(argv=None) -> int:
    ap = script.load_parser(__doc__, clients=64, duration=30.0, workers=servers.CORES)
    ap.add_argument("--db", type=Path, help="serve this database instead of building one from the repo's data/")
    ap.add_argument("--seed", type=int, default=1)
    args = script.parse(ap, argv)

    server = None
    with script.workspace("sw-load-") as (tmp, failures):
        db = args.db or tmp / "socialwork.db"
        if not args.db:
            report = script.build_db(servers.ROOT, db)
            reporting.out(f"built {db} version {report['version']} ({report['initiatives']} initiatives)")
        port = servers.free_port()
        with script.supervised(failures, lambda: (server,)):
            server = servers.start_gunicorn(db, port, tmp / "gunicorn.log", workers=args.workers)
            waited = servers.wait_ready(port, server.proc)
            workers_before = servers.worker_pids(server.proc.pid)
            reporting.out(f"gunicorn pid {server.proc.pid} on 127.0.0.1:{port}, {len(workers_before)} workers "
                  f"(cores {servers.CORES}), ready in {waited:.1f} s")
            status, _, body = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/initiatives?limit=200")
            ids = [r["id"] for r in body["data"]]
            status, _, body = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/kinds")
            kinds = [k["id"] for k in body["data"]]

            run = lc.LoadRun(servers.LOOPBACK, port, args.clients, args.duration, make_mix(ids, kinds), check=check,
                            seed=args.seed).run()
            results = run.all()
            summary = reporting.summarize(results, run.t1 - run.t0)
            workers_after = servers.worker_pids(server.proc.pid)
            reporting.print_summary(f"load: {args.clients} clients x {args.duration:.0f} s, gunicorn {args.workers} workers", summary, {
                "TCP connections opened": run.connects,
                "stale keep-alive retries": run.stale_retries,
                "workers before/after": f"{workers_before} / {workers_after}",
            })
            reporting.show_failures(results)
            if summary["connection_errors"]:
                failures.append(f"{summary['connection_errors']} connection errors")
            if summary["unexpected"]:
                failures.append(f"{summary['unexpected']} responses outside 2xx/3xx/expected 4xx or failing checks")
            if workers_after != workers_before:
                failures.append("gunicorn workers changed during the run (a worker crashed or timed out)")
            if server.proc.poll() is not None:
                failures.append(f"gunicorn exited with {server.proc.returncode}")
            reporting.check_log(server, failures)
            if summary["requests"] == 0:
                failures.append("no requests were served")
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
