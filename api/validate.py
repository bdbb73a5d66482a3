"""Every rule about the files in data/: marshmallow schemas, the cross-file checks, and the loader the build runs before writing.

load_dataset(root) is load_reference (sources, vocabularies, gazetteer, data package) + load_records
(iter_records through a RecordChecker) + dataset_digest; each part is public so a tool can compose them.
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from . import vocabulary
from .names import zh_short
from .release import Release, load_release
from .vocabulary import (LEVELS, MEASURES, METRIC_YEAR_BASES, OUTSIDE_FACTS, QUALIFIERS, SCOPES, YEAR_BASES,
                         YEAR_BASIS_CITED, YEAR_BASIS_STATED, YEAR_BASIS_UNKNOWN)

SLUG = validate.Regexp(f"^{vocabulary.SLUG}$", error=vocabulary.SLUG_MESSAGE)
CODE = validate.Regexp(f"^{vocabulary.CODE}$", error=vocabulary.CODE_MESSAGE)
YEAR = validate.Range(min=1949, max=2100)


class StrictBoolean(fields.Boolean):
    """true or false, as YAML and JSON write them: 'yes', 1 and strings are refused."""

    default_error_messages = {"invalid": "must be true or false"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictNumber(fields.Number):
    """A JSON/YAML number: strings and booleans are refused, not coerced."""

    num_type = float

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        if value != value or value in (float("inf"), float("-inf")):
            raise self.make_error("invalid")
        return value

    default_error_messages = {"invalid": "must be a number (not a string)"}


class CsvCoordinate(fields.Field):
    """A coordinate in a CSV cell: empty is none; otherwise a decimal number strictly inside (low, high)."""

    default_error_messages = {"invalid": "must be a number"}
    _NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

    def __init__(self, low: int, high: int, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = low, high

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "":
            return None
        if not isinstance(value, str) or not self._NUMBER.fullmatch(value):
            raise self.make_error("invalid")
        number = float(value)
        if not self.low < number < self.high:
            raise ValidationError(f"{number} is outside China's bounds ({self.low}..{self.high})")
        return number


def _text(**kw):
    return fields.String(required=True, validate=validate.Length(min=1), **kw)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class SourceSchema(_Strict):
    id = fields.String(required=True, validate=SLUG)
    file = _text()
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    title_zh = _text()
    title_en = _text()
    publisher_zh = _text()
    publisher_en = _text()
    dateline_zh = _text()
    dateline_en = _text()
    published = fields.Date(required=True)
    language = _text()
    licence = _text()
    reported_year = fields.Integer(required=True, strict=True, validate=YEAR)


class KindSchema(_Strict):
    id = fields.String(required=True, validate=SLUG)
    name_zh = _text()
    name_en = _text()
    definition_zh = _text()
    definition_en = _text()
    # A record of this kind quotes the article naming it so: one of its quotes holds one of these words.
    evidence_terms = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)


class ThemeSchema(_Strict):
    id = fields.String(required=True, validate=SLUG)
    order = fields.Integer(required=True, strict=True)
    source = _text()
    name_zh = _text()
    name_en = _text()
    start = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    end = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class OrganisationSchema(_Strict):
    name_zh = _text()
    name_en = _text()


class RoleSchema(_Strict):
    zh = _text()
    en = _text()


class PersonSchema(_Strict):
    """A person the article names: each name and role in Chinese is verbatim in one of the record's quotes."""

    name_zh = _text()
    name_en = _text()
    roles = fields.List(fields.Nested(RoleSchema), required=True, validate=validate.Length(min=1))


class CitedSourceSchema(_Strict):
    """A public source outside the article: what it is, where it is, when we read it and what we relied on."""

    title = _text()
    publisher = _text()
    published = fields.Date(required=True)
    url = fields.Url(required=True, schemes={"http", "https"})
    accessed = fields.Date(required=True)
    relied_on = _text()


class OutsideFactSchema(_Strict):
    """A fact the article does not give, with its own source: a date (adopted, in-force) or a region code's support."""

    fact = fields.String(required=True, validate=validate.OneOf(OUTSIDE_FACTS))
    value = _text()
    statement_zh = _text()
    statement_en = _text()
    source = fields.Nested(CitedSourceSchema, required=True)

    @validates_schema
    def _value_shape(self, data, **kwargs):
        if data["fact"] == "region":
            ok, shape = re.fullmatch(vocabulary.CODE, data["value"]) is not None, "a six-digit GB/T 2260 code"
        else:
            ok, shape = re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["value"]) is not None, "a date YYYY-MM-DD"
        if not ok:
            raise ValidationError({"value": [f"must be {shape} for fact '{data['fact']}'"]})


class MetricSchema(_Strict):
    value = StrictNumber(required=True)
    unit = _text()
    unit_zh = _text()
    qualifier = fields.String(required=True, validate=validate.OneOf(QUALIFIERS))
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    year = fields.Integer(required=True, strict=True, validate=YEAR, allow_none=True)
    year_basis = fields.String(required=True, validate=validate.OneOf(METRIC_YEAR_BASES))
    counts_zh = _text()
    counts_en = _text()
    figure_text = _text()


class EvidenceSchema(_Strict):
    source = _text()
    quote = _text()
    start = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    end = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class InitiativeSchema(_Strict):
    id = fields.String(required=True, validate=SLUG)
    name_zh = _text()
    name_en = _text()
    kind = _text()
    theme = _text()
    scope = fields.String(required=True, validate=validate.OneOf(SCOPES))
    regions = fields.List(fields.String(validate=CODE), required=True)
    # false when the article says 等地 ("and other places"): the regions are examples, not every place
    regions_complete = StrictBoolean(load_default=True)
    place_zh = fields.String(validate=validate.Length(min=1))
    place_en = fields.String(validate=validate.Length(min=1))
    year = fields.Integer(required=True, strict=True, validate=YEAR, allow_none=True)
    year_basis = fields.String(required=True, validate=validate.OneOf(YEAR_BASES + (YEAR_BASIS_UNKNOWN,)))
    date = fields.String(validate=validate.Regexp(r"^\d{4}(-\d{2}(-\d{2})?)?$", error="must be YYYY, YYYY-MM or YYYY-MM-DD"))
    date_note_zh = fields.String(validate=validate.Length(min=1))
    date_note_en = fields.String(validate=validate.Length(min=1))
    summary_zh = _text()
    summary_en = _text()
    organisations = fields.List(fields.Nested(OrganisationSchema), required=True)
    people = fields.List(fields.Nested(PersonSchema), load_default=list)
    outside_facts = fields.List(fields.Nested(OutsideFactSchema), load_default=list)
    former_ids = fields.List(fields.String(validate=SLUG), load_default=list)  # ids this record had before: they redirect here
    metrics = fields.List(fields.Nested(MetricSchema), required=True)
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _consistent(self, data, **kwargs):
        errors = {}
        if data["scope"] == "national" and data["regions"]:
            errors["regions"] = ["a national initiative has no regions"]
        if data["scope"] == "local" and not data["regions"]:
            errors["regions"] = ["a local initiative needs at least one region code"]
        if len(set(data["regions"])) != len(data["regions"]):
            errors["regions"] = ["codes repeat"]
        if ("place_zh" in data) != ("place_en" in data):
            errors["place_en" if "place_zh" in data else "place_zh"] = ["place needs both languages"]
        if ("date_note_zh" in data) != ("date_note_en" in data):
            errors["date_note_en"] = ["date note needs both languages"]
        if (data["year"] is None) != (data["year_basis"] == YEAR_BASIS_UNKNOWN):
            errors["year_basis"] = ["is 'unknown' exactly when year is null"]
        if "date" in data and data["year"] is not None and not data["date"].startswith(str(data["year"])):
            errors["date"] = [f"does not fall in year {data['year']}"]
        stated = f"{data['year']}年"   # a stated year is one the article writes, in one of the record's quotes
        if data["year_basis"] == YEAR_BASIS_STATED and data["year"] is not None and not any(stated in ev["quote"] for ev in data["evidence"]):
            errors["year_basis"] = [f"'stated' but no evidence quote gives the year {data['year']} ({stated})"]
        dated = [f["value"] for f in data["outside_facts"] if f["fact"] != "region"]
        if data["year_basis"] == YEAR_BASIS_CITED and not any(d.startswith(f"{data['year']}-") for d in dated):
            errors["year_basis"] = [f"'cited' but no outside_facts date falls in {data['year']}"]
        if data["id"] in data["former_ids"]:
            errors["former_ids"] = ["holds the record's own id"]
        if errors:
            raise ValidationError(errors)


# InitiativeSchema().load without marshmallow, for the records that pass it: about 15 times faster, which is
# most of the build's time at a million records. fast_load returns exactly what the schema returns, or None for
# anything it does not vouch for (a fault, outside_facts, a value of an unusual type); the caller then loads
# that record with the schema, which gives the result or its own messages. So a record is never accepted that
# the schema refuses, and every message is marshmallow's. tests/test_stream.py compares the two on every
# curated record and on mutations of them.
_F = InitiativeSchema._declared_fields
_SLUG_RE, _CODE_RE, _DATE_RE = SLUG.regex, CODE.regex, _F["date"].validators[0].regex
_KEYS = {name: frozenset(schema._declared_fields) for name, schema in (
    ("record", InitiativeSchema), ("metric", MetricSchema), ("evidence", EvidenceSchema),
    ("organisation", OrganisationSchema), ("person", PersonSchema), ("role", RoleSchema))}
_RECORD_BASES = frozenset(YEAR_BASES + (YEAR_BASIS_UNKNOWN,))
_OPTIONAL_TEXT = ("place_zh", "place_en")
_INF = (float("inf"), float("-inf"))


def _year_ok(y) -> bool:
    return y is None or (type(y) is int and YEAR.min <= y <= YEAR.max)


def _fast_metric(m):
    if type(m) is not dict or not m.keys() <= _KEYS["metric"] or "year" not in m:
        return None
    g = m.get
    value, unit, unit_zh, qualifier, measure, year, basis, counts_zh, counts_en, figure = (
        g("value"), g("unit"), g("unit_zh"), g("qualifier"), g("measure"), m["year"], g("year_basis"),
        g("counts_zh"), g("counts_en"), g("figure_text"))
    t = type(value)
    if not ((t is int or (t is float and value == value and value not in _INF))
            and type(unit) is str and unit and type(unit_zh) is str and unit_zh
            and type(qualifier) is str and qualifier in QUALIFIERS and type(measure) is str and measure in MEASURES
            and _year_ok(year) and type(basis) is str and basis in METRIC_YEAR_BASES
            and type(counts_zh) is str and counts_zh and type(counts_en) is str and counts_en
            and type(figure) is str and figure):
        return None
    return {"value": value, "unit": unit, "unit_zh": unit_zh, "qualifier": qualifier, "measure": measure, "year": year,
            "year_basis": basis, "counts_zh": counts_zh, "counts_en": counts_en, "figure_text": figure}


def _fast_evidence(e):
    if type(e) is not dict or not e.keys() <= _KEYS["evidence"]:
        return None
    source, quote, start, end = e.get("source"), e.get("quote"), e.get("start"), e.get("end")
    if not (type(source) is str and source and type(quote) is str and quote
            and type(start) is int and start >= 0 and type(end) is int and end >= 1):
        return None
    return {"source": source, "quote": quote, "start": start, "end": end}


def _fast_pair(o, keys: frozenset, a: str, b: str):
    if type(o) is not dict or not o.keys() <= keys:
        return None
    x, y = o.get(a), o.get(b)
    return {a: x, b: y} if type(x) is str and x and type(y) is str and y else None


def _fast_person(p):
    if type(p) is not dict or not p.keys() <= _KEYS["person"]:
        return None
    name_zh, name_en, roles = p.get("name_zh"), p.get("name_en"), p.get("roles")
    if not (type(name_zh) is str and name_zh and type(name_en) is str and name_en and type(roles) is list and roles):
        return None
    out = [_fast_pair(r, _KEYS["role"], "zh", "en") for r in roles]
    return None if None in out else {"name_zh": name_zh, "name_en": name_en, "roles": out}


def _fast_items(items, item):
    """The loaded items of a list, or None when any is not vouched for (or items is not a list)."""
    if type(items) is not list:
        return None
    out = []
    for x in items:
        y = item(x)
        if y is None:
            return None
        out.append(y)
    return out


def _fast_organisation(o):
    return _fast_pair(o, _ORGANISATION, "name_zh", "name_en")


def _fast_former(f):
    return f if type(f) is str and _SLUG_RE.match(f) else None


_ORGANISATION = _KEYS["organisation"]
_NO_LIST: list = []


def fast_load(raw) -> dict | None:
    """What InitiativeSchema().load(raw) returns, when raw passes it and is of the plain shape; otherwise None."""
    if type(raw) is not dict or not raw.keys() <= _KEYS["record"]:
        return None
    g = raw.get
    rid, name_zh, name_en, kind, theme, scope, regions = (g("id"), g("name_zh"), g("name_en"), g("kind"), g("theme"),
                                                          g("scope"), g("regions"))
    year, basis, summary_zh, summary_en = g("year"), g("year_basis"), g("summary_zh"), g("summary_en")
    complete = g("regions_complete", True)
    if not (type(rid) is str and _SLUG_RE.match(rid) and type(name_zh) is str and name_zh
            and type(name_en) is str and name_en and type(kind) is str and kind and type(theme) is str and theme
            and type(scope) is str and scope in SCOPES and type(regions) is list
            and (complete is True or complete is False) and "year" in raw and _year_ok(year)
            and type(basis) is str and basis in _RECORD_BASES
            and type(summary_zh) is str and summary_zh and type(summary_en) is str and summary_en):
        return None
    for code in regions:
        if type(code) is not str or not _CODE_RE.match(code):
            return None
    if g("outside_facts", _NO_LIST) != []:
        return None                                   # rare, and with dates and URLs: the schema's
    organisations = _fast_items(g("organisations"), _fast_organisation)
    people = _fast_items(g("people", _NO_LIST), _fast_person)
    metrics = _fast_items(g("metrics"), _fast_metric)
    evidence = _fast_items(g("evidence"), _fast_evidence)
    former = _fast_items(g("former_ids", _NO_LIST), _fast_former)
    if organisations is None or people is None or metrics is None or not evidence or former is None:
        return None
    rec = {"id": rid, "name_zh": name_zh, "name_en": name_en, "kind": kind, "theme": theme, "scope": scope,
           "regions": list(regions), "regions_complete": complete}
    if "place_zh" in raw or "place_en" in raw:
        for key in _OPTIONAL_TEXT:
            if key in raw:
                value = raw[key]
                if type(value) is not str or not value:
                    return None
                rec[key] = value
    rec["year"], rec["year_basis"] = year, basis
    if "date" in raw:
        date = raw["date"]
        if type(date) is not str or not _DATE_RE.match(date):
            return None
        rec["date"] = date
    if "date_note_zh" in raw or "date_note_en" in raw:
        for key in ("date_note_zh", "date_note_en"):
            if key in raw:
                value = raw[key]
                if type(value) is not str or not value:
                    return None
                rec[key] = value
    rec["summary_zh"], rec["summary_en"], rec["organisations"], rec["people"] = summary_zh, summary_en, organisations, people
    rec["outside_facts"], rec["former_ids"], rec["metrics"], rec["evidence"] = [], former, metrics, evidence
    # InitiativeSchema._consistent: any rule it would refuse leaves the record to the schema, for its message.
    if ((scope == "national") == bool(regions) or len(set(regions)) != len(regions)
            or ("place_zh" in rec) != ("place_en" in rec) or ("date_note_zh" in rec) != ("date_note_en" in rec)
            or (year is None) != (basis == YEAR_BASIS_UNKNOWN) or basis == YEAR_BASIS_CITED
            or ("date" in rec and year is not None and not rec["date"].startswith(str(year)))
            or (basis == YEAR_BASIS_STATED and year is not None and not any(f"{year}年" in e["quote"] for e in evidence))
            or rid in former):
        return None
    return rec


class RegionRowSchema(_Strict):
    code = fields.String(required=True, validate=CODE)
    name_zh = _text()
    name_en = _text()
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    parent_code = fields.String(required=True, validate=validate.Regexp(f"^({vocabulary.CODE})?$", error=vocabulary.CODE_MESSAGE + " or empty"))
    lat = CsvCoordinate(3, 54, required=True)      # None when the row has no representative point
    lng = CsvCoordinate(73, 136, required=True)
    coord_source = fields.String(required=True)
    as_of = fields.Date(required=True)

    @validates_schema
    def _paired(self, data, **kwargs):
        if (data["lat"] is None) != (data["lng"] is None):
            given, missing = ("lat", "lng") if data["lng"] is None else ("lng", "lat")
            raise ValidationError({given: [f"given without {missing}"]})


class AliasRowSchema(_Strict):
    code = fields.String(required=True, validate=CODE)
    successor_code = fields.String(required=True, validate=CODE)
    name_zh = _text()
    retired = fields.String(required=True)
    note = fields.String(required=True)


class DataError(Exception):
    """The files in data/ do not validate; .problems lists one line per fault."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def flatten(messages, prefix="") -> list[str]:
    """Turn marshmallow's nested error dict into 'evidence[0].quote: message' lines."""
    out = []
    if isinstance(messages, dict):
        for key, sub in messages.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            elif key == "_schema":
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(flatten(sub, name))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend(f"{prefix}: {m}" if prefix else m for m in messages)
    else:
        for m in messages:
            out.extend(flatten(m, prefix))
    return out


_FIGURE = re.compile(r"^(?P<num>\d+(?:\.\d+)?)(?P<mult>万|亿)?(?P<more>余|多)?")
_MULT = {None: 1, "万": 10_000, "亿": 100_000_000}


def parse_figure(text: str) -> tuple[Decimal, str]:
    """'2580.2万件' -> (25802000, 'exact'); '1.2万余个' -> (12000, 'more than'); '18.4%' -> (18.4, 'exact')."""
    m = _FIGURE.match(text)
    if not m:
        raise ValueError(f"no number at the start of {text!r}")
    value = Decimal(m["num"]) * _MULT[m["mult"]]
    qualifier = "more than" if m["more"] else "about" if text.startswith(("约", "近")) else "exact"
    return value, qualifier


@dataclass
class Dataset:
    """Everything in data/, validated and cross-checked."""

    sources: list[dict]
    seeds: dict[str, str]
    kinds: list[dict]
    themes: list[dict]
    regions: list[dict]
    aliases: list[dict]
    initiatives: list[dict] = field(default_factory=list)
    datapackage: str = ""
    tiles: str = ""   # data/province-tiles.json as it is: the map's layout, served whole
    digest: str = ""
    release: "Release | None" = None  # data/release.yaml with the changes computed against the previous release  # sha256 of every input file's path and bytes: the basis of the dataset version


# libyaml's loader when PyYAML was built with it (ten times faster); the same safe subset of YAML.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, problems: list[str]):
    """The YAML document at path, or None with a fault in problems."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path.name}: cannot be read as UTF-8 YAML: {exc}")
        return None


def _load_list(path: Path, schema: Schema, problems: list[str], rel: str) -> list[dict]:
    raw = read_yaml(path, problems)
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{rel}: must be a YAML list")
        return []
    out = []
    for i, item in enumerate(raw):
        rid = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
        try:
            out.append(schema.load(item))
        except ValidationError as err:
            problems.extend(f"{rel}: {rid}: {line}" for line in flatten(err.messages))
    _unique(out, "id", rel, problems)
    return out


def _load_csv(path: Path, schema: Schema, problems: list[str], rel: str) -> list[dict]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        problems.append(f"{rel}: cannot be read as UTF-8 CSV: {exc}")
        return []
    out = []
    for i, row in enumerate(rows, start=2):
        try:
            out.append(schema.load(row))
        except ValidationError as err:
            problems.extend(f"{rel}: line {i} ({row.get('code')}): {line}" for line in flatten(err.messages))
    _unique(out, "code", rel, problems)
    return out


def _unique(items, key, rel, problems):
    seen = set()
    for item in items:
        if item[key] in seen:
            problems.append(f"{rel}: {item[key]}: {key} is not unique")
        seen.add(item[key])


# The parts of load_dataset. Each reads and checks one concern under root, appends one line per
# fault to problems and returns what it could load, so a caller can compose them and still
# report every fault at once (bench/scale/build_direct.py uses load_reference without the records).

def load_sources(root: Path, problems: list[str]) -> tuple[list[dict], dict[str, str]]:
    """data/sources.yaml, each source's file checked against its sha256: (sources, seed text by source id)."""
    sources = _load_list(root / "data" / "sources.yaml", SourceSchema(), problems, "data/sources.yaml")
    seeds = {}
    for s in sources:
        path = root / s["file"]
        try:
            blob = path.read_bytes()
        except OSError:
            problems.append(f"data/sources.yaml: {s['id']}: file: {s['file']} is missing")
            continue
        if hashlib.sha256(blob).hexdigest() != s["sha256"]:
            problems.append(f"data/sources.yaml: {s['id']}: sha256: {s['file']} does not match its recorded hash")
        seeds[s["id"]] = blob.decode("utf-8")
    return sources, seeds


def load_vocabularies(root: Path, seeds: dict[str, str], problems: list[str]) -> tuple[list[dict], list[dict]]:
    """data/kinds.yaml and data/themes.yaml, each theme's heading checked against its seed: (kinds, themes)."""
    kinds = _load_list(root / "data" / "kinds.yaml", KindSchema(), problems, "data/kinds.yaml")
    themes = _load_list(root / "data" / "themes.yaml", ThemeSchema(), problems, "data/themes.yaml")
    for t in themes:
        _check_span("data/themes.yaml", t["id"], "", t["source"], t["name_zh"], t["start"], t["end"], seeds, problems)
    return kinds, themes


def load_gazetteer(root: Path, problems: list[str]) -> tuple[list[dict], list[dict]]:
    """data/regions.csv and data/region_aliases.csv: (regions, aliases).

    Every parent exists and no region is its own ancestor; every successor is a current code and
    no retired code is current.
    """
    regions = _load_csv(root / "data" / "regions.csv", RegionRowSchema(), problems, "data/regions.csv")
    aliases = _load_csv(root / "data" / "region_aliases.csv", AliasRowSchema(), problems, "data/region_aliases.csv")
    parent = {r["code"]: r["parent_code"] for r in regions}
    for r in regions:
        if r["parent_code"] and r["parent_code"] not in parent:
            problems.append(f"data/regions.csv: {r['code']}: parent_code {r['parent_code']} does not exist")
    for code in parent:
        seen, up = {code}, parent[code]
        while up in parent and up not in seen:   # the chain to the province, as the build walks it
            seen.add(up)
            up = parent[up]
        if up == code:
            problems.append(f"data/regions.csv: {code}: parent_code: {code} is its own ancestor")
    for a in aliases:
        if a["successor_code"] not in parent:
            problems.append(f"data/region_aliases.csv: {a['code']}: successor_code {a['successor_code']} does not exist")
        if a["code"] in parent:
            problems.append(f"data/region_aliases.csv: {a['code']}: is also a current code in regions.csv")
    return regions, aliases


RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})")


def load_datapackage(root: Path, problems: list[str]) -> str:
    """data/datapackage.json as text (served as it is): a JSON object with a list of resources, and each
    CSV resource's schema naming the columns of its file's header, in order."""
    try:
        text = (root / "data" / "datapackage.json").read_text(encoding="utf-8")
        resources = json.loads(text).get("resources")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        problems.append(f"data/datapackage.json: cannot be read as a JSON object: {exc}")
        return ""
    if not isinstance(resources, list):
        problems.append("data/datapackage.json: resources: must be a list")
        return text
    created = json.loads(text).get("created")
    if not (isinstance(created, str) and RFC3339.fullmatch(created)):
        # Data Package v2: an RFC 3339 datetime. The served descriptor copies it, so two builds stay identical.
        problems.append(f"data/datapackage.json: created: {created!r} is not an RFC 3339 datetime (e.g. 2026-11-29T00:00:00Z)")
    for res in resources:
        if isinstance(res, dict) and res.get("format") == "csv":
            _check_csv_resource(root, res, problems)
    return text


def _check_csv_resource(root: Path, res: dict, problems: list[str]):
    prefix = f"data/datapackage.json: {res.get('name', '?')}"
    path = res.get("path")
    try:
        names = [f["name"] for f in res["schema"]["fields"]]
    except (KeyError, TypeError):
        problems.append(f"{prefix}: schema.fields: must be a list of objects with a name")
        return
    try:
        with (root / "data" / path).open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error, TypeError):
        problems.append(f"{prefix}: path: {path!r} is not a readable CSV file in data/")
        return
    if names != header:
        problems.append(f"{prefix}: schema.fields: {', '.join(names)} are not the columns of {path} ({', '.join(header)})")


def load_reference(root: Path, problems: list[str]) -> Dataset:
    """Everything in data/ that the records are checked against, checked: a Dataset with no initiatives yet."""
    sources, seeds = load_sources(root, problems)
    kinds, themes = load_vocabularies(root, seeds, problems)
    regions, aliases = load_gazetteer(root, problems)
    return Dataset(sources, seeds, kinds, themes, regions, aliases, datapackage=load_datapackage(root, problems),
                   tiles=load_tiles(root, {r["code"] for r in regions}, problems))


def load_tiles(root: Path, codes: set[str], problems: list[str]) -> str:
    """data/province-tiles.json as text: a licence, and tiles of a provincial-level code at a grid square each."""
    rel = "data/province-tiles.json"
    try:
        text = (root / rel).read_text(encoding="utf-8")
        layout = json.loads(text)
        tiles, licences = layout["tiles"], layout["licenses"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{rel}: cannot be read as a JSON object with tiles and licenses: {exc}")
        return ""
    if not licences:
        problems.append(f"{rel}: licenses: the layout needs its licence")
    seen: dict = {}
    for i, t in enumerate(tiles):
        if not (isinstance(t, dict) and isinstance(t.get("col"), int) and isinstance(t.get("row"), int)
                and isinstance(t.get("code"), str) and t["code"].endswith("0000")):
            problems.append(f"{rel}: tiles[{i}]: needs a provincial-level code (..0000) and integer col and row")
            continue
        if (t["col"], t["row"]) in seen:
            problems.append(f"{rel}: tiles[{i}]: {t['code']} is on the square of {seen[(t['col'], t['row'])]}")
        seen[(t["col"], t["row"])] = t["code"]
    missing = sorted(c for c in codes if c.endswith("0000") and c not in {t.get("code") for t in tiles if isinstance(t, dict)})
    if missing:
        problems.append(f"{rel}: tiles: no square for {', '.join(missing)}")
    return text


def iter_records(root: Path, problems: list[str]) -> Iterator[tuple[str, object, str | None]]:
    """Every initiative record under root/data/initiatives, unchecked, as (where, raw, stem).

    YAML files first, one record each (where is the file, stem the id the record must have); then
    JSON Lines files, one record a line (where is 'file:line', stem None). A file or line that cannot
    be parsed is a fault in problems, not a record.
    """
    folder = root / "data" / "initiatives"
    yamls, jsonls = sorted(folder.glob("*.yaml")), sorted(folder.glob("*.jsonl"))
    if not yamls and not jsonls:
        problems.append("data/initiatives/: holds no *.yaml or *.jsonl record")
    for path in yamls:
        raw = read_yaml(path, problems)
        if raw is not None:
            yield f"data/initiatives/{path.name}", raw, path.stem
    for path in jsonls:
        # Bulk sources: one record per line, the same schema and checks as a YAML file.
        rel = f"data/initiatives/{path.name}"
        for lineno, raw in _jsonl(path, rel, problems):
            yield f"{rel}:{lineno}", raw, None


class RecordChecker:
    """The schema and the cross-file checks one initiative record must pass, against a loaded reference."""

    def __init__(self, ref: Dataset, problems: list[str]):
        self.vocab = {"kind": {k["id"] for k in ref.kinds}, "theme": {t["id"] for t in ref.themes}}
        self.kind_terms = {k["id"]: k["evidence_terms"] for k in ref.kinds}
        self.codes = {r["code"] for r in ref.regions}
        # The names a quote may call a region by: 成都市 or 成都.
        self.region_names = {r["code"]: [n for n in (r["name_zh"], zh_short(r["name_zh"])) if n] for r in ref.regions}
        self.successor = {a["code"]: a["successor_code"] for a in ref.aliases}
        self.seeds = ref.seeds
        self.problems = problems
        self.schema = InitiativeSchema()

    def check(self, where: str, raw, stem: str | None = None) -> dict | None:
        """The loaded record, or None; each fault is a 'where: id: field: message' line in problems."""
        problems = self.problems
        rid = raw.get("id", "?") if isinstance(raw, dict) else "?"
        rec = fast_load(raw)
        if rec is None:
            try:
                rec = self.schema.load(raw)
            except ValidationError as err:
                problems.extend(f"{where}: {rid}: {line}" for line in flatten(err.messages))
                return None
        for key, allowed in self.vocab.items():
            if rec[key] not in allowed:
                problems.append(f"{where}: {rid}: {key}: {rec[key]!r} is not one of {', '.join(sorted(allowed))}")
        for i, code in enumerate(rec["regions"]):
            if code in self.successor:
                problems.append(f"{where}: {rid}: regions[{i}]: {code} is retired; use its successor {self.successor[code]}")
            elif code not in self.codes:
                problems.append(f"{where}: {rid}: regions[{i}]: {code} is not a GB/T 2260 code in data/regions.csv")
        for i, ev in enumerate(rec["evidence"]):
            _check_span(where, rid, f"evidence[{i}]", ev["source"], ev["quote"], ev["start"], ev["end"], self.seeds, problems)
        quotes = "\n".join(ev["quote"] for ev in rec["evidence"])
        for i, m in enumerate(rec["metrics"]):
            _check_metric(where, rid, i, m, quotes, problems)
        self._check_claims(f"{where}: {rid}", rec, quotes)
        if stem is not None and rec["id"] != stem:
            problems.append(f"{where}: {rec['id']}: id: must equal the file name ({stem})")
        return rec


    def _check_claims(self, prefix: str, rec: dict, quotes: str):
        """What the record says beyond its quotes' text: each claim must be in one of the quotes, or cited."""
        out = self.problems
        def values():   # the figures' values, wanted only for a number that no quote writes as it is
            return {format(parse_figure(m["figure_text"])[0].normalize(), "f") for m in rec["metrics"] if _FIGURE.match(m["figure_text"])}
        numbers = quoted_numbers(quotes)   # once for the record, not once for each text
        for fld in ("summary_zh", "summary_en"):
            for line in unquoted_claims(rec[fld], quotes, zh=fld.endswith("_zh"), figures=values, numbers=numbers):
                out.append(f"{prefix}: {fld}: {line}")
        if "place_zh" in rec:
            out.extend(f"{prefix}: place_zh: {line}" for line in unquoted_claims(rec["place_zh"], quotes, zh=True, numbers=numbers))
        for i, org in enumerate(rec["organisations"]):
            if org["name_zh"] not in quotes:
                out.append(f"{prefix}: organisations[{i}]: {org['name_zh']!r} is in none of the record's quotes")
        for i, person in enumerate(rec["people"]):
            for text in (person["name_zh"], *(r["zh"] for r in person["roles"])):
                if text not in quotes:
                    out.append(f"{prefix}: people[{i}]: {text!r} is in none of the record's quotes")
        says_others = "等地" in quotes
        if says_others == rec["regions_complete"]:
            out.append(f"{prefix}: regions_complete: " + (
                "a quote says 等地 ('and other places'): the regions are examples, so regions_complete must be false"
                if says_others else "is false, but no quote says 等地 ('and other places')"))
        cited = {f["value"] for f in rec["outside_facts"] if f["fact"] == "region"}
        for i, code in enumerate(rec["regions"]):
            names = self.region_names.get(code, [])
            if names and not any(n in quotes for n in names) and code not in cited:
                out.append(f"{prefix}: regions[{i}]: {code} {names[0]} is named in none of the record's quotes; "
                           "code the finest division the article names, or cite what supports it (outside_facts, fact: region)")
        for i, fact in enumerate(rec["outside_facts"]):
            if fact["fact"] == "region" and fact["value"] not in rec["regions"]:
                out.append(f"{prefix}: outside_facts[{i}].value: {fact['value']} is not one of the record's regions")
        terms = self.kind_terms.get(rec["kind"])
        if terms and not any(t in quotes for t in terms):
            out.append(f"{prefix}: kind: a '{rec['kind']}' record quotes the article naming it so "
                       f"({', '.join(terms)}); none of its quotes does")


# A Chinese summary is written from the quotes: every two adjacent Chinese characters in it are in one of
# the record's quotes, unless one of them is one of these function characters that join quoted phrases.
JOINERS = frozenset("的和与及并在为是了其对由向从于以等将把让使而也又或均各该此")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def quoted_numbers(quotes: str) -> set[str]:
    """The numbers the quotes write, without thousands separators."""
    return {n.replace(",", "") for n in _NUMBER.findall(quotes)}


def unquoted_claims(text: str, quotes: str, zh: bool, figures=frozenset(), numbers: set[str] | None = None) -> list[str]:
    """The parts of text its quotes do not support: numbers neither in them nor the value of one of their
    figures (2580.2万 may be written 25,802,000); in Chinese, words not in them. figures: the values, or a
    function that computes them when a number needs them; numbers: quoted_numbers(quotes), if the caller has it."""
    out = []
    quoted = quoted_numbers(quotes) if numbers is None else numbers
    numbers = [n for n in _NUMBER.findall(text) if n.replace(",", "").rstrip(".") not in quoted]
    if numbers and figures:
        values = set(figures() if callable(figures) else figures)
        numbers = [n for n in numbers if n.replace(",", "").rstrip(".") not in values]
    if numbers:
        out.append(f"the number(s) {', '.join(dict.fromkeys(numbers))} are in none of the record's quotes")
    if zh and text not in quotes:   # a text the quotes hold as it is has every pair of characters in them
        words = []
        for run in _CJK_RUN.findall(text):
            bad = [i for i in range(len(run) - 1)
                   if run[i:i + 2] not in quotes and run[i] not in JOINERS and run[i + 1] not in JOINERS]
            # Adjacent unsupported pairs are one word: 未诉, 诉先, 先办 -> 未诉先办.
            for i in bad:
                if words and words[-1][1] == i and words[-1][2] is run:
                    words[-1] = (words[-1][0], i + 1, run)
                else:
                    words.append((i, i + 1, run))
        if words:
            shown = ", ".join(dict.fromkeys(run[a:b + 1] for a, b, run in words))
            out.append(f"{shown}: in none of the record's quotes (say only what the quotes say)")
    return out


def load_records(root: Path, ref: Dataset, problems: list[str]) -> list[dict]:
    """Every record under root/data/initiatives that passes its checks; ids are unique across files."""
    checker = RecordChecker(ref, problems)
    records = [rec for where, raw, stem in iter_records(root, problems)
               if (rec := checker.check(where, raw, stem)) is not None]
    _unique(records, "id", "data/initiatives", problems)
    ids, claimed = {r["id"] for r in records}, {}
    for r in records:
        for old in r["former_ids"]:
            if old in ids:
                problems.append(f"data/initiatives: {r['id']}: former_ids: {old} is a current record's id")
            elif old in claimed:
                problems.append(f"data/initiatives: {r['id']}: former_ids: {old} already redirects to {claimed[old]}")
            claimed.setdefault(old, r["id"])
    return records


def dataset_digest(root: Path, ds: Dataset) -> str:
    """sha256 of every input file's path and bytes (data/ and the sources' files), in a fixed order.

    Cheap at a million records, and exact: the basis of the dataset version.
    """
    h = hashlib.sha256()
    paths = [root / "data"] + [root / s["file"] for s in ds.sources]
    files = sorted({f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()})
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def load_dataset(root: Path) -> Dataset:
    """Read and check every file under root/data (and root/seeds); raise DataError listing every fault."""
    problems: list[str] = []
    ds = load_reference(root, problems)
    ds.initiatives = load_records(root, ds, problems)
    ds.release = load_release(root, ds.initiatives, InitiativeSchema(), problems, read_yaml)
    if ds.release and ds.datapackage and (stated := json.loads(ds.datapackage).get("version")) != ds.release.version:
        problems.append(f"data/datapackage.json: version: {stated!r} is not this release's ({ds.release.version}, data/release.yaml)")
    if problems:
        raise DataError(problems)
    ds.digest = dataset_digest(root, ds)
    return ds


def _jsonl(path: Path, rel: str, problems: list[str]):
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if line.strip():
                    try:
                        yield lineno, json.loads(line)
                    except ValueError as exc:
                        problems.append(f"{rel}:{lineno}: not a JSON object: {exc}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{rel}: cannot be read as UTF-8 JSON Lines: {exc}")


def _check_span(rel, rid, where, source, quote, start, end, seeds, problems):
    prefix = f"{rel}: {rid}: {where + ': ' if where else ''}"
    if source not in seeds:
        problems.append(f"{prefix}source {source!r} is not in data/sources.yaml")
    elif seeds[source][start:end] != quote:
        problems.append(f"{prefix}quote does not match the seed at {start}-{end}")


def _check_metric(rel, rid, i, m, quotes, problems):
    prefix = f"{rel}: {rid}: metrics[{i}]"
    if m["figure_text"] not in quotes:
        problems.append(f"{prefix}.figure_text: {m['figure_text']!r} is not in the record's evidence quotes")
        return
    try:
        value, qualifier = parse_figure(m["figure_text"])
    except ValueError as exc:
        problems.append(f"{prefix}.figure_text: {exc}")
        return
    if Decimal(str(m["value"])) != value:
        problems.append(f"{prefix}.value: {m['value']} does not match the figure {m['figure_text']!r} ({value})")
    if m["qualifier"] != qualifier:
        problems.append(f"{prefix}.qualifier: {m['qualifier']!r} but the figure {m['figure_text']!r} reads {qualifier!r}")
