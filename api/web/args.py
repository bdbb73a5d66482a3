"""Marshmallow schemas for query arguments: syntax only (the vocabularies and regions are checked in resolve.py)."""
from __future__ import annotations

import difflib
import re
import unicodedata

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from .. import query
from ..dataset import vocabulary
from ..dataset.names import name_key
from ..dataset.vocabulary import LEVELS, SCOPES
from .errors import Problem, invalid

MAX_VALUE_LENGTH = 500
MAX_LIST_ITEMS = 20
LIMIT_DEFAULT, LIMIT_MAX = 20, 200
YEAR_MIN, YEAR_MAX = 1900, 2100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CommaList(fields.Field):
    """'a,b , c' -> ['a', 'b', 'c']; empty items and more than MAX_LIST_ITEMS are refused.

    parse() joins the repeats of a list parameter with commas first, so kind=a&kind=b, kind=a,b and
    kind=a&kind=b,c are read alike and the limit counts the values of every repeat."""

    def __init__(self, choices=None, item_pattern=None, lower=False, **kw):
        super().__init__(**kw)
        self.choices, self.item_pattern, self.lower = choices, item_pattern, lower

    def _deserialize(self, value, attr, data, **kwargs):
        items = [v.strip() for v in value.split(",")]
        if any(not v for v in items):
            raise ValidationError("empty value; separate several values with single commas")
        if len(items) > MAX_LIST_ITEMS:
            raise ValidationError(f"at most {MAX_LIST_ITEMS} values")
        if self.lower:
            items = [v.lower() for v in items]
        if self.choices:
            bad = [v for v in items if v not in self.choices]
            if bad:
                raise ValidationError(f"{', '.join(map(repr, bad))} not allowed; allowed: {', '.join(self.choices)}")
        if self.item_pattern:
            bad = [v for v in items if not re.fullmatch(self.item_pattern, v)]
            if bad:
                raise ValidationError(f"{', '.join(map(repr, bad))} is not a valid value")
        return list(dict.fromkeys(items))


class YearRange(fields.Field):
    """'2025' -> (2025, 2025); '2024..2025', '..2025', '2024..' for ranges with open ends."""

    MESSAGE = f"must be a year (2025) or a range (2024..2025, ..2025, 2024..) between {YEAR_MIN} and {YEAR_MAX}"

    def _deserialize(self, value, attr, data, **kwargs):
        m = re.fullmatch(r"([0-9]{4})?(\.\.)?([0-9]{4})?", value.strip())   # ASCII digits: parse() applied NFKC
        if not m or not (m[1] or m[3]) or (not m[2] and m[3]):
            raise ValidationError(self.MESSAGE)
        lo = int(m[1]) if m[1] else None
        hi = int(m[3]) if m[3] else (None if m[2] else lo)
        for y in (lo, hi):
            if y is not None and not YEAR_MIN <= y <= YEAR_MAX:
                raise ValidationError(self.MESSAGE)
        if lo is not None and hi is not None and lo > hi:
            raise ValidationError(f"the range {value} is empty: its start is after its end")
        return lo, hi


class Sort(fields.Field):
    """'-year,id' -> [('year', 'desc'), ('id', 'asc')], fields from a whitelist."""

    def __init__(self, allowed, **kw):
        super().__init__(**kw)
        self.allowed = allowed

    def _deserialize(self, value, attr, data, **kwargs):
        out = []
        for part in value.split(","):
            part = part.strip()
            name = part.lstrip("-")
            if name not in self.allowed or part.count("-") > 1 or (part.startswith("-") is False and "-" in part):
                raise ValidationError(f"{part!r} is not sortable; use {', '.join(self.allowed)} (prefix - for descending)")
            if name in (n for n, _ in out):
                raise ValidationError(f"{name!r} appears twice")
            out.append((name, "desc" if part.startswith("-") else "asc"))
        return out


class Count(fields.Field):
    """A whole number from low to high in ASCII digits (after parse()'s NFKC: ２０ and ① read as 20 and 1), nothing else:
    no sign, no underscore (1_0), no other script's digits (٢٠)."""

    def __init__(self, low: int, high: int, **kw):
        super().__init__(**kw)
        self.low, self.high = low, high
        self.message = f"must be an integer from {low} to {high}"

    def _deserialize(self, value, attr, data, **kwargs):
        if not (isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value.strip())):
            raise ValidationError(self.message)
        number = int(value)
        if not self.low <= number <= self.high:
            raise ValidationError(self.message)
        return number


def _limit():
    return Count(1, LIMIT_MAX, load_default=LIMIT_DEFAULT)


def _format(*choices):
    return fields.String(validate=validate.OneOf(choices, error=f"must be one of {', '.join(choices)}"))


class TrueFalse(fields.Field):
    """'true' -> True, 'false' -> False; nothing else (no 1/yes/on: one spelling, as the contract says)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value not in ("true", "false"):
            raise ValidationError("must be true or false")
        return value == "true"


class ByteOrderMark(fields.Field):
    """bom: 1 or true, 0 or false (the spellings a spreadsheet user types, in any case)."""

    VALUES = {"1": True, "true": True, "0": False, "false": False}

    def _deserialize(self, value, attr, data, **kwargs):
        flag = self.VALUES.get(value.strip().lower())
        if flag is None:
            raise ValidationError("must be one of 1, true, 0, false")
        return flag


class NamePrefix(fields.Field):
    """Part of a place name -> its lookup key (dataset/names.py); a value with no letters or digits is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not 1 <= len(value) <= 100:
            raise ValidationError("must be 1 to 100 characters")
        key = name_key(value)
        if not key:
            raise ValidationError("has no letters or digits to search for; give part of a name: 锦江, Jinjiang")
        return key


class _Args(Schema):
    class Meta:
        unknown = RAISE


class CsvArgs(_Args):
    """What a route that serves CSV takes besides: bom, a UTF-8 byte order mark first (for Excel)."""

    bom = ByteOrderMark(load_default=False)


def wants_bom(args: dict, fmt: str, csv: bool | None = None) -> bool:
    """Whether this CSV starts with a byte order mark; bom=1 with another format (csv: whether this answer is CSV,
    fmt == "csv" when None) is a 400 naming it, not a silent no-op."""
    if args.get("bom") and not (fmt == "csv" if csv is None else csv):
        raise invalid("bom", "applies to CSV only: add format=csv, or use the .csv address")
    return bool(args.get("bom"))


class FilterArgs(_Args):
    region = CommaList(metadata={"description": "GB/T 2260 code or name"})
    year = YearRange()
    kind = CommaList(item_pattern=vocabulary.SLUG)
    theme = CommaList(item_pattern=vocabulary.SLUG)
    scope = CommaList(choices=SCOPES)
    q = fields.String(validate=validate.Length(1, 200, error="must be 1 to 200 characters"))
    include_national = TrueFalse()  # with region: the national initiatives too (they apply in every region)


class PageArgs(_Args):
    limit = _limit()
    cursor = fields.String(validate=validate.Length(1, 1000, error="is not a cursor this API issued"))


class InitiativeListArgs(FilterArgs, PageArgs, CsvArgs):
    sort = Sort(list(query.INITIATIVE_SORTS), load_default=lambda: [("id", "asc")])
    format = _format("json", "csv", "geojson")


class MetricListArgs(FilterArgs, PageArgs, CsvArgs):
    initiative = CommaList(item_pattern=vocabulary.SLUG)
    unit = CommaList()
    sort = Sort(list(query.METRIC_SORTS), load_default=lambda: [("initiative", "asc")])
    format = _format("json", "csv")


class FacetArgs(FilterArgs):
    format = _format("json")


class RegionListArgs(PageArgs, CsvArgs):
    level = CommaList(choices=LEVELS)
    parent = fields.String(validate=validate.Regexp(f"^{vocabulary.CODE}$", error=vocabulary.CODE_MESSAGE))
    q = NamePrefix()
    has_initiatives = TrueFalse()
    sort = Sort(list(query.REGION_SORTS), load_default=lambda: [("code", "asc")])
    format = _format("json", "csv")


class VocabularyArgs(CsvArgs):
    format = _format("json", "csv")


class RecordArgs(_Args):
    format = _format("json")


class RootArgs(_Args):
    pass


class DownloadArgs(CsvArgs):
    """A download's: bom is ignored for the files that are not CSV (one address a file, and a spreadsheet user's link
    may carry it)."""


def allowed_params(schema: Schema) -> list[str]:
    return sorted(f.data_key or name for name, f in schema.fields.items())


def list_params(schema: Schema) -> frozenset[str]:
    """The parameters that take several values: comma-separated (kind=a,b), repeated (kind=a&kind=b), or both."""
    return frozenset(f.data_key or name for name, f in schema.fields.items() if isinstance(f, CommaList))


def _value_problem(key: str, value: str) -> str | None:
    """What is wrong with one raw value before the schema reads it, or None."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"is {len(value)} characters long; at most {MAX_VALUE_LENGTH}"
    if _CONTROL.search(value):
        return "contains control characters"
    if value == "" and key != "q":
        return "is empty; leave the parameter out to not filter"
    return None


def parse(schema: Schema, args) -> dict:
    """Check the raw query string against schema; raise a 400 Problem naming every bad parameter."""
    allowed = allowed_params(schema)
    unknown = [k for k in args if k not in allowed]
    if unknown:
        errors = {}
        for k in unknown:
            hint = difflib.get_close_matches(k.lower(), allowed, n=1)
            errors[k[:100]] = [f"unknown parameter{'; did you mean ' + repr(hint[0]) + '?' if hint else '.'} "
                               f"Allowed: {', '.join(allowed) or 'none'}"]
        raise Problem(400, "unknown-parameter",
                      f"Unknown query parameter {', '.join(repr(k[:100]) for k in unknown[:10])}. "
                      f"Allowed: {', '.join(allowed) or 'none'}.", errors=errors, allowed=allowed)
    lists = list_params(schema)
    raw, errors = {}, {}
    for key in args:
        values = args.getlist(key)
        if len(values) > 1 and key not in lists:
            errors[key] = [f"given {len(values)} times; it takes one value: give it once"
                           + ("; several fields go in one value, separated by commas" if key == "sort" else "")]
        elif len(values) > MAX_LIST_ITEMS:  # a list parameter repeated: each repeat holds at least one value
            errors[key] = [f"given {len(values)} times; at most {MAX_LIST_ITEMS} values in all"]
        elif problem := next(filter(None, (_value_problem(key, v) for v in values)), None):
            errors[key] = [problem]
        else:
            # Fullwidth forms (５１００００, Ｓｉｃｈｕａｎ) mean what they look like; other scripts stay distinct.
            # A list parameter may be repeated (kind=a&kind=b) as well as comma-separated (kind=a,b), or both:
            # the repeats are joined, so CommaList sees one comma-separated value and counts every item.
            raw[key] = ",".join(unicodedata.normalize("NFKC", v) for v in values)
    if "q" in raw and not raw["q"].strip():
        errors["q"] = ["is empty; leave it out to not search"]
    if not errors:
        try:
            return schema.load(raw)
        except ValidationError as err:
            errors = {k: v if isinstance(v, list) else [str(v)] for k, v in err.messages.items()}
    first = next(iter(errors))
    raise Problem(400, "invalid-parameter", f"{first}: {errors[first][0]}", errors=errors)
