"""The rules one record file must pass on its own: marshmallow schemas for every file in data/, a marshmallow-free
loader for the records that pass (fast_load), and how a figure such as 2580.2万件 reads as a number."""
from __future__ import annotations

import re
from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..dataset import vocabulary
from ..dataset.vocabulary import (
    LEVELS,
    MEASURES,
    METRIC_YEAR_BASES,
    OUTSIDE_FACTS,
    QUALIFIERS,
    RECORD_YEAR_BASES,
    SCOPES,
    UNDATED_SPANS,
    YEAR_BASIS_CITED,
    YEAR_BASIS_REPORTED,
    YEAR_BASIS_STATED,
    YEAR_BASIS_UNKNOWN,
)

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


def _offset(low: int):
    """A position in a source's text, in code points: start from 0, end (exclusive) from 1."""
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=low))


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


class _Named(_Strict):
    """A thing of data/ with an id and a name in both languages, its fields first."""

    id = fields.String(required=True, validate=SLUG)
    name_zh = _text()
    name_en = _text()


class KindSchema(_Named):
    definition_zh = _text()
    definition_en = _text()
    # A record of this kind quotes the article naming it so: one of its quotes holds one of these words.
    evidence_terms = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)


class _Span(_Strict):
    """A stretch of a source's text, [start, end) in characters: what a theme's heading and a quote are."""

    source = _text()
    start = _offset(0)
    end = _offset(1)


class GlossarySchema(_Strict):
    """A term of data/glossary.yaml: the Chinese, its one English, whether that is an official title, English refused for it."""

    zh = _text()
    en = _text()
    official = StrictBoolean(load_default=False)   # the numbers in an official title need not be in a quote
    avoid = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)

    @validates_schema
    def _patterns(self, data, **kwargs):
        for i, pattern in enumerate(data["avoid"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError({"avoid": {i: [f"not a regular expression: {exc}"]}}) from None


class ThemeSchema(_Named, _Span):
    """A theme: named, and its heading a stretch of the article."""

    order = fields.Integer(required=True, strict=True)


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


class EvidenceSchema(_Span):
    quote = _text()


class InitiativeSchema(_Named):
    kind = _text()
    theme = _text()
    scope = fields.String(required=True, validate=validate.OneOf(SCOPES))
    regions = fields.List(fields.String(validate=CODE), required=True)
    # false when the article says 等地 ("and other places"): the regions are examples, not every place
    regions_complete = StrictBoolean(load_default=True)
    place_zh = fields.String(validate=validate.Length(min=1))
    place_en = fields.String(validate=validate.Length(min=1))
    year = fields.Integer(required=True, strict=True, validate=YEAR, allow_none=True)
    year_basis = fields.String(required=True, validate=validate.OneOf(RECORD_YEAR_BASES))
    date = fields.String(validate=validate.Regexp(r"^\d{4}(-\d{2}(-\d{2})?)?$", error="must be YYYY, YYYY-MM or YYYY-MM-DD"))
    date_note_zh = fields.String(validate=validate.Length(min=1))
    date_note_en = fields.String(validate=validate.Length(min=1))
    summary_zh = _text()
    summary_en = _text()
    # Ours, not the article's: a gloss from outside it, or that the summary rests on a sentence other records share.
    note_zh = fields.String(validate=validate.Length(min=1))
    note_en = fields.String(validate=validate.Length(min=1))
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
        if ("note_zh" in data) != ("note_en" in data):
            errors["note_en"] = ["note needs both languages"]
        if (data["year"] is None) != (data["year_basis"] == YEAR_BASIS_UNKNOWN):
            errors["year_basis"] = ["is 'unknown' exactly when year is null"]
        if "date" in data and data["year"] is not None and not data["date"].startswith(str(data["year"])):
            errors["date"] = [f"does not fall in year {data['year']}"]
        stated = f"{data['year']}年"   # a stated year is one the article writes, in one of the record's quotes
        if data["year_basis"] == YEAR_BASIS_STATED and data["year"] is not None and not any(stated in ev["quote"] for ev in data["evidence"]):
            errors["year_basis"] = [f"'stated' but no evidence quote gives the year {data['year']} ({stated})"]
        span = _undated_span(data["evidence"]) if data["year_basis"] == YEAR_BASIS_REPORTED else None
        if span:
            errors["year_basis"] = [f"'reported' but a quote says {span} ('{UNDATED_SPANS[span]}'), which does not date it to the "
                                    "year the article reports on: write year: null, year_basis: unknown and say so in date_note"]
        dated = [f["value"] for f in data["outside_facts"] if f["fact"] != "region"]
        if data["year_basis"] == YEAR_BASIS_CITED and not any(d.startswith(f"{data['year']}-") for d in dated):
            errors["year_basis"] = [f"'cited' but no outside_facts date falls in {data['year']}"]
        if data["id"] in data["former_ids"]:
            errors["former_ids"] = ["holds the record's own id"]
        if errors:
            raise ValidationError(errors)


def _undated_span(evidence) -> str | None:
    """The first of UNDATED_SPANS that one of the quotes says, or None."""
    return next((w for w in UNDATED_SPANS if any(w in ev["quote"] for ev in evidence)), None)


# InitiativeSchema().load without marshmallow, for the records that pass it: about 15 times faster, which is
# most of the build's time at a million records. fast_load returns exactly what the schema returns, or None for
# anything it does not vouch for (a fault, outside_facts, a value of an unusual type); the caller then loads
# that record with the schema, which gives the result or its own messages. So a record is never accepted that
# the schema refuses, and every message is marshmallow's. tests/build/test_stream.py compares the two on every
# curated record and on mutations of them.
_F = InitiativeSchema._declared_fields
_SLUG_RE, _CODE_RE, _DATE_RE = SLUG.regex, CODE.regex, _F["date"].validators[0].regex
_KEYS = {name: frozenset(schema._declared_fields) for name, schema in (
    ("record", InitiativeSchema), ("metric", MetricSchema), ("evidence", EvidenceSchema),
    ("organisation", OrganisationSchema), ("person", PersonSchema), ("role", RoleSchema))}
_RECORD_BASES = frozenset(RECORD_YEAR_BASES)
_OPTIONAL_TEXT = ("place_zh", "place_en")
_DATE_NOTES = ("date_note_zh", "date_note_en")
_NOTES = ("note_zh", "note_en")


def _optional_texts(raw: dict, rec: dict, keys) -> bool:
    """Copy those of keys that raw has into rec; False when one is not a non-empty string."""
    for key in keys:
        if key in raw:
            value = raw[key]
            if type(value) is not str or not value:
                return False
            rec[key] = value
    return True
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
    if not _optional_texts(raw, rec, _OPTIONAL_TEXT):
        return None
    rec["year"], rec["year_basis"] = year, basis
    if "date" in raw:
        date = raw["date"]
        if type(date) is not str or not _DATE_RE.match(date):
            return None
        rec["date"] = date
    if not _optional_texts(raw, rec, _DATE_NOTES):
        return None
    rec["summary_zh"], rec["summary_en"] = summary_zh, summary_en
    if not _optional_texts(raw, rec, _NOTES):
        return None
    rec["organisations"], rec["people"] = organisations, people
    rec["outside_facts"], rec["former_ids"], rec["metrics"], rec["evidence"] = [], former, metrics, evidence
    # InitiativeSchema._consistent: any rule it would refuse leaves the record to the schema, for its message.
    if ((scope == "national") == bool(regions) or len(set(regions)) != len(regions)
            or ("place_zh" in rec) != ("place_en" in rec) or ("date_note_zh" in rec) != ("date_note_en" in rec)
            or ("note_zh" in rec) != ("note_en" in rec)
            or (year is None) != (basis == YEAR_BASIS_UNKNOWN) or basis == YEAR_BASIS_CITED
            or ("date" in rec and year is not None and not rec["date"].startswith(str(year)))
            or (basis == YEAR_BASIS_STATED and year is not None and not any(f"{year}年" in e["quote"] for e in evidence))
            or (basis == YEAR_BASIS_REPORTED and _undated_span(evidence))
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
