"""Pages against the JSON of the same data: how long a record page and a filtered list take to render, next to the API.

    .venv/bin/python -m bench.pages [--seconds 3] [--rounds 3] [--connections 1] [--db var/socialwork.db]

Starts the API under gunicorn on 127.0.0.1 (one sync worker, gunicorn.conf.py, as bench/run.py does) with the
response store off (SOCIALWORK_RESPONSE_STORE_BYTES=0), so every request is rendered, never replayed. Drives each
pair (the page, then the JSON it shows) with bench/load.py, alternating round by round so drift hits both alike;
prints requests/s, p50 and mean latency per URL and the ratio page/JSON of the medians over the rounds, and
writes bench/out/pages.json. One connection by default: the latency is one request's time through the worker.
Exits 2 if anything answered other than 200. Stops the server it started, also on Ctrl-C.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

from bench import load
from harness import servers

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent

RECORD = "chengdu-zhonghe-fengchao-worker-station"  # three metrics, three quotes, a region chain of three
FILTER = f"region={quote('四川')}&year=2025"
PAIRS = {  # what -> (the page, the JSON of the same data)
    "record": (f"/initiatives/{RECORD}", f"/api/v1/initiatives/{RECORD}"),
    "filtered list": (f"/initiatives?{FILTER}", f"/api/v1/initiatives?{FILTER}"),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--db", type=Path, default=REPO / "var" / "socialwork.db")
    p.add_argument("--out", type=Path, default=BENCH / "out" / "pages.json")
    args = p.parse_args(argv)
    if not args.db.is_file():
        raise SystemExit(f"{args.db} is missing: make build")

    port = servers.free_port()
    log = args.out.parent / "pages-gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    server = servers.start_gunicorn(args.db, port, log, workers=1, env={"SOCIALWORK_RESPONSE_STORE_BYTES": "0"})
    runs: dict[str, list[dict]] = {url: [] for pair in PAIRS.values() for url in pair}
    bad = False
    try:
        server.wait_ready(timeout=30)
        for url in runs:  # warm each code path once
            load.run_python(servers.LOOPBACK, port, [url], 0.5, 1)
        for _ in range(args.rounds):
            for url in runs:
                r = load.run_python(servers.LOOPBACK, port, [url], args.seconds, args.connections)
                bad |= set(r.statuses) != {"200"} or bool(r.errors)
                runs[url].append(r.as_dict())
    finally:
        server.stop()

    def median(url, key):
        return statistics.median(r[key] for r in runs[url])

    results = {}
    print(f"{'':<14} {'URL':<58} {'req/s':>8} {'p50 ms':>8} {'mean ms':>8}")
    for what, (page, data) in PAIRS.items():
        for url in (page, data):
            print(f"{what:<14} {url:<58} {median(url, 'rps'):>8.1f} {median(url, 'p50_ms'):>8.3f} {median(url, 'mean_ms'):>8.3f}")
        results[what] = {"page": page, "json": data,
                         "page_p50_ms": median(page, "p50_ms"), "json_p50_ms": median(data, "p50_ms"),
                         "ratio_p50": round(median(page, "p50_ms") / median(data, "p50_ms"), 2),
                         "ratio_mean": round(median(page, "mean_ms") / median(data, "mean_ms"), 2)}
        print(f"{what:<14} page/JSON: {results[what]['ratio_p50']}x at the median, {results[what]['ratio_mean']}x on the mean")
    args.out.write_text(json.dumps({"settings": vars(args) | {"db": str(args.db), "out": str(args.out)},
                                    "results": results, "runs": runs}, indent=2, default=str) + "\n")
    if bad:
        print("an answer other than 200: see " + str(log), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
