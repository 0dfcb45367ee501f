"""One logging setup for every process: one event per line, with the correlation context.

MEDIABUY_LOG_FORMAT picks the line: `json` (the default: containers, tests, production) or `text`, a
short line a person reads at a terminal (./dev up). The context (request_id, event_id, agent_id,
campaign_id, media_buy_id) lives in a contextvar: the web sets it per request (web/ops.py), Celery
carries it in task headers and sets it per task (worker/instrumentation.py), and every line logged
meanwhile carries it. The standard library does the work; the formatters are the only things of ours.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import re
import sys
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


class TextFormatter(logging.Formatter):
    """`HH:MM:SS.mmm process LEVEL message  request_id=… event_id=… …` on one line, for a terminal.

    The time is local, to the millisecond; the process is web, worker (worker-N for a pool process),
    beat, agents or demo, else the process's name; the request id is cut to its first 8 characters.
    Message and exception are redacted as in JSON; control characters (a newline in a message or an
    id) are escaped, so one record is one line and nobody can forge another. An exception follows on
    lines of its own, indented.
    """

    def __init__(self) -> None:
        super().__init__()
        self._program = _program()

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created)) + f".{int(record.msecs):03d}"
        fields = dict(_context.get())
        for name in CONTEXT_FIELDS:  # fields passed with extra={…} win over the context
            if name in record.__dict__:
                fields[name] = record.__dict__[name]
        ids = []
        for name in CONTEXT_FIELDS:
            value = fields.get(name)
            if value is None:
                continue
            value = str(value)
            if name == "request_id":
                value = value[:8]
            ids.append(f"{name}={_one_line(value)}")
        line = f"{clock} {self._process(record):<8} {record.levelname:<5} {_one_line(redact(record.getMessage()))}"
        if ids:
            line += "  " + " ".join(ids)
        if record.exc_info:
            line += "\n" + "\n".join("  " + part for part in redact(self.formatException(record.exc_info)).splitlines())
        return line

    def _process(self, record: logging.LogRecord) -> str:
        if self._program is None:
            return record.processName
        if record.processName.startswith("ForkPoolWorker-"):  # a Celery pool process
            return f"{self._program}-{record.processName.rpartition('-')[2]}"
        return self._program


def _program() -> str | None:
    """What this process is, from its command line: web, worker, beat, agents, demo; None if unknown."""
    if not sys.argv:
        return None
    command, args = os.path.basename(sys.argv[0]), sys.argv[1:]
    if command == "gunicorn":
        return "web"
    if command == "celery":
        return next((a for a in args if a in ("worker", "beat", "flower")), "celery")
    if command == "mediabuy-sync" and args:
        return {"simulate-agent": "agents"}.get(args[0], args[0])
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def _one_line(text: str) -> str:
    """The text with its control characters escaped (a newline as a backslash and n): it stays on its line."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)


LOG_FORMATS = {"json": JsonFormatter, "text": TextFormatter}


def make_formatter() -> logging.Formatter:
    """The formatter MEDIABUY_LOG_FORMAT names (json or text); any other value stops the process."""
    name = settings().log_format
    if name not in LOG_FORMATS:
        raise ValueError(f"MEDIABUY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {name!r}")
    return LOG_FORMATS[name]()


# INFO lines of libraries that say, every few seconds, that routine work happened: Celery's "task
# received" and "task succeeded" per task, beat's "sending due task" per schedule tick, the HTTP and
# MCP clients' per-request lines. In text format (a person at a terminal) they are left out unless
# MEDIABUY_LOG_LEVEL is DEBUG; warnings and errors of these loggers always pass. JSON keeps them all.
# (logger, the start of the message left out; None: every INFO line of that logger)
ROUTINE_IN_TEXT = (
    ("celery.worker.strategy", None),
    ("celery.app.trace", None),
    ("celery.beat", "Scheduler: Sending due task"),
    ("httpx", None),
    ("httpx2", None),  # the MCP client's HTTP client
    ("mcp.client.streamable_http", None),
    ("adcp.protocols.mcp", None),
)


class RoutineFilter(logging.Filter):
    """Drops the ROUTINE_IN_TEXT lines below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        for name, start in ROUTINE_IN_TEXT:
            if record.name == name and (start is None or str(record.msg).startswith(start)):
                return False
        return True


def configure_logging(level: str | int | None = None) -> None:
    """Log lines on stderr from the root logger, in MEDIABUY_LOG_FORMAT, at MEDIABUY_LOG_LEVEL unless
    `level` says otherwise."""
    root = logging.getLogger()
    if getattr(root, "_mediabuy_configured", False):
        return
    for handler in list(root.handlers):  # a library's basicConfig must not print every line twice
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    formatter = make_formatter()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level or settings().log_level)
    if isinstance(formatter, TextFormatter) and root.getEffectiveLevel() > logging.DEBUG:
        handler.addFilter(RoutineFilter())
    logging.captureWarnings(True)  # warnings too, as log lines (py.warnings)
    root._mediabuy_configured = True  # type: ignore[attr-defined]


# gunicorn's own loggers (master, workers' lifecycle, access log) in the same format as the app's
# lines: gunicorn_conf.py. The formatter is made when gunicorn configures its logging, from the setting.
GUNICORN_LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"mediabuy": {"()": "mediabuy_sync.logs.make_formatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "mediabuy", "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}
