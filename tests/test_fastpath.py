"""The response store in front of Flask: identical answers to identical requests, 304s, bounded memory, and a rebuild seen at once."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from api import create_app
from api.build import build

ROOT = Path(__file__).resolve().parent.parent
URLS = ["/api/v1/initiatives?region=四川&year=2025", "/api/v1/initiatives/beijing-12345-hotline", "/api/v1/facets",
        "/api/v1/regions/510000", "/api/v1/kinds?format=csv"]
VOLATILE = {"Date"}


def _headers(resp):
    return {k: v for k, v in resp.headers.items() if k not in VOLATILE}


@pytest.mark.parametrize("url", URLS)
def test_a_stored_answer_is_the_same_answer(app, url):
    client = app.test_client()
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()
    assert _headers(first) == _headers(second)
    not_modified = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    assert not_modified.headers["Access-Control-Allow-Origin"] == "*"
    head = client.head(url)
    assert head.status_code == 200 and head.get_data() == b"" and head.headers["ETag"] == first.headers["ETag"]


def test_errors_are_never_stored(app):
    client = app.test_client()
    store = app.wsgi_app
    before = len(store._entries)
    for _ in range(2):
        assert client.get("/api/v1/initiatives?region=Atlantis").status_code == 400
    assert len(store._entries) == before


def test_memory_is_bounded(built_db):
    app = create_app({"DATABASE": str(built_db)})
    app.wsgi_app.max_bytes = 20_000
    client = app.test_client()
    for year in range(1990, 2030):
        assert client.get(f"/api/v1/initiatives?year={year}&limit=200").status_code == 200
    assert 0 < app.wsgi_app.size <= 20_000


def test_a_rebuild_is_served_without_restart(tmp_path):
    for sub in ("data", "seeds"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    db = tmp_path / "live.db"
    old = build(tmp_path, db)["version"]
    app = create_app({"DATABASE": str(db)})
    client = app.test_client()
    url = "/api/v1/initiatives/beijing-12345-hotline"
    assert client.get(url).headers["ETag"].startswith(f'"{old}-')
    assert client.get(url).headers["ETag"].startswith(f'"{old}-')  # now from the store
    path = tmp_path / "data" / "initiatives" / "beijing-12345-hotline.yaml"
    rec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rec["summary_en"] += " [rebuilt]"
    path.write_text(yaml.safe_dump(rec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    new = build(tmp_path, db)["version"]
    assert new != old
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        resp = client.get(url)
        if resp.headers["ETag"].startswith(f'"{new}-'):
            break
        assert resp.get_json()["summary_en"].endswith("[rebuilt]") is False
        time.sleep(0.2)
    assert resp.headers["ETag"].startswith(f'"{new}-') and resp.get_json()["summary_en"].endswith("[rebuilt]")
    assert os.path.exists(db)
