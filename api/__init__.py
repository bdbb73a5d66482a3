"""create_app(): configuration, the read-only database, blueprints, errors, HTTP headers and Swagger UI."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "var" / "socialwork.db"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE=os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)),
        QUERY_TIMEOUT=float(os.environ.get("SOCIALWORK_QUERY_TIMEOUT", "2.0")),
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.url_map.strict_slashes = False

    from . import catalog, db, docs, errors, fastpath, http, initiatives, metrics, regions

    db.init_app(app)
    for module in (errors, catalog, initiatives, regions, metrics, docs):
        app.register_blueprint(module.bp)
    from . import pages  # the landing page and bulk downloads
    app.register_blueprint(pages.bp)
    docs.init_app(app)
    app.after_request(http.add_common_headers)
    app.cli.add_command(build_command)
    app.wsgi_app = fastpath.FastPath(app.wsgi_app, app.extensions["socialwork_db"])
    return app


@click.command("build")
@click.option("--data", "root", type=click.Path(file_okay=False, path_type=Path), default=ROOT,
              help="Project root holding data/ and seeds/.")
@click.option("--db", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the database (default: $SOCIALWORK_DB or var/socialwork.db).")
def build_command(root: Path, target: Path | None):
    """Validate data/ and build the SQLite database atomically."""
    from .build import build
    from .validate import DataError

    target = target or Path(os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)))
    try:
        report = build(root, target)
    except DataError as err:
        click.echo(f"build failed: {len(err.problems)} problem(s) in data/; {target} was not changed", err=True)
        for line in err.problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))
