"""The responses every route builds: JSON, the list envelope with its Link header, a 301 for a renamed record, and
CSV streamed in batches, each under its own time limit."""
from __future__ import annotations

import csv
import io

from flask import Response, current_app, json, request

from .conditional import strong_etag
from .db import get_snapshot
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


def csv_response(columns: list[str], rows, filename: str, bom: bool = False) -> Response:
    """Stream rows (dicts, sqlite3.Rows or sequences in column order) as UTF-8 CSV with a header row.

    bom: start with U+FEFF, so Excel (a Chinese-locale Windows reads BOM-less UTF-8 as GBK) reads UTF-8.
    """

    def generate():
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

    resp = Response(stream(generate()), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8; header=present"
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


def stream(chunks):
    """Iterate chunks after the view has returned, each step under its own time limit.

    The first chunk (which has run the first batch's query) is computed here, inside the view
    and under the request's time limit: a query that is too slow is then an ordinary 503 before
    any byte is sent. An export is long by nature, so each later step (one batch of rows) gets
    QUERY_TIMEOUT of its own; one that still runs out can only cut the stream short.
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


def _cell(value):
    """One CSV cell: empty for unknown, a list joined with ';' (the one convention of every CSV here), 25802000.0 as 25802000."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return number(value)


LINK_RELATIONS = ("self", "first", "next", "prev")  # IANA-registered; a body's other links stay in the body


def link_header(links: dict) -> str:
    return ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items() if url and rel in LINK_RELATIONS)


def envelope(data, links: dict, *, total: int, total_exact: bool = True, **meta) -> Response:
    """Every list's body, {data, meta, links}, and its links again as an RFC 8288 Link header.

    meta starts with total, total_exact and (for a list of items) count, then what the resource adds.
    """
    head = {"total": total, "total_exact": total_exact}
    if isinstance(data, list):
        head["count"] = len(data)
    resp = json_response({"data": data, "meta": {**head, **meta}, "links": links})
    resp.headers["Link"] = link_header(links)
    return resp
