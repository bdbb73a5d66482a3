"""No cold work inside a request: what every request reads of the file whole is computed before the first one."""
from __future__ import annotations

import threading

import pytest

from api import query
from api.app import create_app
from api.web.db import PREPARED

EXPECTED = [("pages", "facts"), ("pages", "overview"), ("province-tiles",), ("region-names",), ("vocabulary", "kinds"),
            ("vocabulary", "themes")]


def test_prepare_computes_every_prepared_answer(built_db):
    app = create_app({"DATABASE": str(built_db), "TESTING": True})
    snap, _ = app.extensions["socialwork_db"].prepare()
    assert (sorted(PREPARED), sorted(k for k in snap.memos if k in PREPARED)) == (EXPECTED, EXPECTED)


def test_after_prepare_no_request_computes_them_on_any_thread(built_db, monkeypatch):
    """The answers are shared by every thread's snapshot of the file (gthread workers): a request on another thread
    than the one that prepared finds them made. Each computation is made to fail here, so any request that still
    computed one would fail."""
    app = create_app({"DATABASE": str(built_db), "TESTING": True, "RESPONSE_STORE_BYTES": 0})
    app.extensions["socialwork_db"].prepare()

    def cold(*args, **kwargs):
        raise AssertionError("computed inside a request")

    for name in ("region_name_index", "vocabulary", "facets"):
        monkeypatch.setattr(query, name, cold)
    urls = ["/api/v1/initiatives?region=Sichuann", "/api/v1/initiatives?kind=no-such-kind", "/", "/map",
            "/initiatives?year=2025"]
    answers = {}

    def ask():
        client = app.test_client()
        for url in urls:
            resp = client.get(url)
            body = resp.get_json(silent=True) or {}
            answers[url] = (resp.status_code, [r["code"] for r in body.get("suggestions", [])][:1] or None)

    worker = threading.Thread(target=ask)
    worker.start()
    worker.join(30)
    # 360827 遂川县 Suichuan County is the nearest spelling
    assert answers == {"/api/v1/initiatives?region=Sichuann": (400, ["360827"]), "/api/v1/initiatives?kind=no-such-kind": (400, None),
                       "/": (200, None), "/map": (200, None), "/initiatives?year=2025": (200, None)}


def test_prepare_without_a_dataset_says_so(tmp_path):
    from api.web.db import DatasetUnavailable
    app = create_app({"DATABASE": str(tmp_path / "missing.db"), "TESTING": True})
    with pytest.raises(DatasetUnavailable, match="not built yet"):
        app.extensions["socialwork_db"].prepare()
