"""List plans: the initiative list at any size, on the list tables the build writes (api/build/indexes.py).

Every filter but q (regions, years, kinds, themes, scopes) and every sort is planned on the list tables
(api/list_tables.py), so that no page reads more than a bounded number of index entries, at 36 records
or at a million:

- a region with at most BIG_ANCESTOR records is its initiative_area range joined to initiative_keys:
  walked in n or year order when the sort is one of those, else collected and sorted (a few thousand
  narrow rows at most);
- a larger region, or no region (ancestor 0), is read from initiative_cells. Its cell counts give the exact
  total first. At most SORT_AT_MOST matching rows are collected with exact index ranges and sorted; more
  than that, and an index is walked in the sort's order, checking the facets in the index entries (so the
  walk reads about limit x rows / matches entries). A sort that starts with low-cardinality keys (year,
  kind, theme, scope: "kind,-year") is read branch by branch, one combination of their values after the
  other, each branch planned the same way on its own count;
- several regions (or a region with the national initiatives) are planned one by one and merged.

Keys are compared as integers: year_key and n as they are, facets by their code and names by their rank,
both in text order; a cursor's value that is no longer in the data (a cursor from an earlier build) sits
half-way between two codes or ranks. The page's rows, and so the cursors' values, are always the records'
own. Anything else (q, or a sort these tables cannot walk when too many rows match) keeps the plans above.
"""
from __future__ import annotations

import json
from bisect import bisect_left
from dataclasses import dataclass, replace

from ..dataset import search
from ..dataset.tables import AREA_BY_N, AREA_PK, BIG_ANCESTOR, CELLS_PK, LOCAL, NATIONAL, WALKED
from .fragments import Cond, Filter, merge, one_of, rows_after, where
from .keyset import COUNT_CAP, Page, known_total

SORT_AT_MOST = 10_000  # a plan collects and sorts at most this many matching rows; beyond that it walks an index
WALK_COST = 25         # reading one cell's index range costs about as much as walking this many index entries

PLAN_COLUMNS = {"id": "n", "year": "year_key", "name_en": "en", "name_zh": "zh", "kind": "kind", "theme": "theme",
                "scope": "scope"}
FACETS = ("kind", "theme", "scope")
LOW_CARDINALITY = ("year_key",) + FACETS
FACET_PARAMS = {"year_key": "y", "kind": "fk", "theme": "ft", "scope": "fs"}
ROW_COLUMNS = {"n": "n", "year_key": "year_key", "en": "name_en", "zh": "name_zh", "kind": "kind", "theme": "theme",
               "scope": "scope"}


@dataclass(frozen=True)
class ListTables:
    """What the plans need to know about a file, read once per connection (list_tables)."""

    values: dict[str, tuple[str, ...]]  # facet -> its values in text order: a value's code is its position
    years: tuple[int, ...]              # the year_key values in use, ascending
    anc_sizes: dict[int, int]           # the ancestors in initiative_cells -> how many records each holds
    sizes: dict[str, int]               # region code -> how many records it holds (regions.initiative_count)
    columns: str                        # what a page reads of its records: every column but search.PIECES_COLUMN

    @property
    def big(self):
        return self.anc_sizes


_LIST_TABLES: dict[int, tuple[object, ListTables | None]] = {}


def list_tables(conn) -> ListTables | None:
    """The list tables of this connection's file, or None when it has none (a file of an older SCHEMA_VERSION)."""
    hit = _LIST_TABLES.get(id(conn))
    if hit is not None and hit[0] is conn:
        return hit[1]
    tables = None
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'initiative_cell_counts'").fetchone() and \
            not conn.execute("SELECT 1 FROM initiative_codes WHERE code > 15 AND (facet = 'scope' OR code > 255)").fetchone():
        # (codes are packed in a few bits each in a cell's number, _packed)
        values: dict[str, list[str]] = {facet: [] for facet in FACETS}
        for facet, value in conn.execute("SELECT facet, value FROM initiative_codes ORDER BY facet, code"):
            values[facet].append(value)
        tables = ListTables(
            {k: tuple(v) for k, v in values.items()},
            tuple(r[0] for r in conn.execute("SELECT DISTINCT year_key FROM initiative_cell_counts WHERE anc = 0 ORDER BY 1")),
            {r[0]: r[1] for r in conn.execute("SELECT anc, sum(count) FROM initiative_cell_counts GROUP BY anc")},
            {r[0]: r[1] for r in conn.execute("SELECT code, initiative_count FROM regions")},
            # the pieces are for the indexes (a kilobyte a record at 1M): a page's records are read without them
            ", ".join(f'i."{r[1]}"' for r in conn.execute("PRAGMA table_info(initiatives)") if r[1] != search.PIECES_COLUMN))
    if len(_LIST_TABLES) >= 64:
        _LIST_TABLES.clear()
    _LIST_TABLES[id(conn)] = (conn, tables)  # the connection is kept with it, so its id is not reused meanwhile
    return tables


@dataclass(frozen=True)
class Part:
    """One set of records the list is made of: the records under a region (0: all), with a filter's facet codes."""

    anc: int
    region: str | None  # the region code as text (None for all records)
    codes: dict         # column -> the codes (or years) it may take, each list non-empty
    years: tuple        # (lowest, highest) year_key asked for, None for an open end


def parts_of(tables: ListTables, f: Filter) -> list[Part] | None:
    """The parts of a filter; [] when it matches nothing, None when the list tables cannot plan it."""
    if f.terms or f.initiatives or f.units:
        return None
    # year_key 0 is a record with no year, which no year filter matches: an open start (..2024) starts at 1.
    low = f.year_from if f.year_from is not None else None if f.year_to is None else 1
    codes = {"year_key": [y for y in tables.years if (low is None or y >= low) and (f.year_to is None or y <= f.year_to)]}
    for facet, chosen in (("kind", f.kinds), ("theme", f.themes), ("scope", f.scopes)):
        values = tables.values[facet]
        codes[facet] = [c for c, v in enumerate(values) if v in chosen] if chosen else list(range(len(values)))
    if not all(codes.values()):
        return []
    years = (f.year_from, f.year_to)
    national = [c for c in codes["scope"] if tables.values["scope"][c] == "national"]
    if not f.regions:  # one scope is an ancestor of its own: a partition, not a check
        return [Part(scope_ancestor(tables, codes["scope"]), None, codes, years)]
    parts = [Part(int(code), code, codes, years) for code in f.regions]
    if f.include_national and national:
        parts.append(Part(NATIONAL, None, {**codes, "scope": national}, years))
    return parts


def scope_ancestor(tables: ListTables, scopes: list[int], anc: int = 0) -> int:
    """The ancestor that holds exactly the records of these scopes, among all records (anc 0); anc otherwise."""
    if anc != 0 or len(scopes) != 1:
        return anc
    return {"national": NATIONAL, "local": LOCAL}.get(tables.values["scope"][scopes[0]], anc)


@dataclass
class Keys:
    """A sort as the plans read it: its distinct keys in the list tables' columns, up to n (unique: nothing after it counts)."""

    cols: list[str]
    dirs: list[str]
    bounds: list | None  # the cursor's values as numbers of each column's domain (None: the first page)


def keys_of(conn, tables: ListTables, sort, after, backwards: bool) -> Keys | None:
    if any(name == "id" for name, _ in sort[:-1]):
        return None  # id before another key: run_page orders n by the last key's direction (Order.distinct_keys)
    exprs = [PLAN_COLUMNS[name] for name, _ in sort] + ["n"]
    dirs = [d for _, d in sort] + [sort[-1][1]]
    if backwards:
        dirs = ["desc" if d == "asc" else "asc" for d in dirs]
    cols: list[str] = []
    out_dirs: list[str] = []
    values: list = []
    for j, (col, d) in enumerate(zip(exprs, dirs)):
        if col in cols:
            continue
        cols.append(col)
        out_dirs.append(d)
        values.append(after[j] if after is not None else None)
        if col == "n":
            break
    if after is None:
        return Keys(cols, out_dirs, None)
    bounds = [_bound(conn, tables, col, v) for col, v in zip(cols, values)]
    if any(b is None for b in bounds):
        return None  # a value these tables cannot place: the plans above compare it as SQLite does
    return Keys(cols, out_dirs, bounds)


def _bound(conn, tables: ListTables, col: str, value):
    """A cursor's value as a number of its column's domain: itself, a code or a rank, or half-way between two."""
    if col in ("n", "year_key"):
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if not isinstance(value, str):
        return None
    if col in FACETS:
        values = tables.values[col]
        at = bisect_left(values, value)
        return at if at < len(values) and values[at] == value else at - 0.5
    name = ROW_COLUMNS[col]
    row = conn.execute(f"SELECT i.{name}, k.{col} FROM initiatives i CROSS JOIN initiative_keys k ON k.n = i.n "
                       f"WHERE i.{name} >= :v ORDER BY i.{name} LIMIT 1", {"v": value}).fetchone()
    if row is None:
        return float("inf")
    return row[1] if row[0] == value else row[1] - 0.5


SMALL = {"n": "a.initiative_n", "year_key": "a.year_key", "kind": "k.kind", "theme": "k.theme", "scope": "k.scope",
         "en": "k.en", "zh": "k.zh"}  # a small region's columns: initiative_area a joined to initiative_keys k
CELLS = {c: f"c.{c}" for c in SMALL}


def after_bounds(cols, dirs, bounds, exprs: dict) -> Cond:
    """Rows strictly after bounds in the order (cols, dirs), the columns read through exprs."""
    return rows_after([exprs[c] for c in cols], dirs, bounds, [f"b_{c}" for c in cols])


def order_key(cols, dirs):
    """A row's place in the order (cols, dirs), as a tuple that sorts ascending."""
    return lambda row: tuple(row[c] if d == "asc" else -row[c] for c, d in zip(cols, dirs))


def facet_conds(tables: ListTables, part: Part, exprs: dict, skip=()) -> list[Cond]:
    """The facets as IN lists of a fixed length per file (padded with repeats), so that each plan is one SQL text."""
    out = []
    for col in LOW_CARDINALITY:
        if col in skip:
            continue
        size = len(tables.years) if col == "year_key" else len(tables.values[col])
        codes = part.codes[col]
        out.append(one_of(exprs[col], codes + [codes[-1]] * (size - len(codes)), FACET_PARAMS[col]))
    return out


def order_sql(cols, dirs, exprs: dict) -> str:
    return ", ".join(f"{exprs[c]} {d.upper()}" for c, d in zip(cols, dirs))


def select_sql(cols, exprs: dict) -> str:
    return ", ".join(f"{exprs[c]} AS {c}" for c in (["n"] + [c for c in cols if c != "n"]))


def _run(conn, sql: str, conds: list[Cond], extra: dict) -> list:
    return conn.execute(sql, {**merge(conds), **extra}).fetchall()


def _year_range(part: Part) -> Cond:
    lo, hi = part.years
    low = lo if lo is not None else -1 if hi is None else 1   # ..2024 leaves out year_key 0, the records with no year
    return Cond("a.year_key BETWEEN :year_from AND :year_to", {"year_from": low, "year_to": (1 << 40) if hi is None else hi})


def small_rows(conn, tables: ListTables, part: Part, keys: Keys, limit: int) -> list:
    """Up to limit rows of a small region in order: initiative_area's range for it joined to initiative_keys."""
    cols, dirs = keys.cols, keys.dirs
    lo, hi = part.years
    conds = [Cond("a.ancestor_code = :anc", {"anc": part.region})]
    facets = facet_conds(tables, part, SMALL, skip=("year_key",))
    if cols == ["n"] and lo is None and hi is None:
        index = AREA_BY_N  # in n order: initiative_area's (ancestor_code, initiative_n) index
    elif cols == ["n"] and lo is not None and lo == hi:
        index = AREA_PK  # one year: its range of the primary key is in n order
        conds.append(Cond("a.year_key = :year", {"year": lo}))
    else:
        index = AREA_PK  # by year (the primary key's range in order), or any other sort: the rows collected and sorted
        conds.append(_year_range(part))
    conds += facets
    if keys.bounds:
        conds.append(after_bounds(cols, dirs, keys.bounds, SMALL))
    sql = (f"SELECT {select_sql(cols, SMALL)} FROM initiative_area a INDEXED BY {index} "
           f"CROSS JOIN initiative_keys k ON k.n = a.initiative_n{where(conds)} ORDER BY {order_sql(cols, dirs, SMALL)} "
           "LIMIT :limit")
    return _run(conn, sql, conds, {"limit": limit})


def _small_count(conn, tables: ListTables, part: Part, cap: int) -> int:
    conds = [Cond("a.ancestor_code = :anc", {"anc": part.region}), _year_range(part)]
    if all(len(part.codes[c]) == len(tables.values[c]) for c in FACETS):  # no facet asked for: the area range alone
        sql = f"SELECT count(*) FROM (SELECT 1 FROM initiative_area a{where(conds)} LIMIT :cap)"
    else:
        conds += facet_conds(tables, part, SMALL, skip=("year_key",))
        sql = ("SELECT count(*) FROM (SELECT 1 FROM initiative_area a CROSS JOIN initiative_keys k ON k.n = a.initiative_n"
               f"{where(conds)} LIMIT :cap)")
    return conn.execute(sql, {**merge(conds), "cap": cap}).fetchone()[0]


def cells_of(conn, tables: ListTables, part: Part) -> list[tuple]:
    """The cells of initiative_cell_counts the part's filter takes, each (year_key, kind, theme, scope, count)."""
    conds = [Cond("c.anc = :anc", {"anc": part.anc})] + facet_conds(tables, part, CELLS)
    return conn.execute(f"SELECT c.year_key, c.kind, c.theme, c.scope, c.count FROM initiative_cell_counts c{where(conds)}",
                        merge(conds)).fetchall()


CELL_JOIN = ("FROM json_each(:cells) x CROSS JOIN initiative_cells c INDEXED BY " + CELLS_PK + " ON c.anc = :anc "
             "AND c.year_key = x.value >> 20 AND c.kind = (x.value >> 12) & 255 AND c.theme = (x.value >> 4) & 255 "
             "AND c.scope = x.value & 15")


def _packed(cell) -> int:
    return (cell[0] << 20) | (cell[1] << 12) | (cell[2] << 4) | cell[3]


def from_cells(conn, part: Part, cols, dirs, cells: list, bound: Cond | None, limit: int) -> list:
    """Rows of the given cells in the order (cols, dirs), past bound: one exact index range per cell, in the cells' order.

    Each cell's range is in n order, so when the order is low-cardinality keys then n, SQLite stops reading a cell
    as soon as its rows sort after the page's last (the ORDER BY LIMIT optimization): the page costs about limit
    rows per cell, however many match. The cells come as a JSON list, so the statement is one SQL text, and the
    loop over them is a join (not IN lists, whose early stop SQLite 3.40 gets wrong when it seeks on fewer of them).
    """
    conds = [bound] if bound is not None else []
    sql = f"SELECT {select_sql(cols, CELLS)} {CELL_JOIN}{where(conds)} ORDER BY {order_sql(cols, dirs, CELLS)} LIMIT :limit"
    return conn.execute(sql, {**merge(conds), "anc": part.anc, "cells": json.dumps([_packed(c) for c in cells]),
                              "limit": limit}).fetchall()


CELL_COLUMNS = ("year_key", "kind", "theme", "scope")


def _merged_rows(conn, tables: ListTables, part: Part, keys: Keys, cells: list, limit: int) -> list:
    """Rows in an order of low-cardinality keys then n, group by group of those keys' values (one group for sort=id).

    A group is read by walking initiative_cells_n, checking its values and the filter in each entry, when most of
    the part's entries belong to it (the walk then reads about limit x part / group entries); else from its cells,
    one index range each (from_cells), which costs about WALK_COST entries a cell. The groups the page cannot
    reach, by their counts, are not read at all.
    """
    cols, dirs, bounds = keys.cols, keys.dirs, keys.bounds
    prefix = [CELL_COLUMNS.index(c) for c in cols[:-1]]

    def rank(cell):
        return tuple(cell[j] if d == "asc" else -cell[j] for j, d in zip(prefix, dirs))
    groups: dict = {}
    for cell in cells:
        groups.setdefault(rank(cell), []).append(cell)
    n_op = ">" if dirs[-1] == "asc" else "<"
    queue = []  # (group, its cells, the cursor's n when it is the cursor's own group)
    start = None
    if bounds is not None:
        start = tuple(b if d == "asc" else -b for b, d in zip(bounds[:-1], dirs))
        if start in groups:
            queue.append((start, groups[start], bounds[-1]))
    queue += [(key, groups[key], None) for key in sorted(groups) if start is None or key > start]
    rows: list = []
    batch: list = []  # cells of groups read together, in one statement
    promised = 0      # how many rows the batch holds (its groups' counts)

    def flush():
        nonlocal batch, promised
        if batch and len(rows) < limit:
            rows.extend(from_cells(conn, part, cols, dirs, batch, None, limit - len(rows)))
        batch, promised = [], 0

    for key, group, n_bound in queue:
        if len(rows) + promised >= limit:
            break
        count = sum(c[4] for c in group)
        need = limit - len(rows) - promised
        values = {c: (v if d == "asc" else -v) for c, d, v in zip(cols, dirs, key)}
        # a group of one scope among all records is walked on that scope's ancestor (national ones are contiguous in n)
        anc = scope_ancestor(tables, [values["scope"]], part.anc) if "scope" in values else part.anc
        walk = anc % 10_000 == 0 and need * tables.anc_sizes.get(anc, 0) < WALK_COST * len(group) * count
        if not walk and n_bound is None:
            batch += group
            promised += count
            continue
        flush()
        if len(rows) >= limit:
            break
        bound = Cond(f"c.n {n_op} :b_n", {"b_n": n_bound}) if n_bound is not None else None
        if walk:
            eq = [Cond(f"c.{c} = :e_{c}", {f"e_{c}": v}) for c, v in values.items()]
            rows += _walk(conn, tables, replace(part, anc=anc), cols, dirs, eq + ([bound] if bound else []),
                          "initiative_cells_n", limit - len(rows), order=["n"])
        else:
            rows += from_cells(conn, part, cols, dirs, group, bound, limit - len(rows))
    flush()
    return rows


def big_rows(conn, tables: ListTables, part: Part, keys: Keys, limit: int, cells=None) -> tuple[list, int] | None:
    """Up to limit rows of a large part in order, and how many records it matches; None when no plan here reads few rows.
    cells: the part's cells, when the caller has them (cells_of)."""
    cols, dirs, bounds = keys.cols, keys.dirs, keys.bounds
    cells = cells_of(conn, tables, part) if cells is None else cells
    total = sum(c[4] for c in cells)
    if total == 0:
        return [], 0
    after = [after_bounds(cols, dirs, bounds, CELLS)] if bounds else []
    if all(c in LOW_CARDINALITY for c in cols[:-1]):
        return _merged_rows(conn, tables, part, keys, cells, limit), total
    if total <= SORT_AT_MOST:  # few enough to collect and sort
        return from_cells(conn, part, cols, dirs, cells, after[0] if after else None, limit), total
    if len(cols) == 2 and cols[0] in ("en", "zh") and dirs[0] == dirs[1] and part.anc % 10_000 == 0:
        return _walk(conn, tables, part, cols, dirs, after, f"initiative_cells_{cols[0]}", limit), total  # by name, in order
    return None


def _walk(conn, tables: ListTables, part: Part, cols, dirs, conds: list[Cond], index: str, limit: int, order=None) -> list:
    """Walk an index of initiative_cells in order, checking the filter's facets in its entries."""
    conds = [Cond(f"c.anc = :anc AND c.{WALKED}", {"anc": part.anc})] + facet_conds(tables, part, CELLS) + conds
    by = order or cols
    sql = (f"SELECT {select_sql(cols, CELLS)} FROM initiative_cells c INDEXED BY {index}{where(conds)} "
           f"ORDER BY {order_sql(by, dirs[-len(by):], CELLS)} LIMIT :limit")
    return conn.execute(sql, {**merge(conds), "limit": limit}).fetchall()


def _merge(parts_rows: list[list], keys: Keys, limit: int) -> list:
    """Several parts' rows, each in order, as one list in order without repeats."""
    key = order_key(keys.cols, keys.dirs)
    seen: set = set()
    out = []
    for row in sorted((r for rows in parts_rows for r in rows), key=key):
        if row["n"] not in seen:
            seen.add(row["n"])
            out.append(row)
            if len(out) == limit:
                break
    return out


def _matching(conn, tables: ListTables, part: Part, cap: int) -> set:
    """The numbers of up to cap records of a part (for the count of several parts together)."""
    if part.anc in tables.big:
        conds = [Cond("c.anc = :anc", {"anc": part.anc})] + facet_conds(tables, part, CELLS)
        sql = f"SELECT c.n FROM initiative_cells c INDEXED BY {CELLS_PK}{where(conds)} LIMIT :cap"
    else:
        conds = [Cond("a.ancestor_code = :anc", {"anc": part.region}), _year_range(part)]
        conds += facet_conds(tables, part, SMALL, skip=("year_key",))
        sql = ("SELECT a.initiative_n FROM initiative_area a CROSS JOIN initiative_keys k ON k.n = a.initiative_n"
               f"{where(conds)} LIMIT :cap")
    return {r[0] for r in conn.execute(sql, {**merge(conds), "cap": cap})}


def listed_page(conn, tables: ListTables, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page | None:
    """One keyset page of a filter without q planned on the list tables, exactly as run_page would give it; None when
    they cannot plan it."""
    parts = parts_of(tables, f)
    if parts is None:
        return None
    keys = keys_of(conn, tables, sort, after, backwards)
    if keys is None:
        return None
    want = limit + 1
    found, totals = [], []
    for part in parts:
        if part.anc in tables.big:
            got = big_rows(conn, tables, part, keys, want)
            if got is None:
                return None
            found.append(got[0])
            totals.append(got[1])
        elif part.region is not None and tables.sizes.get(part.region, 0) <= BIG_ANCESTOR:
            found.append(small_rows(conn, tables, part, keys, want))
            totals.append(None)
        else:
            return None  # a large region the file has no cells for (built with another BIG_ANCESTOR)
    order = found[0] if len(parts) == 1 else _merge(found, keys, want)
    has_more = len(order) > limit
    total = known_total(len(order), after, has_more, count)
    if total is None:
        total = _count(conn, tables, parts, totals)
    return page_of(conn, tables, order[:limit], sort, total, True, has_more, backwards)


def _count(conn, tables: ListTables, parts: list[Part], totals: list[int | None]) -> int:
    """How many records the parts hold together (up to COUNT_CAP + 1); totals: each part's, when its cells gave it."""
    if len(parts) == 1:
        return totals[0] if totals[0] is not None else _small_count(conn, tables, parts[0], COUNT_CAP + 1)
    if any(t is not None and t > COUNT_CAP for t in totals):
        return COUNT_CAP + 1
    union: set = set()
    for part in parts:
        union |= _matching(conn, tables, part, COUNT_CAP + 1)
        if len(union) > COUNT_CAP:
            break
    return len(union)


def page_of(conn, tables: ListTables, order: list, sort, total: int, exact: bool, has_more: bool, backwards: bool) -> Page:
    """The Page of a plan's rows (each with its n), in order: their records, each by its number, and the cursors' keys."""
    ns = [r["n"] for r in order]
    by_n = {r["n"]: r for r in conn.execute(f"SELECT {tables.columns} FROM json_each(:ns) x CROSS JOIN initiatives i "
                                            "ON i.n = x.value", {"ns": json.dumps(ns)})}
    rows = [by_n[n] for n in ns]
    if backwards:
        rows.reverse()
    names = [name for name, _ in sort] + ["id"]
    columns = [ROW_COLUMNS[PLAN_COLUMNS[name]] for name in names]
    first = [rows[0][c] for c in columns] if rows else None
    last = [rows[-1][c] for c in columns] if rows else None
    return Page.of(rows, total, exact, has_more, first, last)
