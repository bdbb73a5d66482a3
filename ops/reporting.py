"""What the ops scripts print and decide: latency summaries, failing responses, server-log findings, the verdict."""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from harness.servers import Server
from harness.stats import percentile
from ops.loadclient import Result


def summarize(results: list[Result], elapsed: float) -> dict:
    lat = sorted(r.latency for r in results if r.status is not None)
    statuses = Counter(str(r.status) if r.status is not None else "conn-error" for r in results)
    return {
        "requests": len(results),
        "elapsed_s": round(elapsed, 2),
        "req_per_s": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p90_ms": round(percentile(lat, 90) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1) if lat else float("nan"),
        "statuses": dict(sorted(statuses.items())),
        "connection_errors": sum(1 for r in results if r.status is None),
        "unexpected": sum(1 for r in results if r.status is not None and not r.ok),
        "by_label": dict(sorted(Counter(r.label for r in results).items())),
    }


def print_summary(title: str, s: dict, extra: dict | None = None):
    print(f"== {title}")
    print(f"   requests {s['requests']} in {s['elapsed_s']} s = {s['req_per_s']} req/s; "
          f"latency p50 {s['p50_ms']} ms, p90 {s['p90_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms")
    print(f"   statuses {s['statuses']}")
    print(f"   by kind {s['by_label']}")
    print(f"   connection errors {s['connection_errors']}, unexpected responses {s['unexpected']}")
    for k, v in (extra or {}).items():
        print(f"   {k}: {v}")


def show_failures(results: list[Result], limit: int = 10):
    bad = [r for r in results if not r.ok]
    for r in bad[:limit]:
        print(f"   FAIL {r.label} {r.path[:150]} -> {r.status or r.error} {r.note[:300]}")
    if len(bad) > limit:
        print(f"   ... and {len(bad) - limit} more")


def log_findings(path: Path) -> list[str]:
    """Lines in a server log that show the app failed (tracebacks, worker timeouts/crashes)."""
    bad = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return bad
    for line in text.splitlines():
        if any(s in line for s in ("Traceback", "WORKER TIMEOUT", "[ERROR]", "unhandled error", "[CRITICAL]")):
            bad.append(line[:300])
    return bad


def check_log(server: Server, failures: list[str]) -> None:
    """A failure for each run whose server log shows the app failing."""
    findings = log_findings(server.log)
    if findings:
        failures.append(f"{len(findings)} error lines in the server log, e.g. {findings[0]}")


def verdict(failures: list[str]) -> int:
    if failures:
        print("RESULT: FAIL")
        for f in failures:
            print(f"  - {f}")
        return 1
    print("RESULT: PASS")
    return 0


def out(*args):
    print(*args, flush=True)
    sys.stdout.flush()
