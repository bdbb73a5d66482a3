"""One record, one region, the vocabularies and the build's facts, looked up by key; and every row of a public
table for the downloads."""
from __future__ import annotations

import difflib
import json

from ..dataset.tables import BOOLEAN_COLUMNS, CSV_FALSE, CSV_TRUE, PUBLIC_TABLES
from ..dataset.vocabulary import is_code
from .fragments import one_of


def initiative_by_id(conn, initiative_id: str):
    return conn.execute("SELECT * FROM initiatives WHERE id = :id", {"id": initiative_id}).fetchone()


def redirected_id(conn, old_id: str) -> str | None:
    """The current id of a record that had old_id in an earlier release, or None."""
    row = conn.execute("SELECT initiative_id FROM id_redirects WHERE old_id = :id", {"id": old_id}).fetchone()
    return row[0] if row else None


def changelog(conn, limit: int | None = None):
    """The changelog's entries, the newest release first; the first limit of them when limit is given."""
    if limit is None:
        return conn.execute("SELECT * FROM changelog ORDER BY release DESC, ord").fetchall()
    return conn.execute("SELECT * FROM changelog ORDER BY release DESC, ord LIMIT :limit", {"limit": limit}).fetchall()


def changelog_size(conn) -> int:
    return conn.execute("SELECT count(*) FROM changelog").fetchone()[0]


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


def table_rows(conn, table: str):
    """Every row of one public table, for bulk CSV downloads: (column names, a cursor). KeyError outside the whitelist."""
    t = PUBLIC_TABLES[table]

    def column(c: str) -> str:
        if c in BOOLEAN_COLUMNS:
            return f"CASE \"{c}\" WHEN 1 THEN '{CSV_TRUE}' WHEN 0 THEN '{CSV_FALSE}' END AS \"{c}\""
        return f'"{c}"'

    cur = conn.execute(f'SELECT {", ".join(map(column, t.columns))} FROM "{t.table}" ORDER BY {t.order}')
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


def initiative_ids(conn, after: int = 0, upto: int | None = None) -> list[str]:
    """The ids of the records numbered after < n <= upto (every record by default), in n order: a range of the rowid."""
    return [row[0] for row in conn.execute("SELECT id FROM initiatives WHERE n > :after AND n <= :upto ORDER BY n",
                                           {"after": after, "upto": upto if upto is not None else 2**62})]


def last_initiative_n(conn) -> int:
    """The highest record number (0 with none): n runs from 1 to it, with gaps at most."""
    return conn.execute("SELECT coalesce(max(n), 0) FROM initiatives").fetchone()[0]
