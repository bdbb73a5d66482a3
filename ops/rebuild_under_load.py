"""Rebuild the database under load: zero failed requests, every response from exactly one version, new version served within seconds.

    .venv/bin/python -m ops.rebuild_under_load                 # 32 clients, 20 s, rebuild after 8 s
    .venv/bin/python -m ops.rebuild_under_load --duration 10 --swap-at 4

Works on a temporary copy of data/ and seeds/: builds v1, starts gunicorn (workers = cores), runs load,
appends a marker to one record's summary_en in the copy and runs the real build command into the same
database path (atomic rename) while the load runs. Every response's ETag names its version; the body must
agree (GET /api/v1's "version"; the changed record carries the marker iff the ETag has the new version).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import yaml

from harness import servers
from ops import loadclient as lc
from ops import reporting, script

RECORD = "beijing-12345-hotline"
MARKER = " [rebuilt]"
# (label, path, Accept): every one of these either contains RECORD or states the version.
ROUTES = [
    ("root", "/api/v1", None),
    ("detail-changed", f"/api/v1/initiatives/{RECORD}", None),
    ("detail-other", "/api/v1/initiatives/zhejiang-courier-academy", None),
    ("list-kind", "/api/v1/initiatives?kind=hotline", None),
    ("list-region", "/api/v1/initiatives?region=北京&year=2025", None),
    ("list-first-page", "/api/v1/initiatives?limit=5", None),
    ("search", "/api/v1/initiatives?q=hotline", None),
    ("csv", "/api/v1/initiatives?kind=hotline&format=csv", None),
    ("csv-accept", "/api/v1/initiatives?region=110000", "text/csv"),
    ("kinds", "/api/v1/kinds", None),
]


def etag_version(etag: str | None) -> str | None:
    """'"<version>-<hash>"' (or W/"...") -> version."""
    if not etag:
        return None
    tag = etag[2:] if etag.startswith("W/") else etag
    tag = tag.strip('"')
    return tag.rsplit("-", 1)[0] if "-" in tag else None


def facts_of(res: lc.Result) -> str | None:
    """Extract the version claims of one response into res.facts; the cross-version verdict comes after the run."""
    f = res.facts
    f["v"] = etag_version(res.headers.get("etag"))
    if res.status != 200:
        return None
    body = res.body
    try:
        if res.label == "root":
            f["body_version"] = json.loads(body)["version"]
        elif res.label.startswith("detail") or res.label == "conditional":
            doc = json.loads(body)
            f["present"] = doc["id"] == RECORD
            f["marker"] = doc["summary_en"].endswith(MARKER)
        elif res.label.startswith("csv"):
            rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
            hit = [r for r in rows if r["id"] == RECORD]
            f["present"] = bool(hit)
            f["marker"] = bool(hit) and hit[0]["summary_en"].endswith(MARKER)
            f["stray_marker"] = any(r["summary_en"].endswith(MARKER) for r in rows if r["id"] != RECORD)
        elif res.label.startswith("list") or res.label == "search":
            items = json.loads(body)["data"]
            hit = [r for r in items if r["id"] == RECORD]
            f["present"] = bool(hit)
            f["marker"] = bool(hit) and hit[0]["summary_en"].endswith(MARKER)
            f["stray_marker"] = any(r["summary_en"].endswith(MARKER) for r in items if r["id"] != RECORD)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return f"unreadable body: {exc}"
    return None


def make_mix(state_shared: dict):
    def next_request(rng, state, last):
        # A client that re-validates with the v1 ETag it saw: 304 only while it is still answered from v1.
        if rng.random() < 0.1 and state_shared.get("v1_etag"):
            return lc.Request("conditional", f"/api/v1/initiatives/{RECORD}", expect=(200, 304),
                             headers={"If-None-Match": state_shared["v1_etag"]})
        label, path, accept = rng.choice(ROUTES)
        return lc.Request(label, path, headers={"Accept": accept} if accept else None)
    return next_request


def change_record(project: Path) -> None:
    path = project / "data" / "initiatives" / f"{RECORD}.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["summary_en"] += MARKER
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8")


def watch_swap(db: Path, stop: threading.Event, out: dict, limit_s: float):
    """Note the monotonic time the database file's inode changes (the os.replace of the build)."""
    ino = os.stat(db).st_ino
    t_end = time.monotonic() + limit_s
    while not stop.is_set() and time.monotonic() < t_end:
        try:
            if os.stat(db).st_ino != ino:
                out["t_swap"] = time.monotonic()
                return
        except FileNotFoundError:
            pass
        time.sleep(0.001)


def rebuild_midway(project: Path, db: Path, after_s: float, swap: dict, rebuild: dict) -> None:
    """after_s seconds from now, change RECORD in project and run the real build into db (a thread's target).

    swap gets "t_swap" (watch_swap); rebuild gets "report" (or "error"), "t_done" and "seconds" (the build's)."""
    time.sleep(after_s)
    change_record(project)
    stop = threading.Event()
    watcher = threading.Thread(target=watch_swap, args=(db, stop, swap, 120), daemon=True)
    watcher.start()
    t = time.monotonic()
    try:
        rebuild["report"] = script.build_db(project, db)
    except Exception as exc:  # noqa: BLE001
        rebuild["error"] = repr(exc)
    rebuild["t_done"] = time.monotonic()
    rebuild["seconds"] = rebuild["t_done"] - t
    stop.set()
    watcher.join(5)


def main(argv=None) -> int:
    ap = script.load_parser(__doc__, clients=32, duration=20.0, workers=servers.CORES)
    ap.add_argument("--swap-at", type=float, default=8.0, help="seconds into the load when the rebuild starts")
    ap.add_argument("--max-switch", type=float, default=3.0, help="target: seconds from swap until no response is old")
    args = script.parse(ap, argv)

    server = None
    with script.workspace("sw-rebuild-") as (tmp, failures):
        project = tmp / "project"
        project.mkdir()
        shutil.copytree(servers.ROOT / "data", project / "data")
        shutil.copytree(servers.ROOT / "seeds", project / "seeds")
        db = tmp / "var" / "socialwork.db"
        with script.supervised(failures, lambda: (server,)):
            v1 = script.build_db(project, db)["version"]
            port = servers.free_port()
            server = servers.start_gunicorn(db, port, tmp / "gunicorn.log", workers=args.workers)
            servers.wait_ready(port, server.proc)
            workers_before = servers.worker_pids(server.proc.pid)
            _, hdrs, _ = lc.fetch_json(servers.LOOPBACK, port, f"/api/v1/initiatives/{RECORD}")
            shared = {"v1_etag": hdrs["etag"]}
            reporting.out(f"v1 {v1} built in a temp copy; gunicorn pid {server.proc.pid} on 127.0.0.1:{port}, workers {workers_before}")

            run = lc.LoadRun(servers.LOOPBACK, port, args.clients, args.duration, make_mix(shared), check=facts_of,
                            keep_headers=("etag", "content-type"), seed=7)
            swap: dict = {}
            rebuild: dict = {}
            rb = threading.Thread(target=rebuild_midway, args=(project, db, args.swap_at, swap, rebuild), daemon=True)
            rb.start()
            run.run()
            rb.join(120)
            if "error" in rebuild or "report" not in rebuild:
                raise RuntimeError(f"rebuild failed: {rebuild.get('error', 'did not finish')}")
            v2 = rebuild["report"]["version"]
            t_swap = swap.get("t_swap", rebuild["t_done"])
            results = run.all()
            summary = reporting.summarize(results, run.t1 - run.t0)

            # -- the consistency verdict, per response
            inconsistent: list[str] = []
            versions = Counter()
            for r in results:
                if r.status is None:
                    continue
                v = r.facts.get("v")
                versions[{v1: "v1", v2: "v2"}.get(v, f"other:{v}")] += 1
                problem = None
                if v not in (v1, v2):
                    problem = f"ETag version {v!r} is neither v1 nor v2"
                elif "body_version" in r.facts and r.facts["body_version"] != v:
                    problem = f"/api/v1 body version {r.facts['body_version']} but ETag version {v}"
                elif r.facts.get("present") and r.facts["marker"] != (v == v2):
                    problem = f"record marker {r.facts['marker']} but ETag version {'v2' if v == v2 else 'v1'}"
                elif r.facts.get("stray_marker"):
                    problem = "marker on a record that was not changed"
                elif r.label == "conditional" and r.status == 304 and v != v1:
                    problem = "304 for the v1 ETag but the response names another version"
                elif r.label == "conditional" and r.status == 200 and v != v2:
                    problem = "200 for a still-current v1 ETag (should have been 304)"
                elif r.label not in ("root", "kinds", "detail-other", "search") and r.status == 200 \
                        and r.label != "list-first-page" and not r.facts.get("present"):
                    problem = "the changed record is missing from a response that must contain it"
                if problem:
                    inconsistent.append(f"{r.label} {r.path} [{r.status}] {problem}")
            old_after = [r for r in results if r.facts.get("v") == v1 and r.t_start > t_swap]
            new_done = [r.t_start + r.latency for r in results if r.facts.get("v") == v2]
            last_old_start = max((r.t_start for r in old_after), default=t_swap)
            first_new = min(new_done, default=float("nan"))
            switch_s = last_old_start - t_swap
            # Per worker: ask each worker directly is impossible through one port; instead confirm that the
            # last 2 s of the run (many requests spread over every worker) saw only v2.
            checked = Counter(("v2" if r.facts.get("v") == v2 else "v1") + (" with marker" if r.facts["marker"] else " without marker")
                              for r in results if r.facts.get("present"))
            tail_window = [r for r in results if r.t_start > run.t1 - 2 and r.status is not None]
            tail_versions = Counter("v2" if r.facts.get("v") == v2 else "v1" for r in tail_window)
            workers_after = servers.worker_pids(server.proc.pid)
            _, _, root = lc.fetch_json(servers.LOOPBACK, port, "/api/v1")

            reporting.print_summary(f"rebuild under load: {args.clients} clients x {args.duration:.0f} s, "
                            f"rebuild at {args.swap_at:.0f} s", summary, {
                "versions": f"v1 {v1}, v2 {v2}; responses {dict(versions)}",
                "build": f"{rebuild['seconds']:.2f} s under load; swap (inode change) at "
                         f"{t_swap - run.t0:.2f} s into the run",
                "swap -> first v2 response": f"{first_new - t_swap:.3f} s",
                "swap -> last request answered from v1 (started after swap)":
                    f"{max(switch_s, 0):.3f} s ({len(old_after)} v1 responses to requests started after the swap)",
                "last 2 s of load": dict(tail_versions),
                "changed record seen in": dict(sorted(checked.items())),
                "inconsistent responses": len(inconsistent),
                "workers before/after (no restart)": f"{workers_before} / {workers_after}",
                "GET /api/v1 after the run": root.get("version"),
            })
            reporting.show_failures(results)
            for line in inconsistent[:10]:
                reporting.out(f"   INCONSISTENT {line}")
            if summary["connection_errors"] or summary["unexpected"]:
                failures.append(f"{summary['connection_errors']} connection errors, {summary['unexpected']} failed responses")
            if inconsistent:
                failures.append(f"{len(inconsistent)} responses mix versions or disagree with their ETag")
            if v1 == v2:
                failures.append("the rebuild did not change the version")
            if not new_done:
                failures.append("no response ever came from the new version")
            if switch_s > args.max_switch:
                failures.append(f"old version still served {switch_s:.2f} s after the swap (target {args.max_switch} s)")
            if tail_versions.get("v1"):
                failures.append("old version still served in the last 2 s of the run")
            if root.get("version") != v2:
                failures.append(f"after the run GET /api/v1 says {root.get('version')}, not {v2}")
            if workers_after != workers_before:
                failures.append("gunicorn workers changed (restart or crash)")
            reporting.check_log(server, failures)
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
