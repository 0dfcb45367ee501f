"""Gunicorn settings, shared by ./dev, the tests and web.Dockerfile."""

import os

bind = os.environ.get("MEDIABUY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("MEDIABUY_WEB_WORKERS", "2"))
# Threads overlap a request's PostgreSQL and Redis round trips; the work itself is short.
worker_class = "gthread"
threads = int(os.environ.get("MEDIABUY_WEB_THREADS", "4"))
timeout = 30
graceful_timeout = 10
# Bound the headers a client may send (issue: limits).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = os.environ.get("MEDIABUY_ACCESS_LOG") or None
# One fixed control socket path would collide between several gunicorns on one host (tests, benches).
control_socket_disable = True
