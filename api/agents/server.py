"""The MCP server (the official SDK's low-level Server): the tools (tools.py), the resources (the source article as
published, the dataset's description, the changelog) and the prompt "answer with citations". One server for both
transports: stdio (__main__.py) and Streamable HTTP at /mcp (http.py); each call reads through the Reading its
transport gives it."""
from __future__ import annotations

import json
from typing import Callable

import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from .. import query
from ..dataset import article
from ..dataset.about import DESCRIPTION_EN, DESCRIPTION_ZH, LICENCE, ROOT, TITLE_EN, TITLE_ZH
from ..dataset.citation import release_of, version_label
from ..web.urls import absolute, links_from
from .tools import TOOLS, Reading, call, get_changelog

NAME, VERSION = "socialwork", "1.0.0"
SCHEME = "socialwork://"
DATASET_URI, CHANGELOG_URI = f"{SCHEME}dataset", f"{SCHEME}changelog"
README = ROOT / "README.md"
PROMPT = "answer-with-citations"

INSTRUCTIONS = (
    "China's 2025 social-work initiatives, curated from one Xinhua article (2026-01-25) into bilingual records. "
    "Find records with search_initiatives (region, year, kind, theme, scope, q; include_national for what applies in "
    "a region), read one with get_initiative, and before stating anything, call cite: quote only the `quote` strings "
    "it returns, verbatim, with their [start, end) offsets and citation. A name several regions share is an error "
    "that lists them: ask again with a code (resolve_region).")

ANSWER_WITH_CITATIONS = """Answer the question below from the China social-work initiatives dataset only.

1. Find the records: search_initiatives (region, year, kind, theme, scope, q; with a region, include_national=true
   adds the national measures that apply there too). Follow next_cursor until you have every page you need.
   If a region is ambiguous (an error listing candidates), choose one code and ask again.
2. For every record you use, call cite (with field= for one claim: metrics for figures, people, regions, year...).
3. Quote only the `quote` strings cite returns, verbatim and in full, each followed by its citation (the `citation.zh`
   or `citation.en` string, in the language of your answer) or at least its [start, end). Never quote from memory, from
   a summary, or from a record's names: those are the dataset's words, not the article's; label them as such.
4. Say what the data says about itself: year_basis (`stated`, `reported`: dated only as the year's work, `cited`:
   from an outside source), regions_complete: false (the regions are examples, 等地), scope (national or local), a
   figure's qualifier (more than, about) and measure (stock, flow, change).
5. If cite returns no quote for a claim (its note says why), do not make the claim from the article.

Question: {question}"""


def _text(result: dict) -> str:
    return json.dumps(result, ensure_ascii=False)


def _description(reading: Reading) -> str:
    """The dataset described as its README describes it (the part before the commands), with this file's version,
    release and counts."""
    conn = reading.snapshot.conn
    meta = query.meta(conn)
    intro = README.read_text(encoding="utf-8").split("\n## ", 1)[0] if README.exists() else f"# {TITLE_EN}\n"
    counts = ", ".join(f"{n} {k}" for k, n in query.counts(conn).items())
    sources = "\n".join(f"- {s['publisher_en']} ({s['publisher_zh']}), {s['published']}: {s['title_zh']} — {s['title_en']} "
                        f"({absolute('/sources/' + s['id'])})" for s in query.sources(conn))
    return (f"{intro.rstrip()}\n\n## This copy\n\n{TITLE_ZH} / {TITLE_EN}\n\n{DESCRIPTION_EN}\n\n{DESCRIPTION_ZH}\n\n"
            f"- Version: {version_label(reading.snapshot.version, release_of(meta))}\n- Counts: {counts}\n"
            f"- Licence: {LICENCE['name']} ({LICENCE['url']}). {LICENCE['note']}\n- REST API: {absolute('/api/v1')}; "
            f"contract: {absolute('/openapi.yaml')}; downloads: {absolute('/downloads/')}\n\n## Sources\n\n{sources}\n")


def _resources(reading: Reading) -> list[types.Resource]:
    out = [types.Resource(uri=f"{SCHEME}sources/{s['id']}", name=f"source-{s['id']}", title=s["title_zh"],
                          description=f"The source as published ({s['publisher_en']}, {s['published']}): the text every "
                                      "quote's [start, end) counts in, byte for byte (sha256 " + s["sha256"][:12] + "…).",
                          mime_type="text/plain") for s in query.sources(reading.snapshot.conn)]
    out.append(types.Resource(uri=DATASET_URI, name="dataset", title=TITLE_EN, mime_type="text/markdown",
                              description="What the dataset is, how its records are made, and this copy's version."))
    out.append(types.Resource(uri=CHANGELOG_URI, name="changelog", title="Changelog", mime_type="application/json",
                              description="What changed in each record since the previous release (as get_changelog)."))
    return out


def _read(reading: Reading, uri: str) -> tuple[str, str]:
    """(mime type, text) of one resource; a JSON-RPC error for an unknown URI."""
    if uri == DATASET_URI:
        return "text/markdown", _description(reading)
    if uri == CHANGELOG_URI:
        return "application/json", _text(get_changelog(reading, {}))
    prefix = f"{SCHEME}sources/"
    if uri.startswith(prefix):
        source = next((s for s in query.sources(reading.snapshot.conn) if s["id"] == uri[len(prefix):]), None)
        if source is not None:
            return "text/plain", article.load(source)[0]
    raise MCPError(types.INVALID_PARAMS, f"Unknown resource {uri[:200]!r}; resources/list lists them.")


def build_server(readings: Callable[[], Reading], instance: str) -> Server:
    """The server; readings() gives each request what it reads (its transport decides how); instance names the
    transport in a problem's instance (/mcp, stdio)."""

    async def list_tools(ctx, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[
            types.Tool(name=t.name, title=t.title, description=t.description, input_schema=t.input_schema,
                       output_schema=t.output_schema,
                       annotations=types.ToolAnnotations(title=t.title, read_only_hint=True, idempotent_hint=True,
                                                         destructive_hint=False, open_world_hint=False))
            for t in TOOLS.values()])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = TOOLS.get(params.name)
        if tool is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool {params.name[:100]!r}; tools/list lists them: "
                                                 f"{', '.join(TOOLS)}.")
        result, failed = call(tool, readings, params.arguments or {}, instance)
        text = f"{result['detail']}\n{_text(result)}" if failed else _text(result)
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=result, is_error=failed)

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        reading = readings()
        with reading.time_limit(), links_from(reading.base):
            return types.ListResourcesResult(resources=_resources(reading))

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        reading = readings()
        try:
            with reading.time_limit(), links_from(reading.base):
                mime, text = _read(reading, params.uri)
        except article.SourceUnavailable as exc:
            raise MCPError(types.INTERNAL_ERROR, str(exc)) from None
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=params.uri, mime_type=mime, text=text)])

    async def list_prompts(ctx, params) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[types.Prompt(
            name=PROMPT, title="Answer with citations",
            description="Answer a question from this dataset, quoting only what the cite tool returns.",
            arguments=[types.PromptArgument(name="question", description="The user's question.", required=True)])])

    async def get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name != PROMPT:
            raise MCPError(types.INVALID_PARAMS, f"Unknown prompt {params.name[:100]!r}; the one prompt is {PROMPT!r}.")
        question = (params.arguments or {}).get("question", "").strip()
        if not question:
            raise MCPError(types.INVALID_PARAMS, "question: required; the user's question to answer.")
        return types.GetPromptResult(description="Answer with citations", messages=[
            types.PromptMessage(role="user", content=types.TextContent(text=ANSWER_WITH_CITATIONS.format(question=question)))])

    return Server(NAME, version=VERSION, title=TITLE_EN, instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                  on_read_resource=read_resource, on_list_prompts=list_prompts, on_get_prompt=get_prompt)
