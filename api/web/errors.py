"""Every error as application/problem+json (RFC 9457), with a per-parameter errors map for validation."""
from __future__ import annotations

import logging
import re

from flask import Blueprint, current_app, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

from .db import DatasetUnavailable, QueryTimeout

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)

PROBLEM_BASE = "/api/v1/problems/"
TITLES = {
    "invalid-parameter": "Invalid query parameter",
    "unknown-parameter": "Unknown query parameter",
    "unknown-region": "Unknown region",
    "ambiguous-region": "Ambiguous region name",
    "invalid-cursor": "Invalid cursor",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "not-acceptable": "Not acceptable",
    "query-timeout": "Query took too long",
    "service-unavailable": "Service unavailable",
    "request-too-large": "Request too large",
    "rate-limited": "Too many requests",
    "export-too-large": "Export too large",
    "bad-request": "Bad request",
    "forbidden": "Forbidden",
    "internal-error": "Internal server error",
    "range-not-satisfiable": "Range not satisfiable",
    "bad-gateway": "Bad gateway",
    "gateway-timeout": "Gateway timeout",
}
PROBLEM_TYPES = sorted(TITLES)
# What each problem type means and what to do about it: served at /api/v1/problems/{type}.
DESCRIPTIONS = {
    "invalid-parameter": (400, "A query parameter has a value the API does not accept. `errors` names the parameter and says what is allowed."),
    "unknown-parameter": (400, "The request has a query parameter this route does not know, often a typo. `allowed` lists the parameters it accepts."),
    "unknown-region": (400, "`region` is neither a GB/T 2260 code nor the name of a division. `suggestions` lists close matches with their codes."),
    "ambiguous-region": (400, "`region` names several divisions (朝阳 is four). `candidates` lists them with codes: ask again with one code."),
    "invalid-cursor": (400, "`cursor` was not issued by this API, or was issued for another query. Follow links.next/prev, or start again without it."),
    "not-found": (404, "There is no resource at this address: an unknown initiative id, region code, download name or path."),
    "method-not-allowed": (405, "The API is read-only: only GET, HEAD and OPTIONS are allowed. See the Allow header."),
    "not-acceptable": (406, "The Accept header asks for a media type this resource is not available in. Use format= or one of the offered types."),
    "query-timeout": (503, "The query took longer than the server allows and was stopped. Narrow the filters, or retry after Retry-After seconds."),
    "service-unavailable": (503, "The dataset is not available at this moment (not built yet, being replaced, or the file is not a readable dataset). Retry after Retry-After seconds."),
    "request-too-large": (413, "The request line, a header or the body is larger than the server accepts."),
    "export-too-large": (400, "The whole result in this format (CSV, GeoJSON) is larger than one export may be (`max_bytes`), "
                              "so none of it was sent. Narrow the filters, follow the list's pages (format=json), or download "
                              "the whole tables from /downloads/."),
    "rate-limited": (429, "This client sent more requests than the front proxy allows per second. Wait Retry-After seconds; "
                          "bulk users can download the whole dataset from /downloads/ instead."),
    "bad-request": (400, "The request is malformed in a way no more specific type describes."),
    "forbidden": (403, "The request came from a web page of another origin (its Origin header), which /mcp does not answer: "
                        "it serves pages of its own origin and clients that send no Origin, as desktop and server-side "
                        "assistants do. The REST API answers every origin."),
    "internal-error": (500, "The server failed to answer. Nothing about the failure is disclosed; it has been logged."),
    "range-not-satisfiable": (416, "The `Range` asks for bytes outside the file; `Content-Range: bytes */<length>` gives its "
                                   "length. One range of bytes is served; another unit or several ranges are ignored (the whole file)."),
    "bad-gateway": (502, "The proxy in front of the API found no instance to answer (all down or failing), and had no stored "
                         "answer for this URL. Retry after Retry-After seconds."),
    "gateway-timeout": (504, "The proxy in front of the API waited for an instance longer than it allows. Retry after "
                             "Retry-After seconds."),
}


class Problem(Exception):
    """An error a client caused or must know about; rendered as problem+json."""

    def __init__(self, status: int, kind: str, detail: str, errors: dict | None = None,
                 headers: dict | None = None, **extra):
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.errors, self.headers, self.extra = errors, headers or {}, extra


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text) -> str:
    """A client's text as a log line may hold it: control characters (CR, LF, ESC…) escaped, so nothing a client sends
    can start a line of its own in the log."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", text)


def invalid(param: str, message: str, kind: str = "invalid-parameter", **extra) -> Problem:
    """A 400 naming one parameter and what it allows."""
    return Problem(400, kind, f"{param}: {message}", errors={param: [message]}, **extra)


def problem_body(status: int, kind: str, detail: str, instance: str, errors=None, **extra) -> dict:
    """The problem details (RFC 9457) of one error: what a problem+json response holds, and what an MCP tool error
    carries (api/agents)."""
    body = {"type": PROBLEM_BASE + kind, "title": TITLES[kind], "status": status, "detail": detail, "instance": instance}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status: int, kind: str, detail: str, errors=None, headers=None, **extra):
    body = problem_body(status, kind, detail, request.path, errors, **extra)
    resp = current_app.response_class(json.dumps(body, ensure_ascii=False), status=status,
                                      mimetype="application/problem+json")
    resp.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


_HTTP_KINDS = {404: "not-found", 405: "method-not-allowed", 406: "not-acceptable", 413: "request-too-large",
               414: "request-too-large", 431: "request-too-large", 503: "service-unavailable"}


@bp.app_errorhandler(Problem)
def _problem(exc: Problem):
    return problem_response(exc.status, exc.kind, exc.detail, exc.errors, exc.headers, **exc.extra)


@bp.app_errorhandler(HTTPException)
def _http(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    kind = _HTTP_KINDS.get(exc.code, "bad-request" if exc.code < 500 else "internal-error")
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    if "Allow" in headers:  # werkzeug's order varies between processes; clients and caches deserve one
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
    detail = exc.description or ""
    if exc.code == 405:
        detail = f"{request.method} is not allowed here; this is a read-only API. Allowed: {headers.get('Allow', 'GET, HEAD, OPTIONS')}."
    elif exc.code == 404:
        detail = f"There is nothing at {request.path}. Start at /api/v1 for the list of resources."
    if exc.code >= 500:
        detail = "The server could not answer this request."
    return problem_response(exc.code, kind, detail, headers=headers)


http_problem = _http  # an HTTP error as problem+json, for a handler that answers some requests otherwise (a browser's 404)


RETRY_AFTER_SECONDS = "5"     # after a query stopped by the time limit
UNAVAILABLE_RETRY_AFTER = "30"  # while the dataset is not built yet


@bp.app_errorhandler(QueryTimeout)
def _timeout(exc: QueryTimeout):
    log.warning("query stopped by the time limit on %s?%s", printable(request.path), printable(request.query_string[:200]))
    return problem_response(503, "query-timeout",
                            "This query took longer than the server allows. Narrow the filters or try again later.",
                            headers={"Retry-After": RETRY_AFTER_SECONDS})


@bp.app_errorhandler(DatasetUnavailable)
def _unavailable(exc: DatasetUnavailable):
    return problem_response(503, "service-unavailable", str(exc) or "The dataset is not built yet.",
                            headers={"Retry-After": UNAVAILABLE_RETRY_AFTER})


@bp.app_errorhandler(Exception)
def _unexpected(exc: Exception):
    # Log the traceback for operators; the client only learns that it failed.
    log.exception("unhandled error on %s", printable(request.path))
    return _http(InternalServerError())
