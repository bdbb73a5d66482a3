"""The lists the API serves: initiatives (planned on the list tables when they can, else on a driving table),
regions and metrics; and the facet counts of a filter."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..dataset import search
from .fragments import Cond, Filter, initiative_conditions, merge, one_of, term_conditions, where, years
from .keyset import INITIATIVES, METRICS, REGIONS, Driver, Page, run_page
from .plans import list_tables, listed_page
from .search_plans import searched_page


def initiative_driver(f: Filter) -> Driver:
    """Choose the table that drives the query, so the first page is an ordered index range, not a sort.

    A region filter reads initiative_area (ancestor_code, year_key, n); a search reads the FTS index of
    its first indexed term in rowid order, matching every term that index answers at once (dataset/search.py);
    otherwise initiatives itself. CROSS JOIN keeps SQLite from reordering the loops: the driving table
    stays outside.
    """
    if f.regions and not f.include_national:  # with the national ones, the rows are not all in initiative_area
        own = [one_of("a.ancestor_code", f.regions, "region")] + years("a.year_key", f.year_from, f.year_to)
        # the year condition on the driving table keeps the index range tight
        rest = (initiative_conditions(replace(f, regions=[], year_from=None, year_to=None, terms=[]))
                + term_conditions(*search.plan(f.terms, few_rows=True)))
        return Driver("FROM initiative_area a CROSS JOIN initiatives i ON i.n = a.initiative_n", tuple(own + rest),
                      n="a.initiative_n", year="a.year_key", distinct=len(f.regions) > 1,
                      count_from=None if rest else "FROM initiative_area a")
    matches, scans = search.plan(f.terms)
    if matches:
        (fts, expr), *others = matches.items()  # fts: a constant of api/search.py, never user text
        own = [Cond(f"{fts} MATCH :match", {"match": expr})]
        rest = initiative_conditions(replace(f, terms=[])) + term_conditions(dict(others), scans)
        return Driver(f"FROM {fts} CROSS JOIN initiatives i ON i.n = {fts}.rowid", tuple(own + rest),
                      n=f"{fts}.rowid", count_from=None if rest else f"FROM {fts}")
    conds = initiative_conditions(f)
    return Driver("FROM initiatives i", tuple(conds), count_from="FROM initiatives i")


def planned_page(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page | None:
    """One keyset page planned on the list tables (a search plan with q, a list plan without), exactly as run_page
    would give it; None when the file has no list tables or they cannot plan it."""
    tables = list_tables(conn)
    if tables is None:
        return None
    plan = searched_page if f.terms else listed_page
    return plan(conn, tables, f, sort, limit, after, backwards, count)


def list_initiatives(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    page = planned_page(conn, f, sort, limit, after, backwards, count)
    if page is not None:
        return page
    return run_page(conn, INITIATIVES, "i.*", initiative_driver(f), sort, limit, after, backwards, count)


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
    driver = Driver("FROM regions r", tuple(f.conditions()))
    return run_page(conn, REGIONS, "r.*", driver, sort, limit, after, backwards, count)


# ---------------------------------------------------------------- metrics

def metric_driver(f: Filter) -> Driver:
    conds = initiative_conditions(f, year_col="ifnull(m.year, 0)")
    if f.units:
        conds.append(one_of("m.unit", f.units, "unit"))
    return Driver("FROM metrics m JOIN initiatives i ON i.n = m.initiative_n", tuple(conds))


def list_metrics(conn, f: Filter, sort, limit, after=None, backwards=False, count=True) -> Page:
    select = "m.*, i.name_zh AS initiative_name_zh, i.name_en AS initiative_name_en, i.region_codes"
    return run_page(conn, METRICS, select, metric_driver(f), sort, limit, after, backwards, count)


# ---------------------------------------------------------------- facets and vocabularies

def scope_counts(conn, f: Filter) -> list:
    """How many initiatives f selects of each scope (national, local): the facets' scope rows, alone."""
    conds = initiative_conditions(f)
    return _scope_rows(conn, where(conds), merge(conds))


def _scope_rows(conn, w: str, params: dict) -> list:
    return conn.execute(f"SELECT i.scope AS id, count(*) AS count FROM initiatives i{w} GROUP BY i.scope ORDER BY i.scope",
                        params).fetchall()


def facets(conn, f: Filter) -> dict[str, list]:
    conds = initiative_conditions(f)
    w, params = where(conds), merge(conds)
    # With no filter every record counts: the IN would look each of initiative_area's rows up in initiatives (1 s at 50k).
    matched = f"WHERE a.initiative_n IN (SELECT i.n FROM initiatives i{w}) " if conds else ""
    out = {
        "province": conn.execute(
            "SELECT r.code, r.name_zh, r.name_en, count(*) AS count FROM initiative_area a "
            "JOIN regions r ON r.code = a.ancestor_code AND r.parent_code IS NULL "
            f"{matched}GROUP BY r.code ORDER BY count DESC, r.code", params).fetchall(),
        "year": conn.execute(
            f"SELECT i.year, i.year_basis, count(*) AS count FROM initiatives i{w} "
            "GROUP BY i.year, i.year_basis ORDER BY i.year DESC, i.year_basis", params).fetchall(),
        "kind": conn.execute(
            f"SELECT k.id, k.name_zh, k.name_en, count(*) AS count FROM initiatives i JOIN kinds k ON k.id = i.kind{w} "
            "GROUP BY k.id ORDER BY count DESC, k.id", params).fetchall(),
        "theme": conn.execute(
            f"SELECT t.id, t.name_zh, t.name_en, count(*) AS count FROM initiatives i JOIN themes t ON t.id = i.theme{w} "
            "GROUP BY t.id ORDER BY t.\"order\"", params).fetchall(),
        "scope": _scope_rows(conn, w, params),
    }
    out["total"] = conn.execute(f"SELECT count(*) FROM initiatives i{w}", params).fetchone()[0]
    return out
