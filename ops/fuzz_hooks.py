"""schemathesis hooks for ops.fuzz_deep: the contract test's extra check, for the CLI run.

schemathesis.toml lets a schema-valid request on the list operations be a 400 (whether a region
names a division, or a cursor was issued for this query, depends on the data, not the schema).
tests/web/test_contract.py narrows that with positive_400_is_data_dependent; this is the same rule for
`schemathesis run`, loaded with SCHEMATHESIS_HOOKS=ops.fuzz_hooks (from the repository root).
"""
from __future__ import annotations

import schemathesis
from schemathesis.generation import GenerationMode

DATA_DEPENDENT_400 = {"unknown-region", "ambiguous-region", "invalid-cursor"}


@schemathesis.check
def positive_400_is_data_dependent(ctx, response, case):
    if response.status_code != 400 or case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return None
    if any(c.mode.is_negative for c in case.meta.components.values()):
        return None
    body = response.json()
    kind = body["type"].rsplit("/", 1)[1]
    if kind in DATA_DEPENDENT_400:
        return None
    errors = body.get("errors", {})
    # A year range whose start is after its end: the pattern cannot compare the two years.
    if kind == "invalid-parameter" and set(errors) == {"year"} and "is empty" in errors["year"][0]:
        return None
    # include_national without a region: the parameter's description says so; a schema cannot tie two parameters.
    if kind == "invalid-parameter" and set(errors) == {"include_national"} and "give region too" in errors["include_national"][0]:
        return None
    # bom with a format that is not CSV: the parameter's description says so; a schema cannot tie two parameters.
    if kind == "invalid-parameter" and set(errors) == {"bom"} and "applies to CSV only" in errors["bom"][0]:
        return None
    # A region-name prefix with no Unicode letter or digit: a portable pattern cannot say "letter".
    if kind == "invalid-parameter" and case.path in ("/api/v1/regions", "/api/v1/regions.csv") and set(errors) == {"q"} \
            and "letters or digits" in body["detail"]:
        return None
    raise AssertionError(f"a schema-valid request got a 400 the contract does not explain: {body}")
