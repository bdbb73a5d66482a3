"""The indexes the build makes from the tables it has just written: the list tables the initiative list is planned on,
and the two full-text indexes q reads.

The list tables (api/query/plans.py plans on them). Every filter of the list but q is on five small facets of a record: the regions it lies in (an
ancestor code, 0 for "every record"), its year, kind, theme and scope. Every sort is on those, its two
names or its number n. So the build writes each record's facets and name ranks as small integers once:

- initiative_codes: each kind, theme and scope in use and its code, the value's rank in text order
  (so ordering by the code is ordering by the text);
- initiative_keys: one row per record (rowid n): year_key, the three codes, and en/zh, the dense rank
  of name_en and name_zh (equal names share a rank; ordering by rank, then n, is ordering by name, then n);
- initiative_cells: the same row under every large ancestor (more than tables.BIG_ANCESTOR records),
  under 0 for all records and under tables.NATIONAL and tables.LOCAL for the national and the local ones
  (so that scope partitions the records instead of being checked against them), keyed (anc, year_key, kind, theme, scope, n), so a filter on any mix of
  facets is a set of exact index ranges, with an index per high-cardinality sort (n, en, zh) for walks
  in order;
- initiative_cell_counts: how many records each (anc, year, kind, theme, scope) cell of those ancestors
  holds, so a count or a choice of plan costs a few hundred rows at most.

Smaller regions need none of this: initiative_area's range for the region joined to initiative_keys
holds at most BIG_ANCESTOR rows. Ancestor codes are GB/T 2260 codes as integers.
"""
from __future__ import annotations

import sqlite3

from ..dataset import tables
from ..dataset.search import FTS_COLUMNS, FTS_TABLE, PIECES_COLUMN, SEARCHED_COLUMNS, TRIGRAM_TABLE, pieces

STATEMENTS = [
    "CREATE TABLE initiative_codes (facet TEXT NOT NULL, value TEXT NOT NULL, code INTEGER NOT NULL, "
    "PRIMARY KEY (facet, value)) WITHOUT ROWID",
    *[f"INSERT INTO initiative_codes SELECT '{col}', {col}, row_number() OVER (ORDER BY {col}) - 1 "
      f"FROM (SELECT DISTINCT {col} FROM initiatives)" for col in ("kind", "theme", "scope")],
    # Name ranks from the (name, n) indexes, then one pass over the records.
    "CREATE TEMP TABLE _rank_en (n INTEGER PRIMARY KEY, rank INTEGER NOT NULL)",
    "INSERT INTO _rank_en SELECT n, dense_rank() OVER (ORDER BY name_en) FROM initiatives ORDER BY n",
    "CREATE TEMP TABLE _rank_zh (n INTEGER PRIMARY KEY, rank INTEGER NOT NULL)",
    "INSERT INTO _rank_zh SELECT n, dense_rank() OVER (ORDER BY name_zh) FROM initiatives ORDER BY n",
    "CREATE TABLE initiative_keys (n INTEGER PRIMARY KEY, year_key INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "theme INTEGER NOT NULL, scope INTEGER NOT NULL, en INTEGER NOT NULL, zh INTEGER NOT NULL)",
    "INSERT INTO initiative_keys SELECT i.n, i.year_key, k.code, t.code, s.code, e.rank, z.rank FROM initiatives i "
    "JOIN initiative_codes k ON k.facet = 'kind' AND k.value = i.kind "
    "JOIN initiative_codes t ON t.facet = 'theme' AND t.value = i.theme "
    "JOIN initiative_codes s ON s.facet = 'scope' AND s.value = i.scope "
    "JOIN _rank_en e ON e.n = i.n JOIN _rank_zh z ON z.n = i.n ORDER BY i.n",
    "DROP TABLE _rank_en",
    "DROP TABLE _rank_zh",
    "CREATE TABLE initiative_cells (anc INTEGER NOT NULL, year_key INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "theme INTEGER NOT NULL, scope INTEGER NOT NULL, n INTEGER NOT NULL, en INTEGER NOT NULL, zh INTEGER NOT NULL, "
    "PRIMARY KEY (anc, year_key, kind, theme, scope, n)) WITHOUT ROWID",
    "INSERT INTO initiative_cells SELECT 0, year_key, kind, theme, scope, n, en, zh FROM initiative_keys "
    "ORDER BY year_key, kind, theme, scope, n",
    *[f"INSERT INTO initiative_cells SELECT {anc}, year_key, kind, theme, scope, n, en, zh FROM initiative_keys "
      f"WHERE scope = (SELECT code FROM initiative_codes WHERE facet = 'scope' AND value = '{scope}') "
      "ORDER BY year_key, kind, theme, scope, n" for anc, scope in ((tables.NATIONAL, "national"), (tables.LOCAL, "local"))],
    "INSERT INTO initiative_cells SELECT CAST(a.ancestor_code AS INTEGER), k.year_key, k.kind, k.theme, k.scope, k.n, k.en, k.zh "
    "FROM initiative_area a JOIN initiative_keys k ON k.n = a.initiative_n "
    "WHERE a.ancestor_code IN (SELECT code FROM regions WHERE initiative_count > :big) ORDER BY 1, 2, 3, 4, 5, 6",
    # Secondary indexes of a WITHOUT ROWID table hold its key too: each covers every facet. Only the ancestors
    # whose records can outnumber SORT_AT_MOST are walked: all, national, local and the provinces (code % 10000 = 0).
    *[f"CREATE INDEX initiative_cells_{col} ON initiative_cells (anc, {col}{', n' if col != 'n' else ''}) "
      f"WHERE {tables.WALKED}" for col in ("n", "en", "zh")],
    "CREATE TABLE initiative_cell_counts (anc INTEGER NOT NULL, year_key INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "theme INTEGER NOT NULL, scope INTEGER NOT NULL, count INTEGER NOT NULL, "
    "PRIMARY KEY (anc, year_key, kind, theme, scope)) WITHOUT ROWID",
    "INSERT INTO initiative_cell_counts SELECT anc, year_key, kind, theme, scope, count(*) FROM initiative_cells "
    "GROUP BY anc, year_key, kind, theme, scope",
]


def write_list_tables(conn: sqlite3.Connection, big: int = tables.BIG_ANCESTOR) -> None:
    """Write the list tables from initiatives, initiative_area and regions (their counts), which must be complete."""
    for sql in STATEMENTS:
        conn.execute(sql, {"big": big} if ":big" in sql else {})


# While an index fills, FTS5 keeps the terms of the rows inserted in memory and writes them out as a segment when
# they pass `hashsize` (1 MB by default), merging segments as it goes (`automerge`). A 128 MB buffer and no merging
# while filling make a few large segments instead of many small ones merged over and over: the trigram index of 1M
# records in 27 s instead of 148 s. Both settings are removed afterwards, so the file's indexes have FTS5's defaults.
BULK_SETTINGS = (("hashsize", 128 << 20), ("automerge", 0))


def _fill(conn: sqlite3.Connection, table: str, insert: str) -> None:
    for key, value in BULK_SETTINGS:
        conn.execute(f'INSERT INTO "{table}" ("{table}", rank) VALUES (?, ?)', (key, value))
    conn.execute(insert)
    conn.execute(f'DELETE FROM "{table}_config" WHERE k IN ({", ".join("?" for _ in BULK_SETTINGS)})',
                 [k for k, _ in BULK_SETTINGS])


def write_search_indexes(conn: sqlite3.Connection, pieces_written: bool = False) -> None:
    """After the initiatives table is written: add and fill search_zh, then build both FTS5 indexes.

    search_zh is a column of initiatives because the external-content FTS5 table that Datasette and
    sqlite-utils detect for a table reads its text from that table. Rows are numbered n (the rowid).
    pieces_written: the caller has written the column already (pieces(*texts) per record, in SEARCHED_COLUMNS
    order), e.g. with the rows: that saves this one-core pass (about 45 s at 1M) and the pages a growing row splits.
    """
    cols = ", ".join(SEARCHED_COLUMNS)
    if not pieces_written:
        conn.create_function("search_pieces", len(SEARCHED_COLUMNS), pieces, deterministic=True)
        conn.execute(f'ALTER TABLE initiatives ADD COLUMN "{PIECES_COLUMN}" TEXT')
        conn.execute(f'UPDATE initiatives SET "{PIECES_COLUMN}" = search_pieces({cols})')
        conn.create_function("search_pieces", len(SEARCHED_COLUMNS), None)
    quoted = ", ".join(f'"{c}"' for c in FTS_COLUMNS)
    # What sqlite-utils' enable_fts writes for these columns, with SQLite's stock unicode61 tokenizer.
    conn.execute(f'CREATE VIRTUAL TABLE "{FTS_TABLE}" USING FTS5 (\n    {quoted},\n    tokenize=\'unicode61\',\n'
                 f'    content="initiatives"\n)')
    _fill(conn, FTS_TABLE, f"INSERT INTO \"{FTS_TABLE}\" (\"{FTS_TABLE}\") VALUES ('rebuild')")
    quoted = ", ".join(f'"{c}"' for c in SEARCHED_COLUMNS)
    conn.execute(f'CREATE VIRTUAL TABLE "{TRIGRAM_TABLE}" USING FTS5 (\n    {quoted},\n    tokenize=\'trigram\',\n'
                 f"    content=''\n)")
    _fill(conn, TRIGRAM_TABLE, f'INSERT INTO "{TRIGRAM_TABLE}" (rowid, {quoted}) SELECT n, {cols} FROM initiatives')
