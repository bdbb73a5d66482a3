"""The SQL the app really sends, as SQLite plans it: each driving table read through its index, in order."""
from __future__ import annotations

import sqlite3

import pytest

from api.query import fragments, keyset, lists, plans


def _initiatives(**filters):
    return keyset.INITIATIVES, "i.*", lists.initiative_driver(fragments.Filter(**filters))


def _regions(**filters):
    return keyset.REGIONS, "r.*", keyset.Driver("FROM regions r", tuple(lists.RegionFilter(**filters).conditions()))


# (label, (family, select, source), sort, cursor key or None, the plan of the first statement)
PLANS = [
    ("one region, one year: initiative_area's primary key, in n order",
     _initiatives(regions=["510000"], year_from=2025, year_to=2025), [("id", "asc")], None,
     ["SEARCH a USING COVERING INDEX sqlite_autoindex_initiative_area_1 (ancestor_code=? AND year_key=?)",
      "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("one region, deep page", _initiatives(regions=["510000"]), [("id", "asc")], [5, 5],
     ["SEARCH a USING COVERING INDEX idx_initiative_area_ancestor_code_initiative_n (ancestor_code=? AND initiative_n>?)",
      "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("one region by year", _initiatives(regions=["510000"]), [("year", "desc")], None,
     ["SEARCH a USING COVERING INDEX sqlite_autoindex_initiative_area_1 (ancestor_code=?)",
      "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a search: the trigram index in rowid order", _initiatives(terms=["12345热线"]), [("id", "asc")], None,
     ["SCAN initiatives_trigram VIRTUAL TABLE INDEX 64:M5", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a search, deep page", _initiatives(terms=["12345热线"]), [("id", "asc")], [3, 3],
     ["SCAN initiatives_trigram VIRTUAL TABLE INDEX 64:M5>", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    # A Chinese term of 1-4 characters is one token of search_zh: initiatives_fts (M4, its 4 columns) in rowid order.
    ("a 2-character search: its piece in initiatives_fts", _initiatives(terms=["驿站"]), [("id", "asc")], None,
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a 2-character search, deep page", _initiatives(terms=["驿站"]), [("id", "asc")], [3, 3],
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4>", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a 1-character search", _initiatives(terms=["驿"]), [("id", "asc")], None,
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a 4-character search", _initiatives(terms=["志愿服务"]), [("id", "asc")], None,
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("a Chinese character and a quotation mark: the character's piece, each row then checked",
     _initiatives(terms=["“中"]), [("id", "asc")], None,
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("two Chinese words: one MATCH, which FTS5 intersects itself", _initiatives(terms=["快递", "驿站"]), [("id", "asc")], None,
     ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]),
    ("two letters, no Chinese character: the scan", _initiatives(terms=["ai"]), [("id", "asc")], None, ["SCAN i"]),
    ("a kind: its (kind, n) index", _initiatives(kinds=["hotline"]), [("id", "asc")], None,
     ["SEARCH i USING INDEX idx_initiatives_kind_n (kind=?)"]),
    ("a kind, deep page", _initiatives(kinds=["hotline"]), [("id", "asc")], [3, 3],
     ["SEARCH i USING INDEX idx_initiatives_kind_n (kind=? AND n>?)"]),
    ("one year: its (year_key, n) index", _initiatives(year_from=2025, year_to=2025), [("id", "asc")], None,
     ["SEARCH i USING INDEX idx_initiatives_year_key_n (year_key=?)"]),
    ("nothing: the table in n order", _initiatives(), [("id", "asc")], None, ["SCAN i"]),
    ("nothing, deep page", _initiatives(), [("id", "asc")], [3, 3], ["SEARCH i USING INTEGER PRIMARY KEY (rowid>?)"]),
    ("by English name", _initiatives(), [("name_en", "asc")], None, ["SCAN i USING INDEX idx_initiatives_name_en_n"]),
    ("regions of a level", _regions(levels=("province",)), [("code", "asc")], None,
     ["SEARCH r USING INDEX idx_regions_level_code (level=?)"]),
    ("regions of a level, deep page", _regions(levels=("province",)), [("code", "asc")], ["510000", "510000"],
     ["SEARCH r USING INDEX idx_regions_level_code (level=? AND code>?)"]),
    ("regions under a parent", _regions(parent="510000"), [("code", "asc")], None,
     ["SEARCH r USING INDEX idx_regions_parent_code_code (parent_code=?)"]),
    ("metrics in initiative order, deep page", (keyset.METRICS, "m.*", lists.metric_driver(fragments.Filter())), [("initiative", "asc")],
     [3, 3], ["SEARCH i USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH m USING INTEGER PRIMARY KEY (rowid>?)"]),
]


def _plan(conn, statement):
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement.sql, statement.params)]


@pytest.mark.parametrize("label, query, sort, after, expected", PLANS, ids=[p[0] for p in PLANS])
def test_the_generated_page_query_reads_an_index_range(built_db, label, query, sort, after, expected):
    family, select, source = query
    conn = sqlite3.connect(built_db)
    first = keyset.page_statements(family, select, source, sort, 20, after)[0]
    assert _plan(conn, first) == expected


# (label, source, the plan of its count)
COUNTS = [
    ("one region: initiative_area alone", lists.initiative_driver(fragments.Filter(regions=["510000"], year_from=2025, year_to=2025)),
     ["CO-ROUTINE (subquery-1)",
      "SEARCH a USING COVERING INDEX sqlite_autoindex_initiative_area_1 (ancestor_code=? AND year_key=?)", "SCAN (subquery-1)"]),
    ("a search: the trigram table alone", lists.initiative_driver(fragments.Filter(terms=["12345热线"])),
     ["CO-ROUTINE (subquery-1)", "SCAN initiatives_trigram VIRTUAL TABLE INDEX 0:M5", "SCAN (subquery-1)"]),
    ("a 2-character search: initiatives_fts alone", lists.initiative_driver(fragments.Filter(terms=["驿站"])),
     ["CO-ROUTINE (subquery-1)", "SCAN initiatives_fts VIRTUAL TABLE INDEX 0:M4", "SCAN (subquery-1)"]),
    ("a kind: a covering index", lists.initiative_driver(fragments.Filter(kinds=["hotline"])),
     ["CO-ROUTINE (subquery-1)", "SEARCH i USING COVERING INDEX idx_initiatives_kind_n (kind=?)", "SCAN (subquery-1)"]),
]


@pytest.mark.parametrize("label, source, expected", COUNTS, ids=[c[0] for c in COUNTS])
def test_the_generated_count_reads_the_driving_table_only(built_db, label, source, expected):
    conn = sqlite3.connect(built_db)
    assert _plan(conn, keyset.count_statement(source, keyset.INITIATIVES.tiebreak(source))) == expected


def test_two_fragments_cannot_claim_one_parameter_name():
    with pytest.raises(ValueError, match=r"SQL parameter names used twice: \['kind0'\]"):
        fragments.merge([fragments.one_of("i.kind", ["a"], "kind"), fragments.one_of("i.theme", ["b"], "kind")])


def test_fragments_compose_in_any_order():
    f = fragments.Filter(regions=["510000"], kinds=["hotline", "fund"], terms=["驿站", "hotline", "AI"], year_from=2024, year_to=2025)
    conds = fragments.initiative_conditions(f)
    assert fragments.merge(conds) == fragments.merge(list(reversed(conds))) == {
        "region0": "510000", "year_from": 2024, "year_to": 2025, "kind0": "hotline", "kind1": "fund",
        "fts0": 'search_zh : "驿站"', "fts1": '"hotline"', "t0": "ai"}


# ---------------------------------------------------------------- the list plans (lists.planned_page)

class _Recording:
    """A connection that keeps every statement it is given, to explain them afterwards."""

    def __init__(self, conn):
        self.conn, self.statements = conn, []

    def execute(self, sql, params=()):
        self.statements.append((sql, params))
        return self.conn.execute(sql, params)


# initiative_cell_counts: the cells a filter takes. Since release 1.2.0 there are three year keys (no year, 2025, 2026),
# and SQLite reads each year's range of the key and tests the kinds there, rather than one range per year and kind.
CUBE = "SEARCH c USING PRIMARY KEY (anc=? AND year_key=?)"
WALK_N = "SEARCH c USING COVERING INDEX initiative_cells_n (anc=?)"
CELLS = ["SCAN x VIRTUAL TABLE INDEX 1:", "SEARCH c USING PRIMARY KEY (anc=? AND year_key=? AND kind=? AND theme=? AND scope=?)",
         "USE TEMP B-TREE FOR ORDER BY"]  # each cell's exact range, the page's rows sorted as they come
FETCH = ["SCAN x VIRTUAL TABLE INDEX 1:", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)"]  # the page's records by number
KEYS = "SEARCH k USING INTEGER PRIMARY KEY (rowid=?)"
TERM_COUNT_ZH = ["CO-ROUTINE (subquery-1)", "SCAN initiatives_fts VIRTUAL TABLE INDEX 0:M4", "SCAN (subquery-1)"]  # capped

# (label, filter, sort, cursor key or None, the plan of each statement the page runs)
PLANNED = [
    ("every record by id: initiative_cells' n index walked", {}, [("id", "asc")], None, [[CUBE], [WALK_N], FETCH]),
    ("a deep page of a kind and a theme by -year,id: the cursor's cells from past its n",
     {"kinds": ["hotline"], "themes": ["grassroots"]}, [("year", "desc"), ("id", "asc")], [2025, 3],
     [[CUBE], ["SCAN x VIRTUAL TABLE INDEX 1:",
               "SEARCH c USING PRIMARY KEY (anc=? AND year_key=? AND kind=? AND theme=? AND scope=? AND n>?)",
               "USE TEMP B-TREE FOR ORDER BY"], FETCH]),
    ("by English name, few records: their cells collected and sorted", {}, [("name_en", "asc")], None,
     [[CUBE], CELLS, FETCH]),
    ("the national ones by theme: each theme walked under the national ancestor", {"scopes": ["national"]},
     [("theme", "asc")], None, [[CUBE], [WALK_N], [WALK_N], [WALK_N], FETCH]),
    ("a county: initiative_area's (ancestor_code, initiative_n) index, with each record's keys",
     {"regions": ["510116"]}, [("id", "asc")], None,
     [["SEARCH a USING COVERING INDEX idx_initiative_area_ancestor_code_initiative_n (ancestor_code=?)", KEYS], FETCH]),
    ("a county in one year: its range of initiative_area's primary key, in n order",
     {"regions": ["510116"], "year_from": 2025, "year_to": 2025}, [("id", "asc")], None,
     [["SEARCH a USING COVERING INDEX sqlite_autoindex_initiative_area_1 (ancestor_code=? AND year_key=?)", KEYS], FETCH]),
    ("a county by Chinese name: its range, sorted", {"regions": ["510116"]}, [("name_zh", "desc")], None,
     [["SEARCH a USING COVERING INDEX sqlite_autoindex_initiative_area_1 (ancestor_code=? AND year_key>? AND year_key<?)",
       KEYS, "USE TEMP B-TREE FOR ORDER BY"], FETCH]),
    # q with the other filters (search_plans.searched_page): the filters' size from the cells, the term's capped count, then
    # the page from the cheaper side
    ("a rare piece by id: the term's index in rowid order, each record's keys (no filter: no cell read)",
     {"terms": ["驿站"]}, [("id", "asc")], None,
     [TERM_COUNT_ZH, ["SCAN initiatives_fts VIRTUAL TABLE INDEX 64:M4", KEYS], FETCH]),
    ("a rare piece and a kind by name: the term's records and their keys, sorted", {"terms": ["驿站"], "kinds": ["fund"]},
     [("name_en", "asc")], None, [[CUBE], TERM_COUNT_ZH, ["SCAN initiatives_fts VIRTUAL TABLE INDEX 0:M4", KEYS,
                                                          "USE TEMP B-TREE FOR ORDER BY"], FETCH]),
    ("a trigram term in a province by -year: the term's records, each looked up in initiative_area",
     {"terms": ["hotline"], "regions": ["110000"]}, [("year", "desc")], None,
     [["CO-ROUTINE (subquery-1)", "SCAN initiatives_trigram VIRTUAL TABLE INDEX 0:M5", "SCAN (subquery-1)"],
      ["SCAN initiatives_trigram VIRTUAL TABLE INDEX 0:M5", KEYS, "CORRELATED SCALAR SUBQUERY 1",
       "SEARCH a USING COVERING INDEX idx_initiative_area_ancestor_code_initiative_n (ancestor_code=? AND initiative_n=?)",
       "USE TEMP B-TREE FOR ORDER BY"], FETCH]),
]


@pytest.mark.parametrize("label, filters, sort, after, expected", PLANNED, ids=[p[0] for p in PLANNED])
def test_a_planned_page_reads_exact_index_ranges(built_db, label, filters, sort, after, expected):
    conn = sqlite3.connect(built_db)
    conn.row_factory = sqlite3.Row
    recording = _Recording(conn)
    plans.list_tables(recording)  # read once per connection, not part of a page
    recording.statements.clear()
    assert lists.planned_page(recording, fragments.Filter(**filters), sort, 20, after) is not None
    assert [_plan(conn, keyset.Statement(sql, params)) for sql, params in recording.statements] == expected
