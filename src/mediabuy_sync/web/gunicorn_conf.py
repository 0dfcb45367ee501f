"""web: gunicorn's settings, shared by ./dev, the tests and web.Dockerfile (values from config.SETTINGS)."""

import gc
import json

from gunicorn import glogging, util

# First: it sets up the web's multiprocess metrics directory before prometheus_client is imported
# anywhere, here in the master, so every worker forked from it writes into the same one.
from mediabuy_sync import metrics
from mediabuy_sync.config import settings
from mediabuy_sync.logs import GUNICORN_LOGCONFIG, make_formatter
from mediabuy_sync.store.secretbox import require_key
from mediabuy_sync.web import check_settings

_s = settings()
# Refuse to start without the key that opens the agents' secrets (not fail at the first webhook), or
# without a public URL and with a short admin token (web/__init__.py says why).
require_key()
check_settings()

bind = _s.web_bind
workers = _s.web_workers
# Threads overlap a request's PostgreSQL and Redis round trips; the work itself is short.
worker_class = "gthread"
threads = _s.web_threads
timeout = 30
graceful_timeout = 10
# Bounded request line and headers: a client can't make us hold arbitrary amounts of them (414 / 431).
limit_request_line = _s.web_limit_request_line
limit_request_fields = _s.web_limit_request_fields
limit_request_field_size = _s.web_limit_request_field_size
accesslog = _s.access_log or None
# One fixed control socket path would collide between several gunicorns on one host (tests, benches).
control_socket_disable = True


def _write_json_error(sock, status_int, reason, mesg):
    """What gunicorn answers itself (a request line or headers over the limits, a malformed request)
    in our error envelope rather than its HTML page: every rejection is the same JSON."""
    if status_int == 501:  # only for a Transfer-Encoding it does not know: the client's error, not ours
        status_int, reason = 400, "Bad Request"
    code = {400: "BAD_REQUEST", 403: "FORBIDDEN", 414: "URI_TOO_LONG", 417: "EXPECTATION_FAILED",
            431: "REQUEST_HEADER_FIELDS_TOO_LARGE", 500: "INTERNAL_ERROR", 501: "NOT_IMPLEMENTED"}.get(status_int, "HTTP_ERROR")
    body = json.dumps({"data": None, "error": {"code": code, "message": mesg or reason, "details": None}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin1") + body)


# The workers' error path calls util.write_error at the time of the error: replaced here, in the
# master, before they fork.
util.write_error = _write_json_error

# gunicorn's own lines (master, worker lifecycle, access log) in the app's format (MEDIABUY_LOG_FORMAT:
# GUNICORN_LOGCONFIG's formatter is logs.make_formatter, called when gunicorn configures its logging).
# gunicorn merges this over its defaults, whose root logger names a "console" handler this config
# replaces: the root must be given too (create_app() sets the root's handler itself).
logconfig_dict = {"root": {"level": "INFO", "handlers": []}, **GUNICORN_LOGCONFIG}
make_formatter()  # an unknown MEDIABUY_LOG_FORMAT stops the start here, saying so (gunicorn's dictConfig wouldn't)


class _Logger(glogging.Logger):
    """gunicorn's logger, with the access log only when MEDIABUY_ACCESS_LOG asks for it: gunicorn
    takes any logconfig_dict as a wish for one, and built and wrote a line per request (5% of the
    web's CPU per webhook under load, bench/profile_web.py)."""

    def _compute_access_log_enabled(self):
        return bool(self.cfg.accesslog)


logger_class = _Logger


def on_starting(server):
    metrics.reset_multiprocess_dir()  # once per start: a previous run's values are not ours


def child_exit(server, worker):
    metrics.mark_process_dead(worker.pid)


def on_exit(server):
    metrics.remove_own_dir()


def post_worker_init(worker):
    """Once the worker has loaded the app: what it holds now (modules, the app, schemas: ~84,000
    objects) is moved out of the garbage collector's sight. It lives as long as the process, and a
    full collection walked all of it with the GIL held, pausing every request of that worker:
    two per worker in 10 s of webhook load, 115-139 ms each under load (20 ms idle); 1-3 ms after
    the freeze (bench.profile_web, gc.callbacks)."""
    gc.collect()
    gc.freeze()
