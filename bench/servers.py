"""The servers a benchmark drives on 127.0.0.1, built on harness.servers: the API and the ceiling under gunicorn, Datasette."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from harness import servers
from harness.servers import free_port  # noqa: F401 - bench/run.py, profile_worker.py and scale/run.py use servers.free_port

REPO = servers.ROOT
VENV = REPO / ".venv"
BENCH_VENV = REPO / ".venv-bench"
REQUIREMENTS = REPO / "requirements-bench.txt"


class Server(servers.Server):
    """harness.servers.Server, ready when it answers at all (the benchmark judges the status) within 60 s by default."""

    def wait_ready(self, path: str = "/api/v1", timeout: float = 60.0, expect: tuple | None = None) -> float:
        return super().wait_ready(path, timeout, expect)


def gunicorn(name: str, app: str, port: int, env: dict, log: Path, extra: list[str] | None = None) -> Server:
    """One worker process, as the issue asks: harness.servers.gunicorn_command() (gunicorn.conf.py from the
    repository root, like `make run`, so it applies to the API and the ceiling alike) with -w 1; extra
    (e.g. ["-k", "gthread", "--threads", "4"]) goes to both as well."""
    return Server(name, servers.gunicorn_command(port, 1, app, extra or ()), port, log, {**os.environ, **env})


def ensure_bench_venv(quiet: bool = False) -> Path:
    """Create .venv-bench and install requirements-bench.txt into it when datasette is missing or differs."""
    python = BENCH_VENV / "bin" / "python"
    stamp = BENCH_VENV / ".requirements-bench.txt"
    wanted = REQUIREMENTS.read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted and (BENCH_VENV / "bin" / "datasette").exists():
        return BENCH_VENV
    if not quiet:
        print(f"installing {REQUIREMENTS.name} into {BENCH_VENV.name} ...", file=sys.stderr, flush=True)
    if not python.exists():
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(REQUIREMENTS)],
                   check=True)
    stamp.write_text(wanted)
    return BENCH_VENV


def datasette(db: Path, port: int, log: Path, settings: dict | None = None) -> Server:
    """Datasette as a user would start it for a read-only file: immutable, one process, its default settings."""
    cmd = [str(BENCH_VENV / "bin" / "datasette"), "serve", "--immutable", str(db), "-h", "127.0.0.1", "-p", str(port)]
    for k, v in (settings or {}).items():
        cmd += ["--setting", k, str(v)]
    return Server("datasette", cmd, port, log)


def rss_kb(pid: int) -> dict:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


def code_state() -> dict:
    """The commit measured, and which files under api/ differ from it (the tree may hold uncommitted work)."""
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    dirty = [ln[3:] for ln in git("status", "--porcelain", "--", "api").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "api_uncommitted": dirty}

