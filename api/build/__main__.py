"""python -m api.build: validate data/ and build the SQLite database atomically, or write a release's manifest."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ..dataset.about import DEFAULT_DB, ROOT
from . import DataError, Progress, build, write_manifest


@click.command("build")
@click.option("--data", "root", type=click.Path(file_okay=False, path_type=Path), default=ROOT,
              help="Project root holding data/ and seeds/.")
@click.option("--db", "target", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the database (default: $SOCIALWORK_DB or var/socialwork.db).")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Processes that read and check records while this one writes (default: one per core for a "
                   "large input, none for a small one).")
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the manifest of the release data/ holds (data/releases/<version>.json) instead of building.")
def main(root: Path, target: Path | None, workers: int | None, manifest: Path | None):
    """Validate data/ and build the SQLite database atomically.

    On a terminal the build shows its progress on stderr (records read, checked and written; elapsed and
    estimated time) and a summary line; in CI (CI=true) and pipes only the JSON report, on stdout.
    """
    if manifest is not None:
        try:
            out = write_manifest(root, manifest)
        except DataError as err:
            _fail(err, f"{manifest} was not written")
        click.echo(f"{manifest}: release {out['release']}, {len(out['records'])} records")
        return
    target = target or Path(os.environ.get("SOCIALWORK_DB", str(DEFAULT_DB)))
    progress = Progress(Progress.wanted(sys.stderr))
    try:
        report = build(root, target, progress=progress, workers=workers)
    except DataError as err:
        progress.finish(f"build failed after {progress.elapsed()}")
        _fail(err, f"{target} was not changed")
    size = target.stat().st_size
    progress.finish(f"built {report['initiatives']:,} records in {progress.elapsed()}: {target} "
                    f"({size / 1e6:,.1f} MB, version {report['version']})")
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


def _fail(err: DataError, untouched: str):
    click.echo(f"build failed: {len(err.problems)} problem(s) in data/; {untouched}", err=True)
    for line in err.problems:
        click.echo(f"  {line}", err=True)
    sys.exit(1)


if __name__ == "__main__":
    main(prog_name="python -m api.build")
