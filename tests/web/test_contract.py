"""openapi.yaml and the app agree: the contract is valid, names every route, is served unchanged, its examples are real, and schemathesis finds nothing.

Refresh the examples in openapi.yaml after a data change (rewrites only the part after EXAMPLES_MARKER):
    PYTHONPATH=. .venv/bin/python tests/web/test_contract.py --refresh-examples
"""
from __future__ import annotations

import json
import re
import string
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_spec
from schemathesis.config import SchemathesisConfig

from api.app import create_app
from api.build import build
from api.query import INITIATIVE_SORTS, METRIC_SORTS, REGION_SORTS
from api.site.downloads import DOWNLOADS
from api.web import args as schemas
from api.web import errors, listing
from api.web.args import allowed_params

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "openapi.yaml"
CONFIG_PATH = ROOT / "schemathesis.toml"
SPEC_TEXT = SPEC_PATH.read_text(encoding="utf-8")
SPEC = yaml.safe_load(SPEC_TEXT)
EXAMPLES_MARKER = "\n  examples:\n"  # the last section of openapi.yaml; everything after it is generated

# Routes the app serves that are not API operations, so not paths in the spec.
NOT_IN_SPEC = {
    "/static/<path:filename>": "Flask's static folder: the landing page's stylesheet and icon",
    "/apidocs/": "Swagger UI page, served by flasgger",
    "/apidocs/index.html": "Swagger UI page, served by flasgger",
    "/apidocs/static/<path:filename>": "Swagger UI assets, served by flasgger",
    "/oauth2-redirect.html": "Swagger UI OAuth helper, served by flasgger",
    # The pages for people and the documents for crawlers and catalogues (api/site/;
    # tests/site/test_html.py): HTML and text, not the API, and an error on them is a page, not problem+json.
    "/initiatives": "the browsable list, a page",
    "/initiatives/<string:initiative_id>": "a record's page",
    "/sources/<string:source_id>": "the annotated source, a page",
    "/sources/<string:source_id>.txt": "the source's text as published",
    "/map": "the map, a page",
    "/report": "how to report a problem with a page, a page",
    "/catalog.ttl": "the DCAT catalogue (Turtle)",
    "/robots.txt": "robots.txt",
    "/sitemap.xml": "the sitemap",
    # For AI assistants (api/agents; tests/agents, tests/system/test_mcp.py): the MCP endpoint speaks JSON-RPC over
    # POST, which a read-only REST contract of GETs does not describe; llms.txt is a document like robots.txt.
    "/mcp": "the MCP server over Streamable HTTP (POST, JSON-RPC)",
    "/llms.txt": "llms.txt: the API, the MCP endpoint and the downloads, for agents",
    "/sitemaps/pages.xml": "the sitemap index's file of the pages that are not records",
    "/sitemaps/initiatives-<int:part>.xml": "the sitemap index's files of record pages",
}

# The real responses quoted in components/examples: (name, summary, request, extra request headers).
EXAMPLES = [
    ("Dataset", "The dataset", "GET /api/v1", None),
    ("InitiativesJiangsu2025", "Initiatives in 江苏 (Jiangsu) in 2025", "GET /api/v1/initiatives?region=江苏&year=2025", None),
    ("InitiativesSichuan", "Initiatives in 四川 and everything inside it", "GET /api/v1/initiatives?region=四川", None),
    ("InitiativesSearchStation", "Full-text search for 驿站 (station)", "GET /api/v1/initiatives?q=驿站", None),
    ("InitiativesHotlineSorted", "Hotlines and funds of 2024-2025, newest first, one per page",
     "GET /api/v1/initiatives?kind=hotline,fund&year=2024..2025&sort=-year,name_en&limit=1", None),
    ("InitiativesCsvSichuan", "Initiatives in 四川 as CSV", "GET /api/v1/initiatives?region=四川&format=csv", None),
    ("InitiativesGeoJsonHotline", "Hotlines as GeoJSON", "GET /api/v1/initiatives?kind=hotline&format=geojson", None),
    ("InitiativeHotline", "Beijing's 12345 hotline", "GET /api/v1/initiatives/beijing-12345-hotline", None),
    ("RegionsJinjiang", "Regions whose name begins with 锦江", "GET /api/v1/regions?q=锦江", None),
    ("RegionsCsvJinjiang", "The same as CSV", "GET /api/v1/regions?q=锦江&format=csv", None),
    ("RegionJinjiang", "锦江区 (Jinjiang District, Chengdu)", "GET /api/v1/regions/510104", None),
    ("RegionRetired", "A retired code resolved to its successor", "GET /api/v1/regions/350402", None),
    ("MetricsBeijing", "The figures for 北京 (Beijing)", "GET /api/v1/metrics?region=北京", None),
    ("MetricsCsvBeijing", "The same as CSV", "GET /api/v1/metrics?region=北京&format=csv", None),
    ("FacetsSichuan", "Counts for 四川", "GET /api/v1/facets?region=四川", None),
    ("Kinds", "Every kind", "GET /api/v1/kinds", None),
    ("Themes", "The article's themes", "GET /api/v1/themes", None),
    ("Sources", "The source documents", "GET /api/v1/sources", None),
    ("SourceXinhua", "One source document", "GET /api/v1/sources/xinhua-2026-01-25-social-work", None),
    ("ProblemAmbiguousRegion", "朝阳 names four divisions", "GET /api/v1/initiatives?region=朝阳", None),
    ("ProblemUnknownRegion", "A misspelt region, with suggestions", "GET /api/v1/initiatives?region=Chengdou", None),
    ("ProblemUnknownParameter", "A misspelt parameter", "GET /api/v1/initiatives?regoin=四川", None),
    ("ProblemInvalidLimit", "A limit out of range", "GET /api/v1/initiatives?limit=500", None),
    ("ProblemInvalidCursor", "A cursor this API did not issue", "GET /api/v1/initiatives?cursor=abc", None),
    ("ProblemNotFound", "An unknown initiative", "GET /api/v1/initiatives/no-such-initiative", None),
    ("ProblemMethodNotAllowed", "A POST", "POST /api/v1/initiatives", None),
    ("ProblemNotAcceptable", "Asking for PNG", "GET /api/v1/kinds", {"Accept": "image/png"}),
]


@pytest.fixture()
def contract_app(app):
    """conftest's fresh app: every contract check runs with the response store on and off."""
    return app


@pytest.fixture()
def contract_client(contract_app):
    return contract_app.test_client()


def _send(client, request: str, headers=None):
    method, url = request.split(" ", 1)
    # What curl and browsers do: percent-encode non-ASCII, leave ASCII punctuation as written.
    return client.open(quote(url, safe=string.punctuation), method=method, headers=headers or {})


def _spec_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", "{}", rule)


def _operations():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            yield path, method, op


def resolve(node):
    """Follow local $refs until a real object."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _example_path(path: str, op: dict) -> str:
    """The path with each path parameter replaced by its first example."""
    for param in map(resolve, op.get("parameters", [])):
        if param["in"] == "path":
            first = next(iter(param["examples"].values()))["value"]
            path = path.replace("{" + param["name"] + "}", str(first))
    return path


# --- the document itself ----------------------------------------------------------------------

def test_spec_is_valid_openapi_3_0():
    assert SPEC["openapi"] == "3.0.3"
    validate_spec(SPEC)


def test_every_route_is_in_the_spec_and_every_spec_path_is_a_route(contract_app):
    rules = {r.rule for r in contract_app.url_map.iter_rules()}
    assert set(NOT_IN_SPEC) <= rules, "NOT_IN_SPEC names a route the app no longer has"
    served = {_spec_path(r) for r in rules - set(NOT_IN_SPEC)}
    documented = {_spec_path(re.sub(r"\{([^}]+)\}", r"<\1>", p)) for p in SPEC["paths"]}
    assert served - documented == set(), "routes missing from openapi.yaml"
    assert documented - served == set(), "paths in openapi.yaml the app does not serve"


@pytest.mark.parametrize("path,method,op", list(_operations()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_spec_path_is_served(contract_client, path, method, op):
    assert method == "get", "a read-only API documents GET only (HEAD and OPTIONS are implied)"
    url = _example_path(path, op)
    resp = contract_client.get(url)
    assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:300])
    assert str(resp.status_code) in op["responses"]
    documented = op["responses"]["200"]["content"]
    assert resp.mimetype in documented, (url, resp.mimetype, list(documented))
    head = contract_client.head(url)
    assert (head.status_code, head.get_data()) == (200, b"")
    assert head.headers.get("ETag") == resp.headers.get("ETag")


@pytest.mark.parametrize("path,method,op", list(_operations()), ids=lambda v: v if isinstance(v, str) else "")
def test_if_none_match_gives_the_304_where_documented(contract_client, path, method, op):
    url = _example_path(path, op)
    etag = contract_client.get(url).headers.get("ETag")
    assert (etag is not None) == ("304" in op["responses"]), "an ETag, and only an ETag, makes a 304 possible"
    if etag is None:
        return
    resp = contract_client.get(url, headers={"If-None-Match": etag})
    assert (resp.status_code, resp.get_data(), resp.headers.get("ETag")) == (304, b"", etag)


def test_openapi_yaml_is_served_byte_for_byte(contract_client):
    resp = contract_client.get("/openapi.yaml")
    assert resp.status_code == 200
    assert resp.get_data() == SPEC_PATH.read_bytes()


def test_openapi_json_is_the_yaml_loaded(contract_client):
    resp = contract_client.get("/openapi.json")
    assert (resp.status_code, resp.mimetype) == (200, "application/json")
    assert json.loads(resp.get_data()) == SPEC


# --- the spec says what the code allows -------------------------------------------------------

def _query_params(operation_id: str) -> dict:
    op = next(op for _, _, op in _operations() if op["operationId"] == operation_id)
    return {p["name"]: p for p in map(resolve, op.get("parameters", [])) if p["in"] == "query"}


def _args_schemas():
    exports = {"exportInitiativesCsv": (listing.INITIATIVES, "csv"), "exportInitiativesGeoJson": (listing.INITIATIVES, "geojson"),
               "exportRegionsCsv": (listing.REGIONS, "csv"), "exportMetricsCsv": (listing.METRICS, "csv")}
    return {**{op: listing.export_args(resource, fmt) for op, (resource, fmt) in exports.items()},
        "getDataset": schemas.RootArgs(), "listInitiatives": schemas.InitiativeListArgs(),
        "getInitiative": schemas.RecordArgs(), "listRegions": schemas.RegionListArgs(),
        "getRegion": schemas.RecordArgs(), "listMetrics": schemas.MetricListArgs(),
        "getFacets": schemas.FacetArgs(), "listKinds": schemas.VocabularyArgs(),
        "listThemes": schemas.VocabularyArgs(), "listSources": schemas.VocabularyArgs(), "getSource": schemas.RecordArgs(), "getChangelog": schemas.VocabularyArgs(),
        "listProblemTypes": schemas.RootArgs(), "getProblemType": schemas.RootArgs(),
    }


def test_every_query_parameter_the_app_accepts_is_documented():
    api_ops = {op["operationId"] for p, _, op in _operations() if p.startswith("/api/")}
    assert api_ops == set(_args_schemas())
    for operation_id, args in _args_schemas().items():
        assert sorted(_query_params(operation_id)) == allowed_params(args), operation_id


def _sort_fields(operation_id):
    pattern = _query_params(operation_id)["sort"]["schema"]["pattern"]
    return re.search(r"\(\?:([a-z_|]+)\)", pattern)[1].split("|")


def _vocabulary(file):
    return [item["id"] for item in yaml.safe_load((ROOT / "data" / file).read_text(encoding="utf-8"))]


def _enum(name):
    return SPEC["components"]["schemas"][name]["enum"]


# (what, as openapi.yaml documents it, as the code and data/ have it)
DOCUMENTED_VALUES = [
    ("kinds", _enum("KindId"), _vocabulary("kinds.yaml")),
    ("themes", _enum("ThemeId"), _vocabulary("themes.yaml")),
    ("scopes", _enum("Scope"), list(schemas.SCOPES)),
    ("levels", _enum("Level"), list(schemas.LEVELS)),
    ("initiative-sorts", _sort_fields("listInitiatives"), list(INITIATIVE_SORTS)),
    ("metric-sorts", _sort_fields("listMetrics"), list(METRIC_SORTS)),
    ("region-sorts", _sort_fields("listRegions"), list(REGION_SORTS)),
    ("problem-types", _enum("ProblemTypeUri"), [errors.PROBLEM_BASE + t for t in errors.PROBLEM_TYPES]),
    ("limit", SPEC["components"]["parameters"]["Limit"]["schema"],
     {"type": "integer", "minimum": 1, "maximum": schemas.LIMIT_MAX, "default": schemas.LIMIT_DEFAULT}),
    ("downloads", resolve(SPEC["paths"]["/downloads/{name}"]["get"]["parameters"][0])["schema"]["enum"], list(DOWNLOADS)),
]


@pytest.mark.parametrize("what,documented,actual", DOCUMENTED_VALUES, ids=[v[0] for v in DOCUMENTED_VALUES])
def test_documented_values_match_the_code_and_data(what, documented, actual):
    assert documented == actual


# --- the examples are real and valid ----------------------------------------------------------

def _media_examples():
    """(where, schema, example) for every example under a response's media type."""
    for path, method, op in _operations():
        for status, response in op["responses"].items():
            for media, content in resolve(response).get("content", {}).items():
                for name, example in content.get("examples", {}).items():
                    try:
                        example = resolve(example)
                    except (KeyError, TypeError):
                        example = {"missing": example}  # reported by the test, not at collection
                    yield f"{path} {status} {media} {name}", content["schema"], example


@pytest.mark.parametrize("where,schema,example", list(_media_examples()), ids=lambda v: v if isinstance(v, str) else "")
def test_response_examples_match_their_schemas(where, schema, example):
    assert "value" in example, f"{where}: no such example: {example}"
    value = example["value"]
    if resolve(schema).get("type") == "string":
        assert isinstance(value, str)
        return
    OAS30Validator({**schema, "components": SPEC["components"]}).validate(value)


def _canonical(body):
    """What an example must match: the dataset version (a hash of data/ and the build) may differ,
    and werkzeug lists the allowed methods of a 405 in set order, which varies between processes."""
    if isinstance(body, dict) and "version" in body:
        body = {**body, "version": "…"}
    if isinstance(body, dict) and body.get("status") == 405:
        body = {**body, "detail": re.sub(r"Allowed: ([A-Z, ]+)\.", lambda m: "Allowed: " + ", ".join(sorted(m[1].split(", "))) + ".",
                                          body["detail"])}
    return body


def _example_body(resp):
    """JSON parsed; CSV with LF line ends so that the example reads as a YAML block (the API sends CRLF)."""
    text = resp.get_data(as_text=True)
    return json.loads(text) if resp.mimetype.endswith("json") else text.replace("\r\n", "\n")


class _ExampleDumper(yaml.SafeDumper):
    pass


_ExampleDumper.add_representer(str, lambda dumper, value: dumper.represent_scalar(
    "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None))


@pytest.mark.parametrize("name,summary,request_line,headers", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_examples_are_the_real_responses(contract_client, name, summary, request_line, headers):
    example = SPEC["components"]["examples"][name]
    assert example["x-request"] == request_line
    resp = _send(contract_client, request_line, headers)
    assert _canonical(_example_body(resp)) == _canonical(example["value"]), (
        f"components/examples/{name} is out of date; refresh with: "
        "PYTHONPATH=. .venv/bin/python tests/web/test_contract.py --refresh-examples")


def test_every_example_is_used():
    text = json.dumps(SPEC["paths"]) + json.dumps({k: v for k, v in SPEC["components"].items() if k != "examples"})
    unused = [n for n in SPEC["components"]["examples"] if f"#/components/examples/{n}" not in text]
    assert unused == []
    assert sorted(SPEC["components"]["examples"]) == sorted(e[0] for e in EXAMPLES)


# --- schemathesis -----------------------------------------------------------------------------

# schemathesis v4 reaches a WSGI app in-process either through `schema.app = app` (which needs the
# app when this module is imported) or per call with `app=`. The lazy `schemathesis.pytest.from_fixture`
# would fit a fixture but fails under pytest 9 (it sets `request.node._nodeid`), so the schema is
# loaded here and the app comes from the fixture on each call.
schema = schemathesis.openapi.from_path(SPEC_PATH, config=SchemathesisConfig.from_path(CONFIG_PATH))

# A schema-valid request can still be a 400 only where validity depends on the data or on state
# the contract cannot express (schemathesis.toml lets positive_data_acceptance take 400 on the
# list operations); this check pins down which 400s those are.
from ops.fuzz_hooks import positive_400_is_data_dependent  # noqa: E402  (one definition, shared with the deep fuzz run)


def closing(app):
    """Run app as a WSGI server does: read the body and close the iterable (schemathesis' in-process
    transport never closes it, which leaks the file behind /downloads/socialwork.db)."""

    def server(environ, start_response):
        body = app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()

    return server


@pytest.fixture()
def served_app(contract_app):
    return closing(contract_app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case, served_app):
    case.call_and_validate(app=served_app, additional_checks=[positive_400_is_data_dependent])


# --- refreshing the examples ------------------------------------------------------------------

def render_examples(client) -> str:
    out = {}
    for name, summary, request_line, headers in EXAMPLES:
        resp = _send(client, request_line, headers)
        out[name] = {"summary": summary, "x-request": request_line, "value": _example_body(resp)}
    text = yaml.dump(out, Dumper=_ExampleDumper, allow_unicode=True, sort_keys=False, width=120, default_flow_style=False)
    return "".join("    " + line if line.strip() else line for line in text.splitlines(keepends=True))


def refresh_examples():
    import tempfile

    head, sep, _ = SPEC_TEXT.rpartition(EXAMPLES_MARKER)
    assert sep, "openapi.yaml has lost its examples section"
    comment = ("    # Real responses. `x-request` is the request each was taken from; tests/web/test_contract.py\n"
               "    # replays it and compares. Refresh: PYTHONPATH=. .venv/bin/python tests/web/test_contract.py --refresh-examples\n")
    with tempfile.TemporaryDirectory() as tmp:  # the database the tests use: built from data/ as it is now
        build(ROOT, Path(tmp) / "socialwork.db")
        text = head + sep + comment + render_examples(create_app({"DATABASE": str(Path(tmp) / "socialwork.db")}).test_client())
    yaml.safe_load(text)
    tmp = SPEC_PATH.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(SPEC_PATH)  # atomic: the app reads this file at start-up


if __name__ == "__main__":
    if sys.argv[1:] != ["--refresh-examples"]:
        sys.exit(__doc__)
    refresh_examples()
