"""Shared fixtures: the dataset built once per session from data/ into a temporary folder, the app, its client and CLI runner."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from api import create_app
from api.build import build

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "xinhua-2026-01-25-social-work.txt"


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("db") / "socialwork.db"
    build(ROOT, target)
    return target


@pytest.fixture(scope="session")
def app(built_db):
    return create_app({"DATABASE": str(built_db), "TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(built_db, tmp_path_factory):
    """gunicorn as `make run` starts it (gunicorn.conf.py, 2 workers) on a free loopback port, serving the session's database."""
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    env = {**os.environ, "SOCIALWORK_DB": str(built_db)}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "--no-control-socket", "-w", "2",
                                 "-b", f"127.0.0.1:{port}", "api:create_app()"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/api/v1", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not answer within 30 s:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
