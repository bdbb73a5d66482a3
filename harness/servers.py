"""Servers on 127.0.0.0/8 for tests, ops/ and bench/: a free port, a process group with a log file, ready, stopped.

    from harness import servers
    srv = servers.start_gunicorn(db, servers.free_port(), tmp / "gunicorn.log", workers=2)
    try:
        srv.wait_ready()                      # GET /api/v1 answers 200, at most 30 s
        ... srv.base + "/api/v1/initiatives" ...
    finally:
        srv.stop()                            # TERM to the group, KILL after 10 s, then sweep orphans

One request without a server object: `status, headers, body = servers.http_get(port, "/api/v1")`.

Each server runs in a new session, so its master and workers form one process group that stop() signals
as a whole. Nothing here listens on or connects to an address outside 127.0.0.0/8.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
LOOPBACK = "127.0.0.1"
CORES = os.cpu_count() or 1
APP = "api.app:create_app()"


def check_loopback(host: str) -> None:
    if not host.startswith("127."):
        raise SystemExit(f"refusing to talk to {host}: the harness uses 127.0.0.0/8 only")


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nothing listens on at host now (the kernel's pick for a bind to port 0)."""
    check_loopback(host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, headers: dict | None = None, timeout: float = 30,
             host: str = LOOPBACK) -> tuple[int, dict, bytes]:
    """GET path from host:port on a connection of its own, closed after: the status, the headers (names
    lower-cased; of a repeated one the last) and the body. timeout bounds the connect and each read."""
    check_loopback(host)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def parse_response(data: bytes) -> tuple[int, dict, bytes]:
    """An HTTP/1.x response as read off the socket: the status, the headers (names lower-cased; of a repeated one the
    last) and the body."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return int(lines[0].split()[1]), {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}, body


def raw_request(port: int, request: bytes, timeout: float = 10, host: str = LOOPBACK) -> tuple[int, dict, bytes]:
    """Send request exactly as given (a request line http.client would not write: no Host, HTTP/1.0, garbage) on a
    connection of its own, read until the server closes it: parse_response()."""
    check_loopback(host)
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return parse_response(data)


def wait_ready(port: int, proc: subprocess.Popen | None = None, path: str = "/api/v1", timeout: float = 30,
               expect: tuple | None = (200,), host: str = LOOPBACK) -> float:
    """Poll GET path until it answers a status in expect (any status when expect is None).

    Raises RuntimeError when proc exits first or timeout passes. Returns the seconds waited."""
    check_loopback(host)
    t0 = time.monotonic()
    last = "no answer"
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode} before it was ready")
        try:
            status, _, _ = http_get(port, path, timeout=2, host=host)
            if expect is None or status in expect:
                return time.monotonic() - t0
            last = f"status {status}"
        except (OSError, http.client.HTTPException) as exc:
            last = repr(exc)
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"server on port {port} not ready after {timeout:.0f} s at {path} ({last})")
        time.sleep(0.05)


def stop(proc: subprocess.Popen | None, timeout: float = 10, sig: int = signal.SIGTERM) -> int | None:
    """Signal the process group proc leads (sig, then KILL after timeout), reap it, and return its exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)
    # Workers of a SIGKILLed master are orphans still in its group: sweep the group once more.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return proc.returncode


def worker_pids(master_pid: int) -> list[int]:
    """The children of master_pid (gunicorn's workers), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == master_pid:
                out.append(int(entry.name))
    return sorted(out)


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file ("" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Server:
    """One server process started now in its own process group, its output (stdout and stderr) in log.

    cmd runs in cwd (the repository root) with env (None: this process's environment)."""

    def __init__(self, name: str, cmd: list[str], port: int, log: Path, env: dict | None = None, cwd: Path = ROOT):
        self.name, self.cmd, self.port, self.log = name, cmd, port, log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as fh:
            # A new session: the process and its children form one group stop() signals as a whole.
            self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=fh,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, path: str = "/api/v1", timeout: float = 30, expect: tuple | None = (200,)) -> float:
        """wait_ready() for this server; the error names the server and ends with its log's last lines."""
        try:
            return wait_ready(self.port, self.proc, path, timeout, expect)
        except RuntimeError as exc:
            raise RuntimeError(f"{self.name}: {exc}; log {self.log}:\n{self.tail(80)}") from None

    def worker_pids(self) -> list[int]:
        return worker_pids(self.proc.pid)

    def tail(self, lines: int = 30) -> str:
        return tail(self.log, lines)

    def stop(self, timeout: float = 10, sig: int = signal.SIGTERM) -> int | None:
        return stop(self.proc, timeout, sig)


def gunicorn_command(port: int, workers: int = CORES, app: str = APP, extra: list[str] | tuple = ()) -> list[str]:
    """gunicorn as `make run` starts it (gunicorn.conf.py, run from the repository root), with its worker
    count and bind address overridden, no control socket, and extra options (e.g. ["-k", "gthread"])."""
    return [str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--no-control-socket", "--workers", str(workers),
            "--bind", f"{LOOPBACK}:{port}", *extra, app]


def start_gunicorn(db: Path, port: int, log: Path, workers: int = CORES, env: dict | None = None,
                   name: str = "gunicorn", app: str = APP, extra: list[str] | tuple = ()) -> Server:
    """This app under gunicorn_command(), serving db (SOCIALWORK_DB), with env added to this process's environment."""
    full_env = {**os.environ, "SOCIALWORK_DB": str(db), **(env or {})}
    full_env.pop("WEB_CONCURRENCY", None)  # --workers decides
    return Server(name, gunicorn_command(port, workers, app, extra), port, log, full_env)


# ---------------------------------------------------------------------------------------------- nginx

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"


def nginx_binary(install: bool = True) -> str:
    """Debian's nginx: its path, installed with apt-get when it is missing and install is set and we are root."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if path:
        return path
    if not install or os.geteuid() != 0:
        raise SystemExit("nginx is missing: run `sudo apt-get install -y nginx` (Debian's package) and retry")
    print("nginx is missing: apt-get install -y nginx", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env, timeout=600)
    return shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_or_skip() -> str:
    """For tests: nginx_binary(install=False); without it a pytest skip, or a failure when REQUIRE_NGINX=1 (CI)."""
    import pytest

    try:
        return nginx_binary(install=False)
    except SystemExit as exc:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail(f"REQUIRE_NGINX=1 but {exc}", pytrace=False)
        pytest.skip(str(exc))


def render_nginx_conf(values: dict, template: Path = NGINX_TEMPLATE) -> str:
    """deploy/nginx.conf with its ${SW_...} placeholders filled from values (every one must be given).

    Not running as root, the `user` line goes (nginx can only switch users as root)."""
    text = template.read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", str(value))
    left = sorted(set(re.findall(r"\$\{SW_[A-Z0-9_]+\}", text)))
    if left:
        raise SystemExit(f"unfilled placeholders in {template}: {left}")
    if os.geteuid() != 0:
        text = re.sub(r"(?m)^user .*;\n", "", text)
    return text


def nginx_values(prefix: Path, port: int, upstreams: list[int], rate: str = "50r/s", burst: str = "100") -> dict:
    """The placeholders of deploy/nginx.conf for a run on 127.0.0.1: prefix for pid, logs, temp files and cache."""
    user = "www-data" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    a, b = (upstreams * 2)[:2]
    return {"SW_PREFIX": str(prefix), "SW_USER": user, "SW_LISTEN": f"{LOOPBACK}:{port}",
            "SW_UPSTREAM_1": f"{LOOPBACK}:{a}", "SW_UPSTREAM_2": f"{LOOPBACK}:{b}", "SW_RATE": rate, "SW_BURST": burst}


class Nginx(Server):
    """nginx in the foreground as a child (-p PREFIX -c PREFIX/nginx.conf -g 'daemon off;'), stopped with QUIT."""

    def stop(self, timeout: float = 10, sig: int = signal.SIGQUIT) -> int | None:
        return stop(self.proc, timeout, sig)


def start_nginx(conf: str, prefix: Path, port: int, name: str = "nginx", binary: str | None = None) -> Nginx:
    """Write conf to prefix/nginx.conf, check it with `nginx -t`, and start nginx on it (listening on port).

    prefix must exist; it gets tmp/ and, with the cache tier, cache/. When we are root the workers run as
    www-data, so prefix is made world-readable and -traversable."""
    binary = binary or nginx_binary()
    prefix.mkdir(parents=True, exist_ok=True)
    os.chmod(prefix, 0o755)
    (prefix / "tmp").mkdir(exist_ok=True)
    (prefix / "nginx.conf").write_text(conf)
    cmd = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"]
    test = subprocess.run(cmd + ["-t"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx -t failed for {prefix / 'nginx.conf'}:\n{test.stderr}")
    return Nginx(name, cmd, port, prefix / "nginx.stderr")
