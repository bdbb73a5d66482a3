"""The MCP tools: each a JSON Schema in (schemas.py, from the contract), the REST API's own argument parsing
(web/args.py), resolution (web/resolve.py), queries (api.query) and shapes (web/shapes.py, web/listing.py), and a typed
result out: a list tool's result is the REST list's body, plus the cursor of the next page.

A tool reads through a Reading: the snapshot it queries, the base its links start with, the time limit it runs
under and the key its cursors are signed with, whether it serves /mcp (inside a Flask request) or stdio (none).
"""
from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from marshmallow import RAISE, Schema, fields, validate
from werkzeug.datastructures import MultiDict

from .. import query
from ..dataset import article
from ..dataset.citation import citation, creators, quote_citation, release_of, version_label
from ..dataset.names import zh_short
from ..web import cursors, listing, shapes
from ..web.args import FacetArgs, InitiativeListArgs, RegionListArgs, RootArgs, parse
from ..web.db import DatasetUnavailable, QueryTimeout, Snapshot
from ..web.errors import Problem, invalid, problem_body
from ..web.resolve import filter_for, region_code
from ..web.responses import envelope_body
from ..web.urls import absolute, links_from
from . import schemas

log = logging.getLogger(__name__)
API = shapes.API


@dataclass(frozen=True)
class Reading:
    """What one tool call reads: the snapshot (one file for the whole call), the base of its links (a request's own
    inside one), the time limit it runs under, and the key its cursors are signed with (None: the app's)."""

    snapshot: Snapshot
    base: str
    time_limit: Callable[[], AbstractContextManager]
    cursor_key: str | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: dict
    output_schema: dict
    run: Callable[[Reading, dict], dict]


def without_format(schema_class):
    """A REST argument schema without the arguments that choose a representation (REST_ONLY): a tool's answer is JSON."""
    return schema_class(only=[f for f in schema_class().fields if f not in schemas.REST_ONLY])


def query_form(arguments: dict) -> MultiDict:
    """A tool's JSON arguments as the query string the REST API would get, for web/args.py's parse(): an array as the
    parameter repeated, a boolean as true/false, an integer as its digits; null as absent."""
    form = MultiDict()
    for name, value in arguments.items():
        if value is None:
            continue
        if value == []:
            raise invalid(name[:100], "is an empty array; leave the argument out to not filter")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                form.add(name, "true" if item else "false")
            elif isinstance(item, int):
                form.add(name, str(item))
            elif isinstance(item, str):
                form.add(name, item)
            else:
                raise invalid(name[:100], "must be a string, an integer, a boolean, or an array of strings")
    return form


def rest_url(path: str, form: MultiDict, cursor: str | None = None) -> str:
    """The same question to the REST API: path with the arguments as its query (and a cursor)."""
    pairs = [(k, v) for k, v in form.items(multi=True) if k != "cursor"] + ([("cursor", cursor)] if cursor else [])
    return absolute(path) + ("?" + urlencode(pairs) if pairs else "")


def _listed(reading: Reading, resource: listing.ListResource, path: str, form: MultiDict, args: dict, criteria,
            meta: dict) -> dict:
    """One page of a list as the REST list's body (its links the REST URLs of the same page and its neighbours),
    with next_cursor, the cursor this tool takes for the next page (the REST API takes it too)."""
    page, items, around = listing.page_of(resource, reading.snapshot.conn, args, criteria,
                                          cursors.query_fingerprint(form), reading.cursor_key)
    links = {"self": rest_url(path, form, form.get("cursor")), "first": rest_url(path, form),
             "next": rest_url(path, form, around["next"]) if around["next"] else None,
             "prev": rest_url(path, form, around["prev"]) if around["prev"] else None}
    return {**envelope_body(items, links, **listing.page_meta(page, args, meta)), "next_cursor": around["next"]}


# ---------------------------------------------------------------- the tools

SEARCH_ARGS = without_format(InitiativeListArgs)
REGION_ARGS = without_format(RegionListArgs)
FACET_ARGS = without_format(FacetArgs)
NO_ARGS = RootArgs()


def search_initiatives(reading: Reading, arguments: dict) -> dict:
    form = query_form(arguments)
    args = parse(SEARCH_ARGS, form)
    criteria, meta = filter_for(reading.snapshot, args)
    return _listed(reading, listing.INITIATIVES, f"{API}/initiatives", form, args, criteria, meta)


class _ToolArgs(Schema):
    class Meta:
        unknown = RAISE


REQUIRED = {"required": "is required"}


def _id_field():
    return fields.String(required=True, error_messages=REQUIRED,
                         validate=validate.Length(1, shapes.ID_MAX, error=f"must be 1 to {shapes.ID_MAX} characters"))


class InitiativeArgs(_ToolArgs):
    id = _id_field()


# The fields cite can narrow its quotes to: the record's fields the build checks against its quotes.
CITABLE = ("name_zh", "name_en", "summary_zh", "summary_en", "kind", "year", "regions", "place", "metrics", "people",
           "organisations")


class CiteArgs(_ToolArgs):
    id = _id_field()
    field = fields.String(validate=validate.OneOf(CITABLE, error=f"must be one of {', '.join(CITABLE)}"))


class ResolveArgs(_ToolArgs):
    region = fields.String(required=True, error_messages=REQUIRED, validate=validate.Length(1, 500, error="must be 1 to 500 characters"))


def _record(reading: Reading, initiative_id: str) -> tuple[dict, str | None]:
    """The record with this id, or the record it became (and the id asked for); a 404 problem otherwise."""
    conn = reading.snapshot.conn
    row, current = shapes.find_initiative(conn, initiative_id)
    if current is not None:
        row, _ = shapes.find_initiative(conn, current)
    if row is None:
        raise Problem(404, "not-found", f"id: there is no initiative with id {initiative_id[:shapes.ID_MAX]!r}; "
                      "search_initiatives lists them.", errors={"id": ["no initiative has this id"]})
    return shapes.initiative_record(conn, row), (initiative_id if current is not None else None)


def get_initiative(reading: Reading, arguments: dict) -> dict:
    args = parse(InitiativeArgs(), query_form(arguments))
    return _record(reading, args["id"])[0]


def _supporting(conn, record: dict, field: str | None) -> tuple[list[int], str | None]:
    """Which of the record's quotes support a field, and a note when none can: the quotes that hold the field's words
    as the build requires them (a figure as written, a person's name and roles, an organisation's name, a region's
    name or short name, the kind's naming words, a stated year); every quote for names and summaries, which are
    written from all of them."""
    quotes = [e["quote"] for e in record["evidence"]]
    every = list(range(len(quotes)))
    if field in (None, "name_zh", "name_en", "summary_zh", "summary_en"):
        return every, None
    if field == "year":
        if record["year_basis"] != "stated":
            return [], {"reported": f"The article reports this among the year's work ({record['year']}) without dating it.",
                        "cited": "The year comes from an outside source (outside_facts), not the article.",
                        "unknown": "Nothing dates it."}[record["year_basis"]]
        words = [str(record["year"])]
    elif field == "metrics":
        words = [m["figure_text"] for m in record["metrics"]]
    elif field == "people":
        words = [t for p in record["people"] for t in (p["name_zh"], *(r["zh"] for r in p["roles"]))]
    elif field == "organisations":
        words = [o["name_zh"] for o in record["organisations"]]
    elif field == "regions":
        words = [n for r in record["regions"] for n in (r["name_zh"], zh_short(r["name_zh"])) if n]
    elif field == "place":
        words = [record["place"]["zh"]] if record["place"] else []
    else:   # kind
        terms = next((json.loads(k["evidence_terms"] or "[]") for k in query.kinds(conn) if k["id"] == record["kind"]), [])
        if not terms:
            return every, None
        words = terms
    if not words:
        return [], f"The record has no {field}."
    chosen = [i for i, q in enumerate(quotes) if any(w in q for w in words)]
    return chosen, None if chosen else f"No quote names its {field}; see outside_facts for what supports it."


def cite(reading: Reading, arguments: dict) -> dict:
    args = parse(CiteArgs(), query_form(arguments))
    conn = reading.snapshot.conn
    record, asked = _record(reading, args["id"])
    meta = query.meta(conn)
    version, release = reading.snapshot.version, release_of(meta)
    page_url = absolute(f"/initiatives/{record['id']}")
    sources = {s["id"]: s for s in query.sources(conn)}
    chosen, note = _supporting(conn, record, args.get("field"))
    quotes = []
    for i in chosen:
        e = record["evidence"][i]
        source = sources[e["source"]["id"]]
        text, paragraphs = article.load(source)
        around = article.sentence(text, paragraphs, e["start"], e["end"])
        within = article.containing(paragraphs, e["start"], e["end"])
        cited_source = {**e["source"], "url": absolute(f"/sources/{source['id']}"),
                        "text_url": absolute(f"/sources/{source['id']}.txt")}
        quotes.append({"quote": e["quote"], "start": e["start"], "end": e["end"],
                       "matches_source": text[e["start"]:e["end"]] == e["quote"],
                       "sentence": {"text": around.text, "start": around.start, "end": around.end},
                       "paragraph": within[0].number if within else None,
                       "source": cited_source,
                       "citation": quote_citation(e, cited_source, page_url, version, release)})
    return {"initiative_id": record["id"], "requested_id": asked or record["id"], "name_zh": record["name_zh"],
            "name_en": record["name_en"], "url": record["url"], "page_url": page_url, "field": args.get("field"),
            "note": note, "quotes": quotes, "version": version_label(version, release),
            "record_citation": citation(record, page_url, version, release, creators(meta))["text"]}


def list_regions(reading: Reading, arguments: dict) -> dict:
    form = query_form(arguments)
    args = parse(REGION_ARGS, form)
    criteria, meta = listing.REGIONS.resolve(args)
    return _listed(reading, listing.REGIONS, f"{API}/regions", form, args, criteria, meta)


def resolve_region(reading: Reading, arguments: dict) -> dict:
    args = parse(ResolveArgs(), query_form(arguments))
    snap = reading.snapshot
    code, note = region_code(snap, args["region"])
    row, alias = query.region_or_successor(snap.conn, note.get("alias_of", code))
    return {"resolution": note, "region": shapes.region_detail(row, query.region_chain(snap.conn, row["code"]),
                                                                query.region_children(snap.conn, row["code"]), alias)}


def get_facets(reading: Reading, arguments: dict) -> dict:
    form = query_form(arguments)
    args = parse(FACET_ARGS, form)
    criteria, meta = filter_for(reading.snapshot, args)
    result = query.facets(reading.snapshot.conn, criteria)
    total = result.pop("total")
    return envelope_body(shapes.facet_counts(result), {"self": rest_url(f"{API}/facets", form),
                                                       "initiatives": rest_url(f"{API}/initiatives", form)},
                         total=total, **meta)


def get_changelog(reading: Reading, arguments: dict) -> dict:
    parse(NO_ARGS, query_form(arguments))
    conn = reading.snapshot.conn
    rows = [shapes.changelog_entry(r) for r in query.changelog(conn)]
    return envelope_body(rows, {"self": absolute(f"{API}/changelog")}, total=len(rows), release=query.release(conn))


# ---------------------------------------------------------------- their schemas

_NEXT_CURSOR = {"description": "The cursor of the next page: pass it as `cursor` with the same arguments; null on the "
                               "last page. The REST API takes it too.", "type": "string", "nullable": True}
_YEAR_AS_NUMBER = {"type": "integer", "minimum": 1900, "maximum": 2100}
_RECORD_ID = "The initiative's id (a former id answers with the record it became)."
_SOURCE_OF_QUOTE = {"type": "object", "additionalProperties": False,
                    "required": ["id", "title_zh", "title_en", "publisher_zh", "publisher_en", "published", "url", "text_url"],
                    "properties": {**{k: {"type": "string"} for k in ("id", "title_zh", "title_en", "publisher_zh",
                                                                         "publisher_en")},
                                   "published": {"type": "string", "format": "date"},
                                   "url": {"description": "The article as published here, every quote marked.",
                                           "$ref": "#/components/schemas/ApiPath"},
                                   "text_url": {"description": "Its text byte for byte, as the offsets count it.",
                                                "$ref": "#/components/schemas/ApiPath"}}}
_BILINGUAL = {"type": "object", "additionalProperties": False, "required": ["zh", "en"],
              "properties": {"zh": {"type": "string"}, "en": {"type": "string"}}}
CITE_OUTPUT = schemas.output({
    "initiative_id": {"type": "string"},
    "requested_id": {"description": "The id asked for: a former id when the record was renamed.", "type": "string"},
    "name_zh": {"type": "string"}, "name_en": {"type": "string"},
    "url": {"$ref": "#/components/schemas/ApiPath"},
    "page_url": {"description": "The record's page: each quote inside its paragraph.", "$ref": "#/components/schemas/ApiPath"},
    "field": {"type": "string", "enum": list(CITABLE), "nullable": True},
    "note": {"description": "Why no quote supports the field, when none does.", "type": "string", "nullable": True},
    "quotes": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "required": ["quote", "start", "end", "matches_source", "sentence", "paragraph", "source", "citation"],
        "properties": {
            "quote": {"description": "Verbatim: text[start:end] of the source.", "type": "string"},
            "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 1},
            "matches_source": {"description": "The source's text at [start, end) is the quote, checked now.", "type": "boolean"},
            "sentence": {"description": "The whole sentence(s) the quote is in, with their [start, end).",
                         "type": "object", "additionalProperties": False, "required": ["text", "start", "end"],
                         "properties": {"text": {"type": "string"}, "start": {"type": "integer", "minimum": 0},
                                        "end": {"type": "integer", "minimum": 1}}},
            "paragraph": {"description": "The number of its paragraph (1-based, lines with text).", "type": "integer",
                          "nullable": True},
            "source": _SOURCE_OF_QUOTE,
            "citation": {**_BILINGUAL, "description": "A ready citation of this quote, in Chinese and in English."}}}},
    "version": {"description": "The dataset version the citation names.", "type": "string"},
    "record_citation": {"description": "The record itself cited (as its page's “cite this record”).", "type": "string"},
}, ["initiative_id", "requested_id", "name_zh", "name_en", "url", "page_url", "field", "note", "quotes", "version",
    "record_citation"], "The quotes that support a record (or one of its fields), each with its offsets, sentence, "
                        "source and citation.")

TOOLS = {t.name: t for t in [
    Tool("search_initiatives", "Search initiatives",
         "Find China's 2025 social-work initiatives (from one Xinhua article) by region, year, kind, theme, scope or "
         "words, as GET /api/v1/initiatives does. A region matches everything inside it; include_national adds the "
         "national initiatives, which apply there too (\"what applies in Beijing\"). Returns one page (limit, default "
         "20) and next_cursor for the next. Records carry no quotes: call cite for the evidence.",
         schemas.tool_input(f"{API}/initiatives", widen={"year": _YEAR_AS_NUMBER}),
         schemas.component_output("InitiativeList", {"next_cursor": _NEXT_CURSOR}, ("next_cursor",)),
         search_initiatives),
    Tool("get_initiative", "Get one initiative",
         "One initiative in full (GET /api/v1/initiatives/{id}): its regions with their chains, figures and evidence "
         "quotes. A former id (a renamed record) answers with the record it became.",
         {"type": "object", "additionalProperties": False, "required": ["id"],
          "properties": {"id": schemas.field_schema("Initiative", "id", _RECORD_ID)}},
         schemas.component_output("InitiativeDetail"), get_initiative),
    Tool("cite", "Cite a record's quotes",
         "The verbatim quotes from the article that support a record, or one of its fields: each with its [start, end) "
         "offsets in code points, the sentence around it, the source's title, publisher, date and URL, and a ready "
         "citation in Chinese and English. Quote only what this returns.",
         {"type": "object", "additionalProperties": False, "required": ["id"],
          "properties": {"id": schemas.field_schema("Initiative", "id", _RECORD_ID),
                         "field": {"type": "string", "enum": list(CITABLE),
                                   "description": "Only the quotes that support this field (default: every quote)."}}},
         CITE_OUTPUT, cite),
    Tool("list_regions", "List regions",
         "The GB/T 2260 divisions with their initiative counts (GET /api/v1/regions): by level, parent, the beginning "
         "of a name, whether they have initiatives.",
         schemas.tool_input(f"{API}/regions"),
         schemas.component_output("RegionList", {"next_cursor": _NEXT_CURSOR}, ("next_cursor",)), list_regions),
    Tool("resolve_region", "Resolve a region name",
         "A region in Chinese (四川省, 四川), English (Sichuan) or as a code (510000) to its division, with its chain "
         "and children, exactly as the region filter reads it. A name several divisions share (朝阳) is an error "
         "listing them with their codes: ask again with one code.",
         {"type": "object", "additionalProperties": False, "required": ["region"],
          "properties": {"region": schemas.parameter_item(f"{API}/initiatives", "region",
                                                          "A six-digit code, a Chinese name or an English name.")}},
         schemas.output({"resolution": {"$ref": "#/components/schemas/RegionResolution"},
                         "region": {"$ref": "#/components/schemas/RegionDetail"}}, ["resolution", "region"],
                        "How the name was read, and the division it names."), resolve_region),
    Tool("get_facets", "Count initiatives",
         "Counts of the matching initiatives by province, year, kind, theme and scope (GET /api/v1/facets), with the "
         "search's filters.",
         schemas.tool_input(f"{API}/facets", widen={"year": _YEAR_AS_NUMBER}),
         schemas.component_output("Facets"), get_facets),
    Tool("get_changelog", "What changed",
         "What changed in each record since the previous release (GET /api/v1/changelog): added, changed (which "
         "fields), renamed (from which id) or removed, with the reason.",
         {"type": "object", "additionalProperties": False, "properties": {}},
         schemas.component_output("ChangelogList"), get_changelog),
]}


# ---------------------------------------------------------------- one call

def problem_of(exc: Exception, instance: str) -> dict:
    """An exception as the problem details the REST API would answer (never a traceback): a Problem as it is; the
    time limit, an unreadable dataset or source text as a 503; anything else an internal error, logged."""
    if isinstance(exc, Problem):
        return problem_body(exc.status, exc.kind, exc.detail, instance, exc.errors, **exc.extra)
    if isinstance(exc, QueryTimeout):
        return problem_body(503, "query-timeout", "This query took longer than the server allows. Narrow the filters "
                            "or try again later.", instance)
    if isinstance(exc, (DatasetUnavailable, article.SourceUnavailable)):
        return problem_body(503, "service-unavailable", str(exc) or "The dataset is not built yet.", instance)
    log.error("tool call failed at %s", instance, exc_info=exc)
    return problem_body(500, "internal-error", "The server could not answer this call.", instance)


def call(tool: Tool, readings: Callable[[], Reading], arguments: dict, instance: str) -> tuple[dict, bool]:
    """Run one tool on what readings() gives (the dataset may be unreadable: that is a problem too): (its structured
    result, False), or (the problem details, True). instance: where the call came in (/mcp, stdio)."""
    try:
        reading = readings()
        with reading.time_limit(), links_from(reading.base):
            return tool.run(reading, arguments), False
    except Exception as exc:   # every failure becomes problem details, never a traceback
        return problem_of(exc, f"{instance}#tools/{tool.name}"), True
