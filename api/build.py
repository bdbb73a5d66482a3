"""Turn data/ into one SQLite database: records streamed from the files, checked and written in id order to a
temporary file, which is renamed into place only when every check has passed."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import marshal
import os
import resource
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlite_utils
from marshmallow import missing

from . import list_tables, queries, search
from .names import lookup_keys
from .release import Changes, read_release
from .stream import (CHUNK, ROWS, Progress, STATE, Workers, check_chunk, default_workers, pack_records, people_text,
                     prepare, real_ids, scan_jsonl, shared_counters, sources)
from .validate import (Dataset, DataError, InitiativeSchema, RecordChecker, dataset_digest, load_reference,
                       read_yaml)
from .vocabulary import (CHANGES, LEVELS, MEASURES, METRIC_YEAR_BASES, OUTSIDE_FACTS, QUALIFIERS, SCOPES, YEAR_BASES,
                         YEAR_BASIS_UNKNOWN)

SCHEMA_VERSION = 6  # bump when the table layout changes, so the dataset version changes with it

def dataset_version(ds: Dataset) -> str:
    """A content hash of everything the database is made from: the input files and the table layout."""
    return hashlib.sha256(f"{SCHEMA_VERSION}:{ds.digest}".encode()).hexdigest()[:16]


def _chain(code: str, parent: dict[str, str]) -> list[str]:
    """The code and every division above it, up to its province (a cycle, a fault the build reports, stops it)."""
    out = [code]
    while parent.get(out[-1]) and parent[out[-1]] not in out:
        out.append(parent[out[-1]])
    return out


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
        "metric_count": "Number of figures (metrics rows) the record has",
        search.PIECES_COLUMN: search.PIECES_DOC}),
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
            "id_redirects": "Former record ids and the record each now resolves to", **list_tables.TABLES}
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
        tables.update({f"{fts}{suffix}": {"hidden": True} for fts in search.FTS_TABLES})
    return {
        "title": "China social-work initiatives 2025 (中国社会工作举措 2025)",
        "description": "Every initiative the Xinhua article of 2026-01-25 names, as bilingual records with regions, "
                       "figures and verbatim quotes.",
        "license": "CC BY 4.0 (our curation); the article © Xinhua News Agency",
        "license_url": CURATION_LICENCE["path"],
        "source": f"{source['publisher_zh']} {source['publisher_en']}: {source['title_zh']} ({source['published']})",
        "databases": {"socialwork": {"tables": tables}},
    }


def release_summary(release) -> dict:
    """The release as the API and the data package state it: version, date, previous, level, fields and counts."""
    return {"version": release.version, "published": release.published, "previous": release.previous,
            "level": release.level, "fields_added": release.fields_added, "fields_removed": release.fields_removed,
            "fields_retyped": release.fields_retyped, "counts": release.counts()}


class SqlRecords:
    """The previous release's manifest, one row a record in the stage database: what release.Changes compares with."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn, self.pending = conn, []
        conn.execute("CREATE TABLE stage._previous (id TEXT PRIMARY KEY, digests TEXT) WITHOUT ROWID")

    def __setitem__(self, rid: str, digests: dict):
        self.pending.append((rid, json.dumps(digests)))
        if len(self.pending) >= 10_000:
            self._flush()

    def _flush(self):
        self.conn.executemany("INSERT OR REPLACE INTO stage._previous VALUES (?, ?)", self.pending)
        self.pending = []

    def __contains__(self, rid) -> bool:
        self._flush()
        return self.conn.execute("SELECT 1 FROM stage._previous WHERE id = ?", (rid,)).fetchone() is not None

    def __getitem__(self, rid: str) -> dict:
        self._flush()
        row = self.conn.execute("SELECT digests FROM stage._previous WHERE id = ?", (rid,)).fetchone()
        if row is None:
            raise KeyError(rid)
        return json.loads(row[0])

    def ordered(self):
        self._flush()
        return (row[0] for row in self.conn.execute("SELECT id FROM stage._previous ORDER BY id").fetchall())


CACHE_KB = 262_144  # SQLite's page cache for the database being written (the stage has 32 MB)
def _problem_key(item):
    return item[0]


class Writer:
    """A new database at path, written as the records come, in id order, a chunk at a time (stream.check_chunk's
    results, or stream.pack_records' for records in memory), then finished with everything made from them.

    Only small state is kept per record: the last id (ids come sorted, so a repeated one is the one before),
    the counts. Former ids go to a table of the stage database, a scratch file deleted with the build; the
    release's changelog is computed as the records pass (release.Changes) and written to its table.
    """

    def __init__(self, ds: Dataset, path: Path, stage: Path):
        self.ds = ds
        self.db = db = sqlite_utils.Database(sqlite3.connect(path))
        conn = db.conn
        # A private file until it is renamed into place: no journal, no fsync; sorts spill to files, not memory.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{CACHE_KB}", "temp_store = FILE",
                       "locking_mode = EXCLUSIVE"):
            conn.execute(f"PRAGMA {pragma}")
        conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -32768", "locking_mode = EXCLUSIVE"):
            conn.execute(f"PRAGMA stage.{pragma}")
        conn.execute("CREATE TABLE stage._former (seq INTEGER, pos INTEGER, old TEXT, id TEXT)")
        parent = {r["code"]: r["parent_code"] for r in ds.regions}
        self.chain = {code: _chain(code, parent) for code in parent}  # each region up to its province, computed once
        self.next_n = 1      # n: the record's position in id order, the API's internal join key (one version only)
        self.read = self.checked = 0
        self.last_id: str | None = None
        self.mismatch = False
        self.exact = True    # False while the plan's ids are guesses (build()): a wrong one stops the writing
        self.record_problems: list[tuple[float, str]] = []   # (the record's place in the input, message)
        self.unique_problems: list[tuple[float, str]] = []
        self.tally: Counter = Counter()
        self.codes: set[str] = set()
        self.changelog: list[tuple] = []
        self.changes = None
        self._create_tables()

    @property
    def written(self) -> int:
        return self.next_n - 1

    def _create_tables(self):
        db, ds = self.db, self.ds
        fk = {table: [(c, other, oc) for c, other, oc in keys] for table, keys in FOREIGN_KEYS.items()}
        # Rows whose values are known only at the end (the version, the release, every count) are written as
        # placeholders here and updated in finish(), so each table is created as it always was.
        db["meta"].insert_all([
            {"key": "version", "value": ""},
            {"key": "release", "value": ""},
            {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            {"key": "built_from", "value": "data/"},
            {"key": "regions_as_of", "value": max((str(r["as_of"]) for r in ds.regions), default="")},
            {"key": "province_tiles", "value": ds.tiles},  # the map's layout, served as /downloads/province-tiles.json
        ], pk="key")
        db["sources"].insert_all(({**s, "published": str(s["published"]), "initiative_count": 0} for s in ds.sources), pk="id")
        db["kinds"].insert_all(({**k, "ord": i, "initiative_count": 0} for i, k in enumerate(ds.kinds)), pk="id")
        db["themes"].insert_all(({**t, "initiative_count": 0} for t in ds.themes), pk="id", foreign_keys=fk["themes"])

        db["regions"].create({
            "code": str, "name_zh": str, "name_en": str, "level": str, "parent_code": str, "province_code": str,
            "depth": int, "lat": float, "lng": float, "coord_source": str, "as_of": str, "initiative_count": int,
        }, pk="code", not_null={"name_zh", "level", "province_code"}, foreign_keys=fk["regions"])
        chain = self.chain
        db["regions"].insert_all({
            "code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"], "level": r["level"],
            "parent_code": r["parent_code"] or None, "province_code": chain[r["code"]][-1],
            "depth": len(chain[r["code"]]) - 1,
            "lat": r["lat"], "lng": r["lng"],  # numbers or None: parsed and bounded by RegionRowSchema
            "coord_source": r["coord_source"] or None, "as_of": str(r["as_of"]),
            "initiative_count": 0,
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
        # The search column (api/search.py), as search.write_indexes adds it: its pieces come with the rows.
        db.execute(f'ALTER TABLE "initiatives" ADD COLUMN "{search.PIECES_COLUMN}" TEXT')
        # Every index exists before the first row: rows come in n order, so most index keys are appended, and
        # keeping them as the rows come costs less than building them after, alone on one core.
        db["initiatives"].create_index(["id"], unique=True)
        # year_key is year with 0 for "unknown": sortable and indexable without NULL handling.
        for col in ("year_key", "kind", "theme", "scope", "name_en", "name_zh"):
            db["initiatives"].create_index([col, "n"])
        db["id_redirects"].create({"old_id": str, "initiative_n": int, "initiative_id": str}, pk="old_id",
                                  foreign_keys=[("initiative_n", "initiatives", "n")])
        internal = [("initiative_n", "initiatives", "n")]
        db["initiative_regions"].create({"initiative_n": int, "ord": int, "initiative_id": str, "region_code": str},
                                        pk=("initiative_n", "ord"), not_null={"initiative_id", "region_code"},
                                        foreign_keys=internal + fk["initiative_regions"])
        # One row per (region or any region above it, initiative), with the initiative's year_key:
        # "everything inside 四川 in 2025, in id order" is one index range read in order.
        db["initiative_area"].create({"ancestor_code": str, "year_key": int, "initiative_n": int},
                                     pk=("ancestor_code", "year_key", "initiative_n"),
                                     foreign_keys=[("ancestor_code", "regions", "code")] + internal)
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
        db["metrics"].create_index(["initiative_n", "ord"])
        db["metrics"].create_index(["year", "n"])
        db["evidence"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "source_id": str, "quote": str,
                               "start": int, "end": int}, pk="n", not_null={"initiative_id", "source_id", "quote", "start", "end"},
                              foreign_keys=internal + fk["evidence"])
        db["evidence"].create_index(["initiative_n", "ord"])
        db["people"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "name_zh": str, "name_en": str,
                             "roles_zh": str, "roles_en": str}, pk="n", not_null={"initiative_id", "name_zh", "name_en"},
                            foreign_keys=internal + fk["people"])
        db["people"].create_index(["initiative_n", "ord"])
        db["outside_facts"].create({"n": int, "initiative_n": int, "initiative_id": str, "ord": int, "fact": str, "value": str,
                                    "statement_zh": str, "statement_en": str, "source_title": str, "source_publisher": str,
                                    "source_published": str, "source_url": str, "accessed": str, "relied_on": str},
                                   pk="n", not_null={"initiative_id", "fact", "value", "source_title", "source_url"},
                                   foreign_keys=internal + fk["outside_facts"])
        db["outside_facts"].create_index(["initiative_n", "ord"])
        db["changelog"].create({"release": str, "ord": int, "change": str, "initiative_id": str, "previous_id": str,
                                "fields": str, "reason": str}, pk=("release", "ord"), not_null={"change", "initiative_id"})
        self.db.conn.execute("ATTACH DATABASE ':memory:' AS chunk")   # each chunk's rows, deserialized (add())
        self.chunks = 0

    def start_changes(self, root: Path, problems: list[str]):
        """The changelog of ds.release, computed as the records pass (None when data/release.yaml cannot be read)."""
        if self.ds.release is not None:
            self.changes = Changes(root, self.ds.release, InitiativeSchema(), problems, self._change, SqlRecords(self.db.conn))

    def _change(self, change: str, rid: str, previous_id: str | None, fields: list[str], reason: str):
        self.changelog.append((self.ds.release.version, len(self.changelog) + self.changelog_written, change, rid,
                               previous_id, ";".join(fields) or None, reason))

    changelog_written = 0

    def _flush_changelog(self):
        if self.changelog:
            self.db.conn.executemany('INSERT INTO "changelog" ("release", "ord", "change", "initiative_id", "previous_id", '
                                     '"fields", "reason") VALUES (?, ?, ?, ?, ?, ?, ?)', self.changelog)
            self.changelog_written += len(self.changelog)
            self.changelog = []

    def add(self, packed: bytes):
        """Write one chunk of records (stream.Packer.dumps()): their rows, their problems, their changes.

        The rows come as a small SQLite database, written by the worker; here each table's rows are copied
        across in one INSERT … SELECT, so this process, the one that can write, spends no time per value.
        """
        (n0, count, read, checked, mismatch, problems, seqs, ids, former, changes, tally, codes, rows) = marshal.loads(packed)
        if mismatch and not self.exact:   # the plan guessed an id wrong: build() plans again, nothing here counts
            self.mismatch = True
            return
        self.chunks += 1
        conn = self.db.conn
        conn.deserialize(rows, name="chunk")
        delta = self.next_n - n0   # not 0 when an earlier chunk had lines that are no record (blank, or faults)
        self.record_problems.extend(problems)
        last, repeated = self.last_id, []
        for k, (seq, rid) in enumerate(zip(seqs, ids)):
            if rid == last:   # ids come sorted, and the first of the same id in the input first
                self.unique_problems.append((seq, f"data/initiatives: {rid}: id is not unique"))
                repeated.append(n0 + k)   # a fault, so the file is not kept; the unique index keeps the first
            last = rid
        self.last_id = last
        for table, cols in ROWS.items():
            names = ", ".join(f'"{c}"' for c in cols)
            picked = ", ".join(f'"{c}" + {delta}' if c in ("n", "initiative_n") and delta else f'"{c}"' for c in cols)
            where = f" WHERE n NOT IN ({', '.join(map(str, repeated))})" if repeated and table == "initiatives" else ""
            verb = "INSERT OR IGNORE" if table == "id_redirects" else "INSERT"   # a former id claimed twice: a fault
            # The chunk's number in the text: a statement prepared for the database deserialized before would
            # read that one (SQLite 3.40 does not expire it).
            conn.execute(f'{verb} INTO main."{table}" ({names}) SELECT {picked} FROM chunk."{table}"{where} '
                         f"ORDER BY rowid -- chunk {self.chunks}")
        if former:
            conn.executemany("INSERT INTO stage._former VALUES (?, ?, ?, ?)", former)
        if self.changes is not None and changes is not None:   # a first release's changelog is written at the end
            add = self.changes.add
            for rid, digests, former_ids in changes:
                add(rid, digests, former_ids)
            self._flush_changelog()
        for key, counts in tally.items():
            if isinstance(counts, dict):
                for k, v in counts.items():
                    self.tally[f"{key}:{k}"] += v
            else:
                self.tally[key] += counts
        self.codes.update(codes)
        self.next_n += count
        self.read += read
        self.checked += checked

    def check_records(self) -> list[str]:
        """The checks across records that need them all: ids unique, each former id no current id and claimed once."""
        conn = self.db.conn
        out = [text for _, text in sorted(self.unique_problems, key=_problem_key)]
        conn.execute("CREATE INDEX stage._former_old ON _former (old, seq, pos)")
        for rid, old, current, claimed in conn.execute(
                "SELECT f.id, f.old, EXISTS (SELECT 1 FROM initiatives i WHERE i.id = f.old), "
                "(SELECT g.id FROM stage._former g WHERE g.old = f.old AND (g.seq, g.pos) < (f.seq, f.pos) "
                " ORDER BY g.seq, g.pos LIMIT 1) "
                "FROM stage._former f ORDER BY f.seq, f.pos"):
            if current:
                out.append(f"data/initiatives: {rid}: former_ids: {old} is a current record's id")
            elif claimed is not None:
                out.append(f"data/initiatives: {rid}: former_ids: {old} already redirects to {claimed}")
        return out

    def finish_changes(self):
        """The rest of the changelog: the records removed since the previous release, or for a first release
        every record (one statement rather than a row at a time); then the reasons and the version."""
        if self.changes is None:
            return
        conn = self.db.conn
        def is_current(rid):
            return conn.execute("SELECT 1 FROM initiatives WHERE id = ?", (rid,)).fetchone() is not None
        if not self.changes.needs_digests and self.changes.active:
            reasons = self.changes.add_all_first(self.written, is_current)
            conn.execute('INSERT INTO changelog ("release", "ord", "change", "initiative_id", "previous_id", "fields", '
                         '"reason") SELECT ?, n - 1, \'added\', id, NULL, NULL, \'first release\' FROM initiatives ORDER BY n',
                         (self.ds.release.version,))
            conn.executemany("UPDATE changelog SET reason = ? WHERE initiative_id = ?", [(r, rid) for rid, r in reasons.items()])
        self.changes.finish(is_current)
        self._flush_changelog()

    def finish(self, version: str, progress=None) -> dict:
        """Everything made from the records: counts, indexes, the search indexes, the descriptors, statistics."""
        db, ds, conn, tally = self.db, self.ds, self.db.conn, self.tally
        step = progress.step if progress else (lambda name: None)
        step("counts")
        # Counts are facts of the build: computed once here, never by a request scanning the tables.
        conn.executemany("UPDATE sources SET initiative_count = ? WHERE id = ?", [(tally[f"source:{s['id']}"], s["id"]) for s in ds.sources])
        conn.executemany("UPDATE kinds SET initiative_count = ? WHERE id = ?", [(tally[f"kind:{k['id']}"], k["id"]) for k in ds.kinds])
        conn.executemany("UPDATE themes SET initiative_count = ? WHERE id = ?", [(tally[f"theme:{t['id']}"], t["id"]) for t in ds.themes])
        conn.executemany("UPDATE regions SET initiative_count = ? WHERE code = ?",
                         [(tally[f"area:{r['code']}"], r["code"]) for r in ds.regions if tally[f"area:{r['code']}"]])
        step("list tables")
        list_tables.write(conn)  # what the list queries are planned on (api/list_tables.py), from the rows and counts above
        step("search index")
        # initiatives_fts (Datasette's too) and initiatives_trigram; initiatives.search_zh came with the rows
        search.write_indexes(db.conn, pieces_written=True)
        step("descriptors")
        counts = {
            "initiatives": self.written,
            "events": tally["kind:event"],
            "people": conn.execute("SELECT count(DISTINCT name_zh) FROM people").fetchone()[0],
            "metrics": tally["metrics"],
            "quotes": tally["quotes"],
            "outside_facts": tally["outside_facts"],
            "regions_with_initiatives": len(self.codes),
            "regions": len(ds.regions),
            "sources": len(ds.sources),
        }
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'release'", (json.dumps(release_summary(ds.release)),))
        # Served at /downloads/: part of the dataset version like everything else, made from the tables just written.
        db["meta"].insert_all([
            {"key": "datapackage", "value": json.dumps(served_datapackage(conn, ds, version), ensure_ascii=False, indent=2)},
            {"key": "datasette_metadata", "value": json.dumps(datasette_metadata(ds), ensure_ascii=False, indent=2)},
        ])
        step("statistics")
        conn.execute("PRAGMA analysis_limit = 1000")  # sampled statistics: enough for the planner, fast at 1M rows
        conn.execute("ANALYZE main")
        conn.commit()
        db["meta"].insert({"key": "counts", "value": json.dumps(counts)})
        conn.commit()
        return counts

    def close(self):
        self.db.conn.close()


LOAD_DEFAULTS = {name: f.load_default for name, f in InitiativeSchema._declared_fields.items() if f.load_default is not missing}


def write_database(ds: Dataset, path: Path, version: str, records=None, root: Path | None = None) -> dict:
    """Write ds into a new SQLite file at path: its reference data, and its records (ds.initiatives unless records,
    an iterable of loaded records, is given) with the changelog of root/data/release.yaml computed against the
    previous manifest. Returns the counts; raises DataError for what only the whole set of records shows (an id twice,
    a former id that is current or claimed twice, a release that does not match). For tools (bench/scale/
    build_direct.py); the build streams its records from the files instead (build())."""
    root = root or Path.cwd()
    problems: list[str] = []
    ds.release = read_release(root, problems, read_yaml)   # its changelog is computed here, from the records
    stage = path.with_name(path.name + ".stage")
    stage.unlink(missing_ok=True)
    writer = Writer(ds, path, stage)
    try:
        writer.start_changes(root, problems)
        digests = writer.changes is not None and writer.changes.needs_digests
        ordered = sorted(records if records is not None else ds.initiatives, key=lambda r: r["id"])
        for rec in ordered:   # a field the schema gives a default may be missing from a record made in memory
            for key, default in LOAD_DEFAULTS.items():
                if key not in rec:
                    rec[key] = default() if callable(default) else default
        for data in pack_records(ordered, writer.chain, digests):
            writer.add(data)
        out = writer.check_records()
        writer.finish_changes()
        if out or problems:
            raise DataError(out + problems)
        return writer.finish(version)
    finally:
        writer.close()
        stage.unlink(missing_ok=True)


def _digest_thread(root: Path, ds: Dataset):
    """The dataset version, computed in a thread while the records are read (hashlib lets go of the GIL)."""
    result: dict = {}

    def run():
        try:
            result["digest"] = dataset_digest(root, ds)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            result["error"] = exc
    thread = threading.Thread(target=run, name="dataset-digest", daemon=True)
    thread.start()

    def value() -> str:
        thread.join()
        if "error" in result:
            raise result["error"]
        ds.digest = result["digest"]
        return dataset_version(ds)
    return value


def _plan(writer: Writer, files: list, workers: Workers, problems: list[tuple[float, str]], exact: bool, progress) -> int:
    """The plan table in the stage database: one row per record, (seq, id, file, start, size, line); returns the count."""
    conn = writer.db.conn
    conn.execute("CREATE TABLE stage.plan (seq INTEGER PRIMARY KEY, id TEXT, file INTEGER, start INTEGER, size INTEGER, line INTEGER)")
    if not files:
        problems.append((0, "data/initiatives/: holds no *.yaml or *.jsonl record"))
    seq = 0
    rows: list[tuple] = []
    jsonl = [i for i, f in enumerate(files) if f.jsonl]
    for i, f in enumerate(files):
        if not f.jsonl:
            seq += 1
            rows.append((seq, Path(f.path).stem, i, 0, 0, None))
    scans = workers.map_ordered(scan_jsonl, [files[i].path for i in jsonl], window=max(2, workers.count))
    for done, (i, data) in enumerate(zip(jsonl, scans), start=1):
        starts, sizes, numbers, ids, error = marshal.loads(data)
        first = seq + 1
        rows.extend(zip(range(first, first + len(starts)), ids, [i] * len(starts), starts, sizes, numbers))
        seq += len(starts)
        if error is not None:
            problems.append((seq + 0.5, f"{files[i].rel}: cannot be read as UTF-8 JSON Lines: {error}"))
        if len(rows) >= 100_000:
            conn.executemany("INSERT INTO stage.plan VALUES (?, ?, ?, ?, ?, ?)", rows)
            rows = []
        if progress:
            progress.note = f"{done:,} of {len(jsonl):,} files scanned"
            progress.draw()
    conn.executemany("INSERT INTO stage.plan VALUES (?, ?, ?, ?, ?, ?)", rows)
    if exact:   # the ids the records really have: every record parsed once more, to sort by
        conn.execute("CREATE TABLE stage.real (seq INTEGER PRIMARY KEY, id TEXT)")
        cur = conn.execute("SELECT seq, file, start, size, line, id FROM stage.plan ORDER BY seq")
        for data in workers.map_ordered(real_ids, iter(lambda: cur.fetchmany(CHUNK), [])):
            conn.executemany("INSERT INTO stage.real VALUES (?, ?)", marshal.loads(data))
        conn.execute("UPDATE stage.plan SET id = (SELECT r.id FROM stage.real r WHERE r.seq = plan.seq)")
    conn.execute("CREATE INDEX stage.plan_by_id ON plan (id, seq)")
    return seq


def _chunks(conn):
    """The plan in id order, CHUNK entries at a time, each with the n of its first record."""
    cur = conn.execute("SELECT seq, file, start, size, line, id FROM stage.plan ORDER BY id, seq")
    n0 = 1
    while rows := cur.fetchmany(CHUNK):
        yield n0, rows
        n0 += len(rows)


def build(root: Path, target: Path, progress: Progress | None = None, workers: int | None = None) -> dict:
    """Validate root/data, write the database next to target and rename it into place.

    The records stream from the files (api/stream.py): checked by worker processes, written in id order by
    this one, never all in memory. Raises validate.DataError with every fault when data/ has one; on any
    failure the previous target file is left exactly as it was, and no temporary file is left behind.
    """
    t0 = time.monotonic()
    progress = progress or Progress(False)
    reference: list[str] = []
    ds = load_reference(root, reference)
    ds.release = read_release(root, [], read_yaml)   # read again for each attempt below, with its problems
    files = sources(root)
    count = default_workers(files) if workers is None else workers
    counters = shared_counters(count)
    parent = {r["code"]: r["parent_code"] for r in ds.regions}
    checker = RecordChecker(ds, [])
    prepare(checker, files, {code: _chain(code, parent) for code in parent},
            ds.release is not None and ds.release.previous is not None, counters)
    pool = Workers(count)      # forked now, before this process opens a database or starts a thread
    version = _digest_thread(root, ds)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    stage = tmp_path.with_name(tmp_path.name + ".stage")
    writer = None
    try:
        for exact in (False, True):
            tmp_path.unlink(missing_ok=True)
            stage.unlink(missing_ok=True)
            release_problems = []   # read again: computing a changelog uses up its reasons
            ds.release = read_release(root, release_problems, read_yaml)
            writer = Writer(ds, tmp_path, stage)
            writer.exact = exact
            progress.step("planning")
            plan_problems: list[tuple[float, str]] = []
            progress.total = _plan(writer, files, pool, plan_problems, exact, progress)
            progress.note = ""
            writer.start_changes(root, release_problems)
            writer.record_problems.extend(plan_problems)
            progress.step("check and write")
            for data in pool.map_ordered(check_chunk, _chunks(writer.db.conn)):
                writer.add(data)
                live = counters is not None   # the workers' counts run ahead of the chunks written
                progress.update(read=counters[0] if live else writer.read, checked=counters[1] if live else writer.checked,
                                written=writer.written)
                if writer.mismatch and not exact:
                    break
            progress.update(read=writer.read, checked=writer.checked, written=writer.written, force=True)
            if writer.mismatch and not exact:   # an id the plan guessed wrong: plan again with the real ones
                writer.close()
                writer = None
                if counters is not None:
                    counters[0] = counters[1] = 0
                continue
            break
        pool.close()
        problems = reference + [text for _, text in sorted(writer.record_problems, key=_problem_key)]
        problems += writer.check_records()
        writer.finish_changes()
        problems += release_problems
        stated = json.loads(ds.datapackage).get("version") if ds.datapackage else None
        if ds.release and ds.datapackage and stated != ds.release.version:
            problems.append(f"data/datapackage.json: version: {stated!r} is not this release's ({ds.release.version}, data/release.yaml)")
        if problems:
            raise DataError(problems)
        counts = writer.finish(version(), progress)
        writer.close()
        writer = None
        os.chmod(tmp_path, 0o644)
        os.replace(tmp_path, target)
    except BaseException:
        pool.terminate()
        raise
    finally:
        if writer is not None:
            writer.close()
        tmp_path.unlink(missing_ok=True)
        stage.unlink(missing_ok=True)
    steps = progress.end()
    own, workers_cpu = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"version": version(), "path": str(target), "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **counts, "seconds": round(time.monotonic() - t0, 1), "workers": count, "steps": steps,
            "cpu_seconds": {"main": round(own.ru_utime + own.ru_stime, 1),
                            "workers": round(workers_cpu.ru_utime + workers_cpu.ru_stime, 1),
                            "main_by_step": progress.steps_cpu}}
