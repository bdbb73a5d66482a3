"""The responses every route builds: JSON, the list envelope with its Link header, a 301 for a renamed record, CSV
streamed in batches, each under its own time limit, and a list's export, bounded in time and size."""
from __future__ import annotations

import csv
import io
import logging
import tempfile
import time

from flask import Response, current_app, json, request
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from ..dataset.tables import CSV_FALSE, CSV_TRUE
from .conditional import matches, strong_etag
from .db import QueryTimeout, get_snapshot
from .errors import Problem
from .shapes import number
from .urls import absolute


def tagged(resp: Response, *parts: str, query: bool = True) -> Response:
    """Set the response's strong ETag, the one way every route tags what it sends: the dataset version, the path and
    (unless query is False) the arguments but format, then what else the bytes depend on (the format, the pages' code,
    a file's hash). A representation is the resource in one format, however the format was asked for."""
    req = request._get_current_object()
    where = req.path
    if query:
        where += f"?{sorted((k, v) for k, v in req.args.items(multi=True) if k != 'format')}"
    resp.headers["ETag"] = strong_etag(get_snapshot().version, where, *parts)
    return resp


def json_response(body, status=200, media="application/json", headers=None) -> Response:
    resp = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status, mimetype=media)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def moved(path: str, body: dict) -> Response:
    """301 Moved Permanently to path (absolute, with the request's query kept), with a JSON body saying where."""
    query = request.query_string.decode("latin-1")
    location = absolute(path) + (f"?{query}" if query else "")
    return json_response({**body, "url": location}, status=301, headers={"Location": location})


CSV_TYPE = "text/csv; charset=utf-8; header=present"


def csv_chunks(columns: list[str], rows, bom: bool = False):
    """rows (dicts, sqlite3.Rows or sequences in column order) as UTF-8 CSV text with a header row, 200 rows a chunk.

    bom: start with U+FEFF, so Excel (a Chinese-locale Windows reads BOM-less UTF-8 as GBK) reads UTF-8.
    """
    buf = io.StringIO()
    if bom:
        buf.write("\ufeff")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for i, row in enumerate(rows):
        by_name = hasattr(row, "keys")
        writer.writerow([_cell(row[c] if by_name else row[j]) for j, c in enumerate(columns)])
        if i % 200 == 199:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def csv_response(columns: list[str], rows, filename: str, bom: bool = False) -> Response:
    """Stream rows as UTF-8 CSV (csv_chunks): a whole table of the downloads, however large."""
    resp = Response(stream(csv_chunks(columns, rows, bom)), mimetype="text/csv")
    resp.headers["Content-Type"] = CSV_TYPE
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


log = logging.getLogger(__name__)
EXPORT_MAX_BYTES = 128 * 1024 * 1024  # the largest export (SOCIALWORK_EXPORT_MAX_BYTES); the whole tables are in /downloads/
EXPORT_SECONDS = 120.0                # an export's time from its request to its last byte (SOCIALWORK_EXPORT_SECONDS)
SPOOL_BYTES = 1024 * 1024             # an export larger than this is made in a temporary file (TMPDIR), not in memory
SEND_BLOCK = 256 * 1024


class ExportCut(Exception):
    """The client read an export too slowly to have it within EXPORT_SECONDS: the connection is closed short of the
    Content-Length, which is how a client learns it has not got it all."""


def export(chunks, mimetype: str, *etag_parts: str) -> Response:
    """A list's whole result (CSV, GeoJSON), bounded in time and size, so that a 200 is always the whole result.

    It is made before the first byte is sent, each batch of rows under the query time limit and all of it within
    EXPORT_SECONDS and EXPORT_MAX_BYTES. Past either, the answer is a problem instead, before any byte: a 400
    export-too-large (narrow the filters, page the list, or take the table from /downloads/) or a 503 query-timeout.
    A 200 has a Content-Length; a client reading it too slowly to finish within EXPORT_SECONDS gets the connection
    closed short of that length, which HTTP clients report as an incomplete body (curl: exit 18; urllib3: a
    ProtocolError). A conditional request its ETag (etag_parts, as tagged() makes it) matches is not made at all:
    conditional.py turns the empty 200 into the 304.
    """
    config, database = current_app.config, current_app.extensions["socialwork_db"]
    limit, seconds = config["EXPORT_MAX_BYTES"], config["EXPORT_SECONDS"]
    deadline = time.monotonic() + seconds
    inm = request.headers.get("If-None-Match")
    if inm and matches(inm, tagged(Response(), *etag_parts).headers["ETag"]):
        return Response(b"", mimetype=mimetype)
    spool, size, chunks = tempfile.SpooledTemporaryFile(SPOOL_BYTES), 0, iter(chunks)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise QueryTimeout(f"the export took more than {seconds} s")
            with database.time_limit(min(config["QUERY_TIMEOUT"], left)):
                chunk = next(chunks, None)
            if chunk is None:
                break
            data = chunk.encode()
            size += len(data)
            if size > limit:
                raise Problem(400, "export-too-large",
                              f"This export is larger than the {limit:,} bytes one export may be. Narrow the filters, follow "
                              "the list's pages (format=json, links.next), or download the whole tables from /downloads/.",
                              max_bytes=limit)
            spool.write(data)
        spool.seek(0)
        if size <= SPOOL_BYTES:  # in memory: sent as bytes
            body = spool.read()
            spool.close()
            return Response(body, mimetype=mimetype)
    except BaseException:
        spool.close()
        raise
    resp = Response(_Delivery(spool, size, deadline), mimetype=mimetype, direct_passthrough=True)
    resp.content_length = size
    return resp


class _Delivery:
    """An export's bytes from its spool, in blocks, until its deadline; closing it removes the spool."""

    def __init__(self, spool, size: int, deadline: float):
        self.spool, self.size, self.deadline, self.sent = spool, size, deadline, 0

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        data = self.spool.read(SEND_BLOCK) if not self.spool.closed else b""
        if not data:
            self.close()  # at the end, whether or not the server closes the iterable
            raise StopIteration
        if time.monotonic() > self.deadline:
            log.warning("export cut after %d of %d bytes: its client read it slower than EXPORT_SECONDS allows",
                        self.sent, self.size)
            raise ExportCut(f"cut after {self.sent} of {self.size} bytes")
        self.sent += len(data)
        return data

    def close(self) -> None:
        self.spool.close()


def stream(chunks):
    """Iterate chunks after the view has returned, each step under its own time limit.

    The first chunk (which has run the first batch's query) is computed here, inside the view
    and under the request's time limit: a query that is too slow is then an ordinary 503 before
    any byte is sent. A whole table of the downloads is long by nature, so each later step (one batch of rows)
    gets QUERY_TIMEOUT of its own; one that still runs out can only cut the stream short (a list's export is
    made before it is sent instead: export()).
    No request context is needed while streaming: the snapshot is captured here and stays open
    for this worker until the response is done.
    """
    database, timeout = current_app.extensions["socialwork_db"], current_app.config["QUERY_TIMEOUT"]
    chunks = iter(chunks)
    first = next(chunks, None)

    def bounded():
        if first is not None:
            yield first
        while True:
            with database.time_limit(timeout):
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk

    return bounded()


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection"): such a text cell
# gets a leading apostrophe, which Excel, LibreOffice and Google Sheets show as text and do not run.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """One CSV cell: empty for unknown, a list joined with ';' (the one convention of every CSV here), 25802000.0 as
    25802000, a text that a spreadsheet would run as a formula neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return CSV_TRUE if value else CSV_FALSE
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    return number(value)


LINK_RELATIONS = ("self", "first", "next", "prev")  # IANA-registered; a body's other links stay in the body


def link_header(links: dict) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel in LINK_RELATIONS)


def envelope(data, links: dict, *, total: int, total_exact: bool = True, **meta) -> Response:
    """Every list's body, {data, meta, links}, and its links again as an RFC 8288 Link header.

    meta starts with total, total_exact and (for a list of items) count, then what the resource adds.
    """
    resp = json_response(envelope_body(data, links, total=total, total_exact=total_exact, **meta))
    resp.headers["Link"] = link_header(links)
    return resp


def envelope_body(data, links: dict, *, total: int, total_exact: bool = True, **meta) -> dict:
    """The envelope as a dict: what a list's JSON holds, and what an MCP tool's list result holds (api/agents)."""
    head = {"total": total, "total_exact": total_exact}
    if isinstance(data, list):
        head["count"] = len(data)
    return {"data": data, "meta": {**head, **meta}, "links": links}


def ranged(resp: Response, size: int, name: str) -> Response:
    """resp, whose body is a whole file of size bytes, answered for this request's Range and If-* headers as every
    file here is (the database download, Swagger UI's assets): one range of bytes (206), or a 416 problem with
    Content-Range: bytes */size, or, for any other Range (served_range), the whole file (200)."""
    try:
        resp.make_conditional(served_range(request.environ), accept_ranges=True, complete_length=size)
    except RequestedRangeNotSatisfiable:  # nobody will read the file: close it now
        resp.close()
        raise Problem(416, "range-not-satisfiable", f"{name} is {size} bytes long; the range asked for is not inside it.",
                      headers={"Content-Range": f"bytes */{size}"}) from None
    except Exception:
        resp.close()
        raise
    return resp


def served_range(environ: dict) -> dict:
    """The request as a file here answers its Range: one range of bytes is served (206) or refused (416,
    with Content-Range: bytes */length). Any other Range is ignored and the whole file sent (200): another unit
    (`items=0-5`, RFC 9110 14.2: a unit the server does not know MUST be ignored), and several ranges, overlapping
    or not. nginx in front answers the same: it sends every byte range to an instance (deploy/nginx.conf)."""
    value = environ.get("HTTP_RANGE")
    if value is None:
        return environ
    unit, eq, ranges = value.partition("=")
    if eq and unit.strip().lower() == "bytes" and "," not in ranges:
        return environ
    return {k: v for k, v in environ.items() if k != "HTTP_RANGE"}
