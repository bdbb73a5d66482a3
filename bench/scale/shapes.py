"""Every kind of query in the distinct mix, timed in-process and grouped by shape, with the targets of issue 13.

    .venv/bin/python -m bench.scale.shapes /tmp/socialwork-1m.db [--sample 1500] [--repeat 3] [--out bench/out]

A shape is which parameters a URL has (region, several regions, year as one year or a range, kind, theme,
scope, q as a short (<3 characters) or trigram term, the first sort key, a cursor), not their values.
The URLs are the distinct mix of bench/run.py (cases.distinct_mix), plus URLs with two or three regions
(the mix has one region at most) and, for every sort of the mix, a page 10,000 pages deep against the
first page of the same query. Each URL is timed --repeat times, cold (on an app with its response store
off, as bench/scale/run.py does), so its cost is what a distinct request pays; a URL's cost is the
median of its timings (on a shared machine, the others' load is in single timings), and a shape's p50, p95
and max are over its URLs' costs; the p95 of every timing is reported beside it. The targets: p95 at most 10 ms for every shape without q (q is planned by the
search code), and a deep page at most 1.5x the first under every sort. Writes OUT/shapes.md and
OUT/shapes.json.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import random
import statistics
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bench import cases as casemod
from bench import servers
from bench.scale import run as scale_run

SCALE = Path(__file__).resolve().parent
BENCH = SCALE.parent

TARGET_P95_MS = 10.0
TARGET_DEEP = 1.5
DEPTH = 10_000  # pages of 20: the cursor after row 200,000


def shape(url: str) -> str:
    q = dict(parse_qsl(urlsplit(url).query))
    parts = []
    if "region" in q:
        parts.append("regions" if "," in q["region"] else "region")
    if "year" in q:
        parts.append("year" if ".." not in q["year"] else "year-range")
    parts += [k for k in ("kind", "theme", "scope") if k in q]
    if "q" in q:
        parts.append("q<3" if len(q["q"].split()[0]) < 3 else "q")
    parts.append("sort=" + q.get("sort", "id").split(",")[0])
    if "cursor" in q:
        parts.append("cursor")
    return " ".join(parts)


def pct(values, p):
    return scale_run.pct(values, p)


def timed(ip, url: str) -> tuple[int, float, float]:
    """One cold request in-process: (status, wall ms, this thread's CPU ms: the part other processes cannot inflate)."""
    import time
    t0, c0 = time.perf_counter(), time.thread_time()
    resp = ip.client.get(url)
    resp.get_data()
    return resp.status_code, (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000


def multi_region(cat: casemod.Catalog, count: int, seed: int = 13) -> list[str]:
    """URLs with two or three regions (codes), with the mix's other parameters."""
    rng = random.Random(seed)
    codes = sorted({code for _, code in cat.populated})
    out = []
    while len(out) < count:
        q = casemod._random_query(cat, rng)
        params = casemod._api_params(q)
        params.pop("q", None)
        params["region"] = ",".join(rng.sample(codes, rng.choice([2, 2, 3])))
        out.append(casemod.api_url(params))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db", type=Path)
    p.add_argument("--sample", type=int, default=1500, help="URLs of the distinct mix")
    p.add_argument("--multi", type=int, default=100, help="URLs with several regions")
    p.add_argument("--repeat", type=int, default=5, help="cold timings of each URL (its cost: their median)")
    p.add_argument("--deep-samples", type=int, default=20, help="timings of each first and deep page")
    p.add_argument("--no-deep", action="store_true", help="skip the deep pages (they take a minute or two at 1M)")
    p.add_argument("--q", choices=("once", "repeat", "skip"), default="once",
                   help="URLs with q (not a target here): timed once (default), --repeat times, or not at all")
    p.add_argument("--out", type=Path, default=BENCH / "out")
    a = p.parse_args(argv)
    db = a.db.resolve()
    mix = casemod.distinct_mix(db, db.stem, a.sample, sample=0, cursors=max(1, a.sample // 12), cursor_seconds=20)
    urls = list(mix.api) + multi_region(casemod.Catalog(db), a.multi)
    ip = scale_run.InProcess(db)
    for url in urls[:50]:
        ip.get(url)  # opens the file and warms SQLite's cache a little, as a running worker is
    by: dict[str, list[float]] = collections.defaultdict(list)      # each URL's median of its timings
    samples: dict[str, list[float]] = collections.defaultdict(list)  # every timing
    cpu_by: dict[str, list[float]] = collections.defaultdict(list)   # each URL's median CPU time
    urls_by: dict[str, int] = collections.Counter()
    statuses = collections.Counter()
    slowest: dict[str, tuple[float, str]] = {}
    for url in urls:
        s = shape(url)
        planned = "q" not in dict(parse_qsl(urlsplit(url).query))
        if not planned and a.q == "skip":
            continue
        urls_by[s] += 1
        times, cpu = [], []
        for _ in range(a.repeat if planned or a.q == "repeat" else 1):
            status, ms, cpu_ms = timed(ip, url)
            statuses[status] += 1
            times.append(ms)
            cpu.append(cpu_ms)
        samples[s] += times
        cost = statistics.median(times)
        by[s].append(cost)
        cpu_by[s].append(statistics.median(cpu))
        if cost > slowest.get(s, (0.0, ""))[0]:
            slowest[s] = (cost, url)
    total = sum(sum(v) for v in by.values())
    rows = []
    for s, v in sorted(by.items(), key=lambda kv: -pct(kv[1], 95)):
        planned = " q" not in f" {s}" and "q<3" not in s
        p95 = pct(v, 95)
        rows.append({"shape": s, "urls": urls_by[s], "samples": len(samples[s]), "p50_ms": round(statistics.median(v), 2),
                     "p95_ms": round(p95, 2), "max_ms": round(max(v), 2), "p95_all_ms": round(pct(samples[s], 95), 2),
                     "cpu_p95_ms": round(pct(cpu_by[s], 95), 2),
                     "share": sum(v) / total,
                     "target": planned, "pass": (p95 <= TARGET_P95_MS) if planned else None, "slowest": slowest[s][1]})
    deep = [] if a.no_deep else deep_pages(ip, a.deep_samples)
    all_ms = [ms for v in by.values() for ms in v]
    planned_ms = [ms for r in rows if r["target"] for ms in by[r["shape"]]]  # URLs' costs
    summary = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "db": str(db), "code": servers.code_state(),
        "command": " ".join(["-m", "bench.scale.shapes", *(sys.argv[1:] if argv is None else argv)]),
        "urls": len(urls), "statuses": dict(statuses), "repeat": a.repeat,
        "mean_ms": round(statistics.mean(all_ms), 2), "mean_ms_without_q": round(statistics.mean(planned_ms), 2),
        "shapes": len(rows), "shapes_without_q": sum(1 for r in rows if r["target"]),
        "failing": [r["shape"] for r in rows if r["pass"] is False],
        "failing_on_cpu": [r["shape"] for r in rows if r["target"] and r["cpu_p95_ms"] > TARGET_P95_MS],
        "cpu_mean_ms_without_q": round(statistics.mean(ms for r in rows if r["target"] for ms in cpu_by[r["shape"]]), 2),
        "deep_failing": [d["sort"] for d in deep if not d["pass"]],
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "shapes.json").write_text(json.dumps({"summary": summary, "shapes": rows, "deep": deep}, indent=2,
                                                  ensure_ascii=False) + "\n")
    lines = [f"# Distinct-mix shapes on {db.name}", "",
             f"- {summary['date']}, code {summary['code']['commit']}"
             f"{' + uncommitted changes in ' + ', '.join(summary['code']['api_uncommitted']) if summary['code']['api_uncommitted'] else ''}",
             f"- `.venv/bin/python {summary['command']}`",
             f"- {len(urls)} URLs ({a.sample} of the distinct mix, {a.multi} with several regions), each timed "
             f"{a.repeat} times cold; statuses {dict(statuses)}",
             f"- mean {summary['mean_ms']} ms a request; {summary['mean_ms_without_q']} ms without q "
             f"({summary['cpu_mean_ms_without_q']} ms of CPU)",
             f"- {summary['shapes_without_q'] - len(summary['failing'])} of {summary['shapes_without_q']} shapes without q "
             f"have a p95 of at most {TARGET_P95_MS:g} ms" + (f"; over it: {', '.join(summary['failing'])}" if summary["failing"] else "")
             + (f"; over it in CPU time: {', '.join(summary['failing_on_cpu'])}" if summary["failing_on_cpu"] else "; "
                "in CPU time, every one"),
             "- a URL's cost is the median of its timings; p50, p95 and max are over the URLs of a shape; then the p95 "
             "of all timings (the machine's noise included) and of the URLs' CPU time (this thread's, which other "
             "processes on the machine cannot inflate)",
             "", "| shape | URLs | p50 ms | p95 ms | max ms | share of time | p95 ≤ 10 ms | p95 of all timings | CPU p95 ms |",
             "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        verdict = "(q)" if r["pass"] is None else ("PASS" if r["pass"] else "**FAIL**")
        lines.append(f"| {r['shape']} | {r['urls']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['max_ms']:.2f} | "
                     f"{r['share']:.1%} | {verdict} | {r['p95_all_ms']:.2f} | {r['cpu_p95_ms']:.2f} |")
    if deep:
        lines += ["", f"Deep pages: the first page and page {DEPTH:,} (limit 20, reached by following links.next), "
                      f"{a.deep_samples} cold timings each", "",
                  "| sort | first page p50 ms | deep page p50 ms | ratio | ≤ 1.5x |", "|---|---:|---:|---:|---|"]
        lines += [f"| {d['sort']} | {d['first_p50_ms']:.2f} | {d['deep_p50_ms']:.2f} | {d['ratio']:.2f} | "
                  f"{'PASS' if d['pass'] else '**FAIL**'} |" for d in deep]
    text = "\n".join(lines) + "\n"
    (a.out / "shapes.md").write_text(text)
    print(text)


def deep_pages(ip, samples: int) -> list[dict]:
    """For every sort of the mix: page DEPTH of the whole list against its first page, as bench/scale/run.py measures it."""
    out = []
    for sort in casemod.SORTS:
        params = {} if sort == "id" else {"sort": sort}
        cursor, seconds = scale_run.follow(ip, params, DEPTH * 20)
        if cursor is None:
            print(f"  sort={sort}: fewer than {DEPTH * 20:,} rows, no deep page", file=sys.stderr)
            continue
        first = ip.timeit(scale_run.url(params), samples)
        deep = ip.timeit(scale_run.url({**params, "cursor": cursor}), samples)
        ratio = deep["p50_ms"] / first["p50_ms"]
        out.append({"sort": sort, "first_p50_ms": first["p50_ms"], "deep_p50_ms": deep["p50_ms"], "first_p95_ms": first["p95_ms"],
                    "deep_p95_ms": deep["p95_ms"], "ratio": round(ratio, 2), "pass": ratio <= TARGET_DEEP,
                    "follow_seconds": round(seconds, 1)})
        print(f"  sort={sort}: first {first['p50_ms']:.2f} ms, page {DEPTH:,} {deep['p50_ms']:.2f} ms ({ratio:.2f}x)",
              file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    main()
