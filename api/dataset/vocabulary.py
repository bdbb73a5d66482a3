"""The closed vocabularies and identifier shapes the data files and the query arguments share."""
from __future__ import annotations

import re

SCOPES = ("national", "local")
LEVELS = ("province", "prefecture", "county")
QUALIFIERS = ("exact", "more than", "about")
YEAR_BASIS_STATED = "stated"              # the article gives the year: one of the record's quotes holds it
YEAR_BASIS_CITED = "cited"                # an outside source gives it: the record cites it in outside_facts
YEAR_BASIS_REPORTED = "reported"          # not dated: the year the article reports on (2025), not the act's own year
YEAR_BASES = (YEAR_BASIS_STATED, YEAR_BASIS_REPORTED, YEAR_BASIS_CITED)  # a record with a year; "unknown" goes with year: null
YEAR_BASIS_UNKNOWN = "unknown"
RECORD_YEAR_BASES = YEAR_BASES + (YEAR_BASIS_UNKNOWN,)   # what a record's year_basis may be
METRIC_YEAR_BASES = (YEAR_BASIS_STATED, YEAR_BASIS_REPORTED)
# Words that place a thing before the year the article reports on: a quote that says them cannot support
# 'reported'.
UNDATED_SPANS = {"近年来": "in recent years", "多年来": "for many years"}  # a figure is always the article's
# What a figure measures: a total standing when the article reports it (建成1.2万余个, 现已覆盖82个), a count
# over a period (2025年受理2580.2万件), or a rate of change (同比增长18.4%).
MEASURES = ("stock", "flow", "change")
# Facts from outside the article, each with its cited source: a date the article does not give, or the
# support for a region code finer than the places the article names.
OUTSIDE_FACTS = ("adopted", "in-force", "region")
# A record's changes from one release to the next (the computed changelog).
CHANGES = ("added", "changed", "renamed", "removed")

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"        # record, kind and theme ids
SLUG_MESSAGE = "must be a lowercase ASCII slug (a-z, 0-9, hyphens)"
CODE = r"\d{6}"                           # a GB/T 2260 division code
CODE_MESSAGE = "must be a six-digit GB/T 2260 code"

_CODE = re.compile(CODE)


def is_code(value: str) -> bool:
    """True for a string of the shape of a GB/T 2260 code (ASCII digits only: '５１００００' is normalised first)."""
    return bool(_CODE.fullmatch(value)) and value.isascii()
