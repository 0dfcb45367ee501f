"""One logging setup for every process: JSON, one event per line, with the correlation context.

The context (request_id, event_id, agent_id, campaign_id, media_buy_id) lives in a contextvar: the
web sets it per request (web/ops.py), Celery carries it in task headers and sets it per task
(worker/instrumentation.py), and every line logged meanwhile carries it. The standard library does
the work; the formatter is the only thing of ours.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
import time
import uuid

from .config import settings

# Fields that follow one webhook from the request through every task it causes.
CONTEXT_FIELDS = ("request_id", "event_id", "agent_id", "campaign_id", "media_buy_id")
_context: contextvars.ContextVar[dict] = contextvars.ContextVar("mediabuy_log_context", default={})

# A request id we take from X-Request-ID: short and plain, so a client can't inject into our logs.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

# Secrets must never reach a log line, whatever a message or an exception carries: credentials
# in URLs, Authorization values, and key=value / "key": "value" pairs named like secrets.
_REDACTIONS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 [redacted]"),
    (re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+@"), r"\1[redacted]@"),
    (re.compile(r"""(?i)(["']?\b[\w-]*(?:secret|token|password|passwd|api_key|apikey|signature)\b["']?\s*[:=]\s*["']?)"""
                r"""[^"'\s,;}&]{4,}"""), r"\1[redacted]"),
    (re.compile(r"(?i)\bsha256=[0-9a-f]{16,}"), "sha256=[redacted]"),
)


# What every pattern above needs somewhere in the text: most lines have none of it, and one search
# is cheaper than four substitutions (the log line per webhook is on the web's hot path).
_MIGHT_HOLD_A_SECRET = re.compile(r"(?i)bearer|basic|://|secret|token|passw|api_?key|signature|sha256=")


def redact(text: str) -> str:
    if _MIGHT_HOLD_A_SECRET.search(text) is None:
        return text
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def current_context() -> dict:
    return _context.get()


def bind(**fields) -> contextvars.Token:
    """Add fields (None values ignored) to the context of this request or task; returns a token for reset."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    return _context.set(merged)


def reset(token: contextvars.Token) -> None:
    _context.reset(token)


def clear() -> None:
    _context.set({})


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain token, else a new one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


@functools.lru_cache(maxsize=4)
def _second(epoch_seconds: int) -> str:
    """The timestamp to the second, made once per second rather than per line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_seconds))


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "process", "message", …context, "exc"?} on one line."""

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "ts": _second(int(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "process": f"{record.processName}/{record.process}",
            "message": redact(record.getMessage()),
        }
        event.update(_context.get())
        for name in CONTEXT_FIELDS:  # fields passed with extra={…} win over the context
            if name in record.__dict__:
                event[name] = record.__dict__[name]
        if record.exc_info:
            event["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(event, ensure_ascii=False, default=str)


def configure_logging(level: str | int | None = None) -> None:
    """JSON lines on stderr from the root logger, at MEDIABUY_LOG_LEVEL unless `level` says otherwise."""
    root = logging.getLogger()
    if getattr(root, "_mediabuy_configured", False):
        return
    for handler in list(root.handlers):  # a library's basicConfig must not print every line twice
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level or settings().log_level)
    logging.captureWarnings(True)  # warnings too, as JSON lines (py.warnings)
    root._mediabuy_configured = True  # type: ignore[attr-defined]


# gunicorn's own loggers (master, workers' lifecycle, access log) in the same JSON: gunicorn_conf.py.
GUNICORN_LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "mediabuy_sync.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
