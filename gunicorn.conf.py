"""gunicorn settings for `make run`: one worker per core with 4 threads each, no control socket, logs to stdout.

An instance is meant to sit behind the proxy (deploy/nginx.conf), which reads requests and writes responses to slow
clients itself. Straight to clients, gthread is the safe default: a connection that sends its request slowly holds one
thread of a worker, not the worker (sync workers: two such clients blocked a 2-worker instance until the 30 s worker
timeout), and a slow reader of a long response is not killed at 30 s with the response cut (the heartbeat is the
worker's main loop, not the thread). Fewer slow clients than a worker's threads (3 by default) always leave it a thread;
with more, one worker's threads can all be held, and a request it accepts then waits: that needs the proxy.
"""
import multiprocessing
import os

from api.web import gunicorn_patches

gunicorn_patches.install()  # gunicorn's own 400/414/431/500 pages become problem+json like the app's

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("SOCIALWORK_THREADS", "4"))
timeout = 30
graceful_timeout = 10
keepalive = 5
max_requests = 0
control_socket_disable = True
accesslog = "-"
errorlog = "-"
# Refuse oversized request lines and headers before the app sees them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def post_worker_init(worker):
    """Before a worker accepts its first request: open the dataset and compute what every request reads of it whole
    (api/web/db.py PREPARED: the region-name index behind "did you mean", the vocabularies, the pages' counts), so that
    no request pays for it and none of it runs inside a request's time limit."""
    from api.web.db import DatasetUnavailable

    database = getattr(worker.wsgi, "extensions", {}).get("socialwork_db")
    if database is None:  # another app under this configuration (bench/: the floor and the ceiling)
        return
    try:
        worker.log.info(database.prepare()[1])
    except DatasetUnavailable as exc:
        worker.log.warning("dataset not prepared at start: %s", exc)
