"""The MCP server started both ways and driven by the official SDK's own client: over stdio (the console script a
desktop assistant runs, and `make mcp`) and over Streamable HTTP at /mcp on gunicorn as `make run` starts it (its
gthread workers, and sync workers). The SDK's client checks every structured result against the tool's output schema.

Each transport lists the tools and their schemas, calls every tool, cites every record (every quote checked against
the article at its offsets), and answers three questions from tool calls alone, checked against the REST API.
"""
from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from urllib.parse import urlencode

import anyio
import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from harness import servers

ROOT = Path(__file__).resolve().parents[2]
TRANSPORTS = ["stdio", "http-gthread", "http-sync"]
TOOLS = ["search_initiatives", "get_initiative", "cite", "list_regions", "resolve_region", "get_facets", "get_changelog"]
INPUTS = {
    "search_initiatives": ["cursor", "include_national", "kind", "limit", "q", "region", "scope", "sort", "theme", "year"],
    "get_initiative": ["id"],
    "cite": ["field", "id"],
    "list_regions": ["cursor", "has_initiatives", "level", "limit", "parent", "q", "sort"],
    "resolve_region": ["region"],
    "get_facets": ["include_national", "kind", "q", "region", "scope", "theme", "year"],
    "get_changelog": [],
}
REQUIRED = {"get_initiative": ["id"], "cite": ["id"], "resolve_region": ["region"]}
OUTPUTS = {
    "search_initiatives": ["data", "links", "meta", "next_cursor"],
    "get_initiative": ["evidence", "former_ids", "id", "kind", "metrics", "name_en", "name_zh", "regions", "summary_zh"],
    "cite": ["field", "initiative_id", "note", "quotes", "record_citation", "requested_id", "version"],
    "list_regions": ["data", "links", "meta", "next_cursor"],
    "resolve_region": ["region", "resolution"],
    "get_facets": ["data", "links", "meta"],
    "get_changelog": ["data", "links", "meta"],
}
JIANGSU_2025 = ["jiangsu-party-led-residential-compound-governance", "lianyungang-hailian-community-new-employment-services",
                "nantong-textile-association-industry-platform"]
STATIONS = ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class",
            "liaoning-care-stations-drivers-homes"]
# q=rider: since release 1.2.0 the Zhejiang academy and fund say "new-employment groups", as their quote does (riders
# was our gloss, now in their notes, which no search reads).
RIDERS = ["chengdu-zhonghe-fengchao-worker-station", "chengdu-zhonghe-summer-childcare-class", "fujian-riders-as-grid-workers"]
CHAOYANG = ["110105", "211300", "211321", "220104"]
RENAMED = ("villagers-committees-organic-law-revision", "villagers-committees-organic-law-amendment")
YEAR_MESSAGE = "must be a year (2025) or a range (2024..2025, ..2025, 2024..) between 1900 and 2100"


@pytest.fixture(scope="module")
def http_servers(built_db, tmp_path_factory):
    """gunicorn as `make run` starts it (gthread) and with sync workers, each with 2 workers, on loopback."""
    logs = tmp_path_factory.mktemp("mcp-gunicorn")
    started = {
        "http-gthread": servers.start_gunicorn(built_db, servers.free_port(), logs / "gthread.log", workers=2),
        # gunicorn turns sync into gthread when threads > 1 (gunicorn.conf.py says 4): one thread is sync.
        "http-sync": servers.start_gunicorn(built_db, servers.free_port(), logs / "sync.log", workers=2,
                                            name="gunicorn-sync", extra=["--worker-class", "sync", "--threads", "1"]),
    }
    try:
        for server in started.values():
            server.wait_ready(timeout=30)
        assert "Using worker: sync" in started["http-sync"].tail(20)
        yield {name: server.base for name, server in started.items()}
    finally:
        for server in started.values():
            server.stop()


def stdio_parameters(built_db, base: str, command: list[str] | None = None) -> StdioServerParameters:
    """The console script the README's client config runs, over the session's database; its links point at base."""
    command = command or [str(servers.VENV_BIN / "socialwork-mcp")]
    return StdioServerParameters(command=command[0], args=command[1:], cwd=str(ROOT),
                                 env={**os.environ, "SOCIALWORK_DB": str(built_db), "SOCIALWORK_BASE_URL": base})


def connect(transport: str, http_servers: dict, built_db, mode: str = "auto") -> Client:
    if transport == "stdio":
        return Client(stdio_parameters(built_db, http_servers["http-gthread"]), mode=mode)
    return Client(http_servers[transport] + "/mcp", mode=mode)


def session(transport, http_servers, built_db, work, mode="auto"):
    """Run work(client) in one MCP session over transport; its result."""
    async def go():
        async with connect(transport, http_servers, built_db, mode) as client:
            return await work(client)
    return anyio.run(go)


def rest(base: str, path: str, **params) -> dict:
    """GET path from the REST API with params (a list repeated), as JSON."""
    query = urlencode(params, doseq=True)
    port = int(base.rsplit(":", 1)[1])
    status, headers, body = servers.http_get(port, path + ("?" + query if query else ""))
    assert status == 200, (path, params, status, body[:300])
    return json.loads(body)


def rest_all(base: str, path: str, **params) -> list[dict]:
    """Every record of a REST list, following links.next as it is."""
    body, out = rest(base, path, **params), []
    while True:
        out += body["data"]
        if body["links"]["next"] is None:
            return out
        status, _, raw = servers.http_get(int(base.rsplit(":", 1)[1]), body["links"]["next"].split(base, 1)[1])
        assert status == 200
        body = json.loads(raw)


async def every_page(client, **arguments) -> list[dict]:
    """Every record of search_initiatives, following next_cursor."""
    out, cursor = [], None
    while True:
        result = await client.call_tool("search_initiatives", {**arguments, **({"cursor": cursor} if cursor else {})})
        assert not result.is_error, result.structured_content
        out += result.structured_content["data"]
        cursor = result.structured_content["next_cursor"]
        if cursor is None:
            return out


# ---------------------------------------------------------------- the tools and their schemas

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_tools_are_listed_with_their_schemas(http_servers, built_db, transport):
    listed = session(transport, http_servers, built_db, lambda c: c.list_tools()).tools
    assert [t.name for t in listed] == TOOLS
    for tool in listed:
        Draft202012Validator.check_schema(tool.input_schema)
        Draft202012Validator.check_schema(tool.output_schema)
        assert (tool.input_schema["type"], tool.input_schema["additionalProperties"]) == ("object", False), tool.name
        assert sorted(tool.input_schema["properties"]) == INPUTS[tool.name]
        assert tool.input_schema.get("required", []) == REQUIRED.get(tool.name, [])
        assert tool.output_schema["type"] == "object"
        assert set(OUTPUTS[tool.name]) <= set(tool.output_schema["required"]), tool.name
        assert (tool.annotations.read_only_hint, tool.annotations.open_world_hint) == (True, False)
        assert tool.description and tool.title


def _summary(result) -> dict:
    """What a call answered, in plain values: a problem's type, status and the arguments it names; a list's ids."""
    s = result.structured_content
    if result.is_error:
        assert "Traceback" not in result.content[0].text
        return {"problem": s["type"].rsplit("/", 1)[1], "status": s["status"], "errors": sorted(s.get("errors", {}))}
    return {"ids": [d.get("id") or d.get("code") for d in s["data"]], "total": s["meta"]["total"],
            "next": s["next_cursor"] is not None}


# How to read an answer a summary cannot say in ids: each view gives its plain values.
VIEWS = {
    "summary": _summary,
    "candidates": lambda r: [c["code"] for c in r.structured_content["candidates"]],
    "record": lambda r: {"id": r.structured_content["id"], "former_ids": r.structured_content["former_ids"]},
    "quotes": lambda r: {"requested_id": r.structured_content["requested_id"], "note": r.structured_content["note"],
                         "quotes": [(q["quote"], q["start"], q["end"], q["sentence"]["start"], q["sentence"]["end"])
                                    for q in r.structured_content["quotes"]]},
    "region": lambda r: {"resolution": r.structured_content["resolution"], "code": r.structured_content["region"]["code"],
                         "name_zh": r.structured_content["region"]["name_zh"],
                         "resolved_from": r.structured_content["region"].get("resolved_from", {}).get("code")},
    "facets": lambda r: {"total": r.structured_content["meta"]["total"],
                         "province": [(p["code"], p["count"]) for p in r.structured_content["data"]["province"]],
                         "scope": [(x["id"], x["count"]) for x in r.structured_content["data"]["scope"]]},
    "changelog": lambda r: {"total": r.structured_content["meta"]["total"],
                            "release": r.structured_content["meta"]["release"]["version"],
                            "renamed": sorted((e["previous_id"], e["initiative_id"]) for e in r.structured_content["data"]
                                              if e["change"] == "renamed")},
}
HOTLINE_QUOTE = "在北京,接诉即办渠道更加顺畅,2025年12345热线受理诉求2580.2万件"
RENAMED_QUOTE = ("新修改的村民委员会组织法、城市居民委员会组织法施行,党对基层治理的全面领导得到加强,群众开展民主管理、民主监督等制度机制"
                 "更加完善,村(居)民委员会工作职责更加清晰,工作保障更加有力")


def _problem(kind: str, argument: str, status: int = 400) -> dict:
    return {"problem": kind, "status": status, "errors": [argument]}


# (label, tool, arguments, view, what it answers)
CALLS = [
    ("江苏 2025", "search_initiatives", {"region": "江苏", "year": 2025}, "summary",
     {"ids": JIANGSU_2025, "total": 3, "next": False}),
    ("江苏 2025, the REST API's spelling", "search_initiatives", {"region": ["江苏"], "year": "2025"}, "summary",
     {"ids": JIANGSU_2025, "total": 3, "next": False}),
    ("驿站", "search_initiatives", {"q": "驿站"}, "summary", {"ids": STATIONS, "total": 3, "next": False}),
    ("one page of two", "search_initiatives", {"region": "江苏", "year": 2025, "limit": 2}, "summary",
     {"ids": JIANGSU_2025[:2], "total": 3, "next": True}),
    ("hotlines", "search_initiatives", {"kind": "hotline"}, "summary",
     {"ids": ["beijing-12345-hotline"], "total": 1, "next": False}),
    ("朝阳 is ambiguous", "search_initiatives", {"region": "朝阳"}, "summary", _problem("ambiguous-region", "region")),
    ("朝阳's candidates", "search_initiatives", {"region": "朝阳"}, "candidates", CHAOYANG),
    ("江苏 2024..2025, a range", "search_initiatives", {"region": "江苏", "year": "2024..2025"}, "summary",
     {"ids": JIANGSU_2025, "total": 3, "next": False}),
    ("江苏 from 2026", "search_initiatives", {"region": "江苏", "year": "2026.."}, "summary",
     {"ids": [], "total": 0, "next": False}),
    ("a bad year", "search_initiatives", {"year": "20x5"}, "summary", _problem("invalid-parameter", "year")),
    ("an empty array", "search_initiatives", {"kind": []}, "summary", _problem("invalid-parameter", "kind")),
    ("a year out of range", "search_initiatives", {"year": 1800}, "summary", _problem("invalid-parameter", "year")),
    ("an unknown argument", "search_initiatives", {"regoin": "四川"}, "summary", _problem("unknown-parameter", "regoin")),
    ("an object for a string", "search_initiatives", {"region": {"code": "510000"}}, "summary",
     _problem("invalid-parameter", "region")),
    ("an unknown kind", "search_initiatives", {"kind": ["hotline", "nope"]}, "summary", _problem("invalid-parameter", "kind")),
    ("include_national alone", "search_initiatives", {"include_national": True}, "summary",
     _problem("invalid-parameter", "include_national")),
    ("a cursor it did not issue", "search_initiatives", {"q": "驿站", "cursor": "eyJrIjpbXX0.0123456789abcdef"}, "summary",
     _problem("invalid-cursor", "cursor")),
    ("a renamed id", "get_initiative", {"id": RENAMED[0]}, "record", {"id": RENAMED[1], "former_ids": [RENAMED[0]]}),
    ("an unknown id", "get_initiative", {"id": "no-such-record"}, "summary", _problem("not-found", "id", 404)),
    ("no id", "get_initiative", {}, "summary", _problem("invalid-parameter", "id")),
    ("cite the hotline's figures", "cite", {"id": "beijing-12345-hotline", "field": "metrics"}, "quotes",
     {"requested_id": "beijing-12345-hotline", "note": None, "quotes": [(HOTLINE_QUOTE, 2580, 2619, 2580, 2681)]}),
    ("cite a renamed id", "cite", {"id": RENAMED[0]}, "quotes",
     {"requested_id": RENAMED[0], "note": None, "quotes": [(RENAMED_QUOTE, 2147, 2237, 2134, 2238)]}),
    ("cite a reported year", "cite", {"id": "fujian-riders-as-grid-workers", "field": "year"}, "quotes",
     {"requested_id": "fujian-riders-as-grid-workers", "quotes": [],
      "note": "The article reports this among the year's work (2025) without dating it."}),
    ("cite a field no record has", "cite", {"id": "beijing-12345-hotline", "field": "colour"}, "summary",
     _problem("invalid-parameter", "field")),
    ("锦江", "list_regions", {"q": "锦江"}, "summary", {"ids": ["510104"], "total": 1, "next": False}),
    ("provinces with initiatives", "list_regions", {"level": "province", "has_initiatives": True, "limit": 50}, "summary",
     {"ids": ["110000", "210000", "220000", "320000", "330000", "350000", "420000", "440000", "510000", "530000", "620000"],
      "total": 11, "next": False}),
    ("resolve 朝阳", "resolve_region", {"region": "朝阳"}, "candidates", CHAOYANG),
    ("resolve Sichuan", "resolve_region", {"region": "Sichuan"}, "region",
     {"resolution": {"input": "Sichuan", "code": "510000"}, "code": "510000", "name_zh": "四川省", "resolved_from": None}),
    ("resolve a retired code", "resolve_region", {"region": "500105"}, "region",
     {"resolution": {"input": "500105", "code": "500157", "alias_of": "500105"}, "code": "500157", "name_zh": "两江新区",
      "resolved_from": "500105"}),
    ("resolve nowhere", "resolve_region", {"region": "Atlantis"}, "summary", _problem("unknown-region", "region")),
    ("resolve nothing", "resolve_region", {}, "summary", _problem("invalid-parameter", "region")),
    ("cite with an unknown argument", "cite", {"id": "beijing-12345-hotline", "quote": "x"}, "summary",
     _problem("unknown-parameter", "quote")),
    ("facets of 四川", "get_facets", {"region": "四川"}, "facets", {"total": 3, "province": [("510000", 3)], "scope": [("local", 3)]}),
    ("the changelog", "get_changelog", {}, "changelog", {"total": 29, "release": "1.2.0", "renamed": []}),
    ("the changelog takes no argument", "get_changelog", {"release": "1.1.0"}, "summary",
     _problem("unknown-parameter", "release")),
]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_tool_answers_as_the_api_does(http_servers, built_db, transport):
    async def work(client):
        return {label: VIEWS[view](await client.call_tool(tool, arguments)) for label, tool, arguments, view, _ in CALLS}

    assert session(transport, http_servers, built_db, work) == {label: expected for label, _, _, _, expected in CALLS}


@pytest.mark.parametrize("transport", ["stdio", "http-sync"])
def test_a_cursor_pages_on_and_the_rest_api_takes_it_too(http_servers, built_db, transport):
    base = http_servers["http-gthread"]

    async def work(client):
        first = (await client.call_tool("search_initiatives", {"region": "江苏", "year": 2025, "limit": 2})).structured_content
        second = (await client.call_tool("search_initiatives", {"region": "江苏", "year": 2025, "limit": 2,
                                                                 "cursor": first["next_cursor"]})).structured_content
        return first, second

    first, second = session(transport, http_servers, built_db, work)
    assert [d["id"] for d in first["data"] + second["data"]] == JIANGSU_2025
    assert second["next_cursor"] is None
    over_rest = rest(base, "/api/v1/initiatives", region="江苏", year="2025", limit=2, cursor=first["next_cursor"])
    assert [d["id"] for d in over_rest["data"]] == JIANGSU_2025[2:]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_quote_cite_returns_is_the_article_at_its_offsets(http_servers, built_db, seed_text, transport):
    async def work(client):
        records = await every_page(client, limit=200)
        return len(records), [(await client.call_tool("cite", {"id": r["id"]})).structured_content for r in records]

    count, cited = session(transport, http_servers, built_db, work)
    assert count == 45
    quotes = [q for c in cited for q in c["quotes"]]
    assert len(quotes) == 62
    for q in quotes:
        assert seed_text[q["start"]:q["end"]] == q["quote"]
        sentence = q["sentence"]
        assert seed_text[sentence["start"]:sentence["end"]] == sentence["text"]
        assert sentence["start"] <= q["start"] < q["end"] <= sentence["end"]
        assert q["matches_source"] is True
        span = f"[{q['start']}, {q['end']})"
        assert q["quote"] in q["citation"]["zh"] and span in q["citation"]["zh"] and "新华社" in q["citation"]["zh"]
        assert q["quote"] in q["citation"]["en"] and span in q["citation"]["en"] and "Xinhua News Agency" in q["citation"]["en"]
        assert (q["source"]["published"], q["source"]["publisher_zh"]) == ("2026-01-25", "新华社")
        assert q["source"]["url"].endswith("/sources/xinhua-2026-01-25-social-work")


@pytest.mark.parametrize("transport", ["stdio", "http-sync"])
def test_the_resources_and_the_prompt(http_servers, built_db, seed_text, transport):
    async def work(client):
        listed = [r.uri for r in (await client.list_resources()).resources]
        texts = {uri: (await client.read_resource(uri)).contents[0].text for uri in listed}
        changelog = (await client.call_tool("get_changelog", {})).structured_content
        prompts = [p.name for p in (await client.list_prompts()).prompts]
        prompt = await client.get_prompt("answer-with-citations", {"question": "外卖骑手有哪些举措？"})
        return listed, texts, changelog, prompts, prompt.messages[0].content.text

    listed, texts, changelog, prompts, prompt = session(transport, http_servers, built_db, work)
    assert listed == ["socialwork://sources/xinhua-2026-01-25-social-work", "socialwork://dataset", "socialwork://changelog"]
    assert texts["socialwork://sources/xinhua-2026-01-25-social-work"] == seed_text
    assert texts["socialwork://dataset"].startswith("# China social-work initiatives 2025 — open data and API\n")
    assert "Release 1.2.0 has 45 records" in texts["socialwork://dataset"]
    assert json.loads(texts["socialwork://changelog"]) == changelog
    assert prompts == ["answer-with-citations"]
    assert "Quote only the `quote` strings cite returns" in prompt and prompt.endswith("Question: 外卖骑手有哪些举措？")


@pytest.mark.parametrize("transport", ["stdio", "http-sync"])
def test_both_eras_of_the_protocol(http_servers, built_db, transport):
    async def work(client):
        found = (await client.call_tool("search_initiatives", {"q": "驿站"})).structured_content
        return client.protocol_version, [d["id"] for d in found["data"]]

    assert session(transport, http_servers, built_db, work, mode="legacy") == ("2025-11-25", STATIONS)
    assert session(transport, http_servers, built_db, work, mode="auto") == ("2026-07-28", STATIONS)


def test_make_mcp_speaks_the_protocol_on_stdout_and_nothing_else(http_servers, built_db):
    """The README's `make mcp`: the set-up's output goes to stderr, so a client reads only the protocol."""
    command = ["make", "-s", "--no-print-directory", "-C", str(ROOT), "mcp", f"DB={built_db}"]

    async def work(client):
        return [t.name for t in (await client.list_tools()).tools]

    async def go():
        async with Client(stdio_parameters(built_db, http_servers["http-gthread"], command)) as client:
            return await work(client)
    assert anyio.run(go) == TOOLS


# ---------------------------------------------------------------- three questions, answered from tool calls only

async def riders(client) -> dict:
    """What did China do for delivery riders? The records search finds, each with the quotes cite returns."""
    found = await every_page(client, q="rider")
    return {r["id"]: [(q["quote"], q["start"], q["end"])
                      for q in (await client.call_tool("cite", {"id": r["id"]})).structured_content["quotes"]]
            for r in found}


async def beijing(client) -> dict:
    """What applies in Beijing, national measures included? Every record, local or national, and the counts."""
    found = await every_page(client, region="北京", include_national=True, limit=10)
    facets = (await client.call_tool("get_facets", {"region": "北京", "include_national": True})).structured_content
    return {"local": sorted(r["id"] for r in found if r["scope"] == "local"),
            "national": sorted(r["id"] for r in found if r["scope"] == "national"),
            "scope counts": {x["id"]: x["count"] for x in facets["data"]["scope"]}}


async def hotline(client) -> dict:
    """What are the 12345 hotline's figures? The record, its figures and the quote that gives them."""
    found = await every_page(client, q="12345")
    record = (await client.call_tool("get_initiative", {"id": found[0]["id"]})).structured_content
    cited = (await client.call_tool("cite", {"id": record["id"], "field": "metrics"})).structured_content
    return {"ids": [r["id"] for r in found],
            "figures": [(m["value"], m["unit"], m["figure_text"], m["year"], m["measure"], m["qualifier"])
                        for m in record["metrics"]],
            "quotes": [(q["quote"], q["start"], q["end"]) for q in cited["quotes"]]}


def riders_over_rest(base) -> dict:
    return {r["id"]: [(e["quote"], e["start"], e["end"]) for e in rest(base, f"/api/v1/initiatives/{r['id']}")["evidence"]]
            for r in rest_all(base, "/api/v1/initiatives", q="rider")}


def beijing_over_rest(base) -> dict:
    found = rest_all(base, "/api/v1/initiatives", region="北京", include_national="true", limit=10)
    facets = rest(base, "/api/v1/facets", region="北京", include_national="true")
    return {"local": sorted(r["id"] for r in found if r["scope"] == "local"),
            "national": sorted(r["id"] for r in found if r["scope"] == "national"),
            "scope counts": {x["id"]: x["count"] for x in facets["data"]["scope"]}}


def hotline_over_rest(base) -> dict:
    figures = rest(base, "/api/v1/metrics", initiative="beijing-12345-hotline")["data"]
    record = rest(base, "/api/v1/initiatives/beijing-12345-hotline")
    return {"ids": [r["id"] for r in rest_all(base, "/api/v1/initiatives", q="12345")],
            "figures": [(m["value"], m["unit"], m["figure_text"], m["year"], m["measure"], m["qualifier"]) for m in figures],
            "quotes": [(e["quote"], e["start"], e["end"]) for e in record["evidence"]
                       if any(m["figure_text"] in e["quote"] for m in figures)]}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_three_questions_answered_from_tool_calls_agree_with_the_rest_api(http_servers, built_db, seed_text, transport):
    async def work(client):
        return await riders(client), await beijing(client), await hotline(client)

    rider_answer, beijing_answer, hotline_answer = session(transport, http_servers, built_db, work)
    base = http_servers["http-gthread"]

    assert list(rider_answer) == RIDERS
    assert rider_answer == riders_over_rest(base)
    assert all(any(w in q for q, _, _ in quotes for w in ("骑手", "外卖", "快递", "小哥")) for quotes in rider_answer.values())

    assert beijing_answer == beijing_over_rest(base)
    assert (beijing_answer["local"], len(beijing_answer["national"])) == (["beijing-12345-hotline"], 28)
    assert beijing_answer["scope counts"] == {"national": 28, "local": 1}

    assert hotline_answer == hotline_over_rest(base)
    assert hotline_answer == {"ids": ["beijing-12345-hotline"],
                              "figures": [(25802000, "requests", "2580.2万件", 2025, "flow", "exact")],
                              "quotes": [("在北京,接诉即办渠道更加顺畅,2025年12345热线受理诉求2580.2万件", 2580, 2619)]}
    assert all(seed_text[s:e] == q for quotes in rider_answer.values() for q, s, e in quotes)


# ---------------------------------------------------------------- the endpoint as HTTP

def _post(base: str, body: bytes, headers: dict, method: str = "POST"):
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection(servers.LOOPBACK, port, timeout=30)
    try:
        conn.request(method, "/mcp", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


MESSAGE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-11-25"}
# (label, method, body, headers, status, media type, problem type)
HTTP_CASES = [
    ("a message", "POST", MESSAGE, HEADERS, 200, "application/json", None),
    ("a GET (no server stream)", "GET", b"", {}, 405, "application/problem+json", "method-not-allowed"),
    ("a DELETE (no session)", "DELETE", b"", {}, 405, "application/problem+json", "method-not-allowed"),
    ("another origin", "POST", MESSAGE, {**HEADERS, "Origin": "http://evil.example"}, 403, "application/problem+json",
     "forbidden"),
    ("a body over 64 KB", "POST", b'{"pad": "' + b"a" * 70_000 + b'"}', HEADERS, 413, "application/problem+json",
     "request-too-large"),
    ("not JSON", "POST", b"\xff\xfe", HEADERS, 400, "application/problem+json", "bad-request"),
    ("no Accept", "POST", MESSAGE, {"Content-Type": "application/json"}, 406, "application/problem+json", "not-acceptable"),
]


@pytest.mark.parametrize("label, method, body, headers, status, media, kind", HTTP_CASES, ids=[c[0] for c in HTTP_CASES])
def test_the_endpoint_behind_the_apps_headers_and_limits(http_servers, label, method, body, headers, status, media, kind):
    got, head, raw = _post(http_servers["http-sync"], body, headers, method)
    assert (got, head["content-type"].split(";")[0]) == (status, media)
    assert {k: head.get(k) for k in ("x-content-type-options", "referrer-policy", "access-control-allow-origin")} == {
        "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "access-control-allow-origin": "*"}
    assert head["cache-control"] == "no-store"
    if kind is not None:
        assert json.loads(raw)["type"] == "/api/v1/problems/" + kind
