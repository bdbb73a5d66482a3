"""The MCP server's overhead: a tool call against the same query over REST, on one server, in one run.

    .venv/bin/python -m bench.mcp [--calls 300] [--rounds 3] [--db var/socialwork.db] [--out bench/out/mcp.json]

Starts on 127.0.0.1 the app under gunicorn as `make run` does (gunicorn.conf.py, gthread) with one worker, so REST
and /mcp are the same process, and with the response store off (SOCIALWORK_RESPONSE_STORE_BYTES=0): every REST answer
is made, never replayed, as every tool call is. Then, one request at a time, for each pair of the same question:

- REST: GET of the REST URL on one keep-alive connection;
- MCP: POST /mcp of the tools/call message on one keep-alive connection (the same HTTP client: the server's cost);
- SDK http, SDK stdio: the official SDK's client calling the tool over /mcp and over stdio (`socialwork-mcp`, the
  console script a desktop assistant runs): what an assistant waits for, the client's own work included (it checks
  every result against the tool's output schema).

--calls calls of each, in turn, per round, --rounds rounds; the first answer of each is checked against REST's
(the same records) and one call of each warms it up untimed. Prints median and p99 (harness.stats.percentile, as
`make load` and `make bench`) per pair and client, and each one's ratio to REST's; writes --out. Exits 2 when an
answer differs from REST's or fails. Stops every process it started.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from harness import servers
from harness.stats import percentile

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TIMEOUT = 30   # seconds any one request may take

# pair -> (the REST path, the tool, its arguments, what must agree: the ids of a list, or a record's id)
PAIRS = {
    "search jiangsu 2025": ("/api/v1/initiatives?" + urlencode({"region": "江苏", "year": "2025"}), "search_initiatives",
                       {"region": "江苏", "year": 2025}, lambda body: [d["id"] for d in body["data"]]),
    "one record": ("/api/v1/initiatives/beijing-12345-hotline", "get_initiative", {"id": "beijing-12345-hotline"},
                   lambda body: body["id"]),
}
CLIENTS = ["REST", "MCP", "SDK http", "SDK stdio"]
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-11-25"}


class Http:
    """One keep-alive connection to the server: GET a REST path, or POST one tools/call to /mcp; the parsed answer."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(servers.LOOPBACK, port, timeout=TIMEOUT)
        self.ids = 0

    def _json(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> dict:
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:200]!r}")
        return json.loads(raw)

    def rest(self, path: str) -> dict:
        return self._json("GET", path)

    def tool(self, name: str, arguments: dict) -> dict:
        self.ids += 1
        message = {"jsonrpc": "2.0", "id": self.ids, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
        result = self._json("POST", "/mcp", json.dumps(message).encode(), HEADERS)["result"]
        if result.get("isError"):
            raise RuntimeError(f"{name}: {result['structuredContent']}")
        return result["structuredContent"]

    def close(self) -> None:
        self.conn.close()


def timed(call, calls: int) -> tuple[list[float], object]:
    """calls calls of call() one after another: each one's milliseconds, and the first answer."""
    first, out = None, []
    for i in range(calls):
        t0 = time.perf_counter()
        answer = call()
        out.append((time.perf_counter() - t0) * 1000)
        first = answer if i == 0 else first
    return out, first


async def sdk_timed(client: Client, name: str, arguments: dict, calls: int) -> tuple[list[float], object]:
    first, out = None, []
    for i in range(calls):
        t0 = time.perf_counter()
        result = await client.call_tool(name, arguments)
        out.append((time.perf_counter() - t0) * 1000)
        if result.is_error:
            raise RuntimeError(f"{name}: {result.structured_content}")
        first = result.structured_content if i == 0 else first
    return out, first


def sdk_round(connect, calls: int) -> dict:
    """Every pair through one SDK session (its handshake untimed, one warm-up call each): pair -> (ms, first)."""
    async def go():
        async with connect() as client:
            out = {}
            for pair, (_, tool, arguments, _) in PAIRS.items():
                await client.call_tool(tool, arguments)
                out[pair] = await sdk_timed(client, tool, arguments, calls)
            return out
    return anyio.run(go)


def conn_answer(port: int, path: str) -> dict:
    """REST's answer to path on a connection of its own."""
    status, _, body = servers.http_get(port, path, timeout=TIMEOUT)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status}")
    return json.loads(body)



def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"calls": len(ordered), "p50_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(percentile(ordered, 99), 3), "mean_ms": round(statistics.fmean(ordered), 3)}


def unreplayed_api(db: Path, log: Path) -> servers.Server:
    """The app under gunicorn (gunicorn.conf.py) on a free loopback port, one worker, no response store: started, not
    yet ready."""
    if not db.is_file():
        raise SystemExit(f"{db} is missing: make build")
    log.parent.mkdir(parents=True, exist_ok=True)
    return servers.start_gunicorn(db, servers.free_port(), log, workers=1, env={"SOCIALWORK_RESPONSE_STORE_BYTES": "0"})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=300, help="calls of each client per pair and round (1 to 5000)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, each client in turn (1 to 20)")
    p.add_argument("--db", type=Path, default=REPO / "var" / "socialwork.db")
    p.add_argument("--out", type=Path, default=BENCH / "out" / "mcp.json")
    args = p.parse_args(argv)
    if not (1 <= args.calls <= 5000 and 1 <= args.rounds <= 20):
        raise SystemExit("--calls 1 to 5000, --rounds 1 to 20: the run stays bounded")
    server = unreplayed_api(args.db, args.out.parent / "mcp-gunicorn.log")
    port = server.port
    stdio = StdioServerParameters(command=str(servers.VENV_BIN / "socialwork-mcp"), cwd=str(REPO),
                                  env={**os.environ, "SOCIALWORK_DB": str(args.db.resolve()), "SOCIALWORK_BASE_URL": server.base})
    samples = {pair: {c: [] for c in CLIENTS} for pair in PAIRS}
    agree, started = True, time.monotonic()
    try:
        server.wait_ready(timeout=30)
        for _ in range(args.rounds):
            conn = Http(port)
            try:
                for pair, (path, tool, arguments, key) in PAIRS.items():
                    conn.rest(path), conn.tool(tool, arguments)   # warm both paths, untimed
                    ms, rest_answer = timed(lambda: conn.rest(path), args.calls)
                    samples[pair]["REST"] += ms
                    ms, mcp_answer = timed(lambda: conn.tool(tool, arguments), args.calls)
                    samples[pair]["MCP"] += ms
                    agree &= key(mcp_answer) == key(rest_answer)
            finally:
                conn.close()
            for client, connect in (("SDK http", lambda: Client(server.base + "/mcp")), ("SDK stdio", lambda: Client(stdio))):
                for pair, (ms, answer) in sdk_round(connect, args.calls).items():
                    samples[pair][client] += ms
                    agree &= PAIRS[pair][3](answer) == PAIRS[pair][3](conn_answer(port, PAIRS[pair][0]))
    finally:
        server.stop()

    results = {pair: {c: summary(s) for c, s in by_client.items()} for pair, by_client in samples.items()}
    print(f"{'pair':<20} {'client':<10} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50 /REST':>10} {'p99 /REST':>10}")
    for pair, by_client in results.items():
        rest = by_client["REST"]
        for client, s in by_client.items():
            s["p50_ratio"] = round(s["p50_ms"] / rest["p50_ms"], 2)
            s["p99_ratio"] = round(s["p99_ms"] / rest["p99_ms"], 2)
            print(f"{pair:<20} {client:<10} {s['calls']:>6} {s['p50_ms']:>8.3f} {s['p99_ms']:>8.3f} "
                  f"{s['p50_ratio']:>9.2f}x {s['p99_ratio']:>9.2f}x")
    seconds = round(time.monotonic() - started, 1)
    print(f"{seconds} s; answers {'agree with REST' if agree else 'DIFFER from REST'}")
    args.out.write_text(json.dumps({"settings": {"calls": args.calls, "rounds": args.rounds, "db": str(args.db)},
                                    "seconds": seconds, "agree": agree, "results": results}, indent=2,
                                   ensure_ascii=False) + "\n")
    return 0 if agree else 2


if __name__ == "__main__":
    sys.exit(main())
