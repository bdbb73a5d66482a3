"""Start the servers a benchmark drives on 127.0.0.1, wait until they answer, and stop every process they started."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"
BENCH_VENV = REPO / ".venv-bench"
REQUIREMENTS = REPO / "requirements-bench.txt"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One server process in its own process group, so stopping it also stops its workers."""

    def __init__(self, name: str, cmd: list[str], env: dict, port: int, log: Path, cwd: Path = REPO):
        self.name, self.cmd, self.port, self.log = name, cmd, port, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, path: str, timeout: float = 60.0) -> int:
        """Poll path until the server answers it with any HTTP status (the caller judges the status)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log {self.log}:\n{self.tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                status = conn.getresponse().status
                conn.close()
                return status
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {path} within {timeout:.0f} s; log {self.log}:\n{self.tail()}")

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        """The master's child processes (gunicorn's workers); the master itself when it has none."""
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            kids = []
        return [int(k) for k in kids] or [self.proc.pid]

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self._log.close()


def gunicorn(name: str, app: str, port: int, env: dict, log: Path, extra: list[str] | None = None) -> Server:
    """One worker process, as the issue asks. Run from the repository root like `make run`, so gunicorn.conf.py
    applies to the API and the ceiling alike; -w 1 and -b override its worker count and address; extra
    (e.g. ["-k", "gthread", "--threads", "4"]) goes to both as well."""
    cmd = [str(VENV / "bin" / "gunicorn"), "--no-control-socket", "-w", "1", "-b", f"127.0.0.1:{port}",
           *(extra or []), app]
    return Server(name, cmd, env, port, log)


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
    return Server("datasette", cmd, {}, port, log)


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

