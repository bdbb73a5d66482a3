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

from . import queries
from .names import lookup_keys
from .validate import Dataset, load_dataset
from .vocabulary import (CHANGES, LEVELS, MEASURES, METRIC_YEAR_BASES, OUTSIDE_FACTS, QUALIFIERS, SCOPES, YEAR_BASES,
                         YEAR_BASIS_UNKNOWN)

SCHEMA_VERSION = 4  # bump when the table layout changes, so the dataset version changes with it

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
        "events": sum(1 for r in initiatives if r["kind"] == "event"),
        "people": len({p["name_zh"] for r in initiatives for p in r["people"]}),
        "metrics": sum(len(r["metrics"]) for r in initiatives),
        "quotes": sum(len(r["evidence"]) for r in initiatives),
        "outside_facts": sum(len(r["outside_facts"]) for r in initiatives),
        "regions_with_initiatives": len({c for r in initiatives for c in r["regions"]}),
        "regions": len(ds.regions),
        "sources": len(ds.sources),
    }


LIST = "several values are joined with ';' (no spaces), as in every CSV of this project"
CODE_PATTERN = "^[0-9]{6}$"
CODE_COLUMNS = {"code", "parent_code", "province_code", "region_code", "successor_code", "ancestor_code"}
TYPES = {"TEXT": "string", "INTEGER": "integer", "REAL": "number", "FLOAT": "number", "NUMERIC": "number"}
ENUMS = {"level": list(LEVELS), "scope": list(SCOPES), "year_basis": [*YEAR_BASES, YEAR_BASIS_UNKNOWN],
         "qualifier": list(QUALIFIERS), "measure": list(MEASURES), "fact": list(OUTSIDE_FACTS), "change": list(CHANGES)}

# What each public table and column means: the descriptor's descriptions and Datasette's column labels.
TABLE_DOCS: dict[str, tuple[str, str, dict[str, str]]] = {
    "initiatives": ("Initiatives", "One row per initiative the article names, in id order.", {
        "id": "Stable identifier, a lowercase ASCII slug; other tables refer to a record by it",
        "source_id": "The source document (sources.id) of the record's first quote",
        "name_zh": "Name in Chinese", "name_en": "Name in English",
        "kind": "Kind of initiative (kinds.id)", "theme": "The article section it appears under (themes.id)",
        "scope": "national or local",
        "year": "Year of the initiative; empty when the article cannot date it",
        "year_basis": "How the year is known: stated (the article gives it), reported (reported for 2025), "
                      "cited (an outside source gives it: see outside_facts), unknown",
        "date": "Date as precise as the article gives it: YYYY, YYYY-MM or YYYY-MM-DD",
        "date_note_zh": "Note on the date, Chinese", "date_note_en": "Note on the date, English",
        "place_zh": "Place in Chinese, for what codes cannot express", "place_en": "Place in English",
        "summary_zh": "Summary in Chinese, written from the article", "summary_en": "Summary in English",
        "organisations": "Organisations involved, a JSON array of {name_zh, name_en}",
        "region_codes": f"GB/T 2260 codes of its regions, in the record's order; {LIST}",
        "regions_complete": "false when the article says 等地 (and other places): the regions are examples, not every place",
        "former_ids": f"Ids this record had in earlier releases; each still resolves to it; {LIST}",
        "metric_count": "Number of figures (metrics rows) the record has"}),
    "people": ("People", "Every person the article names, with their roles as the article gives them.", {
        "initiative_id": "The initiative (initiatives.id)", "ord": "Position in the record's list of people, from 0",
        "name_zh": "Name as the article writes it", "name_en": "Name in English (pinyin, family name first)",
        "roles_zh": f"Roles as the article gives them, verbatim; {LIST}", "roles_en": f"The roles in English; {LIST}"}),
    "outside_facts": ("Facts from outside the article", "Facts the article does not give (a law's dates, a region "
                      "code's support), each with its own cited source. Never the article's.", {
        "initiative_id": "The initiative (initiatives.id)", "ord": "Position in the record's list, from 0",
        "fact": "What it establishes: adopted, in-force (dates) or region (a code finer than the article names)",
        "value": "The date (YYYY-MM-DD) or the region code", "statement_zh": "The fact, Chinese", "statement_en": "The fact, English",
        "source_title": "Title of the cited source", "source_publisher": "Its publisher", "source_published": "Its date",
        "source_url": "Where it is", "accessed": "When we read it", "relied_on": "What in it we relied on"}),
    "changelog": ("Changelog", "What changed in each record since the previous release, computed by the build.", {
        "release": "The release this change is in", "ord": "Position in the release's changelog, from 0",
        "change": "added, changed, renamed or removed", "initiative_id": "The record's id in this release (its last id when removed)",
        "previous_id": "Its id in the previous release; empty when added", "fields": f"The fields that changed; {LIST}",
        "reason": "Why, in one line"}),
    "initiative_regions": ("Regions of each initiative", "Which regions each initiative names, in the record's order.", {
        "initiative_id": "The initiative (initiatives.id)", "ord": "Position in the record's list of regions, from 0",
        "region_code": "GB/T 2260 code (regions.code)"}),
    "metrics": ("Figures", "Every figure the article reports, typed: 2580.2万件 is 25802000 requests.", {
        "initiative_id": "The initiative (initiatives.id)", "ord": "Position in the record's list of figures, from 0",
        "value": "The number: an integer for counts, a decimal otherwise", "unit": "Unit in English (requests, persons, percent…)",
        "unit_zh": "Unit as the article writes it", "qualifier": "exact, more than (余, 多) or about (约, 近)",
        "measure": "stock (a total standing as of the report), flow (counted over a period) or change (a rate of change)",
        "year": "Year the figure is for", "year_basis": "How that year is known: stated or reported",
        "counts_zh": "What is counted, Chinese", "counts_en": "What is counted, English",
        "figure_text": "The figure exactly as the article writes it"}),
    "evidence": ("Quotes", "Verbatim quotes from the source, with offsets: text[start:end] == quote in Unicode code points.", {
        "initiative_id": "The initiative (initiatives.id)", "ord": "Position in the record's list of quotes, from 0",
        "source_id": "The source document (sources.id)", "quote": "The quote, verbatim",
        "start": "Offset of the first character in the source text (code points, from 0)",
        "end": "Offset after the last character (exclusive)"}),
    "regions": ("Regions (GB/T 2260)", "Provincial-, prefecture- and county-level divisions with representative points.", {
        "code": "Six-digit GB/T 2260 code (text: keep the leading digits as they are)",
        "name_zh": "Official Chinese name", "name_en": "English name (pinyin with a correction table)",
        "level": "province, prefecture or county", "parent_code": "Code of the division above (regions.code); empty for provinces",
        "province_code": "Code of the province it is in (regions.code); its own code for a province",
        "lat": "Latitude of a representative point, approximate; empty when unknown",
        "lng": "Longitude of that point; empty when unknown", "coord_source": "Package the point comes from",
        "initiative_count": "Initiatives in this division or anywhere inside it",
        "as_of": "Date the division list is current as of"}),
    "region_aliases": ("Retired region codes", "Retired codes and the current code that took each over.", {
        "code": "The retired code", "successor_code": "The current code that took it over (regions.code)",
        "name_zh": "The retired division's name", "retired": "Year of retirement", "note": "Where the fact comes from"}),
    "kinds": ("Kinds of initiative", "The controlled vocabulary of kinds, in display order.", {
        "id": "Identifier", "name_zh": "Name in Chinese", "name_en": "Name in English",
        "definition_zh": "Definition in Chinese", "definition_en": "Definition in English",
        "initiative_count": "Initiatives of this kind"}),
    "themes": ("Themes", "The article's sections.", {
        "id": "Identifier", "order": "Position in the article", "name_zh": "Heading in Chinese", "name_en": "Heading in English",
        "source": "The source document (sources.id)", "start": "Offset of the heading in the source (code points)",
        "end": "Offset after the heading (exclusive)", "initiative_count": "Initiatives under this theme"}),
    "sources": ("Sources", "The source documents, each kept byte for byte with its sha256.", {
        "id": "Identifier", "title_zh": "Title in Chinese", "title_en": "Title in English",
        "publisher_zh": "Publisher in Chinese", "publisher_en": "Publisher in English",
        "dateline_zh": "Dateline in Chinese", "dateline_en": "Dateline in English", "published": "Date of publication",
        "language": "Language (BCP 47)", "sha256": "sha256 of the document's bytes", "licence": "Copyright of the document",
        "initiative_count": "Initiatives whose first quote is from this source"}),
}
# (table, column) -> (table, column) it refers to, in the database and in the data package alike.
FOREIGN_KEYS = {
    "initiatives": [("source_id", "sources", "id"), ("kind", "kinds", "id"), ("theme", "themes", "id")],
    "initiative_regions": [("initiative_id", "initiatives", "id"), ("region_code", "regions", "code")],
    "metrics": [("initiative_id", "initiatives", "id")],
    "people": [("initiative_id", "initiatives", "id")],
    "outside_facts": [("initiative_id", "initiatives", "id")],
    "evidence": [("initiative_id", "initiatives", "id"), ("source_id", "sources", "id")],
    "regions": [("parent_code", "regions", "code"), ("province_code", "regions", "code")],
    "region_aliases": [("successor_code", "regions", "code")],
    "themes": [("source", "sources", "id")],
}
LABELS = {"initiatives": "name_en", "regions": "name_zh", "kinds": "name_en", "themes": "name_en", "sources": "title_en"}
# Internal keys and indexes: in the database for the API's queries, not part of any download.
INTERNAL = {"meta": "Build facts: version, schema version, the served descriptors",
            "region_names": "Lookup keys (names, pinyin, codes) of each region, for the API's name resolution",
            "initiative_area": "Each initiative under every region that contains one of its regions, for region filters",
            "id_redirects": "Former record ids and the record each now resolves to"}
CURATION_LICENCE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/",
                    "title": "Creative Commons Attribution 4.0 (our curation: records, translations, summaries, "
                             "vocabularies, gazetteer compilation)"}


def resource_name(table: str) -> str:
    return table.replace("_", "-")


def _field(table: str, column: str, sql_type: str, required: bool) -> dict:
    f = {"name": column, "type": TYPES.get(sql_type.upper(), "string"), "description": TABLE_DOCS[table][2][column]}
    constraints: dict = {}
    if column in CODE_COLUMNS:
        constraints["pattern"] = CODE_PATTERN
    if column == "organisations":
        f["type"] = "array"
    if column in ("as_of", "published", "source_published", "accessed"):
        f["type"] = "date"
    if column == "date":
        constraints["pattern"] = "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"
    if column == "regions_complete":
        f["type"] = "boolean"
        f["trueValues"], f["falseValues"] = ["1"], ["0"]
    enum = list(METRIC_YEAR_BASES) if (table, column) == ("metrics", "year_basis") else ENUMS.get(column)
    if enum:
        constraints["enum"] = enum
    if required:
        constraints["required"] = True
    if constraints:
        f["constraints"] = constraints
    return f


def served_datapackage(conn: sqlite3.Connection, ds: Dataset, version: str) -> dict:
    """The descriptor /downloads/datapackage.json serves, made from the tables as written: every CSV /downloads/
    serves with its real columns and types, keys between them, and the database file itself.

    Paths are relative to the descriptor's own URL (the files sit next to it); created is the source-side
    descriptor's, so the same inputs give the same bytes.
    """
    source_side = json.loads(ds.datapackage)
    resources = []
    for t in queries.PUBLIC_TABLES.values():
        info = conn.execute(f'PRAGMA table_info("{t.table}")').fetchall()  # (cid, name, type, notnull, default, pk)
        sql_types = {row[1]: row[2] for row in info}
        notnull = {row[1] for row in info if row[3] or row[5]}
        schema = {"fields": [_field(t.table, c, sql_types[c], c in t.primary_key or c in notnull) for c in t.columns],
                  "primaryKey": list(t.primary_key), "missingValues": [""]}
        fks = [{"fields": [col], "reference": {"resource": resource_name(other), "fields": [other_col]}}
               for col, other, other_col in FOREIGN_KEYS.get(t.table, [])]
        if fks:
            schema["foreignKeys"] = fks
        title, description, _ = TABLE_DOCS[t.table]
        resources.append({
            "name": resource_name(t.table), "type": "table", "path": t.filename, "title": title,
            "description": f"{description} Table {t.table} of socialwork.db.", "format": "csv",
            "mediatype": "text/csv", "encoding": "utf-8", "dialect": {"header": True, "delimiter": ","}, "schema": schema})
    resources.append({"name": "socialwork", "type": "file", "path": "socialwork.db", "format": "sqlite",
                      "mediatype": "application/vnd.sqlite3", "title": "The whole dataset as one SQLite database",
                      "description": "Every table above with its foreign keys declared, plus the API's internal keys "
                                     "and indexes. metadata.json (next to it) labels it for Datasette."})
    tiles = json.loads(ds.tiles)
    resources.append({"name": "province-tiles", "type": "file", "path": "province-tiles.json", "format": "json",
                      "mediatype": "application/json", "title": tiles["title"], "description": tiles["description"],
                      "licenses": tiles["licenses"]})
    resources.append({"name": "datasette-metadata", "type": "file", "path": "metadata.json", "format": "json",
                      "mediatype": "application/json", "title": "Datasette metadata for socialwork.db",
                      "description": "datasette socialwork.db -m metadata.json shows the titles, labels and licence."})
    source = ds.sources[0]
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": source_side["name"], "title": source_side["title"],
        "description": (f"{source_side['description']} This descriptor describes the files served next to it: "
                        f"the database's tables as CSV (UTF-8, comma-separated, a header row; {LIST}; codes are text) "
                        "and socialwork.db itself."),
        # version is the release's semantic version (Frictionless' recipe); the content hash the API's ETags use is apart.
        "version": ds.release.version, "x-content-version": version, "x-release": release_summary(ds.release),
        "created": source_side["created"], "keywords": source_side["keywords"],
        "licenses": [CURATION_LICENCE],
        "contributors": source_side["contributors"],
        "sources": [{"title": f"{s['publisher_zh']} {s['publisher_en']}: {s['title_zh']} ({s['dateline_en']}, {s['published']})",
                     "description": s["licence"]} for s in ds.sources]
                   + [s for s in source_side["sources"] if s["path"].startswith("https://")],
        "resources": resources,
        "x-source-copyright": source["licence"],
    }


def datasette_metadata(ds: Dataset) -> dict:
    """metadata.json for Datasette: title, licence, source, and each table's and column's description."""
    source = ds.sources[0]
    tables: dict = {}
    for table, (title, description, columns) in TABLE_DOCS.items():
        tables[table] = {"title": title, "description": description, "columns": columns}
        if table in LABELS:
            tables[table]["label_column"] = LABELS[table]
    for table, description in INTERNAL.items():
        tables[table] = {"description": description, "hidden": True}
    for suffix in ("", "_config", "_data", "_docsize", "_idx"):
        tables[f"initiatives_fts{suffix}"] = {"hidden": True}
    return {
        "title": "China social-work initiatives 2025 (中国社会工作举措 2025)",
        "description": "Every initiative the Xinhua article of 2026-01-25 names, as bilingual records with regions, "
                       "figures and verbatim quotes.",
        "license": "CC BY 4.0 (our curation); the article © Xinhua News Agency",
        "license_url": CURATION_LICENCE["path"],
        "source": f"{source['publisher_zh']} {source['publisher_en']}: {source['title_zh']} ({source['published']})",
        "databases": {"socialwork": {"tables": tables}},
    }


def people_text(people: list[dict]) -> str | None:
    """What q searches of a record's people: their names and roles in both languages."""
    return " ".join(t for p in people for t in (p["name_zh"], p["name_en"], *(x[k] for x in p["roles"] for k in ("zh", "en")))) or None


def release_summary(release) -> dict:
    """The release as the API and the data package state it: version, date, previous, level, fields and counts."""
    return {"version": release.version, "published": release.published, "previous": release.previous,
            "level": release.level, "fields_added": release.fields_added, "fields_removed": release.fields_removed,
            "fields_retyped": release.fields_retyped, "counts": release.counts()}


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
    # n: the record's position in id order, the API's internal join key (one version only); tables and
    # downloads refer to a record by its stable id.
    number = {r["id"]: n for n, r in enumerate(initiatives, start=1)}
    fk = {table: [(c, other, oc) for c, other, oc in keys] for table, keys in FOREIGN_KEYS.items()}

    area: dict[str, set[int]] = {}
    for r in initiatives:
        for code in r["regions"]:
            for anc in chain[code]:
                area.setdefault(anc, set()).add(number[r["id"]])

    db["meta"].insert_all([
        {"key": "version", "value": version},
        {"key": "release", "value": json.dumps(release_summary(ds.release))},
        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
        {"key": "built_from", "value": "data/"},
        {"key": "regions_as_of", "value": max(str(r["as_of"]) for r in ds.regions)},
        {"key": "province_tiles", "value": ds.tiles},  # the map's layout, served as /downloads/province-tiles.json
    ], pk="key")
    # Counts are facts of the build: computed once here, never by a request scanning the tables.
    per = {key: Counter(f(r) for r in initiatives) for key, f in
           (("source", lambda r: r["evidence"][0]["source"]), ("kind", lambda r: r["kind"]), ("theme", lambda r: r["theme"]))}
    db["sources"].insert_all(({**s, "published": str(s["published"]), "initiative_count": per["source"][s["id"]]}
                              for s in ds.sources), pk="id")
    db["kinds"].insert_all(({**k, "ord": i, "initiative_count": per["kind"][k["id"]]} for i, k in enumerate(ds.kinds)), pk="id")
    db["themes"].insert_all(({**t, "initiative_count": per["theme"][t["id"]]} for t in ds.themes), pk="id",
                            foreign_keys=fk["themes"])

    db["regions"].create({
        "code": str, "name_zh": str, "name_en": str, "level": str, "parent_code": str, "province_code": str,
        "depth": int, "lat": float, "lng": float, "coord_source": str, "as_of": str, "initiative_count": int,
    }, pk="code", not_null={"name_zh", "level", "province_code"}, foreign_keys=fk["regions"])
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
    db["region_aliases"].insert_all(({**a} for a in ds.aliases), pk="code", foreign_keys=fk["region_aliases"])
    db["region_names"].create({"key": str, "code": str, "exact": int}, pk=("key", "code"),
                              foreign_keys=[("code", "regions", "code")])
    db["region_names"].insert_all({"key": k, "code": r["code"], "exact": int(exact)}
                                  for r in ds.regions for k, exact in lookup_keys(r).items())

    db["initiatives"].create({
        "n": int, "id": str, "source_id": str, "name_zh": str, "name_en": str, "kind": str, "theme": str,
        "scope": str, "year": int, "year_key": int, "year_basis": str, "date": str, "date_note_zh": str, "date_note_en": str,
        "place_zh": str, "place_en": str, "summary_zh": str, "summary_en": str, "organisations": str,
        "people": str, "people_text": str, "outside_facts": str, "region_codes": str, "regions_complete": int,
        "former_ids": str, "metric_count": int,
    }, pk="n", not_null={"id", "source_id", "name_zh", "name_en", "kind", "theme", "scope", "year_basis"},
        foreign_keys=fk["initiatives"])
    db["initiatives"].insert_all({
        "n": number[r["id"]], "id": r["id"], "source_id": r["evidence"][0]["source"],
        "name_zh": r["name_zh"], "name_en": r["name_en"], "kind": r["kind"], "theme": r["theme"],
        "scope": r["scope"], "year": r["year"], "year_key": r["year"] or 0, "year_basis": r["year_basis"], "date": r.get("date"),
        "date_note_zh": r.get("date_note_zh"), "date_note_en": r.get("date_note_en"),
        "place_zh": r.get("place_zh"), "place_en": r.get("place_en"),
        "summary_zh": r["summary_zh"], "summary_en": r["summary_en"],
        "organisations": json.dumps(r["organisations"], ensure_ascii=False),
        "people": json.dumps(r["people"], ensure_ascii=False),
        "people_text": people_text(r["people"]),
        "outside_facts": json.dumps(r["outside_facts"], ensure_ascii=False, default=str),
        "region_codes": ";".join(r["regions"]) or None, "regions_complete": int(r["regions_complete"]),
        "former_ids": ";".join(r["former_ids"]) or None, "metric_count": len(r["metrics"]),
    } for r in initiatives)
    db["initiatives"].create_index(["id"], unique=True)
    # year_key is year with 0 for "unknown": sortable and indexable without NULL handling.
    for col in ("year_key", "kind", "theme", "scope", "name_en", "name_zh"):
        db["initiatives"].create_index([col, "n"])
    db["initiatives"].enable_fts(list(queries.SEARCHED_COLUMNS), tokenize="trigram")
    db["id_redirects"].create({"old_id": str, "initiative_n": int, "initiative_id": str}, pk="old_id",
                              foreign_keys=[("initiative_n", "initiatives", "n")])
    db["id_redirects"].insert_all({"old_id": old, "initiative_n": number[r["id"]], "initiative_id": r["id"]}
                                  for r in initiatives for old in r["former_ids"])

    internal = [("initiative_n", "initiatives", "n")]
    db["initiative_regions"].create({"initiative_n": int, "ord": int, "initiative_id": str, "region_code": str},
                                    pk=("initiative_n", "ord"), not_null={"initiative_id", "region_code"},
                                    foreign_keys=internal + fk["initiative_regions"])
    db["initiative_regions"].insert_all({"initiative_n": number[r["id"]], "ord": i, "initiative_id": r["id"], "region_code": c}
                                        for r in initiatives for i, c in enumerate(r["regions"]))
    # One row per (region or any region above it, initiative), with the initiative's year_key:
    # "everything inside 四川 in 2025, in id order" is one index range read in order.
    year_key = {number[r["id"]]: r["year"] or 0 for r in initiatives}
    db["initiative_area"].create({"ancestor_code": str, "year_key": int, "initiative_n": int},
                                 pk=("ancestor_code", "year_key", "initiative_n"),
                                 foreign_keys=[("ancestor_code", "regions", "code")] + internal)
    db["initiative_area"].insert_all({"ancestor_code": code, "year_key": year_key[n], "initiative_n": n}
                                     for code, ns in sorted(area.items()) for n in sorted(ns))
    db["initiative_area"].create_index(["ancestor_code", "initiative_n"])
    db["initiative_area"].create_index(["initiative_n"])

    # value is NUMERIC: SQLite keeps 25802000 an integer and 18.4 a real (REAL would make every count 25802000.0).
    metrics_sql = db.create_table_sql("metrics", {
        "n": int, "initiative_n": int, "initiative_id": str, "ord": int, "value": float, "unit": str, "unit_zh": str,
        "qualifier": str, "measure": str, "year": int, "year_basis": str, "counts_zh": str, "counts_en": str, "figure_text": str,
    }, pk="n", not_null={"initiative_id", "value", "unit", "qualifier", "measure", "figure_text"},
        foreign_keys=internal + fk["metrics"])
    typed = metrics_sql.replace('"value" REAL', '"value" NUMERIC')
    assert typed != metrics_sql, metrics_sql
    db.execute(typed)
    db["metrics"].insert_all(({"initiative_n": number[r["id"]], "initiative_id": r["id"], "ord": i, **m}
                              for r in initiatives for i, m in enumerate(r["metrics"])))
    db["metrics"].create_index(["initiative_n", "ord"])
    db["metrics"].create_index(["year", "n"])

    db["evidence"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "source_id": str, "quote": str,
                           "start": int, "end": int}, pk="n", not_null={"initiative_id", "source_id", "quote", "start", "end"},
                          foreign_keys=internal + fk["evidence"])
    db["evidence"].insert_all({"initiative_n": number[r["id"]], "initiative_id": r["id"], "ord": i, "source_id": e["source"],
                               "quote": e["quote"], "start": e["start"], "end": e["end"]}
                              for r in initiatives for i, e in enumerate(r["evidence"]))
    db["evidence"].create_index(["initiative_n", "ord"])

    db["people"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "name_zh": str, "name_en": str,
                         "roles_zh": str, "roles_en": str}, pk="n", not_null={"initiative_id", "name_zh", "name_en"},
                        foreign_keys=internal + fk["people"])
    db["people"].insert_all({"initiative_n": number[r["id"]], "initiative_id": r["id"], "ord": i, "name_zh": p["name_zh"],
                             "name_en": p["name_en"], "roles_zh": ";".join(x["zh"] for x in p["roles"]),
                             "roles_en": ";".join(x["en"] for x in p["roles"])}
                            for r in initiatives for i, p in enumerate(r["people"]))
    db["people"].create_index(["initiative_n", "ord"])
    db["outside_facts"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "fact": str, "value": str,
                                "statement_zh": str, "statement_en": str, "source_title": str, "source_publisher": str,
                                "source_published": str, "source_url": str, "accessed": str, "relied_on": str},
                               pk="n", not_null={"initiative_id", "fact", "value", "source_title", "source_url"},
                               foreign_keys=internal + fk["outside_facts"])
    db["outside_facts"].insert_all({"initiative_n": number[r["id"]], "initiative_id": r["id"], "ord": i, "fact": f["fact"],
                                    "value": f["value"], "statement_zh": f["statement_zh"], "statement_en": f["statement_en"],
                                    **{f"source_{k}": str(f["source"][k]) for k in ("title", "publisher", "published", "url")},
                                    "accessed": str(f["source"]["accessed"]), "relied_on": f["source"]["relied_on"]}
                                   for r in initiatives for i, f in enumerate(r["outside_facts"]))
    db["outside_facts"].create_index(["initiative_n", "ord"])
    release = ds.release
    db["changelog"].create({"release": str, "ord": int, "change": str, "initiative_id": str, "previous_id": str,
                            "fields": str, "reason": str}, pk=("release", "ord"), not_null={"change", "initiative_id"})
    db["changelog"].insert_all({"release": release.version, "ord": i, "change": c["change"], "initiative_id": c["initiative_id"],
                                "previous_id": c["previous_id"], "fields": ";".join(c["fields"]) or None, "reason": c["reason"]}
                               for i, c in enumerate(release.changes))
    # Served at /downloads/: part of the dataset version like everything else, made from the tables just written.
    db["meta"].insert_all([
        {"key": "datapackage", "value": json.dumps(served_datapackage(db.conn, ds, version), ensure_ascii=False, indent=2)},
        {"key": "datasette_metadata", "value": json.dumps(datasette_metadata(ds), ensure_ascii=False, indent=2)},
    ])
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
