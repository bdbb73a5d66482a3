"""The closed vocabularies and identifier shapes the data files and the query arguments share."""
from __future__ import annotations

import re

SCOPES = ("national", "local")
LEVELS = ("province", "prefecture", "county")
QUALIFIERS = ("exact", "more than", "about")
YEAR_BASIS_STATED = "stated"              # the article gives the year: one of the record's quotes holds it
YEAR_BASES = (YEAR_BASIS_STATED, "reported")  # a record with a year; "unknown" goes with year: null
YEAR_BASIS_UNKNOWN = "unknown"

SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"        # record, kind and theme ids
SLUG_MESSAGE = "must be a lowercase ASCII slug (a-z, 0-9, hyphens)"
CODE = r"\d{6}"                           # a GB/T 2260 division code
CODE_MESSAGE = "must be a six-digit GB/T 2260 code"

_CODE = re.compile(CODE)


def is_code(value: str) -> bool:
    """True for a string of the shape of a GB/T 2260 code (ASCII digits only: '５１００００' is normalised first)."""
    return bool(_CODE.fullmatch(value)) and value.isascii()
