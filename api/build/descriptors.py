"""The descriptors the build makes from the tables it has written: the Frictionless Data Package /downloads/ serves
and Datasette's metadata.json."""
from __future__ import annotations

import json
import sqlite3

from ..dataset import search
from ..dataset import vocabulary as vocab
from ..dataset.about import CURATION_LICENCE
from ..dataset.tables import BOOLEAN_COLUMNS, CSV_FALSE, CSV_TRUE, FOREIGN_KEYS, INTERNAL, LABELS, LIST, PUBLIC_TABLES, TABLE_DOCS
from .files import Dataset
from .release import release_summary

CODE_PATTERN = "^[0-9]{6}$"
CODE_COLUMNS = {"code", "parent_code", "province_code", "region_code", "successor_code", "ancestor_code"}
TYPES = {"TEXT": "string", "INTEGER": "integer", "REAL": "number", "FLOAT": "number", "NUMERIC": "number"}
ENUMS = {"level": list(vocab.LEVELS), "scope": list(vocab.SCOPES), "year_basis": list(vocab.RECORD_YEAR_BASES),
         "qualifier": list(vocab.QUALIFIERS), "measure": list(vocab.MEASURES), "fact": list(vocab.OUTSIDE_FACTS),
         "change": list(vocab.CHANGES)}


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
    if column in BOOLEAN_COLUMNS:
        f["type"] = "boolean"
        f["trueValues"], f["falseValues"] = [CSV_TRUE], [CSV_FALSE]
    enum = list(vocab.METRIC_YEAR_BASES) if (table, column) == ("metrics", "year_basis") else ENUMS.get(column)
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
    for t in PUBLIC_TABLES.values():
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
