"""The floor: a minimal Flask app under the same gunicorn, answering each case with the ceiling's constant body, but
through Flask's request cycle (the URL map, a view, a Response, the response's headers): what any Flask app pays.

It serves the spec bench/bare_wsgi.py serves (BENCH_BARE_SPEC, filled by run.py with the API's sizes), so the two
baselines move the same bytes, and the gap between them is Flask and Werkzeug themselves.
    BENCH_BARE_SPEC='{"/hot": [200, 1234, "application/json"]}' .venv/bin/gunicorn -w 1 bench.flask_floor:app
"""
from flask import Flask, Response

from bench.bare_wsgi import SPEC

app = Flask(__name__)
_BODIES = {path.lstrip("/"): (status, b"x" * size if status != 304 else b"", ctype) for path, (status, size, ctype) in SPEC.items()}


@app.get("/<name>")
def case(name: str):
    status, body, ctype = _BODIES.get(name, (404, b"not found", "text/plain"))
    return Response(body, status=status, content_type=ctype)
