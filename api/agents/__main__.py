"""python -m api.agents (make mcp, or the console script socialwork-mcp): the MCP server over stdio for a desktop
assistant, read-only over the same database file as the web app.

Settings, as the web app reads them: SOCIALWORK_DB (the database file), SOCIALWORK_QUERY_TIMEOUT (seconds a call may
query), SOCIALWORK_BASE_URL (where the links it returns point: the web app's address), SOCIALWORK_CURSOR_KEY (so its
cursors are the web app's too).
"""
from __future__ import annotations

import os

import anyio
from mcp.server.stdio import stdio_server

from ..dataset.about import DEFAULT_DB
from ..web.db import Database
from .server import build_server
from .tools import Reading

BASE_URL = "http://127.0.0.1:8000"   # what `make run` serves


def main() -> None:
    database = Database(os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)))
    seconds = float(os.environ.get("SOCIALWORK_QUERY_TIMEOUT", "2.0"))
    base = (os.environ.get("SOCIALWORK_BASE_URL") or BASE_URL).rstrip("/")
    key = os.environ.get("SOCIALWORK_CURSOR_KEY", "socialwork-cursor")

    def readings() -> Reading:
        return Reading(database.snapshot(), base, lambda: database.time_limit(seconds), key)

    server = build_server(readings, "stdio")

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)


if __name__ == "__main__":
    main()
