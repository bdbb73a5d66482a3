"""Turn data/ into one SQLite database: validate everything first, write a temporary file, rename it into place."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import tempfile
from collections import Counter
from pathlib import Path

import sqlite_utils

from .names import lookup_keys
from .validate import Dataset, load_dataset

SCHEMA_VERSION = 2  # bump when the table layout changes, so the dataset version changes with it

def dataset_version(ds: Dataset) -> str:
    """A content hash of everything the database is made from: the input files and the table layout."""
    return hashlib.sha256(f"{SCHEMA_VERSION}:{ds.digest}".encode()).hexdigest()[:16]


def _chain(code: str, parent: dict[str, str]) -> list[str]:
    out = [code]
    while parent.get(out[-1]):
        out.append(parent[out[-1]])
    return out


def dataset_counts(ds: Dataset, initiatives: list[dict]) -> dict[str, int]:
    return {
        "initiatives": len(initiatives),
        "metrics": sum(len(r["metrics"]) for r in initiatives),
        "quotes": sum(len(r["evidence"]) for r in initiatives),
        "regions_with_initiatives": len({c for r in initiatives for c in r["regions"]}),
        "regions": len(ds.regions),
        "sources": len(ds.sources),
    }


def write_database(ds: Dataset, path: Path, version: str) -> dict:
    """Write ds into a new SQLite file at path. Returns the counts."""
    db = sqlite_utils.Database(sqlite3.connect(path))
    # A private file until it is renamed into place: no journal, no fsync, a large page cache.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -524288", "temp_store = MEMORY",
                   "locking_mode = EXCLUSIVE"):
        db.conn.execute(f"PRAGMA {pragma}")
    parent = {r["code"]: r["parent_code"] for r in ds.regions}
    chain = {code: _chain(code, parent) for code in parent}  # each region up to its province, computed once
    initiatives = sorted(ds.initiatives, key=lambda r: r["id"])
    number = {r["id"]: n for n, r in enumerate(initiatives, start=1)}

    area: dict[str, set[int]] = {}
    for r in initiatives:
        for code in r["regions"]:
            for anc in chain[code]:
                area.setdefault(anc, set()).add(number[r["id"]])

    db["meta"].insert_all([
        {"key": "version", "value": version},
        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
        {"key": "built_from", "value": "data/"},
        {"key": "regions_as_of", "value": max(str(r["as_of"]) for r in ds.regions)},
        # Served at /downloads/datapackage.json: part of the dataset version like everything else.
        {"key": "datapackage", "value": ds.datapackage},
    ], pk="key")
    # Counts are facts of the build: computed once here, never by a request scanning the tables.
    per = {key: Counter(f(r) for r in initiatives) for key, f in
           (("source", lambda r: r["evidence"][0]["source"]), ("kind", lambda r: r["kind"]), ("theme", lambda r: r["theme"]))}
    db["sources"].insert_all(({**s, "published": str(s["published"]), "initiative_count": per["source"][s["id"]]}
                              for s in ds.sources), pk="id")
    db["kinds"].insert_all(({**k, "ord": i, "initiative_count": per["kind"][k["id"]]} for i, k in enumerate(ds.kinds)), pk="id")
    db["themes"].insert_all(({**t, "initiative_count": per["theme"][t["id"]]} for t in ds.themes), pk="id")

    db["regions"].create({
        "code": str, "name_zh": str, "name_en": str, "level": str, "parent_code": str, "province_code": str,
        "depth": int, "lat": float, "lng": float, "coord_source": str, "as_of": str, "initiative_count": int,
    }, pk="code")
    db["regions"].insert_all({
        "code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"], "level": r["level"],
        "parent_code": r["parent_code"] or None, "province_code": chain[r["code"]][-1],
        "depth": len(chain[r["code"]]) - 1,
        "lat": r["lat"], "lng": r["lng"],  # numbers or None: parsed and bounded by RegionRowSchema
        "coord_source": r["coord_source"] or None, "as_of": str(r["as_of"]),
        "initiative_count": len(area.get(r["code"], ())),
    } for r in ds.regions)
    db["regions"].create_index(["parent_code", "code"])
    db["regions"].create_index(["level", "code"])
    db["region_aliases"].insert_all(({**a} for a in ds.aliases), pk="code")
    db["region_names"].create({"key": str, "code": str, "exact": int}, pk=("key", "code"))
    db["region_names"].insert_all({"key": k, "code": r["code"], "exact": int(exact)}
                                  for r in ds.regions for k, exact in lookup_keys(r).items())

    db["initiatives"].create({
        "n": int, "id": str, "source_id": str, "name_zh": str, "name_en": str, "kind": str, "theme": str,
        "scope": str, "year": int, "year_key": int, "year_basis": str, "date": str, "date_note_zh": str, "date_note_en": str,
        "place_zh": str, "place_en": str, "summary_zh": str, "summary_en": str, "organisations": str,
        "region_codes": str, "metric_count": int,
    }, pk="n")
    db["initiatives"].insert_all({
        "n": number[r["id"]], "id": r["id"], "source_id": r["evidence"][0]["source"],
        "name_zh": r["name_zh"], "name_en": r["name_en"], "kind": r["kind"], "theme": r["theme"],
        "scope": r["scope"], "year": r["year"], "year_key": r["year"] or 0, "year_basis": r["year_basis"], "date": r.get("date"),
        "date_note_zh": r.get("date_note_zh"), "date_note_en": r.get("date_note_en"),
        "place_zh": r.get("place_zh"), "place_en": r.get("place_en"),
        "summary_zh": r["summary_zh"], "summary_en": r["summary_en"],
        "organisations": json.dumps(r["organisations"], ensure_ascii=False),
        "region_codes": ",".join(r["regions"]), "metric_count": len(r["metrics"]),
    } for r in initiatives)
    db["initiatives"].create_index(["id"], unique=True)
    # year_key is year with 0 for "unknown": sortable and indexable without NULL handling.
    for col in ("year_key", "kind", "theme", "scope", "name_en", "name_zh"):
        db["initiatives"].create_index([col, "n"])
    db["initiatives"].enable_fts(["name_zh", "name_en", "summary_zh", "summary_en"], tokenize="trigram")

    db["initiative_regions"].create({"initiative_n": int, "ord": int, "region_code": str},
                                    pk=("initiative_n", "ord"))
    db["initiative_regions"].insert_all({"initiative_n": number[r["id"]], "ord": i, "region_code": c}
                                        for r in initiatives for i, c in enumerate(r["regions"]))
    # One row per (region or any region above it, initiative), with the initiative's year_key:
    # "everything inside 四川 in 2025, in id order" is one index range read in order.
    year_key = {number[r["id"]]: r["year"] or 0 for r in initiatives}
    db["initiative_area"].create({"ancestor_code": str, "year_key": int, "initiative_n": int},
                                 pk=("ancestor_code", "year_key", "initiative_n"))
    db["initiative_area"].insert_all({"ancestor_code": code, "year_key": year_key[n], "initiative_n": n}
                                     for code, ns in sorted(area.items()) for n in sorted(ns))
    db["initiative_area"].create_index(["ancestor_code", "initiative_n"])
    db["initiative_area"].create_index(["initiative_n"])

    db["metrics"].create({
        "n": int, "initiative_n": int, "ord": int, "value": float, "unit": str, "unit_zh": str, "qualifier": str,
        "year": int, "year_basis": str, "counts_zh": str, "counts_en": str, "figure_text": str,
    }, pk="n")
    db["metrics"].insert_all(({"initiative_n": number[r["id"]], "ord": i, **m}
                              for r in initiatives for i, m in enumerate(r["metrics"])))
    db["metrics"].create_index(["initiative_n", "ord"])
    db["metrics"].create_index(["year", "n"])

    db["evidence"].create({"n": int, "initiative_n": int, "ord": int, "source_id": str, "quote": str,
                           "start": int, "end": int}, pk="n")
    db["evidence"].insert_all({"initiative_n": number[r["id"]], "ord": i, "source_id": e["source"],
                               "quote": e["quote"], "start": e["start"], "end": e["end"]}
                              for r in initiatives for i, e in enumerate(r["evidence"]))
    db["evidence"].create_index(["initiative_n", "ord"])
    db.conn.execute("PRAGMA analysis_limit = 1000")  # sampled statistics: enough for the planner, fast at 1M rows
    db.conn.execute("ANALYZE")
    db.conn.commit()
    counts = dataset_counts(ds, initiatives)
    db["meta"].insert({"key": "counts", "value": json.dumps(counts)})
    db.conn.close()
    return counts


def build(root: Path, target: Path) -> dict:
    """Validate root/data, write the database next to target and rename it into place.

    Raises validate.DataError before anything is written when data/ has a fault; on any
    failure the previous target file is left exactly as it was.
    """
    ds = load_dataset(root)
    version = dataset_version(ds)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        tmp_path.unlink()
        counts = write_database(ds, tmp_path, version)
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)
    return {"version": version, "path": str(target), "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **counts}
