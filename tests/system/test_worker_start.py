"""A gunicorn worker prepares the dataset before its first request: gunicorn.conf.py's post_worker_init runs before
the worker's loop accepts any connection, and says so in the log, one line per worker."""
from __future__ import annotations

import re

from harness import servers


def test_each_worker_prepares_the_dataset_before_it_serves(built_db, tmp_path):
    log = tmp_path / "gunicorn.log"
    server = servers.start_gunicorn(built_db, servers.free_port(), log, workers=2)
    try:
        server.wait_ready(timeout=30)
        status, _, _ = servers.http_get(server.port, "/api/v1/initiatives?region=Sichuann")
    finally:
        server.stop()
    text = log.read_text()
    booted = sorted(re.findall(r"Booting worker with pid: (\d+)", text))
    prepared = sorted(re.findall(r"\[(\d+)\] \[INFO\] dataset [0-9a-f]{16} prepared in \d+ ms: region-names, vocabulary kinds, "
                                 r"vocabulary themes, pages overview, pages facts, province-tiles\n", text))
    assert (status, len(booted), prepared) == (400, 2, booted), text[-3000:]
