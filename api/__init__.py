"""create_app(): configuration, the read-only database, blueprints, errors, HTTP headers and Swagger UI."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import conditional

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "var" / "socialwork.db"


class App(Flask):
    """Flask, with every view run under the request's time limit (db.Database.time_limit)."""

    def dispatch_request(self):
        with self.extensions["socialwork_db"].time_limit(self.config["QUERY_TIMEOUT"]):
            return super().dispatch_request()


def create_app(test_config: dict | None = None) -> Flask:
    app = App(__name__)
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

    from . import catalog, db, discovery, docs, errors, http, initiatives, listing, metrics, pages, regions

    db.init_app(app)
    for module in (errors, catalog, initiatives, regions, metrics, pages, docs):
        app.register_blueprint(module.bp)
    app.register_blueprint(listing.exports)  # the lists' .csv and .geojson exports, declared by the modules above
    app.register_blueprint(pages.site)  # the HTML pages, whose errors are pages too
    app.register_blueprint(discovery.bp)
    docs.init_app(app)
    app.after_request(http.response_headers)  # the only header hook: see its docstring
    app.cli.add_command(build_command)
    size = app.config["RESPONSE_STORE_BYTES"]
    store = conditional.ResponseStore(size) if size > 0 else None  # 0 turns the store off
    app.extensions["response_store"] = store
    app.wsgi_app = conditional.ConditionalResponses(app.wsgi_app, app.extensions["socialwork_db"], store)
    trusted = app.config["TRUSTED_PROXIES"]
    if trusted > 0:  # outermost, so the response store keys on the scheme and host the links are built from
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted, x_prefix=trusted)
    return app


@click.command("build")
@click.option("--data", "root", type=click.Path(file_okay=False, path_type=Path), default=ROOT,
              help="Project root holding data/ and seeds/.")
@click.option("--db", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the database (default: $SOCIALWORK_DB or var/socialwork.db).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes that read and check records while this one writes (default: one per core for a "
                   "large input, none for a small one).")
def build_command(root: Path, target: Path | None, workers: int | None):
    """Validate data/ and build the SQLite database atomically.

    On a terminal the build shows its progress on stderr (records read, checked and written; elapsed and
    estimated time) and a summary line; in CI (CI=true) and pipes only the JSON report, on stdout.
    """
    from .build import build
    from .stream import Progress
    from .validate import DataError

    target = target or Path(os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)))
    progress = Progress(Progress.wanted(sys.stderr))
    try:
        report = build(root, target, progress=progress, workers=workers)
    except DataError as err:
        progress.finish(f"build failed after {progress.elapsed()}")
        click.echo(f"build failed: {len(err.problems)} problem(s) in data/; {target} was not changed", err=True)
        for line in err.problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    size = target.stat().st_size
    progress.finish(f"built {report['initiatives']:,} records in {progress.elapsed()}: {target} "
                    f"({size / 1e6:,.1f} MB, version {report['version']})")
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
