"""create_app(): configuration, the read-only database, blueprints, errors, HTTP headers and Swagger UI.

The one module that sees every half of the web app: web/ (HTTP plumbing), v1/ (the REST API) and site/ (the pages).
The build (python -m api.build) never imports it.
"""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import site, v1
from .agents import http as agents_http
from .dataset.about import DEFAULT_DB
from .v1 import contract
from .web import conditional, db, errors, headers, listing, responses, urls


class App(Flask):
    """Flask, with every view run under the request's time limit (db.Database.time_limit)."""

    def dispatch_request(self):
        with self.extensions["socialwork_db"].time_limit(self.config["QUERY_TIMEOUT"]):
            return super().dispatch_request()

    def make_default_options_response(self):
        """OPTIONS: the methods in one sorted order (werkzeug's set differs between processes), and no body, so no
        Content-Type either (and so no page headers)."""
        resp = super().make_default_options_response()
        resp.headers["Allow"] = ", ".join(sorted(m.strip() for m in resp.headers["Allow"].split(",")))
        resp.headers.pop("Content-Type", None)
        return resp


def create_app(test_config: dict | None = None) -> Flask:
    app = App(__name__, template_folder="site/templates", static_folder="site/static")
    app.config.from_mapping(
        DATABASE=os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)),
        QUERY_TIMEOUT=float(os.environ.get("SOCIALWORK_QUERY_TIMEOUT", "2.0")),
        # An export (a list as CSV or GeoJSON) is made whole before it is sent, at most this many bytes, and from its
        # request to its last byte within this many seconds (web/responses.py export).
        EXPORT_MAX_BYTES=int(os.environ.get("SOCIALWORK_EXPORT_MAX_BYTES", str(responses.EXPORT_MAX_BYTES))),
        EXPORT_SECONDS=float(os.environ.get("SOCIALWORK_EXPORT_SECONDS", str(responses.EXPORT_SECONDS))),
        RESPONSE_STORE_BYTES=int(os.environ.get("SOCIALWORK_RESPONSE_STORE_BYTES", str(conditional.STORE_BYTES))),
        # How many proxies in front are trusted to set X-Forwarded-For/-Proto/-Host/-Prefix; 0: none,
        # the links are built from the request's own scheme and Host header.
        TRUSTED_PROXIES=int(os.environ.get("SOCIALWORK_TRUSTED_PROXIES", "0")),
        # The key cursors are signed with: set one per deployment (every instance behind one address the same), so
        # nobody else can make a cursor it accepts. The default is the same everywhere: fine on a laptop.
        CURSOR_KEY=os.environ.get("SOCIALWORK_CURSOR_KEY", "socialwork-cursor"),
        # Every link's base (https://data.example.org): links, citations, JSON-LD and DCAT name it whatever Host a
        # request came with. Unset: each request's own scheme, host and prefix.
        BASE_URL=os.environ.get("SOCIALWORK_BASE_URL", ""),
        # Where people report a problem with a page or a record (an issue tracker, a form, a mailto: address): the
        # /report page links to it. Unset: /report says what to send and how a record is corrected.
        REPORT_URL=os.environ.get("SOCIALWORK_REPORT_URL", ""),
    )
    if test_config:
        app.config.update(test_config)
    app.config["BASE_URL"] = urls.canonical_base(app.config["BASE_URL"])
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    db.init_app(app)
    app.before_request(urls.check_origin)
    app.register_blueprint(errors.bp)
    for bp in (*v1.BLUEPRINTS, listing.exports, *site.BLUEPRINTS):  # exports: the lists' .csv and .geojson, declared by v1
        app.register_blueprint(bp)
    app.register_blueprint(agents_http.bp)   # /mcp and /llms.txt, for AI assistants (api/agents)
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
