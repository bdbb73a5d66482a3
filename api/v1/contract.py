"""The contract (openapi.yaml, served unchanged and as JSON) and Swagger UI through flasgger.

flasgger serves the page (/apidocs/, from api/site/templates/flasgger/index.html); the Swagger UI it runs
is the pinned swagger-ui-dist from node_modules (package.json, installed by `make install`), never
flasgger's bundled 3.x, served from a whitelist under /apidocs/static/ and started by a static
script (api/site/static/swagger-init.js), so the page's CSP allows no inline script.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml
from flasgger import Swagger
from flask import Blueprint, Response, abort, current_app, request, send_file

from ..dataset.about import ROOT
from ..web.args import RootArgs, parse
from ..web.conditional import strong_etag
from ..web.responses import ranged

bp = Blueprint("docs", __name__)
NO_ARGS = RootArgs()
SPEC_PATH = ROOT / "openapi.yaml"
SWAGGER_UI_VERSION = "5.35.0"  # as pinned in package.json
SWAGGER_UI_DIST = ROOT / "node_modules" / "swagger-ui-dist"
# Everything /apidocs/static/ serves; any other name is a 404 (problem+json, web/errors.py), whatever is on disk.
SWAGGER_ASSETS = {
    **{name: SWAGGER_UI_DIST / name for name in ("swagger-ui-bundle.js", "swagger-ui.css", "index.css",
                                                 "favicon-32x32.png", "favicon-16x16.png")},
    **{name: Path(__file__).resolve().parents[1] / "site" / "static" / name for name in ("swagger-init.js", "swagger-page.css")},
}


@bp.get("/openapi.yaml")
def openapi_yaml():
    """Serve the contract as written."""
    parse(NO_ARGS, request.args)
    resp = Response(current_app.extensions["openapi_text"], mimetype="application/yaml")
    resp.headers["ETag"] = current_app.extensions["openapi_etags"]["yaml"]
    return resp


@bp.get("/openapi.json")
def openapi_json():
    """Serve the contract as JSON."""
    parse(NO_ARGS, request.args)
    resp = current_app.response_class(current_app.extensions["openapi_json"], mimetype="application/json")
    resp.headers["ETag"] = current_app.extensions["openapi_etags"]["json"]
    return resp


def swagger_asset(filename: str):
    """One whitelisted Swagger UI file (the view of flasgger's /apidocs/static/<path:filename>)."""
    path = SWAGGER_ASSETS.get(filename)
    if path is None or not path.is_file():
        abort(404)
    return ranged(send_file(path, conditional=False), path.stat().st_size, filename)


def no_oauth_redirect():
    """flasgger's /oauth2-redirect.html is Swagger UI 3's OAuth helper (inline script); this API has no OAuth."""
    abort(404)


def installed_swagger_ui_version() -> str | None:
    """The version of the swagger-ui-dist in node_modules, or None when it is not installed."""
    try:
        return json.loads((SWAGGER_UI_DIST / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None


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
    # flasgger's only job is the page: it generates no spec (specs=[]); api/site/templates/flasgger/index.html
    # replaces its template, and swagger-init.js, not the template, configures Swagger UI (url: /openapi.json).
    config = {"openapi": "3.0.3", "auth": {}, "title": spec["info"]["title"], "uiversion": 3, "headers": [],
              "specs": [], "specs_route": "/apidocs/", "static_url_path": "/apidocs/static", "hide_top_bar": True}
    app.config["SWAGGER"] = dict(config)
    swagger = Swagger(app, merge=False, config=config)
    # flasgger's page view reads specs[0].url (a 500 without one), and a spec given to Swagger()
    # would get a generated-spec route. Named after registration, it adds no route.
    swagger.config["specs"] = [{"endpoint": "apidocs", "title": spec["info"]["title"], "version": spec["info"]["version"]}]
    # flasgger's routes stay (its page view builds the asset URLs with url_for("flasgger.static")), but
    # what they serve is the pinned Swagger UI and no OAuth helper, not its static folder (Swagger UI 3.28).
    app.view_functions["flasgger.static"] = swagger_asset
    app.view_functions["flasgger.oauth_redirect"] = no_oauth_redirect
    installed = installed_swagger_ui_version()
    if installed != SWAGGER_UI_VERSION:
        app.logger.warning("Swagger UI %s expected in %s, found %s: run `make install` (npm ci)",
                           SWAGGER_UI_VERSION, SWAGGER_UI_DIST, installed or "nothing")
