"""Which kinds of query in the distinct mix are slow: time a sample in-process and group it by shape.

    .venv/bin/python bench/scale/shapes.py /tmp/socialwork-1m.db [--sample 300]

A shape is which parameters a URL has (region, year as one year or a range, kind, theme, scope, q as
a short (<3 characters) or trigram term, sort key, cursor), not their values. Each URL is timed once,
cold (response store emptied, as bench/scale/run.py does), so its cost is what the distinct case pays.
Writes bench/out/shapes.md.
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import statistics
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

SCALE = Path(__file__).resolve().parent
BENCH = SCALE.parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import cases as casemod  # noqa: E402

_spec = importlib.util.spec_from_file_location("scale_run", SCALE / "run.py")
scale_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale_run)


def shape(url: str) -> str:
    q = dict(parse_qsl(urlsplit(url).query))
    parts = []
    if "region" in q:
        parts.append("region")
    if "year" in q:
        parts.append("year" if ".." not in q["year"] else "year-range")
    parts += [k for k in ("kind", "theme", "scope") if k in q]
    if "q" in q:
        parts.append("q<3" if len(q["q"].split()[0]) < 3 else "q")
    parts.append("sort=" + q.get("sort", "id").split(",")[0])
    if "cursor" in q:
        parts.append("cursor")
    return " ".join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("db", type=Path)
    p.add_argument("--sample", type=int, default=300)
    p.add_argument("--out", type=Path, default=BENCH / "out")
    a = p.parse_args(argv)
    db = a.db.resolve()
    mix = casemod.distinct_mix(db, db.stem, a.sample, sample=0, cursors=max(1, a.sample // 12), cursor_seconds=20)
    ip = scale_run.InProcess(db)
    by: dict[str, list[float]] = collections.defaultdict(list)
    statuses = collections.Counter()
    for url in mix.api:
        resp, _, ms = ip.get(url)
        statuses[resp.status_code] += 1
        by[shape(url)].append(ms)
    total = sum(sum(v) for v in by.values())
    rows = sorted(by.items(), key=lambda kv: -sum(kv[1]))
    lines = [f"# Distinct-mix shapes on {db.name} ({len(mix.api)} URLs, statuses {dict(statuses)})", "",
             "| shape | URLs | mean ms | max ms | share of time |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {len(v)} | {statistics.mean(v):.1f} | {max(v):.1f} | {sum(v) / total:.1%} |" for k, v in rows[:30]]
    text = "\n".join(lines) + "\n"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "shapes.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
