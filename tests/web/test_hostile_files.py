"""Hostile database files (issue 22, item 2): a file at the database's path that is not the dataset, the file deleted
under a running app, the file written in place. Each is a 503 with Retry-After (HTML on the pages, problem+json
elsewhere) or the bytes of the snapshot the app holds, never a 500 and never other bytes under the old ETag."""
from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

from api.app import create_app

PROBLEM = "application/problem+json"


def fetch(client, url, **kw):
    """One whole request: the body read and the response closed (a file-backed body holds the file open until then)."""
    resp = client.get(url, **kw)
    resp.get_data()
    resp.close()
    return resp


def not_sqlite(path, built_db):
    path.write_bytes(b"This is not an SQLite database.\n" * 200)


def empty_file(path, built_db):
    path.write_bytes(b"")


def truncated_copy(path, built_db):
    path.write_bytes(built_db.read_bytes()[:65536])


def sqlite_without_the_dataset(path, built_db):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
    conn.close()


def meta_without_a_version(path, built_db):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.close()


def a_directory(path, built_db):
    path.mkdir()


BROKEN = [not_sqlite, empty_file, truncated_copy, sqlite_without_the_dataset, meta_without_a_version, a_directory]

# (url, the media type of its 503, a text it holds)
PAGES = [
    ("/api/v1", PROBLEM, '"type": "/api/v1/problems/service-unavailable"'),
    ("/api/v1/initiatives?format=csv", PROBLEM, '"type": "/api/v1/problems/service-unavailable"'),
    ("/api/v1/initiatives/beijing-12345-hotline", PROBLEM, '"type": "/api/v1/problems/service-unavailable"'),
    ("/downloads/socialwork.db", PROBLEM, '"type": "/api/v1/problems/service-unavailable"'),
    ("/initiatives", "text/html", "暂时无法提供服务"),
    ("/initiatives/beijing-12345-hotline", "text/html", "Service unavailable"),
    ("/map", "text/html", "cannot be read as the dataset"),
]


@pytest.mark.parametrize("url, media, text", PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize("make", BROKEN, ids=[f.__name__ for f in BROKEN])
def test_a_file_that_is_not_the_dataset_is_a_503_not_a_500(built_db, tmp_path, make, url, media, text):
    path = tmp_path / "socialwork.db"
    make(path, built_db)
    resp = fetch(create_app({"DATABASE": str(path)}).test_client(), url,
                 headers={"Accept": "text/html"} if media == "text/html" else {})
    assert (resp.status_code, resp.mimetype, resp.headers.get("Retry-After")) == (503, media, "30")
    assert resp.headers["Cache-Control"] == "no-store"
    assert text in resp.get_data(as_text=True)


def served(built_db, tmp_path):
    """A copy of the dataset, an app reading it that looks at the file on every request, and the download's first answer."""
    path = tmp_path / "socialwork.db"
    shutil.copy(built_db, path)
    client = create_app({"DATABASE": str(path), "RECHECK_SECONDS": 0.0}).test_client()
    first = fetch(client, "/downloads/socialwork.db")
    assert first.status_code == 200
    return path, client, first


def test_the_database_deleted_under_the_app_is_still_served_whole_from_its_snapshot(built_db, tmp_path):
    path, client, first = served(built_db, tmp_path)
    os.unlink(path)
    again = fetch(client, "/downloads/socialwork.db")
    assert (again.status_code, again.headers["ETag"], again.content_length) == (200, first.headers["ETag"], first.content_length)
    assert again.get_data() == built_db.read_bytes()
    assert client.get("/api/v1").status_code == 200
    part = fetch(client, "/downloads/socialwork.db", headers={"Range": "bytes=0-15"})
    assert (part.status_code, part.get_data()) == (206, b"SQLite format 3\x00")


def test_a_fresh_app_with_the_file_deleted_is_a_503(built_db, tmp_path):
    resp = fetch(create_app({"DATABASE": str(tmp_path / "gone.db")}).test_client(), "/downloads/socialwork.db")
    assert (resp.status_code, resp.mimetype, resp.headers["Retry-After"]) == (503, PROBLEM, "30")


def write_in_place(path):
    """Garbage over the file's last 64 KB, the size kept, the mtime a second later: the inode stays the same."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(st.st_size - 65536)
        f.write(b"\xa5" * 65536)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


@pytest.mark.parametrize("url, media", [("/downloads/socialwork.db", PROBLEM), ("/api/v1", PROBLEM),
                                        ("/api/v1/initiatives?kind=hotline", PROBLEM), ("/initiatives", "text/html")])
def test_the_database_written_in_place_is_a_503_not_other_bytes_under_the_old_etag(built_db, tmp_path, url, media):
    path, client, first = served(built_db, tmp_path)
    write_in_place(path)
    for _ in range(2):  # and it stays refused: the changed file is not opened again as the dataset
        resp = fetch(client, url, headers={"Accept": media if media == "text/html" else "*/*"})
        assert (resp.status_code, resp.mimetype, resp.headers["Retry-After"]) == (503, media, "30")
        assert "ETag" not in resp.headers


def test_a_rebuild_renamed_over_a_file_written_in_place_is_served(built_db, tmp_path):
    path, client, first = served(built_db, tmp_path)
    write_in_place(path)
    assert client.get("/api/v1").status_code == 503
    fresh = tmp_path / "fresh.db"
    shutil.copy(built_db, fresh)
    os.replace(fresh, path)
    resp = fetch(client, "/downloads/socialwork.db")
    assert (resp.status_code, resp.headers["ETag"]) == (200, first.headers["ETag"])
    assert resp.get_data() == built_db.read_bytes()
