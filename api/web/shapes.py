"""Rows from api.query turned into the JSON, CSV and GeoJSON shapes the contract documents; one record assembled
from its queries, for the API and the pages alike."""
from __future__ import annotations

from .. import query
from ..dataset.search import SEARCHED_COLUMNS
from ..dataset.tables import PUBLIC_TABLES
from .urls import absolute

API = "/api/v1"
ID_MAX = 200   # a record id longer than this is no record's: looked up nowhere, quoted cut to this length


def find_initiative(conn, initiative_id: str) -> tuple[object, str | None]:
    """(the record's row, None), or (None, the id it has now) for an id it had in an earlier release, or (None, None)."""
    if len(initiative_id) > ID_MAX:
        return None, None
    row = query.initiative_by_id(conn, initiative_id)
    if row is not None:
        return row, None
    return None, query.redirected_id(conn, initiative_id)


def initiative_record(conn, row) -> dict:
    """One record as the API's GET /api/v1/initiatives/{id} gives it: its regions with their chains, metrics, evidence."""
    regions = [region_with_chain(r, query.region_chain(conn, r["code"])) for r in query.regions_of(conn, [row["n"]])[row["n"]]]
    return initiative_full(row, regions, query.metrics_of(conn, row["n"]), query.evidence_of(conn, row["n"]))


def number(value):
    """25802000.0 -> 25802000, 18.4 -> 18.4: counts stay integers for clients that sum them."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def region_url(code: str) -> str:
    return absolute(f"{API}/regions/{code}")


def region_brief(row) -> dict:
    return {"code": row["code"], "name_zh": row["name_zh"], "name_en": row["name_en"], "level": row["level"],
            "url": region_url(row["code"])}


def centroid(row) -> dict | None:
    return {"lat": row["lat"], "lng": row["lng"]} if row["lat"] is not None else None


def region_full(row) -> dict:
    return {**region_brief(row), "parent_code": row["parent_code"], "province_code": row["province_code"],
            "centroid": centroid(row), "initiative_count": row["initiative_count"], "as_of": row["as_of"],
            "initiatives_url": absolute(f"{API}/initiatives?region={row['code']}")}


def region_detail(row, chain: list, children: list, alias=None) -> dict:
    """One region with its chain from the province down and its children; resolved_from when a retired code led here."""
    body = {**region_full(row), "chain": [region_brief(r) for r in chain],
            "children": [{**region_brief(c), "initiative_count": c["initiative_count"]} for c in children]}
    if alias is not None:
        body["resolved_from"] = {"code": alias["code"], "name_zh": alias["name_zh"], "note": alias["note"]}
    return body


def _year(row) -> dict:
    return {"year": row["year"], "year_basis": row["year_basis"], "date": row["date"],
            "date_note_zh": row["date_note_zh"], "date_note_en": row["date_note_en"]}


def _place(row):
    return {"zh": row["place_zh"], "en": row["place_en"]} if row["place_zh"] else None


def initiative_brief(row, regions: list, terms: list[str] | None = None) -> dict:
    out = {
        "id": row["id"], "name_zh": row["name_zh"], "name_en": row["name_en"],
        "kind": row["kind"], "theme": row["theme"], "scope": row["scope"], **_year(row),
        "regions": [region_brief(r) for r in regions], "regions_complete": bool(row["regions_complete"]), "place": _place(row),
        "summary_zh": row["summary_zh"], "summary_en": row["summary_en"], "note_zh": row["note_zh"], "note_en": row["note_en"],
        "organisations": query.loads_json(row["organisations"]), "people": query.loads_json(row["people"]),
        "outside_facts": query.loads_json(row["outside_facts"]), "metric_count": row["metric_count"],
        "source": row["source_id"], "former_ids": joined_list(row["former_ids"]),
        "url": absolute(f"{API}/initiatives/{row['id']}"),
    }
    if terms:
        out["match"] = matched_fields(row, terms)
    return out


# The searched columns (SEARCHED_COLUMNS) by the field of the record each shows.
SEARCHED = {"people_text": "people"}


def matched_fields(row, terms: list[str]) -> dict:
    """Which searched fields contain every term, and a short snippet around the first term in each."""
    out = {}
    for column in SEARCHED_COLUMNS:
        fld = SEARCHED.get(column, column)
        text = row[column] or ""
        folded = text.casefold()
        if all(t.casefold() in folded for t in terms):
            at = folded.find(terms[0].casefold())
            lo, hi = max(0, at - 20), min(len(text), at + len(terms[0]) + 20)
            out[fld] = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
    return {"fields": list(out), "snippets": out}


def region_with_chain(row, chain: list) -> dict:
    return {**region_brief(row), "centroid": centroid(row), "chain": [region_brief(r) for r in chain]}


def metric(row, initiative_id: str | None = None, regions: list | None = None) -> dict:
    out = {"value": number(row["value"]), "unit": row["unit"], "unit_zh": row["unit_zh"], "qualifier": row["qualifier"],
           "measure": row["measure"],
           "year": row["year"], "year_basis": row["year_basis"], "counts_zh": row["counts_zh"], "counts_en": row["counts_en"],
           "figure_text": row["figure_text"]}
    if initiative_id is not None:
        out = {"initiative_id": initiative_id, "initiative_name_zh": row["initiative_name_zh"],
               "initiative_name_en": row["initiative_name_en"], **out, "regions": regions or [],
               "initiative_url": absolute(f"{API}/initiatives/{initiative_id}")}
    return out


def source_url(source_id: str) -> str:
    return absolute(f"{API}/sources/{source_id}")


def source_record(row) -> dict:
    """One source as /api/v1/sources lists it, with where it is: its API URL, its text as published (every quote's
    offsets count in it) and its page."""
    return {**{c: row[c] for c in PUBLIC_TABLES["sources"].columns}, "url": source_url(row["id"]),
            "text_url": absolute(f"/sources/{row['id']}.txt"), "page_url": absolute(f"/sources/{row['id']}")}


def evidence(row) -> dict:
    return {"quote": row["quote"], "start": row["start"], "end": row["end"],
            "source": {"id": row["source_id"], "title_zh": row["title_zh"], "title_en": row["title_en"],
                       "publisher_zh": row["publisher_zh"], "publisher_en": row["publisher_en"],
                       "published": row["published"], "url": source_url(row["source_id"])}}


def initiative_full(row, regions_with_chains: list, metrics: list, evidence_rows: list) -> dict:
    out = initiative_brief(row, [])
    out["regions"] = regions_with_chains
    out["metrics"] = [metric(m) for m in metrics]
    out["evidence"] = [evidence(e) for e in evidence_rows]
    return out


INITIATIVE_CSV = ["id", "name_zh", "name_en", "kind", "theme", "scope", "year", "year_basis", "date",
                  "region_codes", "region_names_zh", "region_names_en", "regions_complete", "place_zh", "place_en",
                  "summary_zh", "summary_en", "people_zh", "people_en", "metric_count", "source"]


def initiative_csv_row(row, regions: list) -> dict:
    return {**{k: row[k] for k in ("id", "name_zh", "name_en", "kind", "theme", "scope", "year", "year_basis", "date",
                                     "place_zh", "place_en", "summary_zh", "summary_en", "metric_count")},
            "source": row["source_id"], "regions_complete": bool(row["regions_complete"]),
            "people_zh": [p["name_zh"] for p in query.loads_json(row["people"])],
            "people_en": [p["name_en"] for p in query.loads_json(row["people"])],
            "region_codes": [r["code"] for r in regions], "region_names_zh": [r["name_zh"] for r in regions],
            "region_names_en": [r["name_en"] for r in regions]}


def initiative_feature(row, regions: list) -> dict:
    """A GeoJSON Feature: a Point at the centroid of its one region, a MultiPoint for several, null geometry when national."""
    points = [[r["lng"], r["lat"]] for r in regions if r["lat"] is not None]
    geometry = None
    if len(points) == 1:
        geometry = {"type": "Point", "coordinates": points[0]}
    elif points:
        geometry = {"type": "MultiPoint", "coordinates": points}
    props = initiative_brief(row, regions)
    return {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": props}


METRIC_CSV = ["initiative_id", "initiative_name_zh", "initiative_name_en", "value", "unit", "unit_zh", "qualifier", "measure",
              "year", "year_basis", "counts_zh", "counts_en", "figure_text", "region_codes"]


def metric_csv_row(row) -> dict:
    """A metric with its initiative, as one CSV row: the value typed like the JSON's, region codes as a list."""
    return {**{c: row[c] for c in METRIC_CSV if c not in ("value", "region_codes")},
            "value": number(row["value"]), "region_codes": joined_list(row["region_codes"])}


def joined_list(stored: str | None) -> list[str]:
    """The build keeps a list (region codes, former ids) joined with ';', as every CSV does; this is the list again."""
    return stored.split(";") if stored else []


# The columns of /downloads/regions.csv too (PUBLIC_TABLES): one file name, one shape.
REGION_CSV = list(PUBLIC_TABLES["regions"].columns)

# The columns of /downloads/changelog.csv too: one name, one shape.
CHANGELOG_CSV = list(PUBLIC_TABLES["changelog"].columns)


def changelog_entry(row) -> dict:
    """One changelog entry: its columns, the changed fields as a list, and the record's URL (none once removed)."""
    return {**{c: row[c] for c in CHANGELOG_CSV}, "fields": joined_list(row["fields"]),
            "url": absolute(f"{API}/initiatives/{row['initiative_id']}") if row["change"] != "removed" else None}


def facet_counts(result: dict) -> dict:
    """query.facets' rows by facet (its total popped first) as the JSON of /api/v1/facets' data."""
    return {k: [dict(r) for r in rows] for k, rows in result.items()}
