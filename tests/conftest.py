"""Shared fixtures: the dataset built once per session into a temporary folder; a fresh app per test, with its client."""
from __future__ import annotations

from pathlib import Path

import pytest

from api.app import create_app
from api.build import build
from api.web.conditional import STORE_BYTES
from harness import servers

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "xinhua-2026-01-25-social-work.txt"


@pytest.fixture(scope="session")
def built_db(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("db") / "socialwork.db"
    build(ROOT, target)
    return target


@pytest.fixture(params=[True, False], ids=["store", "no-store"])
def app(built_db, request):
    """A fresh app for each test, as in the Flask tutorial, once with the response store and once without.

    Every test that talks to the app then runs both ways: answered by Flask itself, and (on a
    repeated request) by the store in front of it. Nothing carries over from one test to the next.
    """
    return create_app({"DATABASE": str(built_db), "TESTING": True,
                       "RESPONSE_STORE_BYTES": STORE_BYTES if request.param else 0})


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def live_server(built_db, tmp_path_factory):
    """gunicorn as `make run` starts it (gunicorn.conf.py, 2 workers) on a free loopback port, serving the session's database."""
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    server = servers.start_gunicorn(built_db, servers.free_port(), log, workers=2)
    try:
        try:
            server.wait_ready(timeout=30)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield server.base
    finally:
        server.stop()
