"""Where a gunicorn worker's time goes under one case's load: py-spy samples, grouped by layer and by API function.

    .venv/bin/python -m bench.profile_worker [--case distinct|hot|record|csv|revalidate] [--seconds 10] [--db PATH]

Starts the API (one sync worker, as bench/run.py does), drives it with the case's URLs, records the
worker with py-spy (from .venv-bench, non-blocking sampling) and writes bench/out/profile-CASE.txt
(collapsed stacks, for flamegraph tools) and profile-CASE.md (the breakdown). Each sample is put in the
layer of its innermost recognised frame: SQL (a frame in api/query/ waiting on sqlite3), JSON
encoding, marshmallow, Werkzeug/Flask, gunicorn, the app's own Python, and so on.
"""
from __future__ import annotations

import argparse
import collections
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import cases as casemod
from bench import load, servers
from harness.servers import http_get

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

# (pattern on "function (file:line)", layer), tried on each frame from the innermost outwards.
LAYERS = [
    (r"\(.*api/query/\w+\.py:", "SQL: sqlite3 execute/fetch (api/query/)"),
    (r"\(.*json/(encoder|__init__)\.py:|\(.*flask/json/", "JSON encoding"),
    (r"\(.*/csv\.py:|writerow", "CSV writing"),
    (r"\(.*marshmallow/", "marshmallow (query arguments)"),
    (r"\(.*werkzeug/routing/", "Werkzeug routing"),
    (r"\(.*(werkzeug|flask)/", "Flask/Werkzeug request and response"),
    (r"\(.*gunicorn/", "gunicorn (accept, parse, write)"),
    (r"\(.*(hashlib|base64)", "hashing (ETag, cursors)"),
    (r"\(.*api/web/shapes\.py:", "app: rows -> dicts (web/shapes)"),
    (r"\(.*api/web/args\.py:", "app: argument checks (web/args)"),
    (r"\(.*api/web/cursors\.py:", "app: cursors and links (web/cursors)"),
    (r"\(.*api/web/resolve\.py:", "app: region resolution (web/resolve)"),
    (r"\(.*api/web/conditional\.py:", "app: ETag, 304 and response store (web/conditional)"),
    (r"\(.*api/web/(responses|headers|negotiation)\.py:", "app: responses, headers, formats (web/responses, headers, negotiation)"),
    (r"\(.*api/web/db\.py:", "app: snapshot (web/db)"),
    (r"\(.*api/", "app: other"),
    (r"\(.*(socket|selectors|ssl)\.py:", "sockets"),
]
_LAYERS = [(re.compile(p), name) for p, name in LAYERS]
_APIFN = re.compile(r"^(\w+) \(.*api/((?:\w+/)?\w+)\.py:\d+\)$")  # function, module under api/ (query/plans)


def classify(collapsed: Path) -> tuple[int, collections.Counter, collections.Counter, collections.Counter]:
    """(samples, per layer, per api.module.function on the stack (inclusive), per innermost two frames)"""
    layers: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        layer = "other (interpreter, stdlib)"
        for frame in reversed(frames):
            hit = next((name for rx, name in _LAYERS if rx.search(frame)), None)
            if hit:
                layer = hit
                break
        layers[layer] += n
        leaves[" < ".join(re.sub(r" \((?:.*/)?([^/]+:\d+)\)", r" (\1)", f) for f in reversed(frames[-2:]))] += n
        seen = set()
        for frame in frames:
            m = _APIFN.match(frame.strip())
            if m and (key := f"{m.group(2).replace('/', '.')}.{m.group(1)}") not in seen:
                seen.add(key)
                inclusive[key] += n
    return total, layers, inclusive, leaves


def report(case: str, total: int, layers, inclusive, leaves, rps: float) -> str:
    lines = [f"# Profile: {case} ({total:,} samples, {rps:,.0f} req/s while sampled)", "",
             "| layer (innermost recognised frame) | share |", "|---|---:|"]
    lines += [f"| {k} | {v / total:.1%} |" for k, v in layers.most_common()]
    lines += ["", "| API function (inclusive: on the stack) | share |", "|---|---:|"]
    lines += [f"| {k} | {v / total:.1%} |" for k, v in inclusive.most_common(25)]
    lines += ["", "| innermost frames (where the samples land) | share |", "|---|---:|"]
    lines += [f"| {k} | {v / total:.1%} |" for k, v in leaves.most_common(15)]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", default="distinct", choices=["hot", "distinct", "record", "csv", "revalidate"])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--db", type=Path, default=REPO / "var" / "socialwork.db")
    p.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--out", type=Path, default=BENCH / "out")
    a = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # so that finally: stops the servers
    db = a.db.resolve()
    servers.ensure_bench_venv()
    tool = load.pick_tool(a.load)
    fixed, _ = casemod.fixed_cases(db, db.stem)
    headers = {}
    if a.case == "distinct":
        mix = casemod.distinct_mix(db, db.stem, max(20_000, a.seconds * 6_000), sample=50, cursors=300)
        paths, warm = mix.api, mix.sample
    else:
        c = next(c for c in fixed if c.name == a.case)
        paths = warm = c.api
    a.out.mkdir(parents=True, exist_ok=True)
    raw = a.out / f"profile-{a.case}.txt"
    api = servers.gunicorn("api", "api.app:create_app()", servers.free_port(), {"SOCIALWORK_DB": str(db)},
                           a.out / "logs" / "profile-api.log")
    try:
        api.wait_ready("/api/v1")
        if a.case == "revalidate":
            _, h, _ = http_get(api.port, paths[0])
            headers = {"If-None-Match": h.get("etag")}
        load.run_python("127.0.0.1", api.port, warm, 5, 2, headers, max_requests=200)
        worker = api.worker_pids()[0]
        spy = subprocess.Popen([str(servers.BENCH_VENV / "bin" / "py-spy"), "record", "--pid", str(worker),
                                "--rate", str(a.rate), "--duration", str(a.seconds + 1), "--format", "raw",
                                "--nonblocking", "--output", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        result = load.run(tool, "127.0.0.1", api.port, paths, a.seconds, a.connections, headers)
        _, err = spy.communicate(timeout=a.seconds + 30)
        if spy.returncode:
            sys.exit(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")
    finally:
        api.stop()
    bad = {k: v for k, v in result.statuses.items() if k not in ("200", "304")}
    if bad:
        print(f"warning: unexpected statuses {bad}", file=sys.stderr)
    total, layers, inclusive, leaves = classify(raw)
    text = report(a.case, total, layers, inclusive, leaves, result.rps)
    (a.out / f"profile-{a.case}.md").write_text(text)
    print(text)
    print(f"wrote {raw} and {a.out / f'profile-{a.case}.md'}")


if __name__ == "__main__":
    main()
