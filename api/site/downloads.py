"""The bulk downloads under /downloads/: every public table as CSV, the SQLite file the workers read, and the
descriptors the build made (datapackage.json, Datasette's metadata.json, the map's tile layout)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from flask import Response, current_app, request
from werkzeug.wsgi import wrap_file

from .. import query
from ..dataset.tables import PUBLIC_TABLES
from ..web.args import DownloadArgs, parse
from ..web.db import CHANGED_IN_PLACE, file_ident, get_db, get_snapshot
from ..web.errors import UNAVAILABLE_RETRY_AFTER, Problem
from ..web.responses import csv_response, envelope, ranged, tagged
from ..web.urls import absolute
from .render import NO_ARGS, pages

DOWNLOAD_ARGS = DownloadArgs()

@dataclass(frozen=True)
class Download:
    name: str
    media_type: str
    title_zh: str
    title_en: str


CSV = "text/csv; charset=utf-8; header=present"
# The whitelist: nothing outside it is ever read, whatever the URL says. Each table's file name is PUBLIC_TABLES'.
DOWNLOADS = {d.name: d for d in [
    *(Download(t.filename, CSV, t.title_zh, t.title_en) for t in PUBLIC_TABLES.values()),
    Download("socialwork.db", "application/vnd.sqlite3", "SQLite 数据库", "The whole dataset as one SQLite file"),
    Download("datapackage.json", "application/json", "数据包描述", "Frictionless Data Package descriptor of these files"),
    Download("metadata.json", "application/json", "Datasette 元数据", "Datasette metadata: datasette socialwork.db -m metadata.json"),
    Download("province-tiles.json", "application/json", "省级瓦片图布局", "Our tile-grid layout of the provinces (the map), CC BY 4.0"),
]}
TABLE_OF = {t.filename: t.table for t in PUBLIC_TABLES.values()}
META_FILES = {"datapackage.json": "datapackage", "metadata.json": "datasette_metadata", "province-tiles.json": "province_tiles"}

# ---------------------------------------------------------------- downloads

@pages.get("/downloads/")
def downloads():
    """List the bulk downloads as JSON."""
    parse(NO_ARGS, request.args)
    version = get_snapshot().version
    data = [{"name": d.name, "url": absolute(f"/downloads/{d.name}"), "media_type": d.media_type,
             "title_zh": d.title_zh, "title_en": d.title_en} for d in DOWNLOADS.values()]
    links = {"self": absolute("/downloads/"), "home": absolute("/"), "api": absolute("/api/v1")}
    resp = envelope(data, links, total=len(data), version=version)
    tagged(resp)
    return resp


@pages.get("/downloads/<name>")
def download(name: str):
    """Send one whitelisted file: a table as CSV (?bom=1: with a UTF-8 byte order mark, for Excel), the SQLite
    database, datapackage.json or Datasette's metadata.json."""
    item = DOWNLOADS.get(name)
    if item is None:
        raise Problem(404, "not-found", f"There is no download called {name[:100]!r}. GET /downloads/ lists them.")
    bom = parse(DOWNLOAD_ARGS, request.args)["bom"]
    snap = get_snapshot()
    if name in META_FILES:
        # The copies the build made from the tables it wrote, so they always match the version served.
        resp = Response(query.meta(get_db())[META_FILES[name]], mimetype="application/json")
    elif name == "socialwork.db":
        resp = database_file(snap)
    else:
        columns, rows = query.table_rows(get_db(), TABLE_OF[name])
        resp = csv_response(columns, rows, name, bom=bom)
    resp.headers["Content-Type"] = item.media_type
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    bom_variant = bom and name in TABLE_OF
    tagged(resp, *(["bom"] if bom_variant else []), query=False)   # bom=1 and bom=true are one file
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


def database_file(snap) -> Response:
    """Stream the file the request's snapshot reads, the one it holds open: its bytes are the version its ETag names,
    even when the path has been deleted since. A 503 when another file has been renamed over the path (the worker
    serves that one within RECHECK_SECONDS), or when the file held was written in place (nothing says what it is)."""
    path = current_app.config["DATABASE"]
    try:
        at_path = file_ident(os.stat(path))
    except OSError:
        at_path = None  # deleted: the snapshot's file is the only one there is
    if at_path is not None and at_path != snap.ident:
        raise Problem(503, "service-unavailable", "The dataset is being replaced; try again in a moment.",
                      headers={"Retry-After": "1"})
    f = snap.open_file(path)
    if f is None:
        raise Problem(503, "service-unavailable", CHANGED_IN_PLACE, headers={"Retry-After": UNAVAILABLE_RETRY_AFTER})
    st = os.fstat(f.fileno())
    resp = Response(wrap_file(request.environ, f), mimetype="application/vnd.sqlite3", direct_passthrough=True)
    resp.content_length = st.st_size
    resp.last_modified = st.st_mtime
    return ranged(resp, st.st_size, "socialwork.db")
