"""The ceiling: a bare WSGI app under the same gunicorn, answering each case with a constant body of the API's size.

BENCH_BARE_SPEC is a JSON object {path: [status, size, content_type]}; run.py fills it with the sizes
of the API's responses, so the ceiling moves the same bytes with no framework, no SQL and no JSON.
    BENCH_BARE_SPEC='{"/hot": [200, 1234, "application/json"]}' .venv/bin/gunicorn -w 1 bench.bare_wsgi:app
"""
import json
import os

SPEC = json.loads(os.environ.get("BENCH_BARE_SPEC", '{"/": [200, 2, "application/json"]}'))  # bench/flask_floor.py too
_REASONS = {200: "200 OK", 304: "304 Not Modified"}
_RESPONSES = {
    path: (_REASONS[status], [("Content-Type", ctype)] + ([("Content-Length", str(size))] if status != 304 else []),
           [b"x" * size] if status != 304 else [])
    for path, (status, size, ctype) in SPEC.items()
}
_NOT_FOUND = ("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")], [b"not found"])


def app(environ, start_response):
    status, headers, body = _RESPONSES.get(environ["PATH_INFO"], _NOT_FOUND)
    start_response(status, headers)
    return body
