"""The MCP server in process: /mcp as a client meets it through the app (headers, limits, problem+json, the time
limit), the tools' schemas against the REST arguments they mirror, the sentence around a quote, and /llms.txt.
The SDK's own client over both transports is tests/system/test_mcp.py."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from api.agents import schemas, tools
from api.app import create_app
from api.dataset import article
from api.web.args import allowed_params

ROOT = Path(__file__).resolve().parents[2]

JSON_RPC = "application/json, text/event-stream"
LEGACY = {"Content-Type": "application/json", "Accept": JSON_RPC, "MCP-Protocol-Version": "2025-11-25"}
SECURITY = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Access-Control-Allow-Origin": "*"}


def rpc(method: str, params: dict | None = None, id_: int = 1) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, **({"params": params} if params else {})})


def call(client, name: str, arguments: dict, headers=LEGACY):
    resp = client.post("/mcp", data=rpc("tools/call", {"name": name, "arguments": arguments}), headers=headers)
    assert (resp.status_code, resp.mimetype) == (200, "application/json"), resp.get_data(as_text=True)[:300]
    return resp.get_json()["result"]


# (label, headers, body, status, media type, problem type or None for a JSON-RPC answer)
REQUESTS = [
    ("a tool call", LEGACY, rpc("tools/call", {"name": "get_changelog", "arguments": {}}), 200, "application/json", None),
    ("not JSON", {**LEGACY, "Content-Type": "text/plain"}, "{}", 400, "application/problem+json", "bad-request"),
    ("JSON that does not parse", LEGACY, "{not json", 400, "application/problem+json", "bad-request"),
    ("no JSON-RPC message", LEGACY, '{"foo": 1}', 400, "application/problem+json", "bad-request"),
    ("a batch (removed from MCP)", LEGACY, "[" + rpc("ping") + "]", 400, "application/problem+json", "bad-request"),
    ("an Accept without JSON", {**LEGACY, "Accept": "text/html"}, rpc("ping"), 406, "application/problem+json", "not-acceptable"),
    ("a page of another origin", {**LEGACY, "Origin": "http://evil.example"}, rpc("ping"), 403, "application/problem+json",
     "forbidden"),
    ("a page of this origin", {**LEGACY, "Origin": "http://localhost"}, rpc("ping"), 200, "application/json", None),
    ("a body over 64 KB", LEGACY, rpc("ping", {"_meta": {"x": "a" * 70_000}}), 413, "application/problem+json",
     "request-too-large"),
    # 2026-07-28: the answer to a request is JSON-RPC, its HTTP status from the error's code (an unknown tool: 400)
    ("an unknown method", LEGACY, rpc("nope/x"), 200, "application/json", None),
]


@pytest.mark.parametrize("label, headers, body, status, media, kind", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_what_a_post_to_mcp_answers(client, label, headers, body, status, media, kind):
    resp = client.post("/mcp", data=body, headers=headers)
    assert (resp.status_code, resp.mimetype) == (status, media)
    assert {k: resp.headers.get(k) for k in SECURITY} == SECURITY
    assert resp.headers["Cache-Control"] == "no-store"
    if kind is not None:
        problem = resp.get_json()
        assert (problem["type"], problem["status"], problem["instance"]) == ("/api/v1/problems/" + kind, status, "/mcp")
        assert "Traceback" not in problem["detail"]


@pytest.mark.parametrize("method, status", [("GET", 405), ("DELETE", 405), ("PUT", 405)])
def test_mcp_takes_only_post(client, method, status):
    resp = client.open("/mcp", method=method)
    assert (resp.status_code, resp.mimetype, resp.headers["Allow"]) == (status, "application/problem+json", "OPTIONS, POST")


def test_a_tool_call_runs_under_the_apps_time_limit(built_db):
    app = create_app({"DATABASE": str(built_db), "TESTING": True, "QUERY_TIMEOUT": 1e-9, "QUERY_CHECK_EVERY": 1})
    result = call(app.test_client(), "search_initiatives", {"q": "驿站"})
    assert result["isError"] is True
    assert {k: result["structuredContent"][k] for k in ("type", "status")} == {"type": "/api/v1/problems/query-timeout",
                                                                              "status": 503}


def test_a_tool_error_carries_the_apis_problem_details_and_names_the_argument(client):
    result = call(client, "search_initiatives", {"region": "四川", "year": "20x5"})
    assert result["isError"] is True
    assert result["structuredContent"] == {
        "type": "/api/v1/problems/invalid-parameter", "title": "Invalid query parameter", "status": 400,
        "detail": "year: must be a year (2025) or a range (2024..2025, ..2025, 2024..) between 1900 and 2100",
        "instance": "/mcp#tools/search_initiatives",
        "errors": {"year": ["must be a year (2025) or a range (2024..2025, ..2025, 2024..) between 1900 and 2100"]}}
    assert result["content"][0]["text"].startswith("year: must be a year")


def test_an_unknown_tool_is_a_json_rpc_error(client):
    resp = client.post("/mcp", data=rpc("tools/call", {"name": "drop_tables", "arguments": {}}), headers=LEGACY)
    error = resp.get_json()["error"]
    assert (error["code"], error["message"].split(";")[0]) == (-32602, "Unknown tool 'drop_tables'")


# The tools that mirror a REST list take its arguments but format=: their schemas say so, from the contract.
MIRRORS = [("search_initiatives", tools.SEARCH_ARGS), ("list_regions", tools.REGION_ARGS), ("get_facets", tools.FACET_ARGS),
           ("get_changelog", tools.NO_ARGS), ("get_initiative", tools.InitiativeArgs()), ("cite", tools.CiteArgs()),
           ("resolve_region", tools.ResolveArgs())]


@pytest.mark.parametrize("name, args", MIRRORS, ids=[m[0] for m in MIRRORS])
def test_each_tools_input_schema_is_the_arguments_it_parses(name, args):
    schema = tools.TOOLS[name].input_schema
    Draft202012Validator.check_schema(schema)
    assert sorted(schema["properties"]) == allowed_params(args)
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", list(tools.TOOLS))
def test_each_tools_output_schema_is_json_schema_with_its_references_inside(name):
    schema = tools.TOOLS[name].output_schema
    Draft202012Validator.check_schema(schema)
    refs = set(re.findall(r'"#/\$defs/(\w+)"', json.dumps(schema)))
    assert refs <= set(schema.get("$defs", {})), "every $ref resolves within the schema"
    assert "#/components" not in json.dumps(schema)


@pytest.mark.parametrize("openapi, json_schema", [
    ({"type": "integer", "nullable": True, "example": 2025}, {"type": ["integer", "null"], "examples": [2025]}),
    ({"type": "string", "enum": ["a", "b"], "nullable": True}, {"type": ["string", "null"], "enum": ["a", "b", None]}),
    ({"type": "array", "items": {"$ref": "#/components/schemas/Level"}},
     {"type": "array", "items": {"$ref": "#/$defs/Level"}}),
])
def test_openapi_schemas_become_json_schema(openapi, json_schema):
    assert schemas.convert(openapi, set()) == json_schema


# (the quote's [start, end) in the article, the sentence around it as [start, end))
SENTENCES = [
    ((2580, 2619), (2580, 2681)),   # the 12345 hotline's figure: the sentence goes on past the quote to its 。
    ((2620, 2680), (2580, 2681)),   # the second half of the same sentence
    ((1811, 1856), (1811, 1857)),   # Fujian's riders: the paragraph ends with ;, and so does the sentence
]


@pytest.mark.parametrize("span, expected", SENTENCES, ids=[str(s[0]) for s in SENTENCES])
def test_the_sentence_around_a_quote(span, expected):
    source = yaml.safe_load((ROOT / "data" / "sources.yaml").read_text(encoding="utf-8"))[0]
    text, paragraphs = article.load(source)
    found = article.sentence(text, paragraphs, *span)
    assert (found.start, found.end) == expected
    assert found.text == text[found.start:found.end]


def test_llms_txt_describes_the_api_the_mcp_endpoint_and_the_downloads(client):
    resp = client.get("/llms.txt")
    assert (resp.status_code, resp.headers["Content-Type"]) == (200, "text/markdown; charset=utf-8")
    text = resp.get_data(as_text=True)
    assert text.startswith("# China social-work initiatives, open data (2025)\n\n> ")
    assert [h for h in re.findall(r"^## (.+)$", text, re.M)] == ["MCP server", "REST API", "Downloads", "Sources"]
    assert re.findall(r"^- `(\w+)`", text, re.M) == list(tools.TOOLS)
    links = re.findall(r"\]\((http://localhost[^)]*)\)", text)
    assert "http://localhost/mcp" in links and "http://localhost/downloads/socialwork.db" in links
    for link in links:
        path = link.removeprefix("http://localhost")
        with client.get(path) as linked:   # closed: a download is a file the response holds open
            assert linked.status_code == (405 if path == "/mcp" else 200), path
    assert resp.headers["ETag"] and client.get("/llms.txt?x=1").status_code == 400


TITLE_ZH = "凝心聚力推动社会工作高质量发展——我国社会工作取得新成效、开创新局面"
TITLE_EN = "Pooling strength to advance high-quality social work: China's social work achieves new results and opens new ground"
HOTLINE_QUOTE = "在北京,接诉即办渠道更加顺畅,2025年12345热线受理诉求2580.2万件"


def test_cite_gives_a_quote_with_its_offsets_sentence_source_and_citations(client, seed_text):
    build = client.get("/api/v1").get_json()["version"]
    result = call(client, "cite", {"id": "beijing-12345-hotline", "field": "metrics"})
    assert result["isError"] is False
    cited = result["structuredContent"]
    page = "http://localhost/initiatives/beijing-12345-hotline"
    version = f"1.2.0 (build {build})"
    assert {k: cited[k] for k in ("initiative_id", "requested_id", "field", "note", "page_url", "version")} == {
        "initiative_id": "beijing-12345-hotline", "requested_id": "beijing-12345-hotline", "field": "metrics",
        "note": None, "page_url": page, "version": version}
    assert cited["quotes"] == [{
        "quote": HOTLINE_QUOTE, "start": 2580, "end": 2619, "matches_source": True,
        "sentence": {"text": seed_text[2580:2681], "start": 2580, "end": 2681}, "paragraph": 27,
        "source": {"id": "xinhua-2026-01-25-social-work", "title_zh": TITLE_ZH, "title_en": TITLE_EN,
                   "publisher_zh": "新华社", "publisher_en": "Xinhua News Agency", "published": "2026-01-25",
                   "url": "http://localhost/sources/xinhua-2026-01-25-social-work",
                   "text_url": "http://localhost/sources/xinhua-2026-01-25-social-work.txt"},
        "citation": {
            "zh": f"新华社：《{TITLE_ZH}》，2026-01-25。引文：“{HOTLINE_QUOTE}”（原文字符位置 [2580, 2619)）。"
                  f"转引自：中国社会工作举措开放数据(2025)，版本 {version}，{page}",
            "en": f"Xinhua News Agency, \"{TITLE_ZH}\" ({TITLE_EN}), 2026-01-25. Quoted: “{HOTLINE_QUOTE}” "
                  f"(characters [2580, 2619) of the article). Via: China social-work initiatives, open data (2025), "
                  f"version {version}, {page}"}}]
    assert seed_text[2580:2619] == HOTLINE_QUOTE
    assert seed_text[2580:2681].endswith("推动接诉即办向主动治理、未诉先办升级。")


# (arguments of a tool, the problem's type, its detail): each names the argument and what is allowed
REFUSED = [
    ("get_initiative", {"id": "beijing-12345-hotline", "foo": 1}, "unknown-parameter", "Unknown query parameter 'foo'. Allowed: id."),
    ("cite", {"id": "beijing-12345-hotline", "quote": "x"}, "unknown-parameter",
     "Unknown query parameter 'quote'. Allowed: field, id."),
    ("resolve_region", {}, "invalid-parameter", "region: is required"),
    ("get_initiative", {}, "invalid-parameter", "id: is required"),
    ("search_initiatives", {"region": []}, "invalid-parameter",
     "region: is an empty array; leave the argument out to not filter"),
    ("search_initiatives", {"limit": 1.5}, "invalid-parameter",
     "limit: must be a string, an integer, a boolean, or an array of strings"),
    ("search_initiatives", {"limit": 0}, "invalid-parameter", "limit: must be an integer from 1 to 200"),
]


@pytest.mark.parametrize("tool, arguments, kind, detail", REFUSED, ids=[f"{r[0]} {sorted(r[1])}" for r in REFUSED])
def test_bad_arguments_are_refused_naming_the_argument(client, tool, arguments, kind, detail):
    result = call(client, tool, arguments)
    problem = result["structuredContent"]
    assert (result["isError"], problem["type"], problem["status"], problem["detail"]) == (
        True, "/api/v1/problems/" + kind, 400, detail)
    assert list(problem["errors"]) == [detail.split("'")[1] if kind == "unknown-parameter" else detail.split(":")[0]]


@pytest.mark.parametrize("arguments, query", [({"year": "20x5"}, "year=20x5"), ({"regoin": "四川"}, "regoin=%E5%9B%9B%E5%B7%9D"),
                                              ({"region": "朝阳"}, "region=%E6%9C%9D%E9%98%B3")])
def test_a_tool_error_is_the_problem_the_rest_api_answers(client, arguments, query):
    over_rest = client.get("/api/v1/initiatives?" + query)
    assert over_rest.status_code == 400
    tool_error = call(client, "search_initiatives", arguments)["structuredContent"]
    assert tool_error.pop("instance") == "/mcp#tools/search_initiatives"
    rest_problem = over_rest.get_json()
    rest_problem.pop("instance")
    if "allowed" in rest_problem:   # the REST list also takes bom= and format=, which a tool's answer (JSON) does not
        for name in ("bom", "format"):
            rest_problem["allowed"].remove(name)
            rest_problem["detail"] = rest_problem["detail"].replace(f"{name}, ", "")
            rest_problem["errors"] = {k: [m.replace(f"{name}, ", "") for m in v] for k, v in rest_problem["errors"].items()}
    assert tool_error == rest_problem
