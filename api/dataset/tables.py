"""The one table layout of socialwork.db: every table's columns and types, keys and indexes, what each public
table and column means, which tables are downloads and under what name, and the constants the list plans share
with the build. The build writes exactly this (api/build/writer.py); the queries and the pages read it."""
from __future__ import annotations

from dataclasses import dataclass

from .search import PIECES_COLUMN, PIECES_DOC

SCHEMA_VERSION = 6  # bump when the table layout changes, so the dataset version changes with it


@dataclass(frozen=True)
class Table:
    """A table the build creates before its first row: columns (in order) with their Python types, as sqlite-utils
    takes them, the primary key, the NOT NULL columns and the indexes. numbered: n is the row's own number, given by
    SQLite as the rows arrive, not a column a record's rows carry."""

    columns: dict
    pk: str | tuple[str, ...]
    not_null: frozenset[str] = frozenset()
    indexes: tuple[tuple[str, ...], ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()   # unique indexes, created before the others
    numbered: bool = False
    numeric: tuple[str, ...] = ()   # REAL columns written NUMERIC, so an integer value stays an integer


_CHILD = {"n": int, "initiative_n": int, "initiative_id": str, "ord": int}   # one row per item of a record's list

# Created by the writer in this order. year_key is year with 0 for "unknown": sortable and indexable without NULL
# handling. Every index of initiatives exists before the first row: rows come in n order, so most index keys are
# appended, and keeping them as the rows come costs less than building them after, alone on one core.
LAYOUT: dict[str, Table] = {
    "regions": Table({"code": str, "name_zh": str, "name_en": str, "level": str, "parent_code": str,
                      "province_code": str, "depth": int, "lat": float, "lng": float, "coord_source": str, "as_of": str,
                      "initiative_count": int}, "code", frozenset({"name_zh", "level", "province_code"}),
                     (("parent_code", "code"), ("level", "code"))),
    "region_names": Table({"key": str, "code": str, "exact": int}, ("key", "code")),
    "initiatives": Table({"n": int, "id": str, "source_id": str, "name_zh": str, "name_en": str, "kind": str,
                          "theme": str, "scope": str, "year": int, "year_key": int, "year_basis": str, "date": str,
                          "date_note_zh": str, "date_note_en": str, "place_zh": str, "place_en": str, "summary_zh": str,
                          "summary_en": str, "note_zh": str, "note_en": str, "organisations": str, "people": str, "people_text": str,
                          "outside_facts": str, "region_codes": str, "regions_complete": int, "former_ids": str,
                          "metric_count": int, PIECES_COLUMN: str}, "n",
                         frozenset({"id", "source_id", "name_zh", "name_en", "kind", "theme", "scope", "year_basis"}),
                         tuple((col, "n") for col in ("year_key", "kind", "theme", "scope", "name_en", "name_zh")), (("id",),)),
    "id_redirects": Table({"old_id": str, "initiative_n": int, "initiative_id": str}, "old_id"),
    "initiative_regions": Table({"initiative_n": int, "ord": int, "initiative_id": str, "region_code": str},
                                ("initiative_n", "ord"), frozenset({"initiative_id", "region_code"})),
    # One row per (region or any region above it, initiative), with the initiative's year_key:
    # "everything inside 四川 in 2025, in id order" is one index range read in order.
    "initiative_area": Table({"ancestor_code": str, "year_key": int, "initiative_n": int},
                             ("ancestor_code", "year_key", "initiative_n"), frozenset(),
                             (("ancestor_code", "initiative_n"), ("initiative_n",))),
    # value is NUMERIC (the writer's one exception to sqlite-utils' types): SQLite keeps 25802000 an integer
    # and 18.4 a real (REAL would make every count 25802000.0).
    "metrics": Table({**_CHILD, "value": float, "unit": str, "unit_zh": str, "qualifier": str, "measure": str,
                      "year": int, "year_basis": str, "counts_zh": str, "counts_en": str, "figure_text": str}, "n",
                     frozenset({"initiative_id", "value", "unit", "qualifier", "measure", "figure_text"}),
                     (("initiative_n", "ord"), ("year", "n")), numbered=True, numeric=("value",)),
    "evidence": Table({**_CHILD, "source_id": str, "quote": str, "start": int, "end": int}, "n",
                      frozenset({"initiative_id", "source_id", "quote", "start", "end"}), (("initiative_n", "ord"),),
                      numbered=True),
    "people": Table({**_CHILD, "name_zh": str, "name_en": str, "roles_zh": str, "roles_en": str}, "n",
                    frozenset({"initiative_id", "name_zh", "name_en"}), (("initiative_n", "ord"),), numbered=True),
    "outside_facts": Table({**_CHILD, "fact": str, "value": str, "statement_zh": str, "statement_en": str,
                            "source_title": str, "source_publisher": str, "source_published": str, "source_url": str,
                            "accessed": str, "relied_on": str}, "n",
                           frozenset({"initiative_id", "fact", "value", "source_title", "source_url"}),
                           (("initiative_n", "ord"),), numbered=True),
    "changelog": Table({"release": str, "ord": int, "change": str, "initiative_id": str, "previous_id": str,
                        "fields": str, "reason": str}, ("release", "ord"), frozenset({"change", "initiative_id"})),
}

# The tables a record's rows go to, in the order a chunk of checked records carries them (api/build/pipeline.py),
# each with the columns its rows hold: every column but a numbered table's n.
RECORD_TABLES = ("initiatives", "initiative_regions", "initiative_area", "metrics", "evidence", "people",
                 "outside_facts", "id_redirects")
ROWS = {t: tuple(c for c in LAYOUT[t].columns if not (LAYOUT[t].numbered and c == "n")) for t in RECORD_TABLES}

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
# Keys only the database has (a record's number n), declared as foreign keys there and in no download.
INTERNAL_KEYS = {
    "region_names": [("code", "regions", "code")],
    "id_redirects": [("initiative_n", "initiatives", "n")],
    "initiative_area": [("ancestor_code", "regions", "code"), ("initiative_n", "initiatives", "n")],
    **{t: [("initiative_n", "initiatives", "n")] for t in ("initiative_regions", "metrics", "evidence", "people",
                                                           "outside_facts")},
}

LIST = "several values are joined with ';' (no spaces), as in every CSV of this project"

# What each public table and column means: the descriptor's descriptions and Datasette's column labels.
TABLE_DOCS: dict[str, tuple[str, str, dict[str, str]]] = {

    "initiatives": ("Initiatives", "One row per initiative the article names, in id order.", {
        "id": "Stable identifier, a lowercase ASCII slug; other tables refer to a record by it",
        "source_id": "The source document (sources.id) of the record's first quote",
        "name_zh": "Name in Chinese", "name_en": "Name in English",
        "kind": "Kind of initiative (kinds.id)", "theme": "The article section it appears under (themes.id)",
        "scope": "national or local",
        "year": "The year of the act (stated, cited) or the year the article reports on (reported); empty when nothing dates it",
        "year_basis": "What the year is and how it is known: stated (the act's year, the article gives it), cited (the act's "
                      "year, an outside source gives it: see outside_facts), reported (the year the article reports on, 2025), unknown",
        "date": "Date as precise as the article gives it: YYYY, YYYY-MM or YYYY-MM-DD",
        "date_note_zh": "Note on the date, Chinese", "date_note_en": "Note on the date, English",
        "place_zh": "Place in Chinese, for what codes cannot express", "place_en": "Place in English",
        "summary_zh": "Summary in Chinese, written from the article", "summary_en": "Summary in English",
        "note_zh": "Our note, not the article's (a gloss from outside it, or a sentence other records share), Chinese",
        "note_en": "Our note, not the article's (a gloss from outside it, or a sentence other records share), English",
        "organisations": "Organisations involved, a JSON array of {name_zh, name_en}",
        "region_codes": f"GB/T 2260 codes of its regions, in the record's order; {LIST}",
        "regions_complete": "false when the article says 等地 (and other places): the regions are examples, not every place",
        "former_ids": f"Ids this record had in earlier releases; each still resolves to it; {LIST}",
        "metric_count": "Number of figures (metrics rows) the record has",
        PIECES_COLUMN: PIECES_DOC}),
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
# (table, what it is for): internal tables, hidden in Datasette's metadata and left out of the downloads
LIST_TABLES = {
    "initiative_codes": "Each kind, theme and scope and its code (its rank in text order), for the list queries",
    "initiative_keys": "Each initiative's year, kind, theme, scope and name ranks as small integers, for the list queries",
    "initiative_cells": "initiative_keys under each large region (and 0: all), keyed by facet, for the list queries",
    "initiative_cell_counts": "How many initiatives each facet cell of initiative_cells holds, for counts and plans",
}
# Yes-or-no columns: stored 0/1 (SQLite has no boolean type), written true/false in every CSV, as in the JSON and in
# the query arguments (one spelling: DuckDB, pandas and LibreOffice read true/false as booleans, 1/0 as numbers).
BOOLEAN_COLUMNS = frozenset({"regions_complete"})
CSV_TRUE, CSV_FALSE = "true", "false"

LABELS = {"initiatives": "name_en", "regions": "name_zh", "kinds": "name_en", "themes": "name_en", "sources": "title_en"}
# Internal keys and indexes: in the database for the API's queries, not part of any download.
INTERNAL = {"meta": "Build facts: version, schema version, the served descriptors",
            "region_names": "Lookup keys (names, pinyin, codes) of each region, for the API's name resolution",
            "initiative_area": "Each initiative under every region that contains one of its regions, for region filters",
            "id_redirects": "Former record ids and the record each now resolves to", **LIST_TABLES}


@dataclass(frozen=True)
class PublicTable:
    """One CSV under /downloads/: which table it reads, its columns in order, its row order and primary key, its title.

    Internal join keys (n, initiative_n, year_key, depth, ord of the vocabularies) stay out: a row
    refers to a record by its id. Where the API exports a CSV under the same file name (kinds, themes,
    sources, regions), the columns are the API's, so one name is always one shape.
    """

    table: str
    columns: tuple[str, ...]
    order: str
    primary_key: tuple[str, ...]
    title_zh: str     # what /downloads/ and the landing page call it
    title_en: str
    file: str = ""  # the name /downloads/ serves it under: <table>.csv unless an API export of that name differs

    @property
    def filename(self) -> str:
        return self.file or f"{self.table}.csv"


PUBLIC_TABLES = {t.table: t for t in [
    PublicTable("initiatives", ("id", "source_id", "name_zh", "name_en", "kind", "theme", "scope", "year", "year_basis",
                                "date", "date_note_zh", "date_note_en", "place_zh", "place_en", "summary_zh", "summary_en",
                                "note_zh", "note_en", "organisations", "region_codes", "regions_complete", "former_ids", "metric_count"), "n", ("id",),
                "举措（数据表）", "Initiatives, one row each: table initiatives of socialwork.db",
                # /api/v1/initiatives?format=csv (initiatives.csv) joins in region names: another shape, another name
                "initiatives-table.csv"),
    PublicTable("initiative_regions", ("initiative_id", "ord", "region_code"), "initiative_n, ord", ("initiative_id", "ord"),
                "举措与地区", "Which regions each initiative names, in order"),
    PublicTable("metrics", ("initiative_id", "ord", "value", "unit", "unit_zh", "qualifier", "measure", "year", "year_basis",
                            "counts_zh", "counts_en", "figure_text"), "initiative_n, ord", ("initiative_id", "ord"),
                "数据指标（数据表）", "Figures the article reports, typed with units: table metrics",
                "metrics-table.csv"),  # the API's metrics.csv joins in each initiative's names and regions
    PublicTable("evidence", ("initiative_id", "ord", "source_id", "quote", "start", "end"), "initiative_n, ord",
                ("initiative_id", "ord"),
                "原文引语", "Verbatim quotes with offsets into the article"),
    PublicTable("people", ("initiative_id", "ord", "name_zh", "name_en", "roles_zh", "roles_en"), "initiative_n, ord",
                ("initiative_id", "ord"),
                "人物", "People the article names, with their roles"),
    PublicTable("outside_facts", ("initiative_id", "ord", "fact", "value", "statement_zh", "statement_en", "source_title",
                                  "source_publisher", "source_published", "source_url", "accessed", "relied_on"),
                "initiative_n, ord", ("initiative_id", "ord"),
                "文外事实", "Facts from outside the article, each with its cited source"),
    PublicTable("changelog", ("release", "ord", "change", "initiative_id", "previous_id", "fields", "reason"),
                "release DESC, ord", ("release", "ord"),
                "变更记录", "What changed in each record since the previous release"),
    PublicTable("regions", ("code", "name_zh", "name_en", "level", "parent_code", "province_code", "lat", "lng",
                            "coord_source", "initiative_count", "as_of"), "code", ("code",),
                "行政区划", "GB/T 2260 divisions with a representative point each"),
    PublicTable("region_aliases", ("code", "successor_code", "name_zh", "retired", "note"), "code", ("code",),
                "旧行政区划代码", "Retired division codes and their successors"),
    PublicTable("kinds", ("id", "name_zh", "name_en", "definition_zh", "definition_en", "initiative_count"), "ord", ("id",),
                "举措类型", "Kinds of initiative"),
    PublicTable("themes", ("id", "order", "name_zh", "name_en", "source", "start", "end", "initiative_count"),
                '"order"', ("id",),
                "主题", "The article's themes"),
    PublicTable("sources", ("id", "title_zh", "title_en", "publisher_zh", "publisher_en", "dateline_zh", "dateline_en",
                            "published", "language", "sha256", "licence", "initiative_count"), "published DESC, id", ("id",),
                "来源", "Source documents"),
]}


# ---------------------------------------------------------------- what the list plans and the build share
# (api/build/indexes.py writes the list tables, api/query/plans.py plans on them)

BIG_ANCESTOR = 1_000   # the build writes the regions with more records than this to initiative_cells
# initiative_cells' ancestors besides the regions' codes: 0 holds every record, NATIONAL and LOCAL the national and
# the local ones (code-like numbers no region has: provinces run from 110000)
NATIONAL, LOCAL = 10_000, 20_000
WALKED = "anc % 10000 = 0"  # the ancestors an index is walked for (all, NATIONAL, LOCAL, provinces): initiative_cells_n/en/zh
CELLS_PK = "sqlite_autoindex_initiative_cells_1"
AREA_BY_N = "idx_initiative_area_ancestor_code_initiative_n"
AREA_PK = "sqlite_autoindex_initiative_area_1"
