"""The list plans (api/query/plans.py) and search plans (api/query/search_plans.py) give exactly the page run_page gives, for any filter, sort and cursor.

run_page (on initiative_driver) is the plain SQL of a list on its driving table, the one kept for what the plans
cannot plan (q whose terms no check answers exactly, or of both indexes). Each
query here is run both ways, page after page in both directions, with the plans' thresholds as shipped and
forced to each extreme (always walk an index, never walk, always sort), on the file as built (every region
small, every record under ancestor 0) and on a copy whose list tables hold every region as a large one.
"""
from __future__ import annotations

import random
import shutil
import sqlite3

import pytest

from api.build import indexes
from api.dataset import tables
from api.query import keyset, lists, plans, search_plans
from api.query.fragments import Filter


@pytest.fixture(scope="module", params=["as built", "every region large"])
def conn(request, built_db, tmp_path_factory):
    path = built_db
    if request.param == "every region large":
        path = tmp_path_factory.mktemp("plans") / "every-region-large.db"
        shutil.copy(built_db, path)
        with sqlite3.connect(path) as c:
            for table in tables.LIST_TABLES:
                c.execute(f"DROP TABLE {table}")
            indexes.write_list_tables(c, big=0)
    c = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    c.row_factory = sqlite3.Row
    yield c
    c.close()


def _filter(rng, conn) -> Filter:
    regions = [r[0] for r in conn.execute("SELECT code FROM regions WHERE initiative_count > 0 ORDER BY code")]
    kinds = [r[0] for r in conn.execute("SELECT id FROM kinds ORDER BY id")]
    themes = [r[0] for r in conn.execute("SELECT id FROM themes ORDER BY id")]
    f = Filter()
    if rng.random() < 0.6:
        f.regions = list(dict.fromkeys(rng.choice(regions) for _ in range(rng.choice([1, 1, 1, 2, 3]))))
        f.include_national = rng.random() < 0.15
    if rng.random() < 0.6:
        a, b = sorted(rng.sample(range(2018, 2028), 2))
        f.year_from, f.year_to = rng.choice([(a, b), (a, a), (a, None), (None, b), (0, 0)])
    if rng.random() < 0.4:
        f.kinds = rng.sample(kinds, rng.choice([1, 1, 2, 3]))
    if rng.random() < 0.3:
        f.themes = rng.sample(themes, 1)
    if rng.random() < 0.3:
        f.scopes = [rng.choice(["local", "national"])]
    return f


def _sort(rng) -> list:
    names = rng.sample(list(keyset.INITIATIVE_SORTS), rng.choice([1, 1, 1, 2, 2, 3]))
    return [(name, rng.choice(["asc", "desc"])) for name in names]


def _seen(page: keyset.Page) -> tuple:
    return [r["id"] for r in page.rows], page.total, page.total_exact, page.has_more, page.first_key, page.last_key


def _hops(conn, rng, f, sort, limit):
    """(run_page's page, planned_page's page, where) for page after page of one query, forwards and at times back."""
    after, backwards = None, False
    for _hop in range(6):
        expected = keyset.run_page(conn, keyset.INITIATIVES, "i.*", lists.initiative_driver(f), sort, limit, after, backwards)
        yield expected, lists.planned_page(conn, f, sort, limit, after, backwards), (f, sort, limit, after, backwards)
        if not expected.has_more or not expected.rows:
            return
        if after is not None and rng.random() < 0.3:
            after, backwards = expected.first_key if not backwards else expected.last_key, not backwards
        else:
            after = expected.last_key if not backwards else expected.first_key


@pytest.mark.parametrize("sort_at_most, walk_cost", [(plans.SORT_AT_MOST, plans.WALK_COST), (0, 10 ** 12), (0, 0), (10 ** 9, 0)],
                         ids=["as shipped", "walk", "never walk", "sort"])
def test_a_planned_page_is_the_page_run_page_gives(conn, monkeypatch, sort_at_most, walk_cost):
    monkeypatch.setattr(plans, "SORT_AT_MOST", sort_at_most)
    monkeypatch.setattr(plans, "WALK_COST", walk_cost)
    rng = random.Random(13)
    planned = 0
    for _ in range(150):
        f, sort, limit = _filter(rng, conn), _sort(rng), rng.choice([1, 2, 3, 5, 20])
        for expected, got, where in _hops(conn, rng, f, sort, limit):
            if got is not None:
                planned += 1
                assert _seen(got) == _seen(expected), where
    assert planned > 150


def test_a_cursor_of_values_no_longer_in_the_data_lands_between_them(conn):
    """A cursor from an earlier build may hold a kind or a name this file does not have: the page starts after it."""
    for sort, after in [([("kind", "asc")], ["hotlinez", 0]), ([("name_en", "desc")], ["M", 10 ** 6]),
                        ([("kind", "asc"), ("year", "desc")], ["a", 2030, 0]), ([("name_zh", "asc")], ["\U0010ffff", 0])]:
        expected = keyset.run_page(conn, keyset.INITIATIVES, "i.*", lists.initiative_driver(Filter()), sort, 5, after)
        got = lists.planned_page(conn, Filter(), sort, 5, after)
        assert got is not None and _seen(got) == _seen(expected)


def test_what_the_list_tables_cannot_plan_keeps_run_page(conn):
    assert lists.planned_page(conn, Filter(), [("id", "asc"), ("year", "desc")], 5) is None  # n then another key
    assert lists.planned_page(conn, Filter(), [("year", "asc")], 5, after=["2025", 3]) is None  # a year that is text


TERMS = ["热线", "驿站", "服务", "社会工作", "站", "快递", "新就业群体", "北京", "volunteer", "Hotline", "community",
         "12345", "Beijing", "station", "党建引领"]


FORCED = {"term": "COST_TERM", "scan": "COST_SCAN", "walk": "COST_WALK", "term walk": "COST_TERM_WALK"}


@pytest.mark.parametrize("way", ["as shipped", *FORCED])
def test_a_searched_page_is_the_page_run_page_gives(conn, monkeypatch, way):
    """q with any other filter and sort, each way of _plan_costs forced in turn (a term walk only sorts on id, so
    other sorts then walk): the same records, order, cursors and has_more as run_page; the total the same when it
    is exact, and otherwise a lower bound of it, flagged, never below what the page holds."""
    if way != "as shipped":
        for name in FORCED.values():
            monkeypatch.setattr(search_plans, name, 0 if name == FORCED[way] else 10 ** 9)
        if way != "term":   # several regions: the filters' records, or run_page
            monkeypatch.setattr(search_plans, "TERM_CAP", 0)
        if way in ("walk", "term walk"):
            monkeypatch.setattr(search_plans, "SCAN_AT_MOST", 0)
    monkeypatch.setattr(search_plans, "WALK_BATCH", 2)   # batches of 2, 4, 8 ... so walks cross batches on 45 records
    monkeypatch.setattr(search_plans, "COUNT_WALK", 3)
    rng = random.Random(29)
    planned = inexact = 0
    for _ in range(200):
        f, sort, limit = _filter(rng, conn), _sort(rng), rng.choice([1, 2, 3, 5, 20])
        f.terms = rng.sample(TERMS, rng.choice([1, 1, 1, 2]))
        for expected, got, where in _hops(conn, rng, f, sort, limit):
            if got is not None:
                planned += 1
                assert _seen(got)[:1] + _seen(got)[3:] == _seen(expected)[:1] + _seen(expected)[3:], where
                if got.total_exact:
                    assert (got.total, True) == (expected.total, expected.total_exact), where
                else:
                    inexact += 1
                    assert len(got.rows) <= got.total <= expected.total, where
    assert planned > 150
    if way in ("walk", "term walk"):
        assert inexact > 0   # the walks' lower bounds were compared too


def test_a_term_with_no_exact_check_keeps_run_page(conn):
    assert lists.planned_page(conn, Filter(terms=["“中"]), [("id", "asc")], 5) is None          # not a piece, 2 characters
    assert lists.planned_page(conn, Filter(terms=["Éco"]), [("id", "asc")], 5) is None          # a cased letter beyond ASCII
    assert lists.planned_page(conn, Filter(terms=["驿站", "volunteer"]), [("id", "asc")], 5) is None  # two indexes
