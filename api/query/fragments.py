"""SQL fragments: every condition carries its own values (Cond), so conditions compose in any order.

As in Datasette's filters.py, a statement is the fragments' text joined and their parameter dicts merged, and two
fragments can never claim the same name. Values are always bound as named parameters; identifiers come only from
the whitelists of this package.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..dataset import search
from ..dataset.search import SEARCHED_COLUMNS


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
    if lo is not None or hi is not None:   # from 1: a year_key of 0 is a record with no year, which ..2024 leaves out
        out.append(Cond(f"{column} >= :year_from", {"year_from": 1 if lo is None else lo}))
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


def rows_after(exprs: list[str], dirs: list[str], values: list, names: list[str]) -> Cond:
    """Rows strictly after values in the order of exprs read in dirs, each value bound under its name.

    One direction: a row-value comparison, which SQLite answers with an index range (a deep page costs what the
    first does). Mixed directions: an OR-chain.
    """
    params = dict(zip(names, values))
    if len(set(dirs)) == 1:
        op = ">" if dirs[0] == "asc" else "<"
        if len(exprs) == 1:
            return Cond(f"{exprs[0]} {op} :{names[0]}", params)
        return Cond(f"({', '.join(exprs)}) {op} ({', '.join(':' + p for p in names)})", params)
    ors = []
    for i, d in enumerate(dirs):
        ands = [f"{exprs[j]} = :{names[j]}" for j in range(i)] + [f"{exprs[i]} {'>' if d == 'asc' else '<'} :{names[i]}"]
        ors.append("(" + " AND ".join(ands) + ")")
    return Cond("(" + " OR ".join(ors) + ")", params)
