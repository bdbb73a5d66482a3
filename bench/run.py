"""The benchmark: this API, Datasette, a minimal Flask floor and a bare WSGI ceiling, one process each, in alternating rounds.

    .venv/bin/python -m bench.run [--seconds 3] [--rounds 3] [--connections 8] [--db var/socialwork.db]
                                  [--load auto|wrk|python] [--check-load] [--cases hot,distinct,record,csv,revalidate]
                                  [--baseline DIR [--baseline-db PATH]]

Starts on 127.0.0.1 (A) the API under gunicorn, one sync worker, (B) Datasette serving the same file
read-only (installed into .venv-bench from requirements-bench.txt when missing), (C) bench/bare_wsgi.py
under the same gunicorn answering each case with a constant body of the API's size, and (F) bench/flask_floor.py,
the same bodies through Flask's request cycle (a route, a view, a Response): the floor any Flask app stands on.
Runs every case against A, B, F, C in turn, round after round, so drift hits all alike; prints requests/s and
p50/p99 per case and target, the ratios API/floor, API/ceiling and API/Datasette, and writes bench/out/results.json
and bench/out/results.md. Exits 2 if the API answered anything but the expected status. Stops every
process it started, also on Ctrl-C.

--baseline DIR adds (D) the API of another checkout (e.g. `git worktree add /tmp/before HEAD~3`), run from
DIR by the same gunicorn on its own database (--baseline-db, built by that code; the same file by default),
in the same rounds: before and after measured seconds apart, with their ratio paired by round.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench import cases as casemod
from bench import load, servers
from harness.servers import http_get

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

TARGETS = {  # case -> (min API/ceiling, min API/Datasette)
    "hot": (0.8, 10.0),
    "distinct": (0.35, 5.0),
    "revalidate": (0.85, None),
}
FLOOR_TARGETS = {"hot": 0.9, "record": 0.9, "distinct": 0.5}  # case -> min API/floor (the Flask floor)
ALL_CASES = ["hot", "distinct", "record", "csv", "revalidate"]


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())

    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[-1]
        except (OSError, IndexError, subprocess.SubprocessError):
            return None

    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "gunicorn": version([str(servers.VENV / "bin" / "gunicorn"), "--version"]),
            "datasette": version([str(servers.BENCH_VENV / "bin" / "datasette"), "--version"]),
            "wrk": "4.x (/usr/bin/wrk)" if load.have_wrk() else None}


def resolve_ds_cursors(items: list, lo: int, hi: int, port: int) -> int:
    """Turn (base, hops) entries in items[lo:hi] into Datasette's own next-page URLs. Returns how many it fetched."""
    fetched = 0
    for i in range(lo, min(hi, len(items))):
        if isinstance(items[i], str):
            continue
        path, hops = items[i]
        for _ in range(hops):
            status, _, body = http_get(port, path)
            fetched += 1
            nxt = json.loads(body).get("next_url") if status == 200 else None
            if not nxt:
                break
            u = urlsplit(nxt)
            path = u.path + "?" + u.query
        items[i] = path
    return fetched


def summarise(runs: list[dict]) -> dict:
    """The median of the rounds (robust to one disturbed round), and the totals."""
    if not runs:
        return {}
    statuses: dict = {}
    errors: dict = {}
    for r in runs:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
    return {"rps": round(statistics.median(r["rps"] for r in runs), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 3),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 3),
            "requests": sum(r["requests"] for r in runs), "statuses": statuses, "errors": errors,
            "rounds": [r["rps"] for r in runs]}


def fmt_row(cells, widths):
    return "| " + " | ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"


def tables(results: dict) -> tuple[str, str]:
    head = ["case", "API req/s", "p50 ms", "p99 ms", "Datasette req/s", "p50 ms", "p99 ms", "Flask floor req/s",
            "ceiling req/s", "p50 ms", "p99 ms", "API/floor", "floor/ceiling", "API/ceiling", "API/Datasette"]
    with_baseline = any("baseline" in c for c in results["cases"].values())
    if with_baseline:
        head += ["baseline req/s", "API/baseline"]
    rows = []
    for name, c in results["cases"].items():
        a, d, b, f = c.get("api", {}), c.get("datasette", {}), c.get("ceiling", {}), c.get("floor", {})

        def cell(x, k):
            return f"{x[k]:,.1f}" if k == "rps" and x else (f"{x[k]:.2f}" if x else "n/a")
        r = c.get("ratios", {})
        rows.append([name, cell(a, "rps"), cell(a, "p50_ms"), cell(a, "p99_ms"), cell(d, "rps"), cell(d, "p50_ms"),
                     cell(d, "p99_ms"), cell(f, "rps"), cell(b, "rps"), cell(b, "p50_ms"), cell(b, "p99_ms"),
                     f"{r['api_floor']:.2f}" if r.get("api_floor") is not None else "n/a",
                     f"{r['floor_ceiling']:.2f}" if r.get("floor_ceiling") is not None else "n/a",
                     f"{r['api_ceiling']:.2f}" if r.get("api_ceiling") is not None else "n/a",
                     f"{r['api_datasette']:.1f}x" if r.get("api_datasette") is not None else "n/a"])
        if with_baseline:
            rows[-1] += [cell(c.get("baseline", {}), "rps"),
                         f"{r['api_baseline']:.2f}x" if r.get("api_baseline") is not None else "n/a"]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    table = "\n".join([fmt_row(head, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
                      + [fmt_row(r, widths) for r in rows])
    lines = []
    for t in results["targets"]:
        lines.append(f"- {t['case']}: API/{t['against']} = {t['measured']:.2f} (target >= {t['target']}) "
                     f"{'PASS' if t['pass'] else 'FAIL'}")
    return table, "\n".join(lines)


def write_reports(out: Path, results: dict):
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table, targets = tables(results)
    m = results["meta"]
    sizes = "\n".join(f"- {n}: {c['title']}; API body {c['size']:,} bytes"
                      + (f"; {c['note']}" if c.get("note") else "") for n, c in results["cases"].items())
    md = f"""# Benchmark results

- date: {m['date']}
- machine: {m['machine']['cores']} cores, {m['machine']['cpu']}; Python {m['machine']['python']}, SQLite {m['machine']['sqlite']}, {m['machine']['gunicorn']}, {m['machine']['datasette']}
- command: `{m['command']}`
- code: commit {m['code']['commit']}{(' + uncommitted changes in ' + ', '.join(m['code']['api_uncommitted'])) if m['code']['api_uncommitted'] else ''}
- database: {m['db']} (version {m['db_version']}, {m['initiatives']:,} initiatives)
- load: {m['load']}, {m['connections']} connections, {m['rounds']} rounds x {m['seconds']} s per case and target, alternating API, Datasette, Flask floor, ceiling
- one process each: gunicorn `-w 1 {m['gunicorn_args']}` (sync unless -k says otherwise; the repository's gunicorn.conf.py applies to the API, the floor and the ceiling alike), Datasette `serve --immutable` with settings {m['datasette_settings']}
- figures: the median of the rounds; ratios are of requests/s, paired by round (API vs the run seconds after it), median of the rounds
- load average before / after (other work on the machine shows here): {m['loadavg_before']} / {m.get('loadavg_after')}

{table}

Targets:

{targets}

Cases:

{sizes}
"""
    if results.get("loadgen_check"):
        lc = results["loadgen_check"]
        md += "\nLoad generator check (bare WSGI, hot-sized body):\n\n" + "\n".join(
            f"- {k}: {v['rps']:,.1f} req/s, p50 {v['p50_ms']:.2f} ms, p99 {v['p99_ms']:.2f} ms"
            + (f"; the generator spends {v['client_cpu_us_per_request']} us of CPU per request, so one core could drive "
               f"about {v['client_capacity_rps']:,} req/s" if v.get("client_cpu_us_per_request") else "")
            for k, v in lc.items()) + "\n"
    if results.get("problems"):
        md += "\nProblems:\n\n" + "\n".join(f"- {p}" for p in results["problems"]) + "\n"
    (out / "results.md").write_text(md)
    return table, targets


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=2, help="per case, target and round (default 2)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--db", type=Path, default=Path(os.environ.get("SOCIALWORK_DB", REPO / "var" / "socialwork.db")))
    p.add_argument("--load", choices=["auto", "wrk", "python"], default="auto",
                   help="auto: wrk when /usr/bin/wrk exists, else bench/load.py")
    p.add_argument("--check-load", action="store_true",
                   help="also drive the ceiling with both generators to show the Python one is not the bottleneck")
    p.add_argument("--cases", default=",".join(ALL_CASES))
    p.add_argument("--out", type=Path, default=BENCH / "out")
    p.add_argument("--datasette-defaults", action="store_true",
                   help="run Datasette with its shipped settings; by default facet suggestions are off "
                        "(--setting suggest_facets off), Datasette's fastest configuration for JSON clients")
    p.add_argument("--gunicorn-args", default="",
                   help="extra gunicorn options for the API and the ceiling alike, e.g. '-k gthread --threads 4'")
    p.add_argument("--budget", type=float, default=178, help="stop starting runs after this many seconds in all")
    p.add_argument("--baseline", type=Path, help="also run the API of this checkout (before) in the same rounds")
    p.add_argument("--baseline-db", type=Path, help="the database the baseline serves (built by its code; default --db)")
    a = p.parse_args(argv)
    t_begin = time.monotonic()
    wanted = [c.strip() for c in a.cases.split(",") if c.strip()]
    unknown = set(wanted) - set(ALL_CASES)
    if unknown:
        p.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    db = a.db.resolve()
    if not db.exists():
        print(f"{db} does not exist; building it", file=sys.stderr)
        subprocess.run([str(servers.VENV / "bin" / "python"), "-m", "api.build", "--db", str(db)], cwd=REPO, check=True)
    # A private snapshot: a rebuild renames a new file over the shared path mid-run (new ETags, new data),
    # while a hard link keeps the old inode, the file all three servers read, unchanged and free of charge.
    snap_dir = a.out / "snapshot"
    snap_dir.mkdir(parents=True, exist_ok=True)
    snap = snap_dir / db.name
    snap.unlink(missing_ok=True)
    try:
        os.link(db, snap)
    except OSError:
        shutil.copy2(db, snap)
    source_db, db = db, snap.resolve()
    tool = load.pick_tool(a.load)
    servers.ensure_bench_venv()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ds_name = db.stem
    ds_settings = {} if a.datasette_defaults else {"suggest_facets": "off"}

    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    db_version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
    n_initiatives = conn.execute("SELECT count(*) FROM initiatives").fetchone()[0]
    conn.close()

    print(f"preparing cases from {db} ({n_initiatives:,} initiatives) ...", file=sys.stderr, flush=True)
    fixed, info = casemod.fixed_cases(db, ds_name)
    by_name = {c.name: c for c in fixed}
    mix = None
    if "distinct" in wanted:
        n_urls = max(20_000, a.seconds * a.rounds * 6_000)
        mix = casemod.distinct_mix(db, ds_name, n_urls, cursors=800)
        by_name["distinct"] = casemod.Case(
            "distinct", "distinct-query mix: regions, years, kinds, themes, q, sorts, limits, cursors; no URL twice",
            mix.api, list(mix.datasette))
    cases = [by_name[n] for n in wanted]
    print(f"cases ready ({time.monotonic() - t_begin:.0f} s)", file=sys.stderr, flush=True)
    logs = a.out / "logs"
    started: list[servers.Server] = []
    problems: list[str] = []
    results: dict = {
        "meta": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                 "command": " ".join(shlex.quote(x) for x in [".venv/bin/python", "-m", "bench.run", *sys.argv[1:]]),
                 "db": str(source_db), "db_snapshot": str(db), "db_version": db_version, "initiatives": n_initiatives, "load": tool,
                 "connections": a.connections, "seconds": a.seconds, "rounds": a.rounds,
                 "loadavg_before": [round(x, 2) for x in os.getloadavg()],
                 "code": servers.code_state(), "datasette_settings": ds_settings or "shipped defaults", "gunicorn_args": a.gunicorn_args, **info},
        "cases": {}, "targets": [], "runs": []}
    try:
        extra = shlex.split(a.gunicorn_args)
        api = servers.gunicorn("api", "api.app:create_app()", servers.free_port(), {"SOCIALWORK_DB": str(db)}, logs / "api.log",
                               extra)
        started.append(api)
        ds = servers.datasette(db, servers.free_port(), logs / "datasette.log", ds_settings)
        started.append(ds)
        targets = ("api", "datasette", "floor", "ceiling")
        base = None
        if a.baseline:
            base_db = (a.baseline_db or source_db).resolve()
            base_port = servers.free_port()
            base = servers.Server("baseline", servers.servers.gunicorn_command(base_port, 1, "api.app:create_app()", extra),
                                  base_port, logs / "baseline.log", {**os.environ, "SOCIALWORK_DB": str(base_db)},
                                  cwd=a.baseline.resolve())
            started.append(base)
            targets = ("api", "baseline", "datasette", "floor", "ceiling")
            results["meta"]["baseline"] = {"dir": str(a.baseline.resolve()), "db": str(base_db)}
        api.wait_ready("/api/v1")
        ds.wait_ready(f"/{ds_name}.json", timeout=300)
        if base is not None:
            base.wait_ready("/api/v1")

        # Sizes and behaviour of each API case, live: the ceiling copies the sizes.
        spec = {}
        for c in cases:
            if c.name == "distinct":
                sizes = []
                stop = time.monotonic() + 10   # bounded: on a large database each sample may take a while
                for path in mix.sample:
                    if len(sizes) >= 20 and time.monotonic() > stop:
                        break
                    status, _, body = http_get(api.port, path)
                    if status != 200:
                        problems.append(f"API distinct sample {path} answered {status}: {body[:200]!r}")
                    sizes.append(len(body))
                c.size = round(statistics.mean(sizes))
                c.note = (f"response sizes {min(sizes):,}-{max(sizes):,} bytes, mean of {len(sizes)} sample URLs; "
                          f"{sum(isinstance(d, tuple) for d in mix.datasette):,} cursor pages in the mix")
            elif c.name == "revalidate":
                status, headers, body = http_get(api.port, c.api[0])
                etag = headers.get("etag")
                if not etag:
                    problems.append("API hot list has no ETag: revalidation cannot be measured")
                    continue
                c.headers = {"If-None-Match": etag}
                status, headers, body = http_get(api.port, c.api[0], c.headers)
                if status != 304:
                    problems.append(f"API revalidation answered {status}, not 304")
                c.size = len(body)
                c.note = f"If-None-Match: {etag} -> {status}, {len(body)} bytes"
            else:
                status, headers, body = http_get(api.port, c.api[0])
                if status != 200:
                    problems.append(f"API {c.name} {c.api[0]} answered {status}: {body[:300]!r}")
                c.size = len(body)
                missing = [h for h in ("etag", "access-control-allow-origin", "cache-control") if h not in headers]
                if missing:
                    problems.append(f"API {c.name}: response lacks {', '.join(missing)}")
                if c.name == "hot":
                    ids = [r["id"] for r in json.loads(body)["data"]]
                    s2, _, b2 = http_get(ds.port, c.datasette[0] + "&_shape=objects")
                    ds_ids = [r["id"] for r in json.loads(b2)["rows"]] if s2 == 200 else None
                    c.note = (f"{len(ids)} rows; Datasette returns the same ids: {sorted(ids) == sorted(ds_ids or [])}")
                    if sorted(ids) != sorted(ds_ids or []):
                        problems.append(f"Datasette's hot query returns other rows ({ds_ids}) than the API ({ids})")
            if c.datasette and c.name != "distinct":
                s2, _, b2 = http_get(ds.port, c.datasette[0])
                if s2 != 200:
                    problems.append(f"Datasette {c.name} {c.datasette[0]} answered {s2}: {b2[:300]!r}")
            spec[f"/{c.name}"] = [c.expect, c.size, c.content_type]
        bare = servers.gunicorn("ceiling", "bench.bare_wsgi:app", servers.free_port(),
                                {"BENCH_BARE_SPEC": json.dumps(spec)}, logs / "ceiling.log", extra)
        started.append(bare)
        floor = servers.gunicorn("floor", "bench.flask_floor:app", servers.free_port(),
                                 {"BENCH_BARE_SPEC": json.dumps(spec)}, logs / "floor.log", extra)
        started.append(floor)
        bare.wait_ready(f"/{cases[0].name}")
        floor.wait_ready(f"/{cases[0].name}")
        print(f"servers ready, sizes measured ({time.monotonic() - t_begin:.0f} s)", file=sys.stderr, flush=True)
        port = {"api": api.port, "datasette": ds.port, "floor": floor.port, "ceiling": bare.port,
                **({"baseline": base.port} if base else {})}

        if a.check_load and load.have_wrk():
            print("load generator check against the ceiling ...", file=sys.stderr, flush=True)
            chk: dict = {"wrk": [], "python": []}
            for _ in range(2):
                for t in ("wrk", "python"):
                    chk[t].append(load.run(t, "127.0.0.1", bare.port, [f"/{cases[0].name}"], a.seconds,
                                           a.connections).as_dict())
            results["loadgen_check"] = {t: summarise(v) for t, v in chk.items()}
            cpu = [r["client_cpu_us_per_request"] for r in chk["python"] if r.get("client_cpu_us_per_request")]
            if cpu:
                us = statistics.median(cpu)
                results["loadgen_check"]["python"]["client_cpu_us_per_request"] = round(us, 1)
                results["loadgen_check"]["python"]["client_capacity_rps"] = round(1e6 / us)

        # Warm-up: a few hundred requests per case and target (the distinct mix warms on its sample URLs).
        for c in cases:
            for target in targets:
                if target == "datasette" and not c.datasette:
                    continue
                api_paths = mix.sample if c.name == "distinct" else c.api
                paths = {"api": api_paths, "baseline": api_paths, "datasette": None, "floor": [f"/{c.name}"],
                         "ceiling": [f"/{c.name}"]}[target]
                if target == "datasette":
                    paths = [x for x in c.datasette[:200] if isinstance(x, str)] if c.name == "distinct" else c.datasette
                load.run_python("127.0.0.1", port[target], paths, 5, 2, c.headers if target in ("api", "baseline") else {},
                                max_requests=150 if target != "datasette" else 40)

        print(f"warm-up done ({time.monotonic() - t_begin:.0f} s)", file=sys.stderr, flush=True)
        offsets = {}
        ds_resolved = 0
        for rnd in range(a.rounds):
            for c in cases:
                for target in targets:
                    if target == "datasette" and not c.datasette:
                        continue
                    if time.monotonic() - t_begin + a.seconds > a.budget:
                        problems.append(f"time budget of {a.budget:.0f} s reached: round {rnd + 1} {c.name} {target} "
                                        "and later runs were skipped")
                        raise StopIteration
                    start = offsets.get((c.name, target), 0)
                    headers = c.headers if target != "datasette" else {}
                    if target in ("ceiling", "floor"):
                        paths = [f"/{c.name}"]
                    elif target == "datasette" and c.name == "distinct":
                        prev = [r["requests"] for r in results["runs"] if r["case"] == "distinct" and r["target"] == "datasette"]
                        want = max(1500, 2 * max(prev, default=0))
                        ds_resolved += resolve_ds_cursors(c.datasette, start, start + want, ds.port)
                        paths = [x for x in c.datasette[start:start + want] if isinstance(x, str)]
                        start = 0
                    else:
                        paths = c.api if target in ("api", "baseline") else c.datasette
                    r = load.run(tool, "127.0.0.1", port[target], paths, a.seconds, a.connections, headers, start=start)
                    d = {"round": rnd + 1, "case": c.name, "target": target, **r.as_dict()}
                    results["runs"].append(d)
                    if c.name == "distinct":
                        offsets[(c.name, target)] = offsets.get((c.name, target), 0) + r.used
                        if target == "datasette" and r.used > len(paths):
                            problems.append(f"Datasette distinct round {rnd + 1}: {r.used} requests over {len(paths)} URLs "
                                            "(some repeated)")
                    bad = {k: v for k, v in r.statuses.items() if int(k) != c.expect}
                    print(f"  round {rnd + 1} {c.name:10} {target:9} {r.rps:9,.1f} req/s  p50 {r.p50_ms:7.2f} ms  "
                          f"p99 {r.p99_ms:7.2f} ms  {'' if not bad and not r.errors else f'unexpected {bad} {r.errors}'}",
                          file=sys.stderr, flush=True)
                    if target in ("api", "baseline") and (bad or r.errors):
                        problems.append(f"API {c.name} round {rnd + 1}: expected only {c.expect}, got {r.statuses}, "
                                        f"errors {r.errors}")
    except StopIteration:
        pass
    except KeyboardInterrupt:
        problems.append("interrupted")
        print("interrupted; stopping servers", file=sys.stderr)
    finally:
        for s in reversed(started):
            s.stop()

    snap.unlink(missing_ok=True)
    if mix is not None:
        used = offsets.get(("distinct", "api"), 0)
        if used > len(mix.api):
            problems.append(f"the distinct mix ran out: the API was sent {used:,} requests over {len(mix.api):,} URLs "
                            "(some repeated and may have hit its cache); raise n_urls in run.py")
        results["meta"]["distinct_urls"] = {"api": len(mix.api), "api_used": used,
                                            "datasette_used": offsets.get(("distinct", "datasette"), 0),
                                            "datasette_cursor_fetches": ds_resolved}
    for c in cases:
        entry = {"title": c.title, "size": c.size, "note": c.note, "api_url": c.api[0] if c.name != "distinct" else None,
                 "datasette_url": c.datasette[0] if c.datasette and c.name != "distinct" else None}
        for target in ("api", "baseline", "datasette", "floor", "ceiling"):
            runs = [r for r in results["runs"] if r["case"] == c.name and r["target"] == target]
            if runs:
                entry[target] = summarise(runs)
        # Ratios are paired by round (A and its ceiling or Datasette ran seconds apart), then the median is taken.
        def paired(other, of="api"):
            per_round = {r["round"]: r["rps"] for r in results["runs"] if r["case"] == c.name and r["target"] == other}
            ratios = [r["rps"] / per_round[r["round"]] for r in results["runs"]
                      if r["case"] == c.name and r["target"] == of and per_round.get(r["round"])]
            return round(statistics.median(ratios), 3) if ratios else None
        entry["ratios"] = {"api_floor": paired("floor"), "floor_ceiling": paired("ceiling", of="floor"),
                           "api_ceiling": paired("ceiling"), "api_datasette": paired("datasette")}
        if a.baseline:
            entry["ratios"]["api_baseline"] = paired("baseline")
            entry["ratios"]["baseline_ceiling"] = paired("ceiling", of="baseline")
        results["cases"][c.name] = entry
        goals = [("Flask floor", "api_floor", FLOOR_TARGETS[c.name])] if c.name in FLOOR_TARGETS else []
        if c.name in TARGETS:
            goals += [("ceiling", "api_ceiling", TARGETS[c.name][0]), ("Datasette", "api_datasette", TARGETS[c.name][1])]
        for against, key, target in goals:
            if target is not None and entry["ratios"][key] is not None:
                results["targets"].append({"case": c.name, "against": against, "target": target,
                                           "measured": entry["ratios"][key], "pass": entry["ratios"][key] >= target})
    results["problems"] = problems
    results["meta"]["wall_seconds"] = round(time.monotonic() - t_begin, 1)
    results["meta"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    table, targets = write_reports(a.out, results)
    print()
    print(table)
    print()
    print(targets)
    print(f"\nwrote {a.out / 'results.json'} and {a.out / 'results.md'} ({results['meta']['wall_seconds']} s)")
    api_errors = [p for p in problems if p.startswith("API")]
    for prob in problems:
        print(f"PROBLEM: {prob}", file=sys.stderr)
    if api_errors:
        print("FAILED: the API answered errors or unexpected statuses (see above)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
