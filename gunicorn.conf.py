"""gunicorn settings for `make run`: one worker per core, no control socket, logs to stdout."""
import multiprocessing
import os

from api.web import gunicorn_patches

gunicorn_patches.install()  # gunicorn's own 400/414/431/500 pages become problem+json like the app's

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "sync"
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
