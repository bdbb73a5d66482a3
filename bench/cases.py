"""The benchmark's cases: the API's URLs, Datasette's equivalents, and the distinct-query mix drawn from the database.

Every API URL is one a client could send (validated, resolved, enveloped, ETagged like any other);
every Datasette URL asks its table JSON/CSV for the same rows. The distinct mix is built from the
regions, kinds, themes and texts in the database itself, with cursors taken from real links.next.
"""
from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

API = "/api/v1/initiatives"
HOT = {"region": "四川", "year": "2025"}
HOT_CODE = "510000"
HOT_YEAR = 2025
SORTS = ["id", "-id", "year", "-year", "name_en", "-name_zh", "kind", "theme", "scope", "-year,id", "kind,-year"]
FIXED_TERMS = ["驿站", "志愿", "热线", "快递", "网格", "社会工作", "新就业", "志愿服务", "基层治理", "快递员",
               "党建引领", "行业协会", "volunteer", "courier", "hotline", "community", "station", "rider",
               "association", "governance", "social work", "suggestion"]


def enc(params: dict) -> str:
    return urlencode(params, quote_via=quote, safe="")


def api_url(params: dict) -> str:
    return API + ("?" + enc(params) if params else "")


def ds_area(code: str) -> str:
    return f"n in (select initiative_n from initiative_area where ancestor_code='{code}')"


@dataclass
class Case:
    name: str
    title: str
    api: list[str]
    datasette: list[str] | None
    headers: dict = field(default_factory=dict)
    expect: int = 200
    content_type: str = "application/json"
    size: int = 0                # the API's body size: the ceiling answers with this many bytes
    note: str = ""


@dataclass
class Mix:
    """The distinct-query mix: API URLs and, position by position, Datasette's translation of each."""

    api: list[str]
    datasette: list[str | tuple[str, int]]    # (base, hops): a cursor page; fetch the base, follow Datasette's next hops times
    sample: list[str]                         # extra API URLs (not in api) to measure the mean response size


class Catalog:
    """What the distinct mix draws from: regions whose names resolve uniquely, vocabularies and search terms."""

    def __init__(self, db: Path, seed: int = 5):
        from api.dataset.names import name_key

        conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        rng = random.Random(seed)
        regions = conn.execute("SELECT code, name_zh, name_en, level, initiative_count FROM regions").fetchall()
        names: dict[str, list[tuple[str, int]]] = {}
        for key, code, exact in conn.execute("SELECT key, code, exact FROM region_names"):
            names.setdefault(key, []).append((code, exact))

        def unique(value: str, code: str) -> bool:
            rows = names.get(name_key(value), [])
            exact = [c for c, e in rows if e]
            chosen = exact if len(exact) == 1 else [c for c, _ in rows]
            return chosen == [code]

        # (value as the user types it, resolved code): codes always, names when they name one division only.
        self.regions: list[tuple[str, str]] = []
        self.populated: list[tuple[str, str]] = []
        for code, zh, en, level, count in regions:
            options = [(code, code)] + [(v, code) for v in (zh, en) if "," not in v and unique(v, code)]  # ',' separates values
            self.regions.extend(options)
            if count:
                self.populated.extend(options)
        self.kinds = [r[0] for r in conn.execute("SELECT id FROM kinds ORDER BY ord")]
        self.themes = [r[0] for r in conn.execute('SELECT id FROM themes ORDER BY "order"')]
        total = conn.execute("SELECT max(n) FROM initiatives").fetchone()[0] or 0
        picks = [rng.randint(1, total) for _ in range(min(200, total))]
        rows = conn.execute(f"SELECT name_zh, name_en FROM initiatives WHERE n IN ({','.join('?' * len(picks))})",
                            picks).fetchall() if picks else []
        terms = set(FIXED_TERMS)
        for zh, en in rows:
            if len(zh) >= 4:
                i = rng.randrange(0, len(zh) - 3)
                terms.add(zh[i:i + rng.choice([3, 4])].strip("“”《》,。 "))
            words = [w.strip("“”:,.'()").lower() for w in en.split() if len(w) > 4]
            if words:
                terms.add(rng.choice(words))
        self.terms = sorted(t for t in terms if t)
        self.count = conn.execute("SELECT count(*) FROM initiatives").fetchone()[0]
        self.years = [r[0] for r in conn.execute("SELECT DISTINCT year FROM initiatives WHERE year IS NOT NULL")] or [2025]
        conn.close()


def _random_query(cat: Catalog, rng: random.Random, broad: bool = False) -> dict:
    """One structured query; broad=True leaves out region and search so that there is a next page."""
    q: dict = {}
    if not broad and rng.random() < 0.75:
        q["region"] = rng.choice(cat.populated if cat.populated and rng.random() < 0.4 else cat.regions)
    r = rng.random()
    lo_y, hi_y = min(cat.years + [2015]), max(cat.years + [2025])
    if r < 0.4:
        y = rng.randint(lo_y, hi_y)
        q["year"] = (str(y), y, y)
    elif r < 0.7:
        a, b = sorted(rng.sample(range(lo_y - 2, hi_y + 1), 2))
        form = rng.choice(["range", "from", "to"])
        q["year"] = {"range": (f"{a}..{b}", a, b), "from": (f"{a}..", a, None), "to": (f"..{b}", None, b)}[form]
    if rng.random() < 0.3:
        q["kind"] = rng.sample(cat.kinds, rng.choice([1, 1, 2]))
    if rng.random() < 0.15:
        q["theme"] = [rng.choice(cat.themes)]
    if rng.random() < 0.1:
        q["scope"] = rng.choice(["local", "national"])
    if not broad and rng.random() < 0.15:
        q["q"] = rng.choice(cat.terms)
    if rng.random() < 0.5:
        q["sort"] = rng.choice(SORTS)
    q["limit"] = rng.choice([20, 20, 20, 10, 50, 100, 200]) if not broad else rng.randint(1, 10)
    if rng.random() < 0.2 and not broad:
        q["limit"] = rng.randint(1, 200)
    return q


def _api_params(q: dict) -> dict:
    p = {}
    if "region" in q:
        p["region"] = q["region"][0]
    if "year" in q:
        p["year"] = q["year"][0]
    for k in ("kind", "theme"):
        if k in q:
            p[k] = ",".join(q[k])
    for k in ("scope", "q", "sort"):
        if k in q:
            p[k] = q[k]
    if q.get("limit", 20) != 20:
        p["limit"] = str(q["limit"])
    return p


def _ds_params(q: dict) -> dict:
    """The same rows through Datasette's table filters (_where for the region subquery, _search for FTS)."""
    p = {}
    if "region" in q:
        p["_where"] = ds_area(q["region"][1])
    if "year" in q:
        _, lo, hi = q["year"]
        if lo is not None and lo == hi:
            p["year"] = str(lo)
        else:
            if lo is not None:
                p["year__gte"] = str(lo)
            if hi is not None:
                p["year__lte"] = str(hi)
    for k in ("kind", "theme"):
        if k in q:
            if len(q[k]) == 1:
                p[k] = q[k][0]
            else:
                p[f"{k}__in"] = ",".join(q[k])
    if "scope" in q:
        p["scope"] = q["scope"]
    if "q" in q:
        p["_search"] = q["q"]
    first = q.get("sort", "id").split(",")[0]
    if first != "id":   # the API's default order (id) is Datasette's default order too (n is numbered by id)
        p["_sort_desc" if first.startswith("-") else "_sort"] = first.lstrip("-")
    p["_size"] = str(q.get("limit", 20))
    return p


def distinct_mix(db: Path, ds_name: str, count: int, sample: int = 300, cursors: int = 1500, seed: int = 5,
                 cursor_seconds: float = 15.0) -> Mix:
    """count distinct API URLs (up to 1 in 12 a cursor page from a real links.next) and their Datasette twins.

    Collecting cursors asks the API in-process; on a large database that is slow, so it stops after
    cursor_seconds with what it has."""
    import time

    from api.app import create_app

    cat = Catalog(db, seed)
    rng = random.Random(seed)
    seen: set[str] = set()
    api_urls: list[str] = []
    ds_urls: list = []

    def add(url, ds):
        if url in seen:
            return False
        seen.add(url)
        api_urls.append(url)
        ds_urls.append(ds)
        return True

    # Cursor pages: ask the API for broad first pages in-process and follow links.next one or two hops.
    app = create_app({"DATABASE": str(db)})
    client = app.test_client()
    tries = 0
    cursor_items = []
    deadline = time.monotonic() + cursor_seconds
    while len(cursor_items) < cursors and tries < cursors * 4 and time.monotonic() < deadline:
        tries += 1
        q = _random_query(cat, rng, broad=True)
        base = api_url(_api_params(q))
        resp = client.get(base)
        if resp.status_code != 200:
            continue
        nxt = resp.get_json()["links"]["next"]
        hops = 0
        while nxt and hops < 2 and len(cursor_items) < cursors:
            hops += 1
            ds_base = f"/{ds_name}/initiatives.json?" + enc(_ds_params(q))
            cursor_items.append((nxt, (ds_base, hops)))
            if rng.random() < 0.5:
                break
            nxt = client.get(nxt).get_json()["links"]["next"]
    every = max(1, (count // max(1, len(cursor_items))) if cursor_items else count + 1)
    ci = 0
    attempts = 0
    while len(api_urls) < count + sample and attempts < (count + sample) * 20:
        attempts += 1
        if cursor_items and ci < len(cursor_items) and len(api_urls) % every == every - 1:
            if add(*cursor_items[ci]):
                pass
            ci += 1
            continue
        q = _random_query(cat, rng)
        add(api_url(_api_params(q)), f"/{ds_name}/initiatives.json?" + enc(_ds_params(q)))
    if len(api_urls) < count + sample:
        raise RuntimeError(f"could only make {len(api_urls)} distinct URLs from this database")
    # The sample is drawn from the same stream but kept out of the measured list.
    idx = list(range(len(api_urls)))
    rng.shuffle(idx)
    sample_idx = set(idx[:sample])
    return Mix([u for i, u in enumerate(api_urls) if i not in sample_idx],
               [d for i, d in enumerate(ds_urls) if i not in sample_idx],
               [api_urls[i] for i in sorted(sample_idx)])


def fixed_cases(db: Path, ds_name: str) -> tuple[list[Case], dict]:
    """hot, record, csv and revalidate; the record is one the hot list holds (or the first record)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    row = conn.execute("SELECT id, n FROM initiatives WHERE id = 'beijing-12345-hotline'").fetchone() or \
        conn.execute("SELECT id, n FROM initiatives WHERE n IN (SELECT initiative_n FROM initiative_area WHERE ancestor_code = ?) "
                     "ORDER BY id LIMIT 1", [HOT_CODE]).fetchone() or \
        conn.execute("SELECT id, n FROM initiatives ORDER BY id LIMIT 1").fetchone()
    conn.close()
    rid, rn = row
    hot = api_url(HOT)
    ds_hot = {"_where": ds_area(HOT_CODE), "year": str(HOT_YEAR), "_size": "20"}
    cases = [
        Case("hot", "hot filtered list: region=四川&year=2025", [hot], [f"/{ds_name}/initiatives.json?" + enc(ds_hot)]),
        Case("record", f"one record: /initiatives/{rid}", [f"{API}/{quote(rid)}"], [f"/{ds_name}/initiatives/{rn}.json"]),
        Case("csv", "CSV export of the hot filter (every row, streamed)", [hot + "&format=csv"],
             [f"/{ds_name}/initiatives.csv?" + enc({"_where": ds_area(HOT_CODE), "year": str(HOT_YEAR), "_stream": "on"})],
             content_type="text/csv"),
        Case("revalidate", "revalidation of the hot list: If-None-Match -> 304", [hot], None, expect=304),
    ]
    return cases, {"record_id": rid, "record_n": rn}
