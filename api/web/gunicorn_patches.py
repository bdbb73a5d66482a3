"""gunicorn integration: the errors gunicorn answers itself (before the app runs) as problem+json too."""
from __future__ import annotations

import json
import logging
import uuid

import gunicorn
from gunicorn import util
from gunicorn.http.wsgi import Response

from .errors import PROBLEM_BASE, TITLES
from .headers import COMMON_HEADERS

log = logging.getLogger("gunicorn.error")  # gunicorn's error log, where it has just logged the refused request

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
    """Drop-in for gunicorn.util.write_error: same status, an RFC 9457 body, nothing of the request echoed.

    `instance` identifies the occurrence (RFC 9457): gunicorn passes no request here, and for a
    malformed or too long request line has read no path, so it is a fresh `urn:uuid:`, logged with
    gunicorn's message to gunicorn's error log, where an operator finds the refused request. The
    headers are the app's (headers.COMMON_HEADERS: CORS, nosniff, Referrer-Policy) and no-store.
    """
    kind = _KINDS.get(status_int, "bad-request" if status_int < 500 else "internal-error")
    instance = uuid.uuid4().urn
    log.warning("answered %s %s as %s: %r", status_int, reason, instance, mesg[:300])
    body = json.dumps({"type": PROBLEM_BASE + kind, "title": TITLES[kind], "status": status_int,
                       "detail": _DETAILS.get(status_int, reason), "instance": instance}, ensure_ascii=False).encode()
    headers = {"Connection": "close", "Content-Type": "application/problem+json", "Content-Length": str(len(body)),
               "Cache-Control": "no-store", **COMMON_HEADERS}
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    util.write_nonblock(sock, head.encode("latin-1") + body)


_gunicorn_write = Response.write


def write_whole(self, data):
    """Response.write, but the headers go out with the first body chunk in one sendall.

    gunicorn sends them in two calls. A worker killed between the two leaves a proxy with headers
    it has already forwarded and no body, a response it can no longer retry elsewhere. In one
    call, a small response reaches the proxy whole or not at all (then nginx retries it).
    Responses that frame their own output (gunicorn's HTTP2Response overrides send_headers and
    _emit_body) keep gunicorn's write: the HTTP/1 bytes below would corrupt an HTTP/2 stream.
    """
    if (self.headers_sent or not isinstance(data, bytes) or not data or self.chunked
            or type(self).send_headers is not Response.send_headers
            or type(self)._emit_body is not Response._emit_body
            or getattr(self, "_omits_body", False)
            or (self.response_length is not None and len(data) > self.response_length)):
        return _gunicorn_write(self, data)
    head = self.default_headers()
    head.extend("%s: %s\r\n" % (k, v) for k, v in self.headers)
    self.headers_sent = True
    self.sent += len(data)
    util.write(self.sock, ("%s\r\n" % "".join(head)).encode("latin-1") + data)


# The gunicorn release these patches were read against: util.write_error and its caller
# (workers/base.py handle_error), Response.write, send_headers, default_headers and _emit_body. To allow
# another release, read those in it, then change this and the pin in pyproject.toml (constraints.txt too).
CHECKED_GUNICORN = "27.0.1"


class GunicornVersionError(RuntimeError):
    """The installed gunicorn is not the release the patches were checked against."""


def check_gunicorn() -> None:
    found = gunicorn.__version__
    if found != CHECKED_GUNICORN:
        raise GunicornVersionError(
            f"api/web/gunicorn_patches.py patches internals of gunicorn {CHECKED_GUNICORN} (util.write_error, Response.write), "
            f"but gunicorn {found} is installed. Install {CHECKED_GUNICORN} (make install), or check the patches "
            f"against {found} and update CHECKED_GUNICORN and pyproject.toml.")


def install():
    """Patch gunicorn (called by gunicorn.conf.py); refuses, before patching anything, an unchecked gunicorn."""
    check_gunicorn()
    util.write_error = write_problem
    Response.write = write_whole
