"""Resolve parsed arguments against the dataset: region names and codes, vocabularies, full-text terms.

Each function takes the snapshot it reads (its connection and its memos), so the REST API (the request's snapshot,
to_filter) and the MCP server (api/agents, over stdio too) resolve alike."""
from __future__ import annotations

from .. import query
from ..dataset.names import name_key
from ..dataset.vocabulary import is_code
from .db import Snapshot, get_snapshot, prepared
from .errors import Problem, invalid

REGION_NAMES = prepared(("region-names",), lambda snap: query.region_name_index(snap.conn))
VOCABULARIES = {table: prepared(("vocabulary", table), lambda snap, table=table: query.vocabulary(snap.conn, table))
                for table in ("kinds", "themes")}


def _region_dict(row) -> dict:
    return {"code": row["code"], "name_zh": row["name_zh"], "name_en": row["name_en"], "level": row["level"]}


def resolve_region(snap: Snapshot, value: str) -> tuple[str, dict]:
    """One user-given region (code, Chinese or English name) -> (code, resolved-from note); or a 400."""
    conn = snap.conn
    if is_code(value):
        row = query.region(conn, value)
        if row:
            return row["code"], {"input": value, "code": row["code"]}
        alias = query.region_alias(conn, value)
        if alias:
            return alias["successor_code"], {"input": value, "code": alias["successor_code"], "alias_of": value}
        near = [r for r in query.regions_by_codes(conn, [value[:2] + "0000", value[:4] + "00"])]
        raise _unknown(value, near)
    key = name_key(value)
    rows = query.regions_by_key(conn, key) if key else []
    exact = [r for r in rows if r["exact"]]
    chosen = exact if len(exact) == 1 else rows
    if len(chosen) == 1:
        return chosen[0]["code"], {"input": value, "code": chosen[0]["code"]}
    if not chosen:
        index = REGION_NAMES.of(snap) if key else None
        raise _unknown(value, query.region_suggestions(conn, index, key) if key else [])
    listing = [_region_dict(r) for r in chosen]
    names = "; ".join(f"{r['code']} {r['name_zh']} ({r['name_en']}, {r['level']})" for r in listing[:10])
    raise Problem(400, "ambiguous-region",
                  f"region: {value!r} names {len(listing)} divisions: {names}. Give the code instead.",
                  errors={"region": [f"{value!r} is ambiguous; use one of the codes: {', '.join(r['code'] for r in listing)}"]},
                  candidates=listing)


def region_code(snap: Snapshot, value: str) -> tuple[str, dict]:
    """resolve_region(), remembered per snapshot: a name's resolution is a fact of the dataset version (errors are not)."""
    return snap.memo(("region", value), lambda: resolve_region(snap, value))


def _unknown(value: str, near) -> Problem:
    suggestions = [_region_dict(r) for r in near]
    hint = ("; did you mean " + ", ".join(f"{r['name_zh']} {r['name_en']} ({r['code']})" for r in suggestions) + "?") if suggestions else ""
    return Problem(400, "unknown-region",
                   f"region: {value!r} is not a GB/T 2260 code or a division name{hint}",
                   errors={"region": [f"{value!r} is unknown; give a six-digit code, a Chinese name (四川省, 四川) "
                                      f"or an English name (Sichuan)"]},
                   suggestions=suggestions)


def _check_vocab(param: str, values: list[str], allowed: list[str]):
    bad = [v for v in values if v not in allowed]
    if bad:
        raise invalid(param, f"{', '.join(map(repr, bad))} not allowed; allowed: {', '.join(allowed)}")


def to_filter(args: dict) -> tuple[query.Filter, dict]:
    """filter_for() on this request's snapshot."""
    return filter_for(get_snapshot(), args)


def filter_for(snap: Snapshot, args: dict) -> tuple[query.Filter, dict]:
    """Build the query filter from parsed args. Returns it and the meta to report: how each region value was resolved."""
    f = query.Filter()
    resolved = []
    for value in args.get("region", []):
        code, note = region_code(snap, value)
        resolved.append(note)
        if code not in f.regions:
            f.regions.append(code)
    if "year" in args:
        f.year_from, f.year_to = args["year"]
    for param, table in (("kind", "kinds"), ("theme", "themes")):
        if param in args:
            _check_vocab(param, args[param], VOCABULARIES[table].of(snap))
    f.kinds, f.themes = args.get("kind", []), args.get("theme", [])
    f.scopes = args.get("scope", [])
    f.initiatives = args.get("initiative", [])
    f.units = args.get("unit", [])
    if "q" in args:
        f.terms = list(dict.fromkeys(args["q"].split()))[:10]
    f.include_national = args.get("include_national", False)
    if f.include_national and not f.regions:
        raise invalid("include_national", "adds the national initiatives to a region filter; give region too "
                      "(without region every initiative, national ones included, is listed)")
    return f, {"regions": resolved, **({"include_national": True} if f.include_national else {})}
