"""Write a synthetic project root (data/ + seeds/) of N initiatives that the normal build command accepts.

    .venv/bin/python -m bench.scale.generate --count 1000000 --out /tmp/socialwork-1m [--format yaml|jsonl]

The gazetteer, vocabularies and the real article are copied from this repository; a few synthetic
seed texts are written next to it (listed in data/sources.yaml with their sha256) and every evidence
quote is a slice of one of them, so the build's offset check passes. Records spread over every
division of the gazetteer, years 2015-2025, every kind and theme, 0-3 metrics and 1-2 quotes each.
Everything is a pure function of (--count, --seed). Build it with `.venv/bin/python -m api.build --data OUT`
(bench/scale/profile_build.py times that); --format jsonl is the fast input.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SEED_SOURCES = 4
SENTENCES_PER_SEED = 6000

# (zh, en, slug) word lists: names, summaries and seed sentences are built from these, so full-text
# search meets realistic Chinese and English text with a skewed term distribution.
TOPICS = [
    ("新就业群体", "new-employment groups", "new-employment"), ("快递员", "couriers", "courier"),
    ("外卖骑手", "food-delivery riders", "rider"), ("网约车司机", "ride-hailing drivers", "driver"),
    ("货车司机", "truck drivers", "trucker"), ("社区居民", "community residents", "residents"),
    ("志愿服务", "volunteer service", "volunteer"), ("养老服务", "elderly care", "elderly-care"),
    ("托育服务", "childcare", "childcare"), ("基层治理", "grassroots governance", "grassroots"),
    ("党建引领", "governance led by Party building", "party-led"), ("行业协会", "industry associations", "association"),
    ("商会", "chambers of commerce", "chamber"), ("网格治理", "grid management", "grid"),
    ("物业服务", "property management", "property"), ("信访工作", "petition work", "petition"),
    ("接诉即办", "Swift Response to Public Complaints", "complaints"), ("邻里互助", "neighbourly mutual aid", "neighbours"),
    ("社会工作站", "social-work stations", "sw-station"), ("心理疏导", "counselling", "counselling"),
    ("法律援助", "legal aid", "legal-aid"), ("青少年成长", "youth development", "youth"),
    ("困境儿童关爱", "care for children in difficulty", "children"), ("残疾人服务", "services for disabled people", "disability"),
    ("退役军人服务", "veterans' services", "veterans"), ("流动人口服务", "services for migrants", "migrants"),
    ("老旧小区改造", "renovation of old compounds", "old-compounds"), ("乡村振兴", "rural revitalisation", "rural"),
    ("人民建议征集", "collection of people's suggestions", "suggestions"), ("平台算法治理", "platform algorithm governance", "algorithms"),
]
OBJECTS = [
    ("服务驿站", "service station", "station"), ("暖心之家", "warm home", "home"), ("议事厅", "deliberation hall", "hall"),
    ("工作室", "studio", "studio"), ("服务中心", "service centre", "centre"), ("志愿服务队", "volunteer team", "team"),
    ("专项行动", "campaign", "campaign"), ("试点", "pilot", "pilot"), ("培训班", "training course", "course"),
    ("关爱基金", "care fund", "fund"), ("服务平台", "service platform", "platform"), ("热线", "hotline", "hotline"),
    ("学院", "academy", "academy"), ("联盟", "alliance", "alliance"), ("示范点", "demonstration site", "site"),
]
VERBS = [
    ("建成", "built"), ("设立", "set up"), ("启动", "launched"), ("推广", "expanded"), ("升级", "upgraded"),
    ("完善", "improved"), ("开展", "ran"), ("组建", "formed"),
]
AIMS = [
    ("解决急难愁盼问题", "solve urgent everyday problems"), ("提供就近休息和饮水服务", "offer a nearby place to rest and drink water"),
    ("畅通诉求表达渠道", "open channels for raising concerns"), ("提升专业服务能力", "raise professional service skills"),
    ("推动共建共治共享", "build, govern and share together"), ("增强归属感和认同感", "strengthen belonging and identity"),
    ("规范收费行为", "regulate fees"), ("做实做细基层服务", "make grassroots services concrete and thorough"),
    ("促进政企对接和产业协作", "connect government and firms and foster industry cooperation"),
    ("把服务送到群众身边", "bring services to people's doorsteps"),
]
ORGS = [
    ("社区党委", "community Party committee"), ("街道办事处", "sub-district office"), ("社会工作部", "social work department"),
    ("志愿者联合会", "volunteer federation"), ("快递行业协会", "express delivery association"), ("总工会", "federation of trade unions"),
    ("民政局", "civil affairs bureau"), ("团委", "Communist Youth League committee"),
]
UNITS = [("个", "stations"), ("人次", "person-visits"), ("件", "requests"), ("名", "people"), ("元", "yuan"),
         ("场", "events"), ("户", "households"), ("%", "percent")]
COUNTS = {"个": ("建成的服务阵地", "service sites built"), "人次": ("服务人次", "person-visits served"),
          "件": ("受理的诉求", "requests received"), "名": ("参与人数", "people taking part"),
          "元": ("投入资金", "funds committed"), "场": ("开展的活动", "events held"),
          "户": ("惠及家庭", "households reached"), "%": ("覆盖率", "coverage rate")}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _figure(rng: random.Random) -> tuple[str, float | int, str, str, str]:
    """One figure as the article would write it: (figure_text, value, qualifier, unit_zh, unit_en)."""
    unit_zh, unit_en = rng.choice(UNITS)
    if unit_zh == "%":
        value = rng.randint(100, 999) / 10
        return f"{value}%", value, "exact", unit_zh, unit_en
    more = rng.choice(["", "", "余", "多"])
    mult = rng.choice(["", "万", "万", "亿"] if unit_zh == "元" else ["", "万"])
    if mult:
        tenths = rng.randint(11, 9999)
        num = f"{tenths // 10}.{tenths % 10}" if tenths % 10 else str(tenths // 10)
        value = tenths * {"万": 1000, "亿": 10_000_000}[mult]
    else:
        value = rng.randint(2, 9999)
        num = str(value)
    return f"{num}{mult}{more}{unit_zh}", value, "more than" if more else "exact", unit_zh, unit_en


def make_seed(k: int, seed: int, places: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int, list, str, str]]]:
    """A synthetic seed text and its sentences as (start, end, figures, region code, region name, organisation)
    in code points.

    Each sentence names one division of the gazetteer (places: (code, name_zh)) and one of its organisations;
    a record quoting it is coded there and may name that organisation, as the build requires (a record's
    regions and organisations are named in its quotes)."""
    rng = random.Random(f"seed-{seed}-{k}")
    parts, spans, pos = [f"合成资料第{k + 1}号(用于规模测试,内容为随机生成)\n"], [], 0
    pos = len(parts[0])
    for _ in range(SENTENCES_PER_SEED):
        (code, place), topic, obj, verb, aim, org = (rng.choice(places), rng.choice(TOPICS), rng.choice(OBJECTS),
                                                      rng.choice(VERBS), rng.choice(AIMS), rng.choice(ORGS))
        year = rng.randint(2015, 2025)
        figs = [_figure(rng) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        text = f"{year}年,{place}{org[0]}围绕{topic[0]}{verb[0]}{obj[0]},{aim[0]}"
        for j, (ft, *_rest) in enumerate(figs):
            text += ("," if j else ",累计") + rng.choice(["覆盖", "服务", "达到", "投入", "受理"]) + ft
        text += "。"
        spans.append((pos, pos + len(text), figs, code, place, org))
        parts.append(text)
        pos += len(text)
        if rng.random() < 0.08:
            parts.append("\n")
            pos += 1
    return "".join(parts), spans


class Context:
    """What every record draws from: the gazetteer, vocabularies and the synthetic seeds."""

    def __init__(self, seed: int):
        self.seed = seed
        with (REPO / "data" / "regions.csv").open(encoding="utf-8", newline="") as fh:
            self.regions = list(csv.DictReader(fh))
        self.kinds = re.findall(r"^- id: (\S+)", (REPO / "data" / "kinds.yaml").read_text(encoding="utf-8"), re.M)
        self.themes = re.findall(r"^- id: (\S+)", (REPO / "data" / "themes.yaml").read_text(encoding="utf-8"), re.M)
        places = [(r["code"], r["name_zh"]) for r in self.regions]
        self.region = {r["code"]: r for r in self.regions}
        kinds = yaml.safe_load((REPO / "data" / "kinds.yaml").read_text(encoding="utf-8"))
        self.kind_terms = {k["id"]: k.get("evidence_terms", []) for k in kinds}
        self.seeds = []
        for k in range(SEED_SOURCES):
            text, spans = make_seed(k, seed, places)
            self.seeds.append((f"synthetic-scale-{k + 1:02d}", text, spans))
        # Sentences by how many figures they hold, so a record with m metrics can quote one holding >= m.
        self.by_figures = {m: [(s, i) for s in range(SEED_SOURCES) for i, sp in enumerate(self.seeds[s][2]) if len(sp[2]) >= m]
                           for m in range(4)}


def record(ctx: Context, i: int) -> dict:
    """Record number i, exactly as marshmallow's InitiativeSchema.load returns it (optional keys only when set)."""
    rng = random.Random(ctx.seed * 10_000_019 + i)
    topic, obj, verb, aim = rng.choice(TOPICS), rng.choice(OBJECTS), rng.choice(VERBS), rng.choice(AIMS)
    national = rng.random() < 0.08
    two_regions = rng.choice([1, 1, 1, 2]) == 2
    n_metrics = rng.choice([0, 0, 1, 1, 2, 3])
    s, j = rng.choice(ctx.by_figures[n_metrics])
    source_id, text, spans = ctx.seeds[s]
    start, end, figs, code, _, org = spans[j]
    evidence = [{"source": source_id, "quote": text[start:end], "start": start, "end": end}]
    codes = [code]
    year = int(text[start:start + 4])  # the year its sentence opens with: a stated year is one a quote gives
    if rng.random() < 0.5:
        s2, j2 = rng.choice(ctx.by_figures[0])
        src2, text2, spans2 = ctx.seeds[s2]
        a, b, _, code2, place2, _ = spans2[j2]
        a = a + rng.randint(0, max(0, (b - a) // 3))  # a slice, not always a whole sentence
        evidence.append({"source": src2, "quote": text2[a:b], "start": a, "end": b})
        if two_regions and place2 in text2[a:b] and code2 != code:
            codes.append(code2)
    regions = [] if national else [ctx.region[c] for c in codes]
    place_zh = "全国" if national else regions[0]["name_zh"]   # in names; a record's place only when local
    place_en = "China" if national else regions[0]["name_en"]
    quoted = "\n".join(e["quote"] for e in evidence)
    # A kind the quotes name (campaign: 行动, fund: 基金, ...) or one that needs no word (policy, party-building).
    kinds = [k for k in ctx.kinds if not ctx.kind_terms.get(k) or any(t in quoted for t in ctx.kind_terms[k])]
    metrics = []
    for ft, value, qualifier, unit_zh, unit_en in figs[:n_metrics]:
        counts_zh, counts_en = COUNTS[unit_zh]
        metrics.append({"value": value, "unit": unit_en, "unit_zh": unit_zh, "qualifier": qualifier, "measure": "stock", "year": year,
                        "year_basis": "stated", "counts_zh": f"{topic[0]}{counts_zh}", "counts_en": f"{counts_en} ({topic[1]})",
                        "figure_text": ft})
    # The organisation its first quote names, for half of the local records (a national one's quote names a place).
    orgs = [{"name_zh": f"{place_zh}{org[0]}", "name_en": f"{place_en} {org[1]}"}] if not national and rng.random() < 0.5 else []
    rid = f"{slugify(place_en)[:40].strip('-')}-{topic[2]}-{obj[2]}-{i:07d}"
    rec = {
        "id": rid,
        "name_zh": f"{place_zh}{topic[0]}{obj[0]}",
        "name_en": f"{place_en} {obj[1]} for {topic[1]}",
        "kind": kinds[i % len(kinds)] if rng.random() < 0.5 else rng.choice(kinds),
        "theme": rng.choice(ctx.themes),
        "scope": "national" if national else "local",
        "regions": [r["code"] for r in regions],
    }
    if not national and rng.random() < 0.3:
        rec["place_zh"], rec["place_en"] = place_zh, place_en
    basis = "reported" if year == 2025 and rng.random() < 0.5 else "stated"
    rec["year"], rec["year_basis"] = year, basis
    if basis == "stated" and rng.random() < 0.2:
        rec["date"] = f"{year}-{rng.randint(1, 12):02d}"
    aim2 = rng.choice(AIMS)
    # Written from the quotes, as the build requires of every summary: the first quote after its year.
    rec["summary_zh"] = evidence[0]["quote"].split("年,", 1)[-1]
    rec["summary_en"] = (f"{place_en} {verb[1]} a {obj[1]} for {topic[1]} to {aim[1]}. "
                         f"Led by the {rng.choice(ORGS)[1]}, it aims to {aim2[1]} and kept working on "
                         f"{rng.choice(TOPICS)[1]} in {year}.")
    # One English for each Chinese term (data/glossary.yaml): the topics the Chinese summary names, in their English.
    named = [t[1] for t in TOPICS if t[0] in rec["summary_zh"]]
    if named:
        rec["summary_en"] += f" Its sentence of the source concerns {', '.join(named)}."
    rec["organisations"] = orgs
    rec["metrics"] = metrics
    rec["evidence"] = evidence
    return rec


def _q(value) -> str:
    # A JSON string is a valid YAML double-quoted scalar; ints and floats print the same in both.
    return json.dumps(value, ensure_ascii=False)


def to_yaml(rec: dict) -> str:
    out = [f"id: {rec['id']}"]
    for k in ("name_zh", "name_en", "kind", "theme", "scope"):
        out.append(f"{k}: {_q(rec[k])}")
    out.append("regions:" + ("" if rec["regions"] else " []"))
    out.extend(f"- '{c}'" for c in rec["regions"])
    for k in ("place_zh", "place_en", "year", "year_basis", "date", "summary_zh", "summary_en"):
        if k in rec:
            out.append(f"{k}: {_q(rec[k])}")
    out.append("organisations:" + ("" if rec["organisations"] else " []"))
    for o in rec["organisations"]:
        out.append(f"- name_zh: {_q(o['name_zh'])}\n  name_en: {_q(o['name_en'])}")
    out.append("metrics:" + ("" if rec["metrics"] else " []"))
    for m in rec["metrics"]:
        out.append("- " + "\n  ".join(f"{k}: {_q(v)}" for k, v in m.items()))
    out.append("evidence:")
    for e in rec["evidence"]:
        out.append("- " + "\n  ".join(f"{k}: {_q(v)}" for k, v in e.items()))
    return "\n".join(out) + "\n"


_CTX: Context | None = None


def _init(seed):
    global _CTX
    _CTX = Context(seed)


def _write_chunk(args):
    folder, lo, hi, fmt = args
    if fmt == "jsonl":
        # One bulk file per chunk, one record per line (the build's JSON Lines input).
        with open(os.path.join(folder, f"synthetic-{lo:07d}.jsonl"), "w", encoding="utf-8") as fh:
            for i in range(lo, hi):
                fh.write(json.dumps(record(_CTX, i), ensure_ascii=False, sort_keys=True) + "\n")
        return hi - lo
    for i in range(lo, hi):
        rec = record(_CTX, i)
        with open(os.path.join(folder, rec["id"] + ".yaml"), "w", encoding="utf-8") as fh:
            fh.write(to_yaml(rec))
    return hi - lo


def sources_yaml(ctx: Context) -> str:
    out = [(REPO / "data" / "sources.yaml").read_text(encoding="utf-8").rstrip("\n")]
    for sid, text, _ in ctx.seeds:
        out.append(f"""- id: {sid}
  file: seeds/{sid}.txt
  sha256: {hashlib.sha256(text.encode()).hexdigest()}
  title_zh: 合成规模测试资料{sid[-2:]}
  title_en: "Synthetic scale-test text {sid[-2:]}"
  publisher_zh: 规模测试生成器
  publisher_en: Scale-test generator
  dateline_zh: 无
  dateline_en: none
  published: "2026-01-25"
  language: zh
  licence: "Synthetic text generated by bench/scale/generate.py; no rights reserved."
  reported_year: 2025""")
    return "\n".join(out) + "\n"


def write_root(out: Path, count: int, seed: int, jobs: int, fmt: str = "yaml") -> dict:
    if out.exists():
        shutil.rmtree(out)
    (out / "data" / "initiatives").mkdir(parents=True)
    (out / "seeds").mkdir()
    # Everything in data/ but the records and sources.yaml (gazetteer, vocabularies, datapackage.json, ...).
    for path in (REPO / "data").iterdir():
        if path.is_file() and path.name != "sources.yaml":
            shutil.copy2(path, out / "data" / path.name)
    for path in (REPO / "seeds").glob("*.txt"):
        shutil.copy2(path, out / "seeds" / path.name)
    ctx = Context(seed)
    for sid, text, _ in ctx.seeds:
        (out / "seeds" / f"{sid}.txt").write_bytes(text.encode("utf-8"))
    (out / "data" / "sources.yaml").write_text(sources_yaml(ctx), encoding="utf-8")
    # A dataset of its own: a first release, with no previous one to compare with.
    version = json.loads((REPO / "data" / "datapackage.json").read_text(encoding="utf-8"))["version"]
    (out / "data" / "release.yaml").write_text(f'version: {version}\npublished: "2026-01-25"\nprevious: null\n', encoding="utf-8")
    (out / "scale.json").write_text(json.dumps({"count": count, "seed": seed, "format": fmt}) + "\n")
    folder = str(out / "data" / "initiatives")
    step = 5000 if fmt == "yaml" else 50_000
    chunks = [(folder, lo, min(count, lo + step), fmt) for lo in range(0, count, step)]
    done = 0
    t0 = time.monotonic()
    with Pool(jobs, initializer=_init, initargs=(seed,)) as pool:
        for n in pool.imap_unordered(_write_chunk, chunks):
            done += n
            if done % 100_000 < step:
                print(f"  {done:,} records, {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return {"count": count, "seconds": round(time.monotonic() - t0, 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--out", type=Path, default=Path("/tmp/socialwork-1m"))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--format", choices=["yaml", "jsonl"], default="yaml",
                   help="yaml: one file per record, like data/initiatives/; jsonl: bulk files of 50,000 records, one per line")
    a = p.parse_args(argv)
    report = write_root(a.out, a.count, a.seed, a.jobs, a.format)
    print(json.dumps({"root": str(a.out), **report}))


if __name__ == "__main__":
    main()
