"""The cache tier (deploy/nginx.conf): identical bytes through the cache, a rebuild switches every answer, dead instances do not become errors.

    .venv/bin/python -m ops.cache_check                       # 16 clients, 16 s, rebuild at 5 s
    .venv/bin/python -m ops.cache_check --duration 12 --swap-at 3

Two API instances (gunicorn, SOCIALWORK_TRUSTED_PROXIES=1 as in production) on a temporary copy of data/
and seeds/, nginx in front with deploy/nginx.conf as it is (its cache under a temporary SW_PREFIX; the
per-client rate set high, since the load here comes from one address). Three parts:

1. Identity. Each URL (lists, cursor page, search, CSV and GeoJSON by format=, by Accept and at their
   own addresses, details, vocabularies, HTML pages, the contract, the app's 400/404, a HEAD, a CORS
   preflight, a conditional GET) goes to an instance directly (with the Host a client of nginx sends)
   and through nginx twice. Body and the headers a client relies on must be the same bytes; a cacheable
   200 must be a MISS, then a HIT; an error must never be stored. Another Host, another Accept and a
   client's X-Forwarded-Host must never get someone else's answer. The keys in the cache files must
   start with the dataset version.
2. Rebuild under load (the route mix of ops/rebuild_under_load.py, through nginx): one record changes
   and the real build command renames a new database into place. A poller asks both instances directly
   which version they serve. Every answer through the cache must agree with its own ETag; once the
   cache has answered from a new-version entry it never answers from an old one; no old-version answer
   comes later than --max-switch seconds after the swap (the run must go on at least 1 s past that).
3. Both instances killed (SIGKILL): every URL cached before answers 200 with the same bytes and ETag
   (HIT or STALE), under load; a URL never cached gets nginx's 502 as problem+json.

Prints its figures and exits 1 on a failure. Needs Debian's nginx (installed when missing and root).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from harness import servers
from ops import failover, reporting, script  # failover.problem_ok: nginx's own errors as problem+json
from ops import loadclient as lc
from ops import rebuild_under_load as rul  # the route mix, the per-response version facts, the rebuild midway

RATE, BURST = "100000r/s", "100000"
EVIL = "evil.example"
# Headers a client relies on, compared value for value with the instance's own answer.
RELIED = ("content-type", "etag", "cache-control", "vary", "link", "access-control-allow-origin",
          "access-control-expose-headers", "access-control-allow-methods", "access-control-allow-headers",
          "access-control-max-age", "content-disposition", "x-content-type-options", "referrer-policy",
          "content-security-policy", "x-frame-options", "retry-after", "location")
# Differ by design: set per hop (Date, Server, Connection), the framing of a stored body (a streamed CSV
# comes chunked from gunicorn, with Content-Length from the cache), and the cache's own status.
PER_HOP = {"date", "server", "connection", "transfer-encoding", "content-length", "keep-alive", "x-cache-status"}
HOT = "/api/v1/initiatives?region=四川&year=2025"
JSON, CSV = {"Accept": "application/json"}, {"Accept": "text/csv"}
# (label, path, request headers, cacheable): cacheable means a 200 the app lets a shared cache keep.
IDENTITY = [
    ("root", "/api/v1", {}, True),
    ("hot list", HOT, {}, True),
    ("hot list, Accept: text/csv (Vary)", HOT, CSV, True),
    ("hot list, Accept: application/json", HOT, JSON, True),
    ("first page", "/api/v1/initiatives?limit=5", {}, True),
    ("search", "/api/v1/initiatives?q=驿站", {}, True),
    ("search, English", "/api/v1/initiatives?q=hotline&sort=-year", {}, True),
    ("csv by format=", "/api/v1/initiatives?region=江苏&format=csv", {}, True),
    ("geojson by format=", "/api/v1/initiatives?region=四川&format=geojson", {}, True),
    ("csv export", "/api/v1/initiatives.csv", {}, True),
    ("geojson export", "/api/v1/initiatives.geojson", {}, True),
    ("metrics csv", "/api/v1/metrics.csv", {}, True),
    ("regions csv", "/api/v1/regions.csv?level=province", {}, True),
    ("detail", f"/api/v1/initiatives/{rul.RECORD}", {}, True),
    ("detail 2", "/api/v1/initiatives/zhejiang-courier-academy", {}, True),
    ("kinds", "/api/v1/kinds", {}, True),
    ("themes", "/api/v1/themes", {}, True),
    ("sources", "/api/v1/sources", {}, True),
    ("facets", "/api/v1/facets?region=四川", {}, True),
    ("region", "/api/v1/regions/510000", {}, True),
    ("regions", "/api/v1/regions?level=province", {}, True),
    ("metrics", "/api/v1/metrics", {}, True),
    ("problems", "/api/v1/problems", {}, True),
    ("landing page", "/", {}, True),
    ("downloads page", "/downloads/", {}, True),
    ("list page", "/initiatives?region=四川", {}, True),
    ("record page", f"/initiatives/{rul.RECORD}", {}, True),
    ("map page", "/map", {}, True),
    ("sitemap", "/sitemap.xml", {}, True),
    ("DCAT catalogue", "/catalog.ttl", {}, True),
    ("contract (its ETag is not the dataset's: passed through)", "/openapi.yaml", {}, False),
    ("app's 400", "/api/v1/initiatives?region=火星", {}, False),
    ("app's 400, unknown parameter", "/api/v1/initiatives?regoin=四川", {}, False),
    ("app's 404", "/api/v1/initiatives/no-such-id", {}, False),
    ("app's 406", "/api/v1/kinds", {"Accept": "image/png"}, False),
]


class Http:
    """One keep-alive client to a port, sending a given Host (so the app's absolute links are comparable)."""

    def __init__(self, port: int, host_header: str):
        self.client = lc.Client(servers.LOOPBACK, port, timeout=30)
        self.host = host_header

    def get(self, path, headers=None, method="GET"):
        return self.client.get(path, {"Host": self.host, **(headers or {})}, method)

    def close(self):
        self.client.close()


def header_diff(origin: dict, cached: dict) -> list[str]:
    """The relied-on headers that differ, and any other header present on one side only."""
    out = []
    for name in RELIED:
        if origin.get(name) != cached.get(name):
            out.append(f"{name}: origin {origin.get(name)!r}, cache {cached.get(name)!r}")
    extra = sorted((set(origin) ^ set(cached)) - PER_HOP - set(RELIED))
    if extra:
        out.append(f"present on one side only: {extra}")
    return out


def cache_keys(cache_dir: Path) -> list[str]:
    """The KEY line of every file nginx keeps under cache_dir."""
    keys = []
    for f in cache_dir.rglob("*"):
        if f.is_file():
            try:
                head = f.read_bytes()[:4096]
            except OSError:
                continue
            m = re.search(rb"\nKEY: ([^\n]*)\n", head)
            if m:
                keys.append(m[1].decode("utf-8", "replace"))
    return keys


def identity(origin_port: int, nginx_port: int, failures: list[str]) -> dict:
    host = f"{servers.LOOPBACK}:{nginx_port}"
    direct, cached = Http(origin_port, host), Http(nginx_port, host)
    rows, bad = [], 0
    try:
        for label, path, hdrs, cacheable in IDENTITY:
            so, ho, bo = direct.get(path, hdrs)
            first = cached.get(path, hdrs)
            second = cached.get(path, hdrs)
            problems = []
            for n, (sc, hc, bc) in enumerate((first, second), 1):
                if sc != so:
                    problems.append(f"request {n}: status {sc}, origin {so}")
                if bc != bo:
                    problems.append(f"request {n}: body differs ({len(bc)} bytes, origin {len(bo)})")
                problems += [f"request {n}: {d}" for d in header_diff(ho, hc)]
            statuses = (first[1].get("x-cache-status"), second[1].get("x-cache-status"))
            if cacheable and so == 200 and statuses != ("MISS", "HIT"):
                problems.append(f"X-Cache-Status {statuses}, wanted MISS then HIT")
            if not cacheable and "HIT" in statuses:
                problems.append(f"stored although it must not be: X-Cache-Status {statuses}")
            if problems:
                bad += 1
                failures += [f"identity, {label} {path}: {p}" for p in problems]
            rows.append((label, so, len(bo), "/".join(s or "-" for s in statuses), "same" if not problems else "DIFFERENT"))

        # A conditional GET: the cache answers 304 itself, with the headers of the instance's 304.
        _, h, _ = cached.get(HOT)
        so, ho, _ = direct.get(HOT, {"If-None-Match": h["etag"]})
        sc, hc, bc = cached.get(HOT, {"If-None-Match": h["etag"]})
        # Every header of the instance's 304 with its value; nginx's 304 also keeps the stored 200's other
        # headers but Content-Type and Content-Length (here Link), which a 304 may carry (RFC 9110 15.4.5).
        diff = [f"{k}: origin {v!r}, cache {hc.get(k)!r}" for k, v in ho.items() if k not in PER_HOP and hc.get(k) != v]
        extra = sorted(set(hc) - set(ho) - PER_HOP)
        if (so, sc) != (304, 304) or bc or diff:
            failures.append(f"identity, conditional GET: origin {so}, cache {sc} ({len(bc)} bytes), {diff}")
        rows.append(("If-None-Match on the hot list", sc, len(bc), hc.get("x-cache-status", "-"),
                     ("same" + (f", and {', '.join(extra)}" if extra else "")) if not diff and sc == so else "DIFFERENT"))
        # HEAD of a stored GET, and a CORS preflight (never stored).
        sg, hg, bg = cached.get(HOT)
        sh, hh, bh = cached.get(HOT, method="HEAD")
        if sh != 200 or bh or hh.get("etag") != hg.get("etag") or hh.get("content-type") != hg.get("content-type"):
            failures.append(f"identity, HEAD through the cache: {sh}, {len(bh)} bytes, ETag {hh.get('etag')}")
        rows.append(("HEAD of the hot list", sh, len(bh), hh.get("x-cache-status", "-"), "same" if sh == 200 and not bh else "DIFFERENT"))
        pre = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
        so, ho, bo = direct.get("/api/v1/initiatives", pre, "OPTIONS")
        sc, hc, bc = cached.get("/api/v1/initiatives", pre, "OPTIONS")
        diff = header_diff(ho, hc)
        if so != sc or bo != bc or diff:
            failures.append(f"identity, CORS preflight: origin {so}, cache {sc}, {diff}")
        rows.append(("CORS preflight (OPTIONS)", sc, len(bc), hc.get("x-cache-status", "-"), "same" if not diff and so == sc else "DIFFERENT"))

        # Another Host, and a client's X-Forwarded-Host: never someone else's links.
        other = Http(nginx_port, "api.example.org")
        try:
            s1, _, b1 = other.get(HOT)
            if b"api.example.org" not in b1 or host.encode() in b1:
                failures.append("another Host got the links of the first (the key lacks the host)")
            path = "/api/v1/initiatives?kind=hotline&limit=3"
            s2, _, b2 = cached.get(path, {"X-Forwarded-Host": EVIL, "X-Forwarded-Prefix": "/evil"})
            s3, h3, b3 = cached.get(path)
            so, _, bo = direct.get(path)
            if EVIL.encode() in b2 or b"/evil" in b2 or EVIL.encode() in b3 or b3 != bo:
                failures.append("a client's X-Forwarded-Host/-Prefix reached the links through the cache")
            rows.append(("Host: api.example.org", s1, len(b1), "-", "own links" if b"api.example.org" in b1 else "DIFFERENT"))
            rows.append(("client's X-Forwarded-Host: evil.example", s2, len(b2), h3.get("x-cache-status", "-"),
                         "ignored" if EVIL.encode() not in b2 + b3 else "POISONED"))
        finally:
            other.close()
    finally:
        direct.close()
        cached.close()
    return {"rows": rows, "bad": bad}


def print_rows(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        reporting.out("   " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def main(argv=None) -> int:
    ap = script.load_parser(__doc__, clients=16, duration=16.0, workers=2, workers_help="gunicorn workers per instance")
    ap.add_argument("--swap-at", type=float, default=5.0, help="seconds into the load when the rebuild starts")
    ap.add_argument("--max-switch", type=float, default=3.5,
                    help="target: seconds from the swap to the last old-version answer through the cache (an "
                         "instance rechecks its file every 1 s, the cache its version every 1-2 s, plus 0.5 s)")
    ap.add_argument("--dead-seconds", type=float, default=4.0, help="load on the cache after both instances are killed")
    args = script.parse(ap, argv)
    nginx_bin = servers.nginx_binary()

    failures: list[str] = []
    a = b = nginx = None
    tmp = Path(tempfile.mkdtemp(prefix="sw-cache-"))
    try:
        with script.supervised(failures, lambda: (nginx, a, b)):
            os.chmod(tmp, 0o755)
            project = tmp / "project"
            project.mkdir()
            shutil.copytree(servers.ROOT / "data", project / "data")
            shutil.copytree(servers.ROOT / "seeds", project / "seeds")
            db = tmp / "var" / "socialwork.db"
            v1 = script.build_db(project, db)["version"]
            os.chmod(db.parent, 0o755)
            os.chmod(db, 0o644)
            pa, pb, pn = servers.free_port(), servers.free_port(), servers.free_port()
            env = {"SOCIALWORK_TRUSTED_PROXIES": "1"}
            a = servers.start_gunicorn(db, pa, tmp / "a.log", workers=args.workers, env=env, name="A")
            b = servers.start_gunicorn(db, pb, tmp / "b.log", workers=args.workers, env=env, name="B")
            a.wait_ready()
            b.wait_ready()
            prefix = tmp / "nginx"
            conf = servers.render_nginx_conf(servers.nginx_values(prefix, pn, [pa, pb], RATE, BURST))
            nginx = servers.start_nginx(conf, prefix, pn, binary=nginx_bin)
            nginx.wait_ready("/api/v1/initiatives?limit=1")  # a URL the identity part does not ask
            reporting.out(f"v1 {v1}; instances A :{pa}, B :{pb} ({args.workers} workers each, trusting one proxy); "
                          f"nginx :{pn} with deploy/nginx.conf, cache in {prefix / 'cache'}")

            # -- 1. identity
            st, h, _ = lc.fetch_json(servers.LOOPBACK, pa, "/api/v1")
            dataset_header = h.get("x-dataset-version")
            reporting.out(f"== 1. identity through the cache ({len(IDENTITY)} URLs and variants, then conditional, "
                          "HEAD, preflight, Host and X-Forwarded-Host)")
            ident = identity(pa, pn, failures)
            print_rows([("what", "status", "bytes", "cache", "vs origin"), *ident["rows"]])
            keys = cache_keys(prefix / "cache")
            url_keys = [k for k in keys if k != "dataset version"]
            wrong = [k for k in url_keys if not k.startswith(f"{v1} ")]
            reporting.out(f"   cache files: {len(keys)} ({'the version probe and ' if 'dataset version' in keys else ''}"
                          f"{len(url_keys)} URLs), e.g. KEY: {url_keys[0] if url_keys else '-'}")
            reporting.out(f"   the app's X-Dataset-Version header: {dataset_header or 'not sent'} (not needed: the "
                          "cache reads the version from the ETag of GET /api/v1)")
            if "dataset version" not in keys:
                failures.append("the version probe is not stored in the cache")
            if not url_keys or wrong:
                failures.append(f"cache keys without the dataset version {v1}: {wrong[:3] or 'no URL stored'}")

            # -- 2. rebuild under load, through the cache
            _, hdrs, _ = lc.fetch_json(servers.LOOPBACK, pn, f"/api/v1/initiatives/{rul.RECORD}")
            shared = {"v1_etag": hdrs["etag"]}
            run = lc.LoadRun(servers.LOOPBACK, pn, args.clients, args.duration, rul.make_mix(shared), check=rul.facts_of,
                             keep_headers=("etag", "content-type", "x-cache-status"), seed=11)
            swap: dict = {}
            rebuild: dict = {}
            polls: list[tuple[float, str, str | None]] = []
            stop_poll = threading.Event()

            def poll_origin():
                """Both instances, directly, every 20 ms: which version each serves (bounded by the run)."""
                t_end = time.monotonic() + args.duration + 30
                i = 0
                while not stop_poll.is_set() and time.monotonic() < t_end:
                    port, name = ((pa, "A"), (pb, "B"))[i % 2]
                    i += 1
                    t = time.monotonic()
                    try:
                        _, h, _ = lc.fetch_json(servers.LOOPBACK, port, "/api/v1/kinds")
                        polls.append((t, name, rul.etag_version(h.get("etag"))))
                    except Exception:  # noqa: BLE001
                        polls.append((t, name, None))
                    time.sleep(0.02)

            threads = [threading.Thread(target=rul.rebuild_midway, args=(project, db, args.swap_at, swap, rebuild), daemon=True),
                       threading.Thread(target=poll_origin, daemon=True)]
            for t in threads:
                t.start()
            run.run()
            threads[0].join(120)
            stop_poll.set()
            threads[1].join(10)
            if "report" not in rebuild:
                raise RuntimeError(f"rebuild failed: {rebuild.get('error', 'did not finish')}")
            v2 = rebuild["report"]["version"]
            t_swap = swap.get("t_swap", rebuild["t_done"])
            results = run.all()
            summary = reporting.summarize(results, run.t1 - run.t0)

            inconsistent = []
            for r in results:
                if r.status is None:
                    continue
                v, f = r.facts.get("v"), r.facts
                problem = None
                if v not in (v1, v2):
                    problem = f"ETag version {v!r} is neither v1 nor v2"
                elif "body_version" in f and f["body_version"] != v:
                    problem = f"/api/v1 says {f['body_version']} under the ETag of {v}"
                elif f.get("present") and f["marker"] != (v == v2):
                    problem = f"the changed record {'has' if f['marker'] else 'lacks'} the marker under the ETag of {v}"
                elif f.get("stray_marker"):
                    problem = "marker on a record that was not changed"
                elif r.label == "conditional" and r.status == 304 and v != v1:
                    problem = "304 for the v1 ETag under another version"
                if problem:
                    inconsistent.append(f"{r.label} {r.path} [{r.status} {r.headers.get('x-cache-status')}] {problem}")
            served = [r for r in results if r.status is not None and r.facts.get("v") in (v1, v2)]
            from_store = ("HIT", "STALE", "UPDATING", "REVALIDATED")
            v2_hits = [r.t_start + r.latency for r in served if r.facts["v"] == v2 and r.headers.get("x-cache-status") in from_store]
            cache_switch = min(v2_hits, default=None)
            old_after_switch = [r for r in served if cache_switch is not None and r.facts["v"] == v1
                                and r.t_start > cache_switch and r.headers.get("x-cache-status") in from_store]
            passed_after_switch = [r for r in served if cache_switch is not None and r.facts["v"] == v1
                                   and r.t_start > cache_switch and r.headers.get("x-cache-status") not in from_store]
            old = [r for r in served if r.facts["v"] == v1 and r.t_start > t_swap]
            last_old_cache = max((r.t_start for r in old), default=t_swap)
            origin_old = [t for t, _, v in polls if v == v1 and t > t_swap]
            origin_new = [t for t, _, v in polls if v == v2]
            last_old_origin = max(origin_old, default=t_swap)
            first_new_origin = min(origin_new, default=float("nan"))
            first_new_cache = min((r.t_start + r.latency for r in served if r.facts["v"] == v2), default=float("nan"))
            lag = last_old_cache - last_old_origin
            tail = Counter("v2" if r.facts.get("v") == v2 else "v1" for r in served if r.t_start > run.t1 - 2)
            statuses = Counter(r.headers.get("x-cache-status", "-") for r in results if r.status is not None)
            by_version = Counter(("v2" if r.facts["v"] == v2 else "v1") + " " + r.headers.get("x-cache-status", "-")
                                 for r in served)
            reporting.print_summary(f"2. rebuild under load through the cache: {args.clients} clients x "
                                    f"{args.duration:.0f} s, rebuild at {args.swap_at:.0f} s", summary, {
                "versions": f"v1 {v1}, v2 {v2}",
                "build": f"{rebuild['seconds']:.2f} s under load; swap (inode change) at {t_swap - run.t0:.2f} s "
                         f"into the run of {args.duration:.0f} s",
                "X-Cache-Status": dict(statuses.most_common()),
                "answers by version and cache status": dict(sorted(by_version.items())),
                "swap (inode change) -> first v2 from an instance (poller) / through the cache":
                    f"{first_new_origin - t_swap:.3f} s / {first_new_cache - t_swap:.3f} s",
                "swap -> last v1 from an instance (poller, requests started after the swap)":
                    f"{max(last_old_origin - t_swap, 0):.3f} s ({len(origin_old)} answers)",
                "swap -> last v1 through the cache": f"{max(last_old_cache - t_swap, 0):.3f} s ({len(old)} answers)",
                "swap -> last v1 through the cache, target": f"<= {args.max_switch} s",
                "cache lag after the instances' last v1 seen by the poller": f"{lag:.3f} s",
                "v1 from the cache's store after its first v2 from the store": len(old_after_switch),
                "v1 passed through from an instance after that (not stored)": len(passed_after_switch),
                "last 2 s of load": dict(tail),
                "inconsistent answers": len(inconsistent),
            })
            reporting.show_failures(results)
            for line in inconsistent[:10]:
                reporting.out(f"   INCONSISTENT {line}")
            if summary["connection_errors"] or summary["unexpected"]:
                failures.append(f"rebuild: {summary['connection_errors']} connection errors, "
                                f"{summary['unexpected']} failed responses through the cache")
            if inconsistent:
                failures.append(f"rebuild: {len(inconsistent)} answers disagree with their own ETag")
            if v1 == v2:
                failures.append("the rebuild did not change the version")
            if not origin_new or cache_switch is None:
                failures.append("no answer of the new version came from the instances and from the cache's store")
            if old_after_switch:
                r = old_after_switch[0]
                failures.append(f"rebuild: {len(old_after_switch)} v1 answers from the store after its first v2, "
                                f"e.g. {r.path} {r.headers.get('x-cache-status')} at {r.t_start - cache_switch:+.3f} s")
            if last_old_cache - t_swap > args.max_switch:
                failures.append(f"rebuild: the cache answered v1 {last_old_cache - t_swap:.2f} s after the swap "
                                f"(target {args.max_switch} s)")
            if run.t1 < t_swap + args.max_switch + 1:
                failures.append(f"rebuild: the run ended {run.t1 - t_swap:.1f} s after the swap, too soon to see the "
                                f"switch (at least {args.max_switch + 1:.1f} s): raise --duration or lower --swap-at")

            # -- 3. both instances dead
            host = f"{servers.LOOPBACK}:{pn}"
            cached = Http(pn, host)
            warmed = {}
            try:
                for label, path, hdrs, cacheable in IDENTITY:
                    if not cacheable:
                        continue
                    cached.get(path, hdrs)
                    s, h, body = cached.get(path, hdrs)
                    if s == 200:
                        warmed[(path, tuple(hdrs.items()))] = (h.get("etag"), body, label)
                killed = []
                for srv in (a, b):
                    killed.append(srv.proc.pid)
                    os.killpg(srv.proc.pid, signal.SIGKILL)
                    srv.proc.wait(10)
                time.sleep(2.5)  # the stored version is now past its 1 s: every request's probe needs an instance
                dead = Counter()
                wrong = []
                for _ in range(2):
                    for (path, hdrs), (etag, body, label) in warmed.items():
                        s, h, bc = cached.get(path, dict(hdrs))
                        dead[h.get("x-cache-status", "-")] += 1
                        if s != 200 or bc != body or h.get("etag") != etag:
                            wrong.append(f"{label} {path}: {s} {h.get('x-cache-status')}, "
                                         f"{'same' if bc == body else 'other'} body")
                    time.sleep(0.5)
                never = "/api/v1/initiatives?kind=hotline&limit=7"
                err = failover.problem_ok(*cached.get(never), 502, retry_after=True)
            finally:
                cached.close()
            paths = [(p, {"Host": host, **dict(h)}) for p, h in warmed]

            def cached_url(rng, state, last):
                path, hdrs = rng.choice(paths)
                return lc.Request("cached", path, headers=hdrs)

            dead_run = lc.LoadRun(servers.LOOPBACK, pn, min(args.clients, 8), args.dead_seconds, cached_url,
                                  keep_headers=("x-cache-status",), seed=13)
            dead_run.run()
            dres = dead_run.all()
            dsum = reporting.summarize(dres, dead_run.t1 - dead_run.t0)
            reporting.print_summary(f"3. both instances SIGKILLed (pids {killed}): {len(warmed)} cached URLs, "
                                    f"then {min(args.clients, 8)} clients x {args.dead_seconds:.0f} s on them", dsum, {
                "X-Cache-Status of the URLs, asked twice": dict(dead),
                "X-Cache-Status under load": dict(Counter(r.headers.get("x-cache-status", "-") for r in dres)),
                "cached URLs answered wrongly": len(wrong),
                "a URL never cached": "nginx's 502 problem+json" if err is None else f"FAIL {err}",
            })
            reporting.show_failures(dres, 5)
            for w in wrong[:5]:
                reporting.out(f"   DEAD {w}")
            if wrong:
                failures.append(f"dead instances: {len(wrong)} cached URLs did not answer as before")
            if dsum["connection_errors"] or dsum["unexpected"] or not dres:
                failures.append(f"dead instances: {dsum['connection_errors']} connection errors, {dsum['unexpected']} "
                                "failed responses under load")
            if err:
                failures.append(f"dead instances, a URL never cached: {err}")

            errlog = (prefix / "error.log").read_text(errors="replace").splitlines()
            emerg = [ln for ln in errlog if "[emerg]" in ln or "[alert]" in ln or "[crit]" in ln]
            if emerg:
                failures.append(f"nginx error log: {emerg[0][:200]}")
            for srv in (a, b):
                findings = reporting.log_findings(srv.log)
                if findings:
                    failures.append(f"{len(findings)} error lines in instance {srv.name}'s log, e.g. {findings[0]}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
