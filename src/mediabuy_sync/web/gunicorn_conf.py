"""Gunicorn settings, shared by ./dev, the tests and web.Dockerfile (values from config.SETTINGS)."""

from mediabuy_sync.config import settings

_s = settings()
bind = _s.web_bind
workers = _s.web_workers
# Threads overlap a request's PostgreSQL and Redis round trips; the work itself is short.
worker_class = "gthread"
threads = _s.web_threads
timeout = 30
graceful_timeout = 10
# Bounded request line and headers: a client can't make us hold arbitrary amounts of them.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = _s.access_log or None
# One fixed control socket path would collide between several gunicorns on one host (tests, benches).
control_socket_disable = True
