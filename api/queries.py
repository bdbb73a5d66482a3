"""All SQL the API runs. Values are always bound as named parameters; identifiers come only from the whitelists here.

As in Datasette's filters.py, every condition is a fragment that carries its own values
(`Cond`), so conditions compose in any order: a statement is the fragments' text joined and their
parameter dicts merged, and two fragments can never claim the same name.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from typing import Callable

from . import search
from .vocabulary import is_code

COUNT_CAP = 10_000  # beyond this, meta.total is reported as a lower bound instead of counted
SEARCHED_COLUMNS = search.SEARCHED_COLUMNS  # the texts q searches


@dataclass(frozen=True)
class Cond:
    """One SQL condition and the values of its named placeholders."""

    sql: str
    params: dict = field(default_factory=dict)


def merge(conds) -> dict:
    """The parameters of several fragments as one dict; a name given twice is a programming error."""
    out: dict = {}
    for c in conds:
        clash = out.keys() & c.params.keys()
        if clash:
            raise ValueError(f"SQL parameter names used twice: {sorted(clash)}")
        out.update(c.params)
    return out


def where(conds) -> str:
    return (" WHERE " + " AND ".join(c.sql for c in conds)) if conds else ""


def one_of(column: str, values: list, name: str) -> Cond:
    """column IN (:name0, :name1, …)."""
    params = {f"{name}{i}": v for i, v in enumerate(values)}
    return Cond(f"{column} IN ({', '.join(':' + p for p in params)})", params)


def years(column: str, lo: int | None, hi: int | None) -> list[Cond]:
    """One year is an equality, so an index on (…, year, n) still yields rows in n order."""
    if lo is not None and lo == hi:
        return [Cond(f"{column} = :year", {"year": lo})]
    out = []
    if lo is not None:
        out.append(Cond(f"{column} >= :year_from", {"year_from": lo}))
    if hi is not None:
        out.append(Cond(f"{column} <= :year_to", {"year_to": hi}))
    return out


@dataclass
class Filter:
    """Validated, resolved filters shared by initiatives, metrics and facets."""

    regions: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    kinds: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)
    initiatives: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    include_national: bool = False  # with regions: the national initiatives too, which apply in every region


def scan(term: str, name: str) -> Cond:
    """The term in any searched text of i, ignoring ASCII case: read row by row, for what no index answers exactly."""
    return Cond("(" + " OR ".join(f"instr(lower(i.{c}), :{name})" for c in SEARCHED_COLUMNS) + ")", {name: term.lower()})


def initiative_conditions(f: Filter, year_col: str = "i.year_key") -> list[Cond]:
    """Every filter on the initiatives table i, each a fragment with its own parameter names."""
    conds = []
    if f.regions:
        inner = one_of("ancestor_code", f.regions, "region")
        national = " OR i.scope = 'national'" if f.include_national else ""
        conds.append(Cond(f"(i.n IN (SELECT initiative_n FROM initiative_area WHERE {inner.sql}){national})", inner.params))
    conds += years(year_col, f.year_from, f.year_to)
    for col, values, name in (("i.kind", f.kinds, "kind"), ("i.theme", f.themes, "theme"),
                              ("i.scope", f.scopes, "scope"), ("i.id", f.initiatives, "initiative")):
        if values:
            conds.append(one_of(col, values, name))
    return conds + term_conditions(*search.plan(f.terms))


def term_conditions(matches: dict[str, str], scans: list[str]) -> list[Cond]:
    """q's terms as api/search.py plans them: one MATCH per FTS5 table (a constant there), then the scans."""
    conds = [Cond(f"i.n IN (SELECT rowid FROM {table} WHERE {table} MATCH :fts{k})", {f"fts{k}": expr})
             for k, (table, expr) in enumerate(matches.items())]
    return conds + [scan(term, f"t{j}") for j, term in enumerate(scans)]


# ---------------------------------------------------------------- keyset pages

@dataclass(frozen=True)
class Source:
    """The table that drives a list query and the columns its sort keys read.

    from_sql: the FROM clause; n and year: the driving table's initiative number and year columns,
    so a sort on id or year reads straight off its index; count_from: a cheaper FROM clause a count
    can use when every condition is on the driving table (None otherwise).
    """

    from_sql: str
    conds: tuple[Cond, ...] = ()
    n: str = "i.n"
    year: str = "i.year_key"
    distinct: bool = False
    count_from: str | None = None


# Sortable fields -> the SQL expression each reads, given the query's Source. A sort key reaches
# SQL only through these maps. The build numbers initiatives (n) in id order, so sorting on id is
# sorting on n and can be read straight off an index.
INITIATIVE_SORTS: dict[str, Callable[[Source], str]] = {
    "id": lambda s: s.n, "year": lambda s: s.year, "name_en": lambda s: "i.name_en", "name_zh": lambda s: "i.name_zh",
    "kind": lambda s: "i.kind", "theme": lambda s: "i.theme", "scope": lambda s: "i.scope",
}
METRIC_SORTS: dict[str, Callable[[Source], str]] = {
    "value": lambda s: "m.value", "year": lambda s: "ifnull(m.year, 0)", "initiative": lambda s: "i.n",
    "unit": lambda s: "m.unit",
}
REGION_SORTS: dict[str, Callable[[Source], str]] = {
    "code": lambda s: "r.code", "name_en": lambda s: "r.name_en", "name_zh": lambda s: "r.name_zh",
    "initiative_count": lambda s: "r.initiative_count", "level": lambda s: "r.depth",
}


@dataclass(frozen=True)
class Family:
    """A sortable list: its sort expressions and the unique tie-breaker that makes every key distinct."""

    sorts: dict
    tiebreak: Callable[[Source], str]


INITIATIVES = Family(INITIATIVE_SORTS, lambda s: s.n)
METRICS = Family(METRIC_SORTS, lambda s: "m.n")
REGIONS = Family(REGION_SORTS, lambda s: "r.code")


def key_length(sort) -> int:
    """How many values a cursor of this sort holds: one per sort field, then the tie-breaker."""
    return len(sort) + 1


@dataclass
class Page:
    rows: list
    total: int
    total_exact: bool
    has_more: bool
    first_key: list | None
    last_key: list | None


@dataclass(frozen=True)
class Order:
    """The key expressions of one sort and the direction each is read in."""

    exprs: tuple[str, ...]
    dirs: tuple[str, ...]

    @classmethod
    def of(cls, family: Family, source: Source, sort, backwards: bool) -> "Order":
        exprs = [family.sorts[name](source) for name, _ in sort] + [family.tiebreak(source)]
        # The tie-breaker runs in the last key's direction, so an index on (key, n) serves both directions.
        dirs = [d for _, d in sort] + [sort[-1][1]]
        if backwards:
            dirs = ["desc" if d == "asc" else "asc" for d in dirs]
        return cls(tuple(exprs), tuple(dirs))

    def distinct_keys(self) -> dict[str, str]:
        # A key given twice (sort=id and its tie-breaker) is ordered once: FTS5 only serves ORDER BY rowid alone.
        return dict(zip(self.exprs, self.dirs))

    def sql(self, keys: dict[str, str] | None = None) -> str:
        return ", ".join(f"{e} {d.upper()}" for e, d in (keys or self.distinct_keys()).items())


def after_key(order: Order, values: list) -> Cond:
    """Rows strictly after values in order.

    One direction: a row-value comparison, which SQLite answers with an index range (a deep page
    costs what the first does). Mixed directions: an OR-chain. A key repeated (sort=id, whose
    tie-breaker is id again) adds nothing and is dropped.
    """
    keep: dict[str, tuple[str, object]] = {}
    for e, d, v in zip(order.exprs, order.dirs, values):
        keep.setdefault(e, (d, v))
    exprs = list(keep)
    params = {f"k{j}": keep[e][1] for j, e in enumerate(exprs)}
    dirs = [keep[e][0] for e in exprs]
    if len(set(dirs)) == 1:
        op = ">" if dirs[0] == "asc" else "<"
        if len(exprs) == 1:
            return Cond(f"{exprs[0]} {op} :k0", params)
        return Cond(f"({', '.join(exprs)}) {op} ({', '.join(':' + p for p in params)})", params)
    ors = []
    for i, (expr, d) in enumerate(zip(exprs, dirs)):
        ands = [f"{e} = :k{j}" for j, e in enumerate(exprs[:i])] + [f"{expr} {'>' if d == 'asc' else '<'} :k{i}"]
        ors.append("(" + " AND ".join(ands) + ")")
    return Cond("(" + " OR ".join(ors) + ")", params)


@dataclass(frozen=True)
class Statement:
    """One SQL text and its named parameters, as the app sends it to SQLite."""

    sql: str
    params: dict


def page_statements(family: Family, select: str, source: Source, sort, limit: int, after=None,
                    backwards: bool = False) -> list[Statement]:
    """The statements one keyset page runs, in order (the second only when the first falls short).

    Two keys in one direction (e.g. -year then n) with a cursor: SQLite would seek (k1, k2) < (?, ?)
    on k1 alone and read the cursor's whole k1 group, so the page reads two index ranges instead:
    the rest of that group, then everything past it. A page 10,000 deep then costs what the first does.
    """
    order = Order.of(family, source, sort, backwards)
    key_cols = ", ".join(f"{e} AS k{j}" for j, e in enumerate(order.exprs))
    head = f"SELECT {'DISTINCT ' if source.distinct else ''}{select}, {key_cols} {source.from_sql}"

    def statement(extra: list[Cond], keys: dict[str, str], n: int) -> Statement:
        conds = list(source.conds) + extra
        return Statement(f"{head}{where(conds)} ORDER BY {order.sql(keys)} LIMIT :limit", {**merge(conds), "limit": n})

    keys = order.distinct_keys()
    if after is not None and len(keys) == 2 and len(set(keys.values())) == 1:
        (first, direction), (second, _) = keys.items()
        value: dict = {}
        for e, v in zip(order.exprs, after):
            value.setdefault(e, v)  # a key given twice holds one value: the first
        op = ">" if direction == "asc" else "<"
        return [statement([Cond(f"{first} = :k0", {"k0": value[first]}), Cond(f"{second} {op} :k1", {"k1": value[second]})],
                          {second: direction}, limit + 1),
                statement([Cond(f"{first} {op} :k0", {"k0": value[first]})], keys, limit + 1)]
    extra = [after_key(order, after)] if after is not None else []
    return [statement(extra, keys, limit + 1)]


def count_statement(source: Source, tiebreak: str) -> Statement:
    one = "DISTINCT " + tiebreak if source.distinct else "1"
    return Statement(f"SELECT count(*) FROM (SELECT {one} {source.count_from or source.from_sql}{where(source.conds)} "
                     f"LIMIT {COUNT_CAP + 1})", merge(source.conds))


def run_page(conn, family: Family, select: str, source: Source, sort, limit: int, after=None, backwards=False,
             count=True) -> Page:
    """Run one keyset page. sort: [(field, 'asc'|'desc')]; after: key values of the row to start after."""
    first, *rest = page_statements(family, select, source, sort, limit, after, backwards)
    rows = conn.execute(first.sql, first.params).fetchall()
    for more in rest:
        if len(rows) > limit:
            break
        stmt = Statement(more.sql, {**more.params, "limit": limit + 1 - len(rows)})
        rows += conn.execute(stmt.sql, stmt.params).fetchall()
    has_more = len(rows) > limit
    if after is None and not has_more:
        total = len(rows)  # the first page holds everything: nothing more to count
    elif not count:
        total = -1  # an export walks every page and never shows a total
    else:
        stmt = count_statement(source, family.tiebreak(source))
        total = conn.execute(stmt.sql, stmt.params).fetchone()[0]
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    width = key_length(sort)
    keys = [[row[f"k{j}"] for j in range(width)] for row in rows]
    return Page(rows, min(total, COUNT_CAP), total <= COUNT_CAP, has_more,
                keys[0] if keys else None, keys[-1] if keys else None)


def walk(page, batch: int = 500):
    """Every row of a list in order, in keyset batches: page(limit, after) -> Page. Yields one batch at a time."""
    after = None
    while True:
        p = page(batch, after)
        if p.rows:
            yield p.rows
        if not p.has_more:
            return
        after = p.last_key


# ---------------------------------------------------------------- initiatives

def initiative_source(f: Filter) -> Source:
    """Choose the table that drives the query, so the first page is an ordered index range, not a sort.

    A region filter reads initiative_area (ancestor_code, year_key, n); a search reads the FTS index of
    its first indexed term in rowid order, matching every term that index answers at once (api/search.py);
    otherwise initiatives itself. CROSS JOIN keeps SQLite from reordering the loops: the driving table
    stays outside.
    """
    if f.regions and not f.include_national:  # with the national ones, the rows are not all in initiative_area
        own = [one_of("a.ancestor_code", f.regions, "region")] + years("a.year_key", f.year_from, f.year_to)
        # the year condition on the driving table keeps the index range tight
        rest = (initiative_conditions(replace(f, regions=[], year_from=None, year_to=None, terms=[]))
                + term_conditions(*search.plan(f.terms, few_rows=True)))
        return Source("FROM initiative_area a CROSS JOIN initiatives i ON i.n = a.initiative_n", tuple(own + rest),
                      n="a.initiative_n", year="a.year_key", distinct=len(f.regions) > 1,
                      count_from=None if rest else "FROM initiative_area a")
    matches, scans = search.plan(f.terms)
    if matches:
        (fts, expr), *others = matches.items()  # fts: a constant of api/search.py, never user text
        own = [Cond(f"{fts} MATCH :match", {"match": expr})]
        rest = initiative_conditions(replace(f, terms=[])) + term_conditions(dict(others), scans)
        return Source(f"FROM {fts} CROSS JOIN initiatives i ON i.n = {fts}.rowid", tuple(own + rest),
                      n=f"{fts}.rowid", count_from=None if rest else f"FROM {fts}")
    conds = initiative_conditions(f)
    return Source("FROM initiatives i", tuple(conds), count_from="FROM initiatives i")


def list_initiatives(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    page = planned_page(conn, f, sort, limit, after, backwards, count)  # the list tables' plans (below), when they apply
    if page is not None:
        return page
    return run_page(conn, INITIATIVES, "i.*", initiative_source(f), sort, limit, after, backwards, count)


# ---------------------------------------------------------------- list plans: the initiative list at any size
#
# Every filter but q (regions, years, kinds, themes, scopes) and every sort is planned on the list tables
# (api/list_tables.py), so that no page reads more than a bounded number of index entries, at 36 records
# or at a million:
#
# - a region with at most BIG_ANCESTOR records is its initiative_area range joined to initiative_keys:
#   walked in n or year order when the sort is one of those, else collected and sorted (a few thousand
#   narrow rows at most);
# - a larger region, or no region (ancestor 0), is read from initiative_cells. Its cell counts give the exact
#   total first. At most SORT_AT_MOST matching rows are collected with exact index ranges and sorted; more
#   than that, and an index is walked in the sort's order, checking the facets in the index entries (so the
#   walk reads about limit x rows / matches entries). A sort that starts with low-cardinality keys (year,
#   kind, theme, scope: "kind,-year") is read branch by branch, one combination of their values after the
#   other, each branch planned the same way on its own count;
# - several regions (or a region with the national initiatives) are planned one by one and merged.
#
# Keys are compared as integers: year_key and n as they are, facets by their code and names by their rank,
# both in text order; a cursor's value that is no longer in the data (a cursor from an earlier build) sits
# half-way between two codes or ranks. The page's rows, and so the cursors' values, are always the records'
# own. Anything else (q, or a sort these tables cannot walk when too many rows match) keeps the plans above.

BIG_ANCESTOR = 1_000   # the build writes the regions with more records than this to initiative_cells
SORT_AT_MOST = 10_000  # a plan collects and sorts at most this many matching rows; beyond that it walks an index
WALK_COST = 25         # reading one cell's index range costs about as much as walking this many index entries
# initiative_cells' ancestors besides the regions' codes: 0 holds every record, NATIONAL and LOCAL the national and
# the local ones (code-like numbers no region has: provinces run from 110000)
NATIONAL, LOCAL = 10_000, 20_000
WALKED = "anc % 10000 = 0"  # the ancestors an index is walked for (all, NATIONAL, LOCAL, provinces): initiative_cells_n/en/zh

PLAN_COLUMNS = {"id": "n", "year": "year_key", "name_en": "en", "name_zh": "zh", "kind": "kind", "theme": "theme",
                "scope": "scope"}
FACETS = ("kind", "theme", "scope")
LOW_CARDINALITY = ("year_key",) + FACETS
FACET_PARAMS = {"year_key": "y", "kind": "fk", "theme": "ft", "scope": "fs"}
ROW_COLUMNS = {"n": "n", "year_key": "year_key", "en": "name_en", "zh": "name_zh", "kind": "kind", "theme": "theme",
               "scope": "scope"}
CELLS_PK = "sqlite_autoindex_initiative_cells_1"
AREA_BY_N = "idx_initiative_area_ancestor_code_initiative_n"
AREA_PK = "sqlite_autoindex_initiative_area_1"


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
    """The list tables of this connection's file, or None when it has none (a file built before them)."""
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


def _parts(tables: ListTables, f: Filter) -> list[Part] | None:
    """The parts of a filter; [] when it matches nothing, None when the list tables cannot plan it."""
    if f.terms or f.initiatives or f.units:
        return None
    codes = {"year_key": [y for y in tables.years if (f.year_from is None or y >= f.year_from)
                          and (f.year_to is None or y <= f.year_to)]}
    for facet, chosen in (("kind", f.kinds), ("theme", f.themes), ("scope", f.scopes)):
        values = tables.values[facet]
        codes[facet] = [c for c, v in enumerate(values) if v in chosen] if chosen else list(range(len(values)))
    if not all(codes.values()):
        return []
    years = (f.year_from, f.year_to)
    national = [c for c in codes["scope"] if tables.values["scope"][c] == "national"]
    if not f.regions:  # one scope is an ancestor of its own: a partition, not a check
        return [Part(_scope_ancestor(tables, codes["scope"]), None, codes, years)]
    parts = [Part(int(code), code, codes, years) for code in f.regions]
    if f.include_national and national:
        parts.append(Part(NATIONAL, None, {**codes, "scope": national}, years))
    return parts


def _scope_ancestor(tables: ListTables, scopes: list[int], anc: int = 0) -> int:
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


def _keys(conn, tables: ListTables, sort, after, backwards: bool) -> Keys | None:
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
        from bisect import bisect_left
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


def _after(cols, dirs, bounds, exprs: dict) -> Cond:
    """Rows strictly after bounds in the order (cols, dirs): one row value when the directions agree, else an OR-chain."""
    names = [f"b_{c}" for c in cols]
    params = dict(zip(names, bounds))
    e = [exprs[c] for c in cols]
    if len(set(dirs)) == 1:
        op = ">" if dirs[0] == "asc" else "<"
        if len(cols) == 1:
            return Cond(f"{e[0]} {op} :{names[0]}", params)
        return Cond(f"({', '.join(e)}) {op} ({', '.join(':' + p for p in names)})", params)
    ors = []
    for i, d in enumerate(dirs):
        ands = [f"{e[j]} = :{names[j]}" for j in range(i)] + [f"{e[i]} {'>' if d == 'asc' else '<'} :{names[i]}"]
        ors.append("(" + " AND ".join(ands) + ")")
    return Cond("(" + " OR ".join(ors) + ")", params)


def _facet_conds(tables: ListTables, part: Part, exprs: dict, skip=()) -> list[Cond]:
    """The facets as IN lists of a fixed length per file (padded with repeats), so that each plan is one SQL text."""
    out = []
    for col in LOW_CARDINALITY:
        if col in skip:
            continue
        size = len(tables.years) if col == "year_key" else len(tables.values[col])
        codes = part.codes[col]
        out.append(one_of(exprs[col], codes + [codes[-1]] * (size - len(codes)), FACET_PARAMS[col]))
    return out


def _order_sql(cols, dirs, exprs: dict) -> str:
    return ", ".join(f"{exprs[c]} {d.upper()}" for c, d in zip(cols, dirs))


def _select(cols, exprs: dict) -> str:
    return ", ".join(f"{exprs[c]} AS {c}" for c in (["n"] + [c for c in cols if c != "n"]))


def _run(conn, sql: str, conds: list[Cond], extra: dict) -> list:
    return conn.execute(sql, {**merge(conds), **extra}).fetchall()


def _year_range(part: Part) -> Cond:
    lo, hi = part.years
    return Cond("a.year_key BETWEEN :year_from AND :year_to",
                {"year_from": -1 if lo is None else lo, "year_to": (1 << 40) if hi is None else hi})


def _small_rows(conn, tables: ListTables, part: Part, keys: Keys, limit: int) -> list:
    """Up to limit rows of a small region in order: initiative_area's range for it joined to initiative_keys."""
    cols, dirs = keys.cols, keys.dirs
    lo, hi = part.years
    conds = [Cond("a.ancestor_code = :anc", {"anc": part.region})]
    facets = _facet_conds(tables, part, SMALL, skip=("year_key",))
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
        conds.append(_after(cols, dirs, keys.bounds, SMALL))
    sql = (f"SELECT {_select(cols, SMALL)} FROM initiative_area a INDEXED BY {index} "
           f"CROSS JOIN initiative_keys k ON k.n = a.initiative_n{where(conds)} ORDER BY {_order_sql(cols, dirs, SMALL)} "
           "LIMIT :limit")
    return _run(conn, sql, conds, {"limit": limit})


def _small_count(conn, tables: ListTables, part: Part, cap: int) -> int:
    conds = [Cond("a.ancestor_code = :anc", {"anc": part.region}), _year_range(part)]
    if all(len(part.codes[c]) == len(tables.values[c]) for c in FACETS):  # no facet asked for: the area range alone
        sql = f"SELECT count(*) FROM (SELECT 1 FROM initiative_area a{where(conds)} LIMIT :cap)"
    else:
        conds += _facet_conds(tables, part, SMALL, skip=("year_key",))
        sql = ("SELECT count(*) FROM (SELECT 1 FROM initiative_area a CROSS JOIN initiative_keys k ON k.n = a.initiative_n"
               f"{where(conds)} LIMIT :cap)")
    return conn.execute(sql, {**merge(conds), "cap": cap}).fetchone()[0]


def _cells(conn, tables: ListTables, part: Part) -> list[tuple]:
    """The cells of initiative_cell_counts the part's filter takes, each (year_key, kind, theme, scope, count)."""
    conds = [Cond("c.anc = :anc", {"anc": part.anc})] + _facet_conds(tables, part, CELLS)
    return conn.execute(f"SELECT c.year_key, c.kind, c.theme, c.scope, c.count FROM initiative_cell_counts c{where(conds)}",
                        merge(conds)).fetchall()


CELL_JOIN = ("FROM json_each(:cells) x CROSS JOIN initiative_cells c INDEXED BY " + CELLS_PK + " ON c.anc = :anc "
             "AND c.year_key = x.value >> 20 AND c.kind = (x.value >> 12) & 255 AND c.theme = (x.value >> 4) & 255 "
             "AND c.scope = x.value & 15")


def _packed(cell) -> int:
    return (cell[0] << 20) | (cell[1] << 12) | (cell[2] << 4) | cell[3]


def _from_cells(conn, part: Part, cols, dirs, cells: list, bound: Cond | None, limit: int) -> list:
    """Rows of the given cells in the order (cols, dirs), past bound: one exact index range per cell, in the cells' order.

    Each cell's range is in n order, so when the order is low-cardinality keys then n, SQLite stops reading a cell
    as soon as its rows sort after the page's last (the ORDER BY LIMIT optimization): the page costs about limit
    rows per cell, however many match. The cells come as a JSON list, so the statement is one SQL text, and the
    loop over them is a join (not IN lists, whose early stop SQLite 3.40 gets wrong when it seeks on fewer of them).
    """
    conds = [bound] if bound is not None else []
    sql = f"SELECT {_select(cols, CELLS)} {CELL_JOIN}{where(conds)} ORDER BY {_order_sql(cols, dirs, CELLS)} LIMIT :limit"
    return conn.execute(sql, {**merge(conds), "anc": part.anc, "cells": json.dumps([_packed(c) for c in cells]),
                              "limit": limit}).fetchall()


CELL_COLUMNS = ("year_key", "kind", "theme", "scope")


def _merged_rows(conn, tables: ListTables, part: Part, keys: Keys, cells: list, limit: int) -> list:
    """Rows in an order of low-cardinality keys then n, group by group of those keys' values (one group for sort=id).

    A group is read by walking initiative_cells_n, checking its values and the filter in each entry, when most of
    the part's entries belong to it (the walk then reads about limit x part / group entries); else from its cells,
    one index range each (_from_cells), which costs about WALK_COST entries a cell. The groups the page cannot
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
            rows.extend(_from_cells(conn, part, cols, dirs, batch, None, limit - len(rows)))
        batch, promised = [], 0

    for key, group, n_bound in queue:
        if len(rows) + promised >= limit:
            break
        count = sum(c[4] for c in group)
        need = limit - len(rows) - promised
        values = {c: (v if d == "asc" else -v) for c, d, v in zip(cols, dirs, key)}
        # a group of one scope among all records is walked on that scope's ancestor (national ones are contiguous in n)
        anc = _scope_ancestor(tables, [values["scope"]], part.anc) if "scope" in values else part.anc
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
            rows += _from_cells(conn, part, cols, dirs, group, bound, limit - len(rows))
    flush()
    return rows


def _big_rows(conn, tables: ListTables, part: Part, keys: Keys, limit: int, cells=None) -> tuple[list, int] | None:
    """Up to limit rows of a large part in order, and how many records it matches; None when no plan here reads few rows.
    cells: the part's cells, when the caller has them (_cells)."""
    cols, dirs, bounds = keys.cols, keys.dirs, keys.bounds
    cells = _cells(conn, tables, part) if cells is None else cells
    total = sum(c[4] for c in cells)
    if total == 0:
        return [], 0
    after = [_after(cols, dirs, bounds, CELLS)] if bounds else []
    if all(c in LOW_CARDINALITY for c in cols[:-1]):
        return _merged_rows(conn, tables, part, keys, cells, limit), total
    if total <= SORT_AT_MOST:  # few enough to collect and sort
        return _from_cells(conn, part, cols, dirs, cells, after[0] if after else None, limit), total
    if len(cols) == 2 and cols[0] in ("en", "zh") and dirs[0] == dirs[1] and part.anc % 10_000 == 0:
        return _walk(conn, tables, part, cols, dirs, after, f"initiative_cells_{cols[0]}", limit), total  # by name, in order
    return None


def _walk(conn, tables: ListTables, part: Part, cols, dirs, conds: list[Cond], index: str, limit: int, order=None) -> list:
    """Walk an index of initiative_cells in order, checking the filter's facets in its entries."""
    conds = [Cond(f"c.anc = :anc AND c.{WALKED}", {"anc": part.anc})] + _facet_conds(tables, part, CELLS) + conds
    by = order or cols
    sql = (f"SELECT {_select(cols, CELLS)} FROM initiative_cells c INDEXED BY {index}{where(conds)} "
           f"ORDER BY {_order_sql(by, dirs[-len(by):], CELLS)} LIMIT :limit")
    return conn.execute(sql, {**merge(conds), "limit": limit}).fetchall()


def _merge(parts_rows: list[list], keys: Keys, limit: int) -> list:
    """Several parts' rows, each in order, as one list in order without repeats."""
    key = _order_key(keys.cols, keys.dirs)
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
        conds = [Cond("c.anc = :anc", {"anc": part.anc})] + _facet_conds(tables, part, CELLS)
        sql = f"SELECT c.n FROM initiative_cells c INDEXED BY {CELLS_PK}{where(conds)} LIMIT :cap"
    else:
        conds = [Cond("a.ancestor_code = :anc", {"anc": part.region}), _year_range(part)]
        conds += _facet_conds(tables, part, SMALL, skip=("year_key",))
        sql = ("SELECT a.initiative_n FROM initiative_area a CROSS JOIN initiative_keys k ON k.n = a.initiative_n"
               f"{where(conds)} LIMIT :cap")
    return {r[0] for r in conn.execute(sql, {**merge(conds), "cap": cap})}


def planned_page(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page | None:
    """One keyset page planned on the list tables, exactly as run_page would give it; None when they cannot plan it."""
    tables = list_tables(conn)
    if tables is None:
        return None
    if f.terms:
        return searched_page(conn, tables, f, sort, limit, after, backwards, count)
    parts = _parts(tables, f)
    if parts is None:
        return None
    keys = _keys(conn, tables, sort, after, backwards)
    if keys is None:
        return None
    want = limit + 1
    found, totals = [], []
    for part in parts:
        if part.anc in tables.big:
            got = _big_rows(conn, tables, part, keys, want)
            if got is None:
                return None
            found.append(got[0])
            totals.append(got[1])
        elif part.region is not None and tables.sizes.get(part.region, 0) <= BIG_ANCESTOR:
            found.append(_small_rows(conn, tables, part, keys, want))
            totals.append(None)
        else:
            return None  # a large region the file has no cells for (built with another BIG_ANCESTOR)
    order = found[0] if len(parts) == 1 else _merge(found, keys, want)
    has_more = len(order) > limit
    if after is None and not has_more:
        total = len(order)
    elif not count:
        total = -1
    elif len(parts) == 1:
        total = totals[0] if totals[0] is not None else _small_count(conn, tables, parts[0], COUNT_CAP + 1)
    elif any(t is not None and t > COUNT_CAP for t in totals):
        total = COUNT_CAP + 1
    else:
        union: set = set()
        for part in parts:
            union |= _matching(conn, tables, part, COUNT_CAP + 1)
            if len(union) > COUNT_CAP:
                break
        total = len(union)
    return _page(conn, tables, order[:limit], sort, total, total <= COUNT_CAP, has_more, backwards)


def _page(conn, tables: ListTables, order: list, sort, total: int, exact: bool, has_more: bool, backwards: bool) -> Page:
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
    return Page(rows, min(total, COUNT_CAP), exact and total <= COUNT_CAP, has_more, first, last)


# ---------------------------------------------------------------- search plans: q with the other filters
#
# q's terms (all answered by one index: one MATCH, search.plan) with any other filter and sort are planned on the
# list tables too, each term checked exactly (_term_checks). The term's records are counted (up to a cap) and the
# filters' from the cells; then the cheapest of four ways by _plan_costs, matches taken as spread evenly:
# - term: the term's records read from its index with their keys (initiative_keys), the filters checked on each,
#   sorted and cut by SQLite; the total exact (a second pass);
# - scan: the filters' records (few) collected as the list plans collect them and the terms checked on each record,
#   sorted here; the total exact;
# - walk: the filters' plan walked in the page's order a batch at a time, the terms checked on each record, until
#   the page is full; the total a lower bound (total_exact false): the matches the walk found;
# - term walk (a sort on id): the term's index read in rowid order, the filters checked in initiative_keys, until the
#   page is full; the total a lower bound: the matches among the term's first COUNT_WALK records.
# Several regions: the term's records if few, else the filters' records if few, else run_page; so do terms of both
# indexes and a term no check answers exactly.

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
    conds = _facet_conds(tables, part, KEYS)
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
    return conn.execute(f"SELECT {_select(cols, KEYS)} {from_sql}{where(conds)}", merge(conds)).fetchall()


def _term_page(conn, tables: ListTables, table: str, match: str, part: Part, keys: Keys, want: int) -> list:
    """The page from the term's side: its records in the part, after the cursor, sorted and cut here by SQLite."""
    from_sql, conds = _term_keys(tables, table, match, part)
    if keys.bounds is not None:
        conds.append(_after(keys.cols, keys.dirs, keys.bounds, KEYS))
    sql = (f"SELECT {_select(keys.cols, KEYS)} {from_sql}{where(conds)} "
           f"ORDER BY {_order_sql(keys.cols, keys.dirs, KEYS)} LIMIT :limit")
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


def _order_key(cols, dirs):
    """A row's place in the order (cols, dirs), as a tuple that sorts ascending."""
    return lambda row: tuple(row[c] if d == "asc" else -row[c] for c, d in zip(cols, dirs))


def _sorted_after(rows, keys: Keys, want: int) -> list:
    """The first want rows after the cursor, in order."""
    key = _order_key(keys.cols, keys.dirs)
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
        cells = _cells(conn, tables, part)
    batch = WALK_BATCH if terms is None else min(WALK_BATCH_MAX, max(WALK_BATCH, int(1.25 * want * records / max(terms, 1))))
    while True:
        at = Keys(keys.cols, keys.dirs, bounds)
        if part.anc in tables.big:
            got = _big_rows(conn, tables, part, at, batch, cells)
            if got is None:
                return None
            rows = got[0]
        else:
            rows = _small_rows(conn, tables, part, at, batch)
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
            read = _cells(conn, tables, part)
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
        rows = (_from_cells(conn, part, keys.cols, keys.dirs, read if read is not None else _cells(conn, tables, part),
                            None, SCAN_AT_MOST + 1)
                if part.anc in tables.big else
                _small_rows(conn, tables, part, Keys(keys.cols, keys.dirs, None), SCAN_AT_MOST + 1))
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
    parts = _parts(tables, replace(f, terms=[]))
    keys = _keys(conn, tables, sort, after, backwards) if parts else None
    if parts is None or (parts and keys is None):
        return None
    if not parts:
        return _page(conn, tables, [], sort, 0, True, False, backwards)
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
    if after is None and not has_more:
        total, exact = len(order), True
    elif not count:
        total, exact = -1, True
    return _page(conn, tables, order[:limit], sort, total, exact, has_more, backwards)


def initiative_by_id(conn, initiative_id: str):
    return conn.execute("SELECT * FROM initiatives WHERE id = :id", {"id": initiative_id}).fetchone()


def redirected_id(conn, old_id: str) -> str | None:
    """The current id of a record that had old_id in an earlier release, or None."""
    row = conn.execute("SELECT initiative_id FROM id_redirects WHERE old_id = :id", {"id": old_id}).fetchone()
    return row[0] if row else None


def changelog(conn):
    return conn.execute("SELECT * FROM changelog ORDER BY release DESC, ord").fetchall()


def regions_of(conn, ns: list[int]) -> dict[int, list]:
    """The regions of each initiative number, in the record's order, with names and centroid."""
    out: dict[int, list] = {n: [] for n in ns}
    if not ns:
        return out
    # the numbers as one JSON parameter: one SQL text for every page size, so the statement cache keeps it
    rows = conn.execute(
        "SELECT ir.initiative_n, r.code, r.name_zh, r.name_en, r.level, r.lat, r.lng, r.province_code "
        "FROM initiative_regions ir JOIN regions r ON r.code = ir.region_code "
        "WHERE ir.initiative_n IN (SELECT value FROM json_each(:ns)) ORDER BY ir.initiative_n, ir.ord",
        {"ns": json.dumps(ns)}).fetchall()
    for row in rows:
        out[row["initiative_n"]].append(row)
    return out


def metrics_of(conn, n: int):
    return conn.execute("SELECT * FROM metrics WHERE initiative_n = :n ORDER BY ord", {"n": n}).fetchall()


def evidence_of(conn, n: int):
    return conn.execute(
        "SELECT e.*, s.title_zh, s.title_en, s.publisher_zh, s.publisher_en, s.published "
        "FROM evidence e JOIN sources s ON s.id = e.source_id WHERE e.initiative_n = :n ORDER BY e.ord", {"n": n}).fetchall()


# ---------------------------------------------------------------- regions

def region_chain(conn, code: str) -> list:
    """The region and every region above it, from the province down."""
    return conn.execute(
        "WITH RECURSIVE up(code, depth) AS (SELECT :code, 0 UNION ALL "
        "SELECT r.parent_code, up.depth + 1 FROM regions r JOIN up ON r.code = up.code WHERE r.parent_code IS NOT NULL) "
        "SELECT r.* FROM up JOIN regions r ON r.code = up.code ORDER BY up.depth DESC", {"code": code}).fetchall()


def region(conn, code: str):
    return conn.execute("SELECT * FROM regions WHERE code = :code", {"code": code}).fetchone()


def region_alias(conn, code: str):
    return conn.execute("SELECT * FROM region_aliases WHERE code = :code", {"code": code}).fetchone()


def region_or_successor(conn, code: str):
    """(the division with this code, the alias row when the code is retired and the division is its successor).

    (None, None) when no current or retired code matches; anything not shaped like a code matches nothing.
    """
    if not is_code(code):
        return None, None
    row = region(conn, code)
    if row is not None:
        return row, None
    alias = region_alias(conn, code)
    if alias is None:
        return None, None
    return region(conn, alias["successor_code"]), alias


def region_children(conn, code: str):
    return conn.execute("SELECT * FROM regions WHERE parent_code = :code ORDER BY code", {"code": code}).fetchall()


def regions_by_key(conn, key: str) -> list:
    return conn.execute(
        "SELECT r.*, n.exact FROM region_names n JOIN regions r ON r.code = n.code "
        "WHERE n.key = :key ORDER BY r.depth, r.code", {"key": key}).fetchall()


def regions_by_codes(conn, codes: list[str]) -> list:
    cond = one_of("code", codes, "code")
    return conn.execute(f"SELECT * FROM regions WHERE {cond.sql} ORDER BY code", cond.params).fetchall()


def region_name_index(conn) -> dict[str, list[str]]:
    """Every lookup key and the codes it names, in key order (callers keep it for the snapshot's life)."""
    keys: dict[str, list[str]] = {}
    for row in conn.execute("SELECT key, code FROM region_names ORDER BY key, code"):
        keys.setdefault(row[0], []).append(row[1])
    return keys


def region_suggestions(conn, codes_of: dict[str, list[str]], key: str, limit: int = 5) -> list:
    """Regions whose names are close to key (codes_of: region_name_index): prefix matches first, then similar spellings."""
    names = list(codes_of)
    picked: list[str] = [k for k in names if k.startswith(key)][:limit] if key else []
    if len(picked) < limit and key:
        picked += [k for k in difflib.get_close_matches(key, names, n=limit, cutoff=0.6) if k not in picked]
    codes: list[str] = []
    for k in picked:
        for c in codes_of[k]:
            if c not in codes:
                codes.append(c)
    return regions_by_codes(conn, codes[:limit]) if codes else []


@dataclass(frozen=True)
class RegionFilter:
    """The filters of the region list: levels, a parent code, a name-key prefix, whether it has initiatives."""

    levels: tuple[str, ...] = ()
    parent: str | None = None
    name_prefix: str | None = None
    has_initiatives: bool | None = None

    def conditions(self) -> list[Cond]:
        conds = []
        if self.levels:
            conds.append(one_of("r.level", list(self.levels), "level"))
        if self.parent:
            conds.append(Cond("r.parent_code = :parent", {"parent": self.parent}))
        if self.name_prefix:
            conds.append(Cond("r.code IN (SELECT code FROM region_names WHERE key >= :key_from AND key < :key_to)",
                              {"key_from": self.name_prefix, "key_to": self.name_prefix + "\U0010ffff"}))
        if self.has_initiatives is not None:
            conds.append(Cond("r.initiative_count > 0" if self.has_initiatives else "r.initiative_count = 0"))
        return conds


def list_regions(conn, f: RegionFilter, sort, limit, after=None, backwards=False, count=True) -> Page:
    source = Source("FROM regions r", tuple(f.conditions()))
    return run_page(conn, REGIONS, "r.*", source, sort, limit, after, backwards, count)


# ---------------------------------------------------------------- metrics

def metric_source(f: Filter) -> Source:
    conds = initiative_conditions(f, year_col="ifnull(m.year, 0)")
    if f.units:
        conds.append(one_of("m.unit", f.units, "unit"))
    return Source("FROM metrics m JOIN initiatives i ON i.n = m.initiative_n", tuple(conds))


def list_metrics(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    select = "m.*, i.name_zh AS initiative_name_zh, i.name_en AS initiative_name_en, i.region_codes"
    return run_page(conn, METRICS, select, metric_source(f), sort, limit, after, backwards, count)


# ---------------------------------------------------------------- facets and vocabularies

def facets(conn, f: Filter) -> dict[str, list]:
    conds = initiative_conditions(f)
    w, params = where(conds), merge(conds)
    matched = f"SELECT i.n FROM initiatives i{w}"
    out = {
        "province": conn.execute(
            "SELECT r.code, r.name_zh, r.name_en, count(*) AS count FROM initiative_area a "
            "JOIN regions r ON r.code = a.ancestor_code AND r.parent_code IS NULL "
            f"WHERE a.initiative_n IN ({matched}) GROUP BY r.code ORDER BY count DESC, r.code", params).fetchall(),
        "year": conn.execute(
            f"SELECT i.year, i.year_basis, count(*) AS count FROM initiatives i{w} "
            "GROUP BY i.year, i.year_basis ORDER BY i.year DESC, i.year_basis", params).fetchall(),
        "kind": conn.execute(
            f"SELECT k.id, k.name_zh, k.name_en, count(*) AS count FROM initiatives i JOIN kinds k ON k.id = i.kind{w} "
            "GROUP BY k.id ORDER BY count DESC, k.id", params).fetchall(),
        "theme": conn.execute(
            f"SELECT t.id, t.name_zh, t.name_en, count(*) AS count FROM initiatives i JOIN themes t ON t.id = i.theme{w} "
            "GROUP BY t.id ORDER BY t.\"order\"", params).fetchall(),
        "scope": conn.execute(
            f"SELECT i.scope AS id, count(*) AS count FROM initiatives i{w} GROUP BY i.scope ORDER BY i.scope", params).fetchall(),
    }
    out["total"] = conn.execute(f"SELECT count(*) FROM initiatives i{w}", params).fetchone()[0]
    return out


def kinds(conn):
    return conn.execute("SELECT * FROM kinds ORDER BY ord").fetchall()


def themes(conn):
    return conn.execute('SELECT * FROM themes ORDER BY "order"').fetchall()


def sources(conn):
    return conn.execute("SELECT * FROM sources ORDER BY published DESC, id").fetchall()


def vocabulary(conn, table: str) -> list[str]:
    """The ids of a vocabulary table (kinds or themes)."""
    sql = {"kinds": "SELECT id FROM kinds ORDER BY ord", "themes": 'SELECT id FROM themes ORDER BY "order"'}[table]
    return [row[0] for row in conn.execute(sql)]


def meta(conn) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute("SELECT key, value FROM meta")}


def release(conn) -> dict:
    """This release: semantic version, date, previous release, what the changes amount to, and their counts."""
    return json.loads(meta(conn)["release"])


def counts(conn) -> dict[str, int]:
    """What the dataset holds, counted by the build."""
    return json.loads(meta(conn)["counts"])


@dataclass(frozen=True)
class PublicTable:
    """One CSV under /downloads/: which table it reads, its columns in order, its row order and primary key.

    Internal join keys (n, initiative_n, year_key, depth, ord of the vocabularies) stay out: a row
    refers to a record by its id. Where the API exports a CSV under the same file name (kinds, themes,
    sources, regions), the columns are the API's, so one name is always one shape.
    """

    table: str
    columns: tuple[str, ...]
    order: str
    primary_key: tuple[str, ...]
    file: str = ""  # the name /downloads/ serves it under: <table>.csv unless an API export of that name differs

    @property
    def filename(self) -> str:
        return self.file or f"{self.table}.csv"


PUBLIC_TABLES = {t.table: t for t in [
    PublicTable("initiatives", ("id", "source_id", "name_zh", "name_en", "kind", "theme", "scope", "year", "year_basis",
                                "date", "date_note_zh", "date_note_en", "place_zh", "place_en", "summary_zh", "summary_en",
                                "organisations", "region_codes", "regions_complete", "former_ids", "metric_count"), "n", ("id",),
                # /api/v1/initiatives?format=csv (initiatives.csv) joins in region names: another shape, another name
                "initiatives-table.csv"),
    PublicTable("initiative_regions", ("initiative_id", "ord", "region_code"), "initiative_n, ord", ("initiative_id", "ord")),
    PublicTable("metrics", ("initiative_id", "ord", "value", "unit", "unit_zh", "qualifier", "measure", "year", "year_basis",
                            "counts_zh", "counts_en", "figure_text"), "initiative_n, ord", ("initiative_id", "ord"),
                "metrics-table.csv"),  # the API's metrics.csv joins in each initiative's names and regions
    PublicTable("evidence", ("initiative_id", "ord", "source_id", "quote", "start", "end"), "initiative_n, ord",
                ("initiative_id", "ord")),
    PublicTable("people", ("initiative_id", "ord", "name_zh", "name_en", "roles_zh", "roles_en"), "initiative_n, ord",
                ("initiative_id", "ord")),
    PublicTable("outside_facts", ("initiative_id", "ord", "fact", "value", "statement_zh", "statement_en", "source_title",
                                  "source_publisher", "source_published", "source_url", "accessed", "relied_on"),
                "initiative_n, ord", ("initiative_id", "ord")),
    PublicTable("changelog", ("release", "ord", "change", "initiative_id", "previous_id", "fields", "reason"),
                "release DESC, ord", ("release", "ord")),
    PublicTable("regions", ("code", "name_zh", "name_en", "level", "parent_code", "province_code", "lat", "lng",
                            "coord_source", "initiative_count", "as_of"), "code", ("code",)),
    PublicTable("region_aliases", ("code", "successor_code", "name_zh", "retired", "note"), "code", ("code",)),
    PublicTable("kinds", ("id", "name_zh", "name_en", "definition_zh", "definition_en", "initiative_count"), "ord", ("id",)),
    PublicTable("themes", ("id", "order", "name_zh", "name_en", "source", "start", "end", "initiative_count"),
                '"order"', ("id",)),
    PublicTable("sources", ("id", "title_zh", "title_en", "publisher_zh", "publisher_en", "dateline_zh", "dateline_en",
                            "published", "language", "sha256", "licence", "initiative_count"), "published DESC, id", ("id",)),
]}


def table_rows(conn, table: str):
    """Every row of one public table, for bulk CSV downloads: (column names, a cursor). KeyError outside the whitelist."""
    t = PUBLIC_TABLES[table]
    cur = conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in t.columns)} FROM "{t.table}" ORDER BY {t.order}')
    return list(t.columns), cur


def loads_json(text: str | None):
    if not text or text == "[]":  # most records have no people or outside facts
        return []
    return json.loads(text)


# ---------------------------------------------------------------- pages (api/pages.py, api/discovery.py)

def evidence_in_source(conn, source_id: str):
    """Every quote from one source in document order, with the record that quotes it (several records may quote one span)."""
    return conn.execute(
        "SELECT e.start, e.\"end\", e.ord, e.quote, i.id AS initiative_id, i.name_zh, i.name_en FROM evidence e "
        "JOIN initiatives i ON i.n = e.initiative_n WHERE e.source_id = :source ORDER BY e.start, e.\"end\", i.n, e.ord",
        {"source": source_id}).fetchall()


def provinces(conn):
    """The provincial-level divisions with how many initiatives are in each (the build's count), in code order."""
    return conn.execute("SELECT code, name_zh, name_en, initiative_count FROM regions WHERE parent_code IS NULL "
                        "ORDER BY code").fetchall()


def initiative_ids(conn) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM initiatives ORDER BY n")]
