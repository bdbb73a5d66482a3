"""data/ into socialwork.db: files read and checked, records streamed through worker processes, written in id order,
indexed and described, renamed into place only when nothing is wrong. Imports api.dataset only: no web app.

    python -m api.build [--data ROOT] [--db PATH] [--workers N]
    python -m api.build --manifest data/releases/<version>.json
"""
from .files import DataError, Dataset, dataset_digest, load_reference, record_files
from .progress import Progress
from .rules import InitiativeSchema, fast_load, parse_figure
from .run import build, checked_records, dataset_version, write_manifest

__all__ = ["build", "checked_records", "write_manifest", "dataset_version", "DataError", "Dataset", "Progress",
           "InitiativeSchema", "fast_load", "parse_figure", "load_reference", "dataset_digest", "record_files"]
