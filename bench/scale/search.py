"""Search at scale: q terms of 1, 2, 3, 4 and more Chinese characters (and English), timed in-process, cold.

    .venv/bin/python -m bench.scale.search /tmp/socialwork-1m.db [--samples 40] [--check 4]

Each URL is timed as bench/scale/run.py times it (create_app on the file, the response store off, p50/p95
of --samples requests after one to warm SQLite's pages). --check N also compares, for the first N cases
with only q, every id the API returns (following links.next) with a brute-force scan of the searched texts
in Python, so a fast answer is also shown to be the exact one. --datasette also asks Datasette (in-process,
`--immutable` as a user serves the download) for `_search` of the words a reader types, and reports how
many rows it finds and how long that takes. Uses nothing of api/ but api.app.create_app and the HTTP
contract, so bench/ copied into an older checkout (from 4c38056 on, where create_app moved to api.app)
measures that code too (the "before" column). Writes bench/out/search-results.{json,md}.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import quote

from bench import servers
from bench.scale import run as scale_run

SCALE = Path(__file__).resolve().parent
BENCH = SCALE.parent

SEARCHED = ("name_zh", "name_en", "summary_zh", "summary_en", "people_text")
# (label, params): the shapes first (1 and 2 characters), then longer terms and combinations.
CASES = [
    ("1 character, common: 站", {"q": "站"}),
    ("1 character: 驿", {"q": "驿"}),
    ("2 characters: 驿站", {"q": "驿站"}),
    ("2 characters: 快递", {"q": "快递"}),
    ("2 characters, rare: 锦江", {"q": "锦江"}),
    ("2 characters, in no record: 驿快", {"q": "驿快"}),
    ("3 characters: 快递员", {"q": "快递员"}),
    ("4 characters: 志愿服务", {"q": "志愿服务"}),
    ("5 characters (trigram): 新就业群体", {"q": "新就业群体"}),
    ("English (trigram): volunteer", {"q": "volunteer"}),
    ("2 characters and a region: 驿站, 成都市", {"q": "驿站", "region": "成都市"}),
    ("two terms: 快递 驿站", {"q": "快递 驿站"}),
    ("2 characters, a page 50 deep: 驿站", {"q": "驿站"}),   # the cursor is reached by following links.next
]


READER_WORDS = ["驿站", "快递", "志愿服务", "站"]


def datasette_search(db: Path, samples: int) -> list[dict]:
    """Datasette's _search for each reader word: the time of its table JSON (first 20 rows), and how many records
    its search matches, counted with the SQL it runs (its own count gives up after its 1 s limit on a big file)."""
    import sqlite_utils
    from datasette.app import Datasette
    from datasette.utils import escape_fts

    ds = Datasette(files=[], immutables=[str(db)], settings={"suggest_facets": False})
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    fts = sqlite_utils.Database(conn)["initiatives"].detect_fts()
    count = f'SELECT count(*) FROM initiatives WHERE rowid IN (SELECT rowid FROM "{fts}" WHERE "{fts}" MATCH ?)'

    async def one(word):
        path = f"/{db.stem}/initiatives.json?_search={quote(word)}&_col=id&_size=20"
        first = await ds.client.get(path)
        times = []
        for _ in range(samples):
            t0 = time.perf_counter()
            await ds.client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
        return {"word": word, "status": first.status_code, "fts_table": fts, "page_rows": len(first.json()["rows"]),
                "rows": conn.execute(count, (escape_fts(word),)).fetchone()[0],
                "p50_ms": round(sorted(times)[len(times) // 2], 1), "p95_ms": round(scale_run.pct(times, 95), 1)}

    async def run():
        return [await one(w) for w in READER_WORDS]
    return asyncio.run(run())


def brute(db: Path, terms: list[str]) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    folded = [t.casefold() for t in terms]
    out = []
    for row in conn.execute(f"SELECT id, {', '.join(SEARCHED)} FROM initiatives ORDER BY n"):
        texts = [(x or "").casefold() for x in row[1:]]
        if all(any(t in x for x in texts) for t in folded):
            out.append(row[0])
    conn.close()
    return out


def every_id(ip, params: dict) -> list[str]:
    path, ids = scale_run.url({**params, "limit": "200"}), []
    while path:
        for _ in range(3):   # a page that ran out of time (503, a machine busy with other work) is asked again
            resp, body, _ = ip.get(path, cold=False)
            if resp.status_code == 200:
                break
        else:
            raise RuntimeError(f"{path} answered {resp.status_code} three times: {body[:200]!r}")
        body = json.loads(body)
        ids += [r["id"] for r in body["data"]]
        path = body["links"]["next"]
    return ids


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db", type=Path)
    p.add_argument("--samples", type=int, default=40)
    p.add_argument("--check", type=int, default=0, help="compare every id with a brute-force scan for the first N q-only cases")
    p.add_argument("--datasette", action="store_true", help="also time Datasette's _search on the file")
    p.add_argument("--out", type=Path, default=BENCH / "out")
    a = p.parse_args(argv)
    db = a.db.resolve()
    ip = scale_run.InProcess(db)
    rows = []
    for label, params in CASES:
        if "deep" in label:
            cursor, _ = scale_run.follow(ip, params, 50 * 20)
            if cursor is None:
                continue   # fewer than 1,000 matches: no page that deep
            params = {**params, "cursor": cursor}
        r = ip.timeit(scale_run.url(params), a.samples)
        r["label"] = label
        rows.append(r)
        print(f"  {label:44} p50 {r['p50_ms']:8.2f} ms  p95 {r['p95_ms']:8.2f} ms  total {r['total']} exact={r['total_exact']}",
              file=sys.stderr, flush=True)
    checks = []
    for label, params in [(label, params) for label, params in CASES if set(params) == {"q"}][:a.check]:
        t0 = time.perf_counter()
        api, want = every_id(ip, params), brute(db, params["q"].split())
        checks.append({"label": label, "api": len(api), "scan": len(want), "same": api == want,
                       "seconds": round(time.perf_counter() - t0, 1)})
        print(f"  check {label:38} API {len(api):,} ids, scan {len(want):,}: {'same' if api == want else 'DIFFERENT'}",
              file=sys.stderr, flush=True)
    found = datasette_search(db, max(3, a.samples // 8)) if a.datasette else []
    for d in found:
        print(f"  Datasette _search={d['word']}: {d['rows']} rows, p50 {d['p50_ms']} ms", file=sys.stderr, flush=True)
    code = servers.code_state()
    results = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "db": str(db),
               "db_bytes": db.stat().st_size, "code": code, "samples": a.samples, "cases": rows, "checks": checks,
               "datasette": found, "command": " ".join(["-m", "bench.scale.search", *sys.argv[1:]])}
    lines = [f"# Search on {db.name} ({db.stat().st_size / 1e9:.2f} GB), commit {code['commit']}", "",
             f"`.venv/bin/python {results['command']}`, {results['date']}; {a.samples} cold samples each", "",
             "| request (in-process, cold) | p50 ms | p95 ms | meta.total | total_exact |", "|---|---:|---:|---:|---|"]
    lines += [f"| {r['label']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['total']} | {r['total_exact']} |" for r in rows]
    if checks:
        lines += ["", "| exact? (every id against a scan) | API ids | scan ids | same |", "|---|---:|---:|---|"]
        lines += [f"| {c['label']} | {c['api']:,} | {c['scan']:,} | {c['same']} |" for c in checks]
    if found:
        lines += ["", f"| Datasette `_search` ({found[0]['fts_table']}; table JSON, first 20 rows) | records it matches | "
                      "p50 ms | p95 ms |", "|---|---:|---:|---:|"]
        lines += [f"| {d['word']} | {d['rows']:,} | {d['p50_ms']} | {d['p95_ms']} |" for d in found]
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "search-results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (a.out / "search-results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if any(not c["same"] for c in checks):
        sys.exit(1)


if __name__ == "__main__":
    main()
