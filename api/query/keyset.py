"""Keyset pages: the table that drives a list (Driver), its sorts, one page's statements, its total, and a walk over
every page of a list in batches."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .fragments import Cond, merge, rows_after, where

COUNT_CAP = 10_000  # beyond this, meta.total is reported as a lower bound instead of counted


@dataclass(frozen=True)
class Driver:
    """The driving table of a list query and the columns its sort keys read.

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


# Sortable fields -> the SQL expression each reads, given the query's Driver. A sort key reaches
# SQL only through these maps. The build numbers initiatives (n) in id order, so sorting on id is
# sorting on n and can be read straight off an index.
INITIATIVE_SORTS: dict[str, Callable[[Driver], str]] = {
    "id": lambda s: s.n, "year": lambda s: s.year, "name_en": lambda s: "i.name_en", "name_zh": lambda s: "i.name_zh",
    "kind": lambda s: "i.kind", "theme": lambda s: "i.theme", "scope": lambda s: "i.scope",
}
METRIC_SORTS: dict[str, Callable[[Driver], str]] = {
    "value": lambda s: "m.value", "year": lambda s: "ifnull(m.year, 0)", "initiative": lambda s: "i.n",
    "unit": lambda s: "m.unit",
}
REGION_SORTS: dict[str, Callable[[Driver], str]] = {
    "code": lambda s: "r.code", "name_en": lambda s: "r.name_en", "name_zh": lambda s: "r.name_zh",
    "initiative_count": lambda s: "r.initiative_count", "level": lambda s: "r.depth",
}


@dataclass(frozen=True)
class Family:
    """A sortable list: its sort expressions and the unique tie-breaker that makes every key distinct."""

    sorts: dict
    tiebreak: Callable[[Driver], str]


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

    @classmethod
    def of(cls, rows: list, total: int, exact: bool, has_more: bool, first_key, last_key) -> "Page":
        """A page whose total beyond COUNT_CAP is reported as COUNT_CAP, and as a lower bound."""
        return cls(rows, min(total, COUNT_CAP), exact and total <= COUNT_CAP, has_more, first_key, last_key)


def known_total(found: int, after, has_more: bool, count: bool) -> int | None:
    """A page's total when it needs no count: the rows found when the first page holds them all, -1 when nobody asks
    (an export walks every page and never shows a total); None when the total must be counted."""
    if after is None and not has_more:
        return found
    if not count:
        return -1
    return None


@dataclass(frozen=True)
class Order:
    """The key expressions of one sort and the direction each is read in."""

    exprs: tuple[str, ...]
    dirs: tuple[str, ...]

    @classmethod
    def of(cls, family: Family, driver: Driver, sort, backwards: bool) -> "Order":
        exprs = [family.sorts[name](driver) for name, _ in sort] + [family.tiebreak(driver)]
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
    """Rows strictly after values in order; a key repeated (sort=id, whose tie-breaker is id again) adds nothing and
    is dropped."""
    keep: dict[str, tuple[str, object]] = {}
    for e, d, v in zip(order.exprs, order.dirs, values):
        keep.setdefault(e, (d, v))
    exprs = list(keep)
    return rows_after(exprs, [keep[e][0] for e in exprs], [keep[e][1] for e in exprs], [f"k{j}" for j in range(len(exprs))])


@dataclass(frozen=True)
class Statement:
    """One SQL text and its named parameters, as the app sends it to SQLite."""

    sql: str
    params: dict


def page_statements(family: Family, select: str, driver: Driver, sort, limit: int, after=None,
                    backwards: bool = False) -> list[Statement]:
    """The statements one keyset page runs, in order (the second only when the first falls short).

    Two keys in one direction (e.g. -year then n) with a cursor: SQLite would seek (k1, k2) < (?, ?)
    on k1 alone and read the cursor's whole k1 group, so the page reads two index ranges instead:
    the rest of that group, then everything past it. A page 10,000 deep then costs what the first does.
    """
    order = Order.of(family, driver, sort, backwards)
    key_cols = ", ".join(f"{e} AS k{j}" for j, e in enumerate(order.exprs))
    head = f"SELECT {'DISTINCT ' if driver.distinct else ''}{select}, {key_cols} {driver.from_sql}"

    def statement(extra: list[Cond], keys: dict[str, str], n: int) -> Statement:
        conds = list(driver.conds) + extra
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


def count_statement(driver: Driver, tiebreak: str) -> Statement:
    one = "DISTINCT " + tiebreak if driver.distinct else "1"
    return Statement(f"SELECT count(*) FROM (SELECT {one} {driver.count_from or driver.from_sql}{where(driver.conds)} "
                     f"LIMIT {COUNT_CAP + 1})", merge(driver.conds))


def run_page(conn, family: Family, select: str, driver: Driver, sort, limit: int, after=None, backwards=False,
             count=True) -> Page:
    """Run one keyset page. sort: [(field, 'asc'|'desc')]; after: key values of the row to start after."""
    first, *rest = page_statements(family, select, driver, sort, limit, after, backwards)
    rows = conn.execute(first.sql, first.params).fetchall()
    for more in rest:
        if len(rows) > limit:
            break
        stmt = Statement(more.sql, {**more.params, "limit": limit + 1 - len(rows)})
        rows += conn.execute(stmt.sql, stmt.params).fetchall()
    has_more = len(rows) > limit
    total = known_total(len(rows), after, has_more, count)
    if total is None:
        stmt = count_statement(driver, family.tiebreak(driver))
        total = conn.execute(stmt.sql, stmt.params).fetchone()[0]
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    width = key_length(sort)
    keys = [[row[f"k{j}"] for j in range(width)] for row in rows]
    return Page.of(rows, total, True, has_more, keys[0] if keys else None, keys[-1] if keys else None)


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
