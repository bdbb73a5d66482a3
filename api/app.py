"""create_app(): configuration, the read-only database, blueprints, errors, HTTP headers and Swagger UI.

The one module that sees every half of the web app: web/ (HTTP plumbing), v1/ (the REST API) and site/ (the pages).
The build (python -m api.build) never imports it.
"""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import site, v1
from .dataset.about import DEFAULT_DB
from .v1 import contract
from .web import conditional, db, errors, headers, listing


class App(Flask):
    """Flask, with every view run under the request's time limit (db.Database.time_limit)."""

    def dispatch_request(self):
        with self.extensions["socialwork_db"].time_limit(self.config["QUERY_TIMEOUT"]):
            return super().dispatch_request()


def create_app(test_config: dict | None = None) -> Flask:
    app = App(__name__, template_folder="site/templates", static_folder="site/static")
    app.config.from_mapping(
        DATABASE=os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)),
        QUERY_TIMEOUT=float(os.environ.get("SOCIALWORK_QUERY_TIMEOUT", "2.0")),
        RESPONSE_STORE_BYTES=int(os.environ.get("SOCIALWORK_RESPONSE_STORE_BYTES", str(conditional.STORE_BYTES))),
        # How many proxies in front are trusted to set X-Forwarded-For/-Proto/-Host/-Prefix; 0: none,
        # the links are built from the request's own scheme and Host header.
        TRUSTED_PROXIES=int(os.environ.get("SOCIALWORK_TRUSTED_PROXIES", "0")),
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    db.init_app(app)
    app.register_blueprint(errors.bp)
    for bp in (*v1.BLUEPRINTS, listing.exports, *site.BLUEPRINTS):  # exports: the lists' .csv and .geojson, declared by v1
        app.register_blueprint(bp)
    contract.init_app(app)
    app.after_request(headers.response_headers)  # the only header hook: see its docstring
    size = app.config["RESPONSE_STORE_BYTES"]
    store = conditional.ResponseStore(size) if size > 0 else None  # 0 turns the store off
    app.extensions["response_store"] = store
    app.wsgi_app = conditional.ConditionalResponses(app.wsgi_app, app.extensions["socialwork_db"], store)
    trusted = app.config["TRUSTED_PROXIES"]
    if trusted > 0:  # outermost, so the response store keys on the scheme and host the links are built from
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_prefix=trusted)
    return app
