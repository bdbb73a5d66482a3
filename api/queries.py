"""All SQL the API runs. Values are always bound parameters; identifiers come only from the whitelists here."""
from __future__ import annotations

import difflib
import json
import sqlite3
from dataclasses import dataclass, field

# Sortable fields -> SQL expressions. A sort key reaches SQL only through these maps.
# "id" and "year" name the driving table's columns (see _initiative_source): the build numbers
# initiatives (n) in id order, so ORDER BY n is ORDER BY id and can be read straight off an index.
INITIATIVE_SORTS = {
    "id": "{n}", "year": "{year}", "name_en": "i.name_en", "name_zh": "i.name_zh",
    "kind": "i.kind", "theme": "i.theme", "scope": "i.scope",
}
METRIC_SORTS = {"value": "m.value", "year": "ifnull(m.year, 0)", "initiative": "i.n", "unit": "m.unit"}
REGION_SORTS = {"code": "r.code", "name_en": "r.name_en", "name_zh": "r.name_zh",
                "initiative_count": "r.initiative_count", "level": "r.depth"}
TIEBREAK = {"initiatives": "{n}", "metrics": "m.n", "regions": "r.code"}
COUNT_CAP = 10_000  # beyond this, meta.total is reported as a lower bound instead of counted


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


def _in(column: str, values: list, params: list) -> str:
    params.extend(values)
    return f"{column} IN ({', '.join('?' * len(values))})"


def fts_phrase(term: str) -> str:
    """Quote user text as one FTS5 phrase so none of it is read as query syntax."""
    return '"' + term.replace('"', '""') + '"'


def initiative_conditions(f: Filter, params: list, year_col: str = "i.year_key") -> list[str]:
    conds = []
    if f.regions:
        conds.append("i.n IN (SELECT initiative_n FROM initiative_area WHERE " + _in("ancestor_code", f.regions, params) + ")")
    conds += _year_conditions(year_col, f.year_from, f.year_to, params)
    for col, values in (("i.kind", f.kinds), ("i.theme", f.themes), ("i.scope", f.scopes), ("i.id", f.initiatives)):
        if values:
            conds.append(_in(col, values, params))
    for term in f.terms:
        if len(term) >= 3:
            # The trigram index answers terms of three or more characters.
            conds.append("i.n IN (SELECT rowid FROM initiatives_fts WHERE initiatives_fts MATCH ?)")
            params.append(fts_phrase(term))
        else:
            # Shorter terms (驿站) have no trigram: scan the four texts instead.
            conds.append("(instr(i.name_zh, ?) OR instr(i.summary_zh, ?) OR instr(lower(i.name_en), ?) OR instr(lower(i.summary_en), ?))")
            params.extend([term, term, term.lower(), term.lower()])
    return conds


def keyset(exprs: list[str], dirs: list[str], values: list, params: list) -> str:
    """Rows strictly after `values` in the order (exprs, dirs).

    One direction: a row-value comparison, which SQLite answers with an index range (a deep page
    costs what the first does). Mixed directions: an OR-chain. A key repeated (sort=id, whose
    tie-breaker is id again) adds nothing and is dropped.
    """
    seen, keep = set(), []
    for e, d, v in zip(exprs, dirs, values):
        if e not in seen:
            seen.add(e)
            keep.append((e, d, v))
    exprs, dirs, values = [k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep]
    if len(set(dirs)) == 1:
        op = ">" if dirs[0] == "asc" else "<"
        params.extend(values)
        if len(exprs) == 1:
            return f"{exprs[0]} {op} ?"
        return f"({', '.join(exprs)}) {op} ({', '.join('?' * len(exprs))})"
    ors = []
    for i, (expr, d) in enumerate(zip(exprs, dirs)):
        ands = []
        for e, v in zip(exprs[:i], values[:i]):
            ands.append(f"{e} = ?")
            params.append(v)
        ands.append(f"{expr} {'>' if d == 'asc' else '<'} ?")
        params.append(values[i])
        ors.append("(" + " AND ".join(ands) + ")")
    return "(" + " OR ".join(ors) + ")"


@dataclass
class Page:
    rows: list
    total: int
    total_exact: bool
    has_more: bool
    first_key: list | None
    last_key: list | None


def _page(conn, resource, select, from_where, params, conds, sort, limit, after, backwards, columns=None,
          distinct=False, count_from=None, count=True):
    """Run one keyset page. sort: [(field, 'asc'|'desc')]; after: key values of the row to start after.

    columns fills the {n}/{year} placeholders of the sort expressions with the driving table's columns;
    count_from, when given, is a cheaper FROM clause that every condition can be checked against.
    """
    sorts = {"initiatives": INITIATIVE_SORTS, "metrics": METRIC_SORTS, "regions": REGION_SORTS}[resource]
    columns = columns or {}
    exprs = [e.format(**columns) for e in [sorts[name] for name, _ in sort] + [TIEBREAK[resource]]]
    # The tie-breaker runs in the last key's direction, so an index on (key, n) serves both directions.
    dirs = [d for _, d in sort] + [sort[-1][1]]
    run_dirs = [("desc" if d == "asc" else "asc") if backwards else d for d in dirs]
    key_cols = ", ".join(f"{e} AS k{j}" for j, e in enumerate(exprs))
    head = f"SELECT {'DISTINCT ' if distinct else ''}{select}, {key_cols} {from_where}"

    def fetch(extra: list[str], extra_params: list, order_keys: dict, n: int) -> list:
        where = list(conds) + extra
        # A key given twice (sort=id and its tie-breaker) is ordered once: FTS5 only serves ORDER BY rowid alone.
        order = ", ".join(f"{e} {d.upper()}" for e, d in order_keys.items())
        sql = f"{head}{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order} LIMIT ?"
        return conn.execute(sql, list(params) + extra_params + [n]).fetchall()

    order_keys = dict(zip(exprs, run_dirs))
    if after is not None and len(order_keys) == 2 and len(set(run_dirs)) == 1:
        # Two keys, one direction, e.g. -year then n: SQLite seeks (k1, k2) < (?, ?) on k1 alone and
        # reads the cursor's whole k1 group. Two index ranges instead: the rest of that group, then
        # everything past it. A page 10,000 deep then costs what the first does.
        value = {}
        for e, v in zip(exprs, after):
            value.setdefault(e, v)
        first, second = list(order_keys)
        op = ">" if run_dirs[0] == "asc" else "<"
        rows = fetch([f"{first} = ?", f"{second} {op} ?"], [value[first], value[second]], {second: run_dirs[0]}, limit + 1)
        if len(rows) <= limit:
            rows += fetch([f"{first} {op} ?"], [value[first]], order_keys, limit + 1 - len(rows))
    else:
        extra, extra_params = [], []
        if after is not None:
            extra.append(keyset(exprs, run_dirs, after, extra_params))
        rows = fetch(extra, extra_params, order_keys, limit + 1)
    has_more = len(rows) > limit
    if after is None and not has_more:
        total = len(rows)  # the first page holds everything: nothing more to count
    elif not count:
        total = -1  # an export walks every page and never shows a total
    else:
        one = "DISTINCT " + exprs[-1] if distinct else "1"
        count_sql = (f"SELECT count(*) FROM (SELECT {one} {count_from or from_where}"
                     f"{' WHERE ' + ' AND '.join(conds) if conds else ''} LIMIT {COUNT_CAP + 1})")
        total = conn.execute(count_sql, params).fetchone()[0]
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    keys = [[row[f"k{j}"] for j in range(len(exprs))] for row in rows]
    return Page(rows, min(total, COUNT_CAP), total <= COUNT_CAP, has_more,
                keys[0] if keys else None, keys[-1] if keys else None)


def _year_conditions(col: str, lo, hi, params: list) -> list[str]:
    """One year is an equality, so an index on (…, year, n) still yields rows in n order."""
    if lo is not None and lo == hi:
        params.append(lo)
        return [f"{col} = ?"]
    conds = []
    if lo is not None:
        conds.append(f"{col} >= ?")
        params.append(lo)
    if hi is not None:
        conds.append(f"{col} <= ?")
        params.append(hi)
    return conds


def _initiative_source(f: Filter, params: list) -> tuple[str, dict, list[str], bool, str | None]:
    """Choose the table that drives the query, so the first page is an ordered index range, not a sort.

    A region filter reads initiative_area (ancestor_code, year_key, n); a search reads the FTS
    index in rowid order; otherwise initiatives itself. Returns (FROM clause, columns for the
    {n}/{year} sort placeholders, conditions, whether rows may repeat, and the FROM clause a
    count can use: the driving table alone when no condition needs the initiatives table).
    CROSS JOIN keeps SQLite from reordering the loops: the driving table stays outside.
    """
    conds: list[str] = []
    rest = Filter(**{**f.__dict__, "regions": []})
    if f.regions:
        source = "FROM initiative_area a CROSS JOIN initiatives i ON i.n = a.initiative_n"
        driver = "FROM initiative_area a"
        columns = {"n": "a.initiative_n", "year": "a.year_key"}
        conds.append(_in("a.ancestor_code", f.regions, params))
        # the year condition on the driving table keeps the index range tight
        rest.year_from = rest.year_to = None
        conds += _year_conditions("a.year_key", f.year_from, f.year_to, params)
        distinct = len(f.regions) > 1
    elif any(len(t) >= 3 for t in f.terms):
        term = next(t for t in f.terms if len(t) >= 3)
        source = "FROM initiatives_fts CROSS JOIN initiatives i ON i.n = initiatives_fts.rowid"
        driver = "FROM initiatives_fts"
        columns = {"n": "initiatives_fts.rowid", "year": "i.year_key"}
        conds.append("initiatives_fts MATCH ?")
        params.append(fts_phrase(term))
        rest.terms = [t for t in f.terms if t != term]
        distinct = False
    else:
        source, columns, distinct = "FROM initiatives i", {"n": "i.n", "year": "i.year_key"}, False
        driver = source
    more = initiative_conditions(rest, params, year_col="i.year_key")
    return source, columns, conds + more, distinct, (driver if not more else None)


def list_initiatives(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    params: list = []
    source, columns, conds, distinct, count_from = _initiative_source(f, params)
    return _page(conn, "initiatives", "i.*", source, params, conds, sort, limit, after, backwards,
                 columns=columns, distinct=distinct, count_from=count_from, count=count)


def iter_initiatives(conn, f: Filter, sort, batch=500):
    """Every initiative matching f in sort order, fetched in keyset batches (for CSV and GeoJSON exports)."""
    after = None
    while True:
        page = list_initiatives(conn, f, sort, batch, after, count=False)
        yield from page.rows
        if not page.has_more:
            return
        after = page.last_key


def initiative_by_id(conn, initiative_id: str):
    return conn.execute("SELECT * FROM initiatives WHERE id = ?", [initiative_id]).fetchone()


def regions_of(conn, ns: list[int]) -> dict[int, list]:
    """The regions of each initiative number, in the record's order, with names and centroid."""
    out: dict[int, list] = {n: [] for n in ns}
    if not ns:
        return out
    params: list = []
    rows = conn.execute(
        "SELECT ir.initiative_n, r.code, r.name_zh, r.name_en, r.level, r.lat, r.lng, r.province_code "
        "FROM initiative_regions ir JOIN regions r ON r.code = ir.region_code WHERE "
        + _in("ir.initiative_n", ns, params) + " ORDER BY ir.initiative_n, ir.ord", params).fetchall()
    for row in rows:
        out[row["initiative_n"]].append(row)
    return out


def metrics_of(conn, n: int):
    return conn.execute("SELECT * FROM metrics WHERE initiative_n = ? ORDER BY ord", [n]).fetchall()


def evidence_of(conn, n: int):
    return conn.execute(
        "SELECT e.*, s.title_zh, s.title_en, s.publisher_zh, s.publisher_en, s.published "
        "FROM evidence e JOIN sources s ON s.id = e.source_id WHERE e.initiative_n = ? ORDER BY e.ord", [n]).fetchall()


def region_chain(conn, code: str) -> list:
    """The region and every region above it, from the province down."""
    rows = conn.execute(
        "WITH RECURSIVE up(code, depth) AS (SELECT ?, 0 UNION ALL "
        "SELECT r.parent_code, up.depth + 1 FROM regions r JOIN up ON r.code = up.code WHERE r.parent_code IS NOT NULL) "
        "SELECT r.* FROM up JOIN regions r ON r.code = up.code ORDER BY up.depth DESC", [code]).fetchall()
    return rows


def region(conn, code: str):
    return conn.execute("SELECT * FROM regions WHERE code = ?", [code]).fetchone()


def region_alias(conn, code: str):
    return conn.execute("SELECT * FROM region_aliases WHERE code = ?", [code]).fetchone()


def region_children(conn, code: str):
    return conn.execute("SELECT * FROM regions WHERE parent_code = ? ORDER BY code", [code]).fetchall()


def regions_by_key(conn, key: str) -> list:
    return conn.execute(
        "SELECT r.*, n.exact FROM region_names n JOIN regions r ON r.code = n.code "
        "WHERE n.key = ? ORDER BY r.depth, r.code", [key]).fetchall()


def regions_by_codes(conn, codes: list[str]) -> list:
    params: list = []
    return conn.execute("SELECT * FROM regions WHERE " + _in("code", codes, params) + " ORDER BY code", params).fetchall()


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


def list_regions(conn, levels, parent, key_prefix, has_initiatives, sort, limit, after=None, backwards=False,
                 count=True) -> Page:
    params: list = []
    conds = []
    if levels:
        conds.append(_in("r.level", levels, params))
    if parent:
        conds.append("r.parent_code = ?")
        params.append(parent)
    if key_prefix:
        conds.append("r.code IN (SELECT code FROM region_names WHERE key >= ? AND key < ?)")
        params.extend([key_prefix, key_prefix + "\U0010ffff"])
    if has_initiatives is not None:
        conds.append("r.initiative_count > 0" if has_initiatives else "r.initiative_count = 0")
    return _page(conn, "regions", "r.*", "FROM regions r", params, conds, sort, limit, after, backwards, count=count)


def list_metrics(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    params: list = []
    conds = initiative_conditions(f, params, year_col="ifnull(m.year, 0)")
    if f.units:
        conds.append(_in("m.unit", f.units, params))
    select = "m.*, i.id AS initiative_id, i.name_zh AS initiative_name_zh, i.name_en AS initiative_name_en, i.region_codes"
    return _page(conn, "metrics", select, "FROM metrics m JOIN initiatives i ON i.n = m.initiative_n",
                 params, conds, sort, limit, after, backwards, count=count)


def facets(conn, f: Filter) -> dict[str, list]:
    params: list = []
    conds = initiative_conditions(f, params)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    matched = f"SELECT i.n FROM initiatives i{where}"
    out = {
        "province": conn.execute(
            "SELECT r.code, r.name_zh, r.name_en, count(*) AS count FROM initiative_area a "
            "JOIN regions r ON r.code = a.ancestor_code AND r.parent_code IS NULL "
            f"WHERE a.initiative_n IN ({matched}) GROUP BY r.code ORDER BY count DESC, r.code", params).fetchall(),
        "year": conn.execute(
            f"SELECT i.year, i.year_basis, count(*) AS count FROM initiatives i{where} "
            "GROUP BY i.year, i.year_basis ORDER BY i.year DESC, i.year_basis", params).fetchall(),
        "kind": conn.execute(
            f"SELECT k.id, k.name_zh, k.name_en, count(*) AS count FROM initiatives i JOIN kinds k ON k.id = i.kind{where} "
            "GROUP BY k.id ORDER BY count DESC, k.id", params).fetchall(),
        "theme": conn.execute(
            f"SELECT t.id, t.name_zh, t.name_en, count(*) AS count FROM initiatives i JOIN themes t ON t.id = i.theme{where} "
            "GROUP BY t.id ORDER BY t.\"order\"", params).fetchall(),
        "scope": conn.execute(
            f"SELECT i.scope AS id, count(*) AS count FROM initiatives i{where} GROUP BY i.scope ORDER BY i.scope", params).fetchall(),
    }
    out["total"] = conn.execute(f"SELECT count(*) FROM initiatives i{where}", params).fetchone()[0]
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


def counts(conn) -> dict[str, int]:
    """What the dataset holds, counted by the build."""
    return json.loads(meta(conn)["counts"])


def table_rows(conn, table: str):
    """Every row of one public table, for bulk CSV downloads. table comes from a whitelist in the caller."""
    allowed = {"initiatives", "regions", "region_aliases", "metrics", "evidence", "kinds", "themes", "sources", "initiative_regions"}
    if table not in allowed:
        raise KeyError(table)
    cur = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid' if table not in ("initiative_regions",) else
                       f'SELECT * FROM "{table}" ORDER BY initiative_n, ord')
    return [d[0] for d in cur.description], cur


def loads_json(text: str | None):
    return json.loads(text) if text else []


def is_interrupted(exc: Exception) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc)
