"""The frame of an ops script: build its database with the real build command, exit on TERM/HUP, stop what it started."""
from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from pathlib import Path

from harness.servers import PYTHON, ROOT
from ops.reporting import out


def build_db(root: Path, db: Path, timeout: float = 600) -> dict:
    """Run the real build command (`python -m api.build --data ROOT --db PATH`) and return its JSON report."""
    proc = subprocess.run([str(PYTHON), "-m", "api.build", "--data", str(root), "--db", str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def die_on_signals():
    """Turn SIGTERM/SIGHUP into SystemExit so the scripts' finally blocks stop what they started."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


@contextlib.contextmanager
def supervised(failures: list[str], servers):
    """Run a script's body: an exception becomes a failure (with the first server's log tail), and every
    server it started is stopped. servers() is read on the way out, after the body has started them."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001
        failures.append(f"{type(exc).__name__}: {exc}")
        started = [srv for srv in servers() if srv]
        if started:
            out(started[0].tail())
    finally:
        for srv in servers():
            if srv:
                srv.stop()
