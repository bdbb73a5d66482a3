"""Search plans: q with the other filters, on the list tables.

q's terms (all answered by one index: one MATCH, search.plan) with any other filter and sort are planned on the
list tables too, each term checked exactly (_term_checks). The term's records are counted (up to a cap) and the
filters' from the cells; then the cheapest of four ways by _plan_costs, matches taken as spread evenly:
- term: the term's records read from its index with their keys (initiative_keys), the filters checked on each,
  sorted and cut by SQLite; the total exact (a second pass);
- scan: the filters' records (few) collected as the list plans collect them and the terms checked on each record,
  sorted here; the total exact;
- walk: the filters' plan walked in the page's order a batch at a time, the terms checked on each record, until
  the page is full; the total a lower bound (total_exact false): the matches the walk found;
- term walk (a sort on id): the term's index read in rowid order, the filters checked in initiative_keys, until the
  page is full; the total a lower bound: the matches among the term's first COUNT_WALK records.
Several regions: the term's records if few, else the filters' records if few, else run_page; so do terms of both
indexes and a term no check answers exactly.
"""
from __future__ import annotations

import json
from dataclasses import replace

from ..dataset import search
from ..dataset.tables import AREA_BY_N, BIG_ANCESTOR
from .fragments import Cond, Filter, merge, scan, where
from .keyset import COUNT_CAP, Page, known_total
from .plans import (
    FACETS,
    SMALL,
    Keys,
    ListTables,
    Part,
    after_bounds,
    big_rows,
    cells_of,
    facet_conds,
    from_cells,
    keys_of,
    order_key,
    order_sql,
    page_of,
    parts_of,
    select_sql,
    small_rows,
)

TERM_CAP = 2_000        # several regions: a term in at most this many records is read and filtered
SCAN_AT_MOST = 10_000   # filters matching at most this many records may be read and the terms checked on each
TERM_CAP_MAX = 30_000   # a term's records are counted up to this many (a piece: about 0.07 us each) ...
TRIGRAM_CAP_MAX = 10_000  # ... or this many (a trigram term: about 0.5 us each)
COUNT_WALK = 2_000      # a walk of the term in rowid order: the count looks at this many of its records
WALK_BATCH, WALK_BATCH_MAX = 256, 8_192  # a walk over the filters' plan: batches of at least, at most this many
# records, the first sized to hold the page at the term's density (each batch plans the filter's cells again)
# What each way costs a record it reads, in microseconds (1M records, bench/scale/shapes.py): the term's records read
# with their keys, sorted and counted (two passes); the filters' records collected and checked; walked in the page's
# order and checked (the list plans' batches); the term's records walked in rowid order, their keys checked.
COST_TERM, COST_SCAN, COST_WALK, COST_TERM_WALK = 1.0, 5.0, 5.0, 0.7
COST_IN_REGION = 1.5   # a term's record looked up in a region's initiative_area range, on top of the above
COST_CELL_READ = 0.6   # a walk over a region's cells (one not walked in order): each of its records read
KEYS = {c: f"k.{c}" for c in SMALL}      # initiative_keys k: a record's facets and name ranks


def _term_checks(terms: list[str]) -> list[Cond] | None:
    """Each term as a check on one record i that keeps exactly the records its index gives; None if one has none.

    A piece (search.py) is in the record's pieces, search_zh, exactly when its token is in initiatives_fts. A
    trigram term of ASCII and uncased characters (English, longer Chinese) is in a text ignoring ASCII case, as
    SQLite's lower() has it; the trigram index folds other letters too, so a term with a non-ASCII letter that has a
    case (É) has no such check here. (A text's own letters that fold to ASCII, such as the Kelvin sign, are
    matched by the index and not by lower(): the records have none.)
    """
    out = []
    for j, term in enumerate(terms):
        look = search.lookup(term)
        if look.table is None or not look.exact:
            return None
        if look.table == search.FTS_TABLE:
            out.append(Cond(f'instr(i."{search.PIECES_COLUMN}", :c{j})', {f"c{j}": term.casefold()}))
        elif all(ch.isascii() or ch.lower() == ch.upper() for ch in term):
            out.append(scan(term, f"c{j}"))
        else:
            return None
    return out


def _term_count(conn, table: str, match: str, cap: int) -> int:
    return conn.execute(f"SELECT count(*) FROM (SELECT rowid FROM {table} WHERE {table} MATCH :match LIMIT :cap)",
                        {"match": match, "cap": cap}).fetchone()[0]


def _key_conds(tables: ListTables, part: Part) -> list[Cond]:
    """The part's filter on a record's keys k: its facets, and for a region, the record lying in it."""
    conds = facet_conds(tables, part, KEYS)
    if part.region is not None:
        conds.append(Cond(f"EXISTS (SELECT 1 FROM initiative_area a INDEXED BY {AREA_BY_N} "
                          "WHERE a.ancestor_code = :anc AND a.initiative_n = k.n)", {"anc": part.region}))
    return conds


def _term_keys(tables: ListTables, table: str, match: str, part: Part) -> tuple[str, list[Cond]]:
    """FROM and conditions for the term's records in the part, each joined to its keys k (the index drives)."""
    return (f"FROM {table} CROSS JOIN initiative_keys k ON k.n = {table}.rowid",
            [Cond(f"{table} MATCH :match", {"match": match})] + _key_conds(tables, part))


def _term_rows(conn, tables: ListTables, table: str, match: str, part: Part, cols) -> list:
    """Every record of the term in the part, with its keys (the term is in at most TERM_CAP records)."""
    from_sql, conds = _term_keys(tables, table, match, part)
    return conn.execute(f"SELECT {select_sql(cols, KEYS)} {from_sql}{where(conds)}", merge(conds)).fetchall()


def _term_page(conn, tables: ListTables, table: str, match: str, part: Part, keys: Keys, want: int) -> list:
    """The page from the term's side: its records in the part, after the cursor, sorted and cut here by SQLite."""
    from_sql, conds = _term_keys(tables, table, match, part)
    if keys.bounds is not None:
        conds.append(after_bounds(keys.cols, keys.dirs, keys.bounds, KEYS))
    sql = (f"SELECT {select_sql(keys.cols, KEYS)} {from_sql}{where(conds)} "
           f"ORDER BY {order_sql(keys.cols, keys.dirs, KEYS)} LIMIT :limit")
    return conn.execute(sql, {**merge(conds), "limit": want}).fetchall()


def _term_page_count(conn, tables: ListTables, table: str, match: str, part: Part) -> int:
    from_sql, conds = _term_keys(tables, table, match, part)
    return conn.execute(f"SELECT count(*) {from_sql}{where(conds)}", merge(conds)).fetchone()[0]


def _term_walk(conn, tables: ListTables, table: str, match: str, part: Part, keys: Keys, limit: int) -> list:
    """Up to limit records of the term in the part, in n order: the index read in rowid order, stopping at limit."""
    d = keys.dirs[0]
    from_sql, conds = _term_keys(tables, table, match, part)
    if keys.bounds is not None:
        conds.append(Cond(f"{table}.rowid {'>' if d == 'asc' else '<'} :b_n", {"b_n": keys.bounds[0]}))
    sql = f"SELECT k.n AS n {from_sql}{where(conds)} ORDER BY {table}.rowid {d.upper()} LIMIT :limit"
    return conn.execute(sql, {**merge(conds), "limit": limit}).fetchall()


def _term_walk_count(conn, tables: ListTables, table: str, match: str, part: Part) -> int:
    """How many of the term's first COUNT_WALK records are in the part: a lower bound of the total."""
    conds = _key_conds(tables, part)
    sql = (f"SELECT count(*) FROM (SELECT rowid AS r FROM {table} WHERE {table} MATCH :match LIMIT :cap) t "
           f"CROSS JOIN initiative_keys k ON k.n = t.r{where(conds)}")
    return conn.execute(sql, {**merge(conds), "match": match, "cap": COUNT_WALK}).fetchone()[0]


def _with_terms(conn, ns: list[int], checks: list[Cond]) -> set:
    """Which of these records hold every term."""
    sql = f"SELECT i.n FROM json_each(:ns) x CROSS JOIN initiatives i ON i.n = x.value{where(checks)}"
    return {r[0] for r in conn.execute(sql, {**merge(checks), "ns": json.dumps(ns)})}


def _sorted_after(rows, keys: Keys, want: int) -> list:
    """The first want rows after the cursor, in order."""
    key = order_key(keys.cols, keys.dirs)
    out = sorted(rows, key=key)
    if keys.bounds is not None:
        start = key(dict(zip(keys.cols, keys.bounds)))
        out = [r for r in out if key(r) > start]
    return out[:want]


def _filter_walk(conn, tables: ListTables, part: Part, keys: Keys, checks: list[Cond], want: int, terms: int | None,
                 cells: list | None):
    """(rows holding the terms, in order, at least want unless the part ran out; whether it ran out), or None.
    terms: how many records hold the terms, when counted, for the size of the first batch; cells: the part's, when
    read (a large part; the same for every batch)."""
    found: list = []
    records = tables.anc_sizes.get(0, 0)
    bounds = keys.bounds
    if part.anc in tables.big and cells is None:
        cells = cells_of(conn, tables, part)
    batch = WALK_BATCH if terms is None else min(WALK_BATCH_MAX, max(WALK_BATCH, int(1.25 * want * records / max(terms, 1))))
    while True:
        at = Keys(keys.cols, keys.dirs, bounds)
        if part.anc in tables.big:
            got = big_rows(conn, tables, part, at, batch, cells)
            if got is None:
                return None
            rows = got[0]
        else:
            rows = small_rows(conn, tables, part, at, batch)
        if rows:
            ok = _with_terms(conn, [r["n"] for r in rows], checks)
            found += [r for r in rows if r["n"] in ok]
        if len(rows) < batch:
            return found, True
        if len(found) >= want:
            return found, False
        bounds = [rows[-1][c] for c in keys.cols]
        batch = min(batch * 2, WALK_BATCH_MAX)


def _whole(tables: ListTables, part: Part) -> bool:
    """Whether the part's filter takes every year and every value of each facet."""
    return (len(part.codes["year_key"]) == len(tables.years)
            and all(len(part.codes[c]) == len(tables.values[c]) for c in FACETS))


def _sizes(conn, tables: ListTables, parts: list[Part]) -> tuple[list[int], list[list | None]] | None:
    """How many records each part's filter matches (a small region: all its records, an upper bound), and each part's
    cells when they were read for it; None when a large region has no cells in this file."""
    sizes, cells = [], []
    for part in parts:
        read = None
        if part.anc in tables.big and _whole(tables, part):
            size = tables.anc_sizes[part.anc]   # every record under the ancestor: no cell to read
        elif part.anc in tables.big:
            read = cells_of(conn, tables, part)
            size = sum(c[4] for c in read)
        elif part.region is not None and tables.sizes.get(part.region, 0) <= BIG_ANCESTOR:
            size = tables.sizes.get(part.region, 0)
        else:
            return None
        sizes.append(size)
        cells.append(read)
    return sizes, cells


def _scan_rows(conn, tables: ListTables, parts: list[Part], cells: list[list | None], keys: Keys, checks: list[Cond]) -> list:
    """Every record of the parts' filters that holds the terms, with its keys (the filters match few records).
    cells: each part's, when already read."""
    every = {}
    for part, read in zip(parts, cells):
        rows = (from_cells(conn, part, keys.cols, keys.dirs, read if read is not None else cells_of(conn, tables, part),
                            None, SCAN_AT_MOST + 1)
                if part.anc in tables.big else
                small_rows(conn, tables, part, Keys(keys.cols, keys.dirs, None), SCAN_AT_MOST + 1))
        every.update((r["n"], r) for r in rows)
    ok = _with_terms(conn, list(every), checks)
    return [r for n, r in every.items() if n in ok]


def _plan_costs(tables: ListTables, terms: int, known: bool, part: Part, size: int, want: int, by_n: bool) -> dict[str, float]:
    """The estimated cost (microseconds) of each way to make the page of one part, from the term's count (known: exact;
    else a lower bound) and the filter's: matches taken as spread evenly over the records (independent filters)."""
    records = max(tables.anc_sizes.get(0, 0), 1)
    region = COST_IN_REGION if part.region is not None else 0   # each of the term's records looked up in the region
    # a region below a province is not walked in order: its cells' rows are read and sorted on the way
    cells = size * COST_CELL_READ if part.anc % 10_000 else 0
    costs = {"walk": min(size, want * records / max(terms, 1)) * COST_WALK + cells}
    if known:
        costs["term"] = terms * (COST_TERM + region)
    if size <= SCAN_AT_MOST:
        costs["scan"] = size * COST_SCAN
    if by_n:
        costs["term walk"] = (min(terms if known else float("inf"), want * records / max(size, 1))
                              * (COST_TERM_WALK + region))
    return costs


def searched_page(conn, tables: ListTables, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page | None:
    """A page of a list with q, planned as the comment above says; the page run_page gives, its total exact or a
    lower bound; None when run_page must answer."""
    matches, scans = search.plan(f.terms)
    checks = _term_checks(f.terms)
    if scans or len(matches) != 1 or checks is None:
        return None
    ((table, match),) = matches.items()  # table: a constant of api/search.py
    parts = parts_of(tables, replace(f, terms=[]))
    keys = keys_of(conn, tables, sort, after, backwards) if parts else None
    if parts is None or (parts and keys is None):
        return None
    if not parts:
        return page_of(conn, tables, [], sort, 0, True, False, backwards)
    got = _sizes(conn, tables, parts)
    if got is None:
        return None
    sizes, cells = got
    want = limit + 1
    exact, total = True, None
    unfiltered = len(parts) == 1 and parts[0].anc == 0 and sizes[0] == tables.anc_sizes.get(0)   # q and nothing else
    if len(parts) > 1:
        cap = TERM_CAP
    elif unfiltered:
        cap = COUNT_CAP   # all the total needs: the ways only compare their costs against other filters
    else:
        cap = TERM_CAP_MAX if table == search.FTS_TABLE else TRIGRAM_CAP_MAX
    terms = _term_count(conn, table, match, cap + 1)
    if len(parts) > 1:   # several regions: collect one side and sort here, or leave it to run_page
        if terms <= TERM_CAP:
            every = {r["n"]: r for part in parts for r in _term_rows(conn, tables, table, match, part, keys.cols)}
            order, total = _sorted_after(every.values(), keys, want), len(every)
        elif sum(sizes) <= SCAN_AT_MOST:
            found = _scan_rows(conn, tables, parts, cells, keys, checks)
            order, total = _sorted_after(found, keys, want), len(found)
        else:
            return None
    else:
        part = parts[0]
        costs = _plan_costs(tables, terms, terms <= cap, part, sizes[0], want, keys.cols == ["n"])
        way = min(costs, key=costs.get)
        if way == "term":
            order = _term_page(conn, tables, table, match, part, keys, want)
            if count and (after is not None or len(order) > limit):
                total = _term_page_count(conn, tables, table, match, part)
        elif way == "scan":
            found = _scan_rows(conn, tables, parts, cells, keys, checks)
            order, total = _sorted_after(found, keys, want), len(found)
        elif way == "term walk":
            order = _term_walk(conn, tables, table, match, part, keys, want)
            exact = False
            if count and (after is not None or len(order) > limit):   # else the page holds them all
                total = max(len(order), _term_walk_count(conn, tables, table, match, part))
        else:
            got = _filter_walk(conn, tables, part, keys, checks, want, terms if terms <= cap else None, cells[0])
            if got is None:
                return None
            found, ran_out = got
            order, total, exact = found[:want], len(found), ran_out and after is None
        if unfiltered:   # the term's own count is the total
            total, exact = terms, terms <= cap
    has_more = len(order) > limit
    known = known_total(len(order), after, has_more, count)
    if known is not None:
        total, exact = known, True
    return page_of(conn, tables, order[:limit], sort, total, exact, has_more, backwards)
