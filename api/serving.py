"""gunicorn integration: the errors gunicorn answers itself (before the app runs) as problem+json too."""
from __future__ import annotations

import json

from gunicorn import util

from .errors import PROBLEM_BASE, TITLES

_KINDS = {400: "bad-request", 403: "bad-request", 414: "request-too-large", 417: "bad-request",
          431: "request-too-large", 500: "internal-error"}
_DETAILS = {
    400: "The request is not valid HTTP/1.1. Characters outside printable ASCII in the URL must be "
         "percent-encoded: browsers do it, curl does not (use curl -G URL --data-urlencode 'region=四川').",
    414: "The request line is longer than the server accepts (8190 bytes).",
    431: "A request header, or the number of headers, is larger than the server accepts.",
    500: "The server could not answer this request.",
}


def write_problem(sock, status_int, reason, mesg):
    """Drop-in for gunicorn.util.write_error: same status, an RFC 9457 body, nothing of the request echoed."""
    kind = _KINDS.get(status_int, "bad-request" if status_int < 500 else "internal-error")
    body = json.dumps({"type": PROBLEM_BASE + kind, "title": TITLES[kind], "status": status_int,
                       "detail": _DETAILS.get(status_int, reason)}, ensure_ascii=False).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n"
            "X-Content-Type-Options: nosniff\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def install():
    util.write_error = write_problem
