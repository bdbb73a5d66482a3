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
    return run_page(conn, INITIATIVES, "i.*", initiative_source(f), sort, limit, after, backwards, count)


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
    cond = one_of("ir.initiative_n", ns, "n")
    rows = conn.execute(
        "SELECT ir.initiative_n, r.code, r.name_zh, r.name_en, r.level, r.lat, r.lng, r.province_code "
        f"FROM initiative_regions ir JOIN regions r ON r.code = ir.region_code WHERE {cond.sql} "
        "ORDER BY ir.initiative_n, ir.ord", cond.params).fetchall()
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
    return json.loads(text) if text else []


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
