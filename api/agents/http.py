"""The MCP server over Streamable HTTP at /mcp, on the web app's own address, and /llms.txt for agents.

/mcp is a Flask view, so it runs behind everything the app puts in front of a view: the Host check, the one header
hook (CORS, nosniff, Referrer-Policy), the time limit of every view (App.dispatch_request) and problem+json for every
error it raises. The view hands the one POST it got to the SDK's own Streamable HTTP transport, stateless and in JSON
mode (one JSON-RPC message in, one JSON response out, no session, no stream), run to completion on this thread with
anyio.run: that works under any gunicorn worker, sync included, and the SDK's handlers read the request's snapshot on
the thread the time limit watches. Nothing is mounted beside the app and no event loop outlives the request.
"""
from __future__ import annotations

import contextvars
import hashlib
import json

import anyio
from flask import Blueprint, Response, current_app, request
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from .. import query
from ..dataset.about import DESCRIPTION_EN, DESCRIPTION_ZH, LICENCE, TITLE_EN
from ..web.args import RootArgs, parse
from ..web.db import get_db, get_snapshot
from ..web.errors import Problem
from ..web.responses import tagged
from ..web.urls import absolute, base_url
from .server import build_server
from .tools import TOOLS, Reading

bp = Blueprint("agents", __name__)
NO_ARGS = RootArgs()
PATH = "/mcp"
MAX_BODY = 64 * 1024   # one JSON-RPC message: a tool call's arguments are a few hundred bytes
_READING: contextvars.ContextVar[Reading] = contextvars.ContextVar("socialwork_mcp_reading")
SERVER = build_server(_READING.get, PATH)
# The HTTP status of an SDK answer that is no JSON-RPC response to a request, as the problem type it is.
_KINDS = {400: "bad-request", 403: "forbidden", 404: "not-found", 405: "method-not-allowed", 406: "not-acceptable",
          413: "request-too-large"}


def _check_origin() -> None:
    """A browser page of another origin may not call /mcp (the MCP transport's DNS-rebinding rule: 403). Its own
    origin's pages may, and so may clients that send no Origin: desktop and server-side assistants."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != request.host_url.rstrip("/"):
        raise Problem(403, "forbidden", f"Origin: {origin[:200]!r} may not call {PATH}; only this server's own origin "
                      "may, or a client that sends no Origin.", errors={"Origin": ["must be this server's origin, or absent"]})


def _body() -> bytes:
    """The request's one JSON-RPC message as bytes: JSON, at most MAX_BODY, or a problem that says what is wrong."""
    if request.mimetype != "application/json":
        raise Problem(400, "bad-request", "Content-Type: an MCP message is sent as application/json.",
                      errors={"Content-Type": ["must be application/json"]})
    request.max_content_length = MAX_BODY   # a longer body is a 413 (errors.py: request-too-large)
    body = request.get_data(cache=False)
    try:
        json.loads(body)
    except ValueError:
        raise Problem(400, "bad-request", "The body is not a JSON-RPC message: not JSON (UTF-8).",
                      errors={"body": ["must be one JSON-RPC message"]}) from None
    return body


def _scope(body: bytes) -> dict:
    """The ASGI scope of this request, as the SDK's transport reads it."""
    env = request.environ
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": request.method, "scheme": request.scheme, "path": PATH, "raw_path": PATH.encode(),
            "query_string": request.query_string, "root_path": "",
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
                        if k.lower() != "content-length"] + [(b"content-length", str(len(body)).encode())],
            "client": (env.get("REMOTE_ADDR") or "", int(env.get("REMOTE_PORT") or 0)),
            "server": (env.get("SERVER_NAME") or "", int(env.get("SERVER_PORT") or 0))}


async def _exchange(scope: dict, body: bytes) -> tuple[int, list, bytes]:
    """One request through the SDK's stateless JSON-mode transport: (status, headers, body)."""
    manager = StreamableHTTPSessionManager(app=SERVER, json_response=True, stateless=True, max_request_body_size=MAX_BODY)
    answered = anyio.Event()
    out = {"status": 500, "headers": [], "body": []}
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if pending:
            return pending.pop()
        await answered.wait()   # as a server does: the client is gone only once it has its answer
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], message.get("headers", [])
        elif message["type"] == "http.response.body":
            out["body"].append(message.get("body", b""))
            if not message.get("more_body"):
                answered.set()

    async with manager.run():
        await manager.handle_request(scope, receive, send)
    return out["status"], out["headers"], b"".join(out["body"])


def _refusal(status: int, body: bytes) -> str | None:
    """What the SDK's transport said when it refused a request it could not read (an error status, and no JSON-RPC
    answer to a request: id null, or no JSON-RPC at all), as one line; None for an answer to a request (a JSON-RPC
    error with the request's id), which MCP sends as JSON-RPC whatever its status (2026-07-28: 400 for invalid
    params, 404 for an unknown method)."""
    if status < 400:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    if isinstance(message, dict) and message.get("id") is not None and "error" in message:
        return None
    said = message.get("error", {}).get("message", "") if isinstance(message, dict) else ""
    return (said.split("\n", 1)[0][:200] or f"The MCP transport refused the request ({status}).").rstrip(".") + "."


@bp.post(PATH)
def mcp():
    """Streamable HTTP (MCP 2025-03-26 and later): one JSON-RPC message per POST, answered as JSON. GET (a server
    stream) and DELETE (a session) are 405s: the endpoint is stateless and sends nothing unasked."""
    _check_origin()
    body = _body()
    database = current_app.extensions["socialwork_db"]
    seconds = current_app.config["QUERY_TIMEOUT"]
    reading = Reading(get_snapshot(), base_url(), lambda: database.time_limit(seconds))
    token = _READING.set(reading)   # anyio.run copies this context into the SDK's tasks
    try:
        status, headers, answer = anyio.run(_exchange, _scope(body), body)
    finally:
        _READING.reset(token)
    refused = _refusal(status, answer)
    if refused is not None:
        raise Problem(status, _KINDS.get(status, "bad-request" if status < 500 else "internal-error"), refused)
    resp = Response(answer, status=status)
    for name, value in headers:
        if name.lower() not in (b"content-length", b"date", b"server"):
            resp.headers[name.decode("latin-1")] = value.decode("latin-1")
    resp.headers["Cache-Control"] = "no-store"   # an answer to one POST, never to be stored
    return resp


# ---------------------------------------------------------------- llms.txt

LLMS_TXT = """# {title}

> {description}

{description_zh}

Every record is curated from one Xinhua article and carries verbatim quotes with [start, end) offsets (Unicode code
points) into its text, so every answer can be traced to the article sentence by sentence. Quote the article only
through those quotes. Our curation is {licence}; the article's copyright stays with its publisher.

## MCP server

- [Streamable HTTP]({mcp}): MCP over HTTP, one JSON-RPC message per POST (`Content-Type: application/json`,
  `Accept: application/json, text/event-stream`), answered as JSON; stateless (no session), read-only. A desktop
  assistant runs the same server over stdio: `python -m api.agents` (`make mcp`) in the repository.
- Prompt `answer-with-citations`; resources: the source article as published, the dataset's description, the changelog.

Tools:

{tools}

## REST API

- [Entry point]({api}): the dataset, its counts and a link to every resource.
- [Initiatives]({api}/initiatives): filters `region` (a name in Chinese or English, or a GB/T 2260 code; with
  `include_national=true` also the national measures), `year` (2025, 2024..2025), `kind`, `theme`, `scope`, `q`;
  pages by cursor (`links.next`). One record, its figures and quotes: `{api}/initiatives/{{id}}`.
- [OpenAPI contract]({spec}): every route, parameter, response and error (errors are application/problem+json).
- [Swagger UI]({docs})

## Downloads

- [Every file]({downloads}): the tables as CSV, the SQLite database, the Data Package descriptor, as JSON.
- [The SQLite database]({db}): the file the API reads, with its full-text index.
- [Data Package]({package}): the CSV tables with their columns, types and keys (Frictionless).

## Sources

{sources}
"""


@bp.get("/llms.txt")
def llms_txt():
    """What this server offers an agent (llmstxt.org): the MCP endpoint and its tools, the REST API, the downloads."""
    parse(NO_ARGS, request.args)
    sources = "\n".join(f"- [{s['title_zh']}]({absolute('/sources/' + s['id'])}): {s['publisher_en']}, {s['published']}, "
                        f"as published (its text: {absolute('/sources/' + s['id'] + '.txt')})" for s in query.sources(get_db()))
    text = LLMS_TXT.format(title=TITLE_EN, description=DESCRIPTION_EN, description_zh=DESCRIPTION_ZH,
                           licence=LICENCE["name"], mcp=absolute(PATH), api=absolute("/api/v1"), spec=absolute("/openapi.yaml"),
                           docs=absolute("/apidocs/"), downloads=absolute("/downloads/"), db=absolute("/downloads/socialwork.db"),
                           package=absolute("/downloads/datapackage.json"), sources=sources,
                           tools="\n".join(f"- `{t.name}`: {t.description}" for t in TOOLS.values()))
    resp = Response(text, mimetype="text/markdown")
    resp.headers["Content-Type"] = "text/markdown; charset=utf-8"
    return tagged(resp, hashlib.sha256(text.encode()).hexdigest()[:16])   # its words are the code's: they tag it too
