"""The frame of an ops script: build its database with the real build command, exit on TERM/HUP, stop what it started."""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import subprocess
import tempfile
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


def load_parser(doc: str, clients: int, duration: float, workers: int, workers_help: str = "gunicorn workers"):
    """The options every load script takes (--clients, --duration, --workers), its description doc's first line."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--clients", type=int, default=clients)
    ap.add_argument("--duration", type=float, default=duration)
    ap.add_argument("--workers", type=int, default=workers, help=workers_help)
    return ap


def parse(ap: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """The script's arguments, and from now on SIGTERM/SIGHUP end it through its finally blocks (die_on_signals)."""
    args = ap.parse_args(argv)
    die_on_signals()
    return args


@contextlib.contextmanager
def workspace(prefix: str):
    """A script's temporary folder (a Path, removed at the end) and its list of failures, for reporting.verdict."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield Path(tmp), []


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
