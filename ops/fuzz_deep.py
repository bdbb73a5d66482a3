"""Deep schemathesis run from openapi.yaml against a live gunicorn: thousands of cases, a fixed seed, a time bound.

    .venv/bin/python -m ops.fuzz_deep                                  # --max-examples 300 --seed 20260125
    .venv/bin/python -m ops.fuzz_deep --max-examples 50 --time-limit 300

Runs `schemathesis [--config-file schemathesis.toml] run openapi.yaml --checks all --max-examples N
--seed S --continue-on-failure` (plus ops.fuzz_hooks, the contract test's extra check) under
`timeout`, against gunicorn (workers = cores) on 127.0.0.1 serving a fresh build of data/.
Prints schemathesis' summary; exits non-zero on any finding, on the time bound, or on an error
line (traceback, worker timeout) in the server log.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import servers
from ops import reporting, script


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-examples", type=int, default=300, help="per operation and phase")
    ap.add_argument("--seed", type=int, default=20260125)
    ap.add_argument("--time-limit", type=float, default=1500, help="hard bound on the schemathesis run, seconds")
    ap.add_argument("--workers", type=int, default=servers.CORES, help="gunicorn workers")
    ap.add_argument("--st-workers", default="2", help="schemathesis concurrency")
    args = script.parse(ap, argv)

    spec = servers.ROOT / "openapi.yaml"
    if not spec.exists():
        raise SystemExit(f"{spec} is missing")
    failures: list[str] = []
    server = None
    with tempfile.TemporaryDirectory(prefix="sw-fuzz-") as tmp:
        tmp = Path(tmp)
        with script.supervised(failures, lambda: (server,)):
            db = tmp / "socialwork.db"
            script.build_db(servers.ROOT, db)
            port = servers.free_port()
            server = servers.start_gunicorn(db, port, tmp / "gunicorn.log", workers=args.workers)
            servers.wait_ready(port, server.proc)
            config = servers.ROOT / "schemathesis.toml"
            cmd = ["timeout", "--kill-after=15", str(int(args.time_limit)), str(servers.VENV_BIN / "schemathesis")]
            if config.exists():
                cmd += ["--config-file", str(config)]
            cmd += ["run", str(spec), "--url", server.base, "--checks", "all",
                    "--max-examples", str(args.max_examples), "--seed", str(args.seed),
                    "--continue-on-failure", "--workers", args.st_workers,
                    "--request-timeout", "15", "--generation-database", "none", "--no-color",
                    "--report", "junit", "--report-dir", str(servers.ROOT / "test-artifacts" / "fuzz_deep")]
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "ops.fuzz_hooks"}  # imported from cwd, the repository root
            reporting.out("$ " + " ".join(cmd))
            t0 = time.monotonic()
            proc = subprocess.run(cmd, cwd=servers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, timeout=args.time_limit + 60)
            elapsed = time.monotonic() - t0
            output = proc.stdout
            # Everything from the summary on (the per-operation progress before it is long).
            idx = output.find("=== FAILURES")
            if idx < 0:
                idx = output.find("=== WARNINGS")
            if idx < 0:
                idx = output.find("=== SUMMARY")
            reporting.out(output[max(0, output.rfind("\n", 0, idx)):] if idx >= 0 else output[-8000:])
            cases = re.search(r"Test cases:\s*\n\s*(.+)", output)
            reporting.out(f"== fuzz_deep: schemathesis exit {proc.returncode} in {elapsed:.0f} s; "
                  f"{cases.group(1).strip() if cases else 'no summary'}; seed {args.seed}, max-examples {args.max_examples}")
            if proc.returncode in (124, 137):
                failures.append(f"schemathesis hit the time bound ({args.time_limit:.0f} s)")
            elif proc.returncode != 0:
                failures.append(f"schemathesis exit {proc.returncode}: findings or errors above")
            if not cases:
                failures.append("no test-case summary in schemathesis' output")
            reporting.check_log(server, failures)
            if server.proc.poll() is not None:
                failures.append("gunicorn died during the run")
    return reporting.verdict(failures)


if __name__ == "__main__":
    sys.exit(main())
