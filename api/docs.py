"""The contract (openapi.yaml, served unchanged and as JSON) and Swagger UI through flasgger."""
from __future__ import annotations

import functools
from pathlib import Path

import yaml
from flasgger import Swagger
from flask import Blueprint, Response, current_app

from .conditional import strong_etag

bp = Blueprint("docs", __name__)
SPEC_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


@bp.get("/openapi.yaml")
def openapi_yaml():
    """Serve the contract as written."""
    resp = Response(current_app.extensions["openapi_text"], mimetype="application/yaml")
    resp.headers["ETag"] = current_app.extensions["openapi_etags"]["yaml"]
    return resp


@bp.get("/openapi.json")
def openapi_json():
    """Serve the contract as JSON."""
    resp = current_app.response_class(current_app.extensions["openapi_json"], mimetype="application/json")
    resp.headers["ETag"] = current_app.extensions["openapi_etags"]["json"]
    return resp


@functools.lru_cache(maxsize=4)
def _contract(path: Path, mtime_ns: int) -> tuple[str, dict]:
    """The contract's text and parsed form, read once per file version (libyaml's loader: the safe subset, fast)."""
    text = path.read_text(encoding="utf-8")
    return text, yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def init_app(app):
    text, spec = _contract(SPEC_PATH, SPEC_PATH.stat().st_mtime_ns)
    app.extensions["openapi_text"] = text
    app.extensions["openapi_json"] = app.json.dumps(spec)
    # The contract changes with the code, not with the dataset: its ETag is a hash of its own text.
    app.extensions["openapi_etags"] = {fmt: strong_etag("openapi", text, fmt) for fmt in ("yaml", "json")}
    # flasgger's only job is Swagger UI: it generates no spec (specs=[]) and the page loads
    # the hand-written contract from /openapi.json (ui_params overrides the page's url).
    app.config["SWAGGER"] = {"openapi": "3.0.3", "auth": {}, "title": spec["info"]["title"], "uiversion": 3}
    swagger = Swagger(app, merge=False, config={
        "openapi": "3.0.3", "auth": {}, "title": spec["info"]["title"], "uiversion": 3, "headers": [],
        "specs": [], "specs_route": "/apidocs/", "static_url_path": "/apidocs/static", "hide_top_bar": True,
        "ui_params": {"url": "/openapi.json", "deepLinking": True, "tryItOutEnabled": False},
    })
    # flasgger's page template reads specs[0].url (a 500 without one), and a spec given to Swagger()
    # would get a generated-spec route. Named after registration, it adds no route; ui_params.url wins in the page.
    swagger.config["specs"] = [{"endpoint": "apidocs", "title": spec["info"]["title"], "version": spec["info"]["version"]}]
