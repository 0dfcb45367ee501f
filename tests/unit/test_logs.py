"""The text log format (MEDIABUY_LOG_FORMAT=text, what ./dev up shows): one line per record with the
ids, redacted as the JSON lines are, exceptions below; the setting picks the formatter, for gunicorn's
own lines too. (The JSON lines: test_ops_pieces.py.)"""

from __future__ import annotations

import json
import logging
import re
import sys

import pytest

from mediabuy_sync import config, logs

LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) (\S+) +(\w+) +(.*)$")


def record(message, *args, exc=None, level=logging.INFO, name="mediabuy_sync.x", process="MainProcess", **extra):
    rec = logging.LogRecord(name, level, __file__, 1, message, args, exc)
    rec.processName = process
    rec.__dict__.update(extra)
    return rec


def text_line(message, *args, **kwargs) -> str:
    return logs.TextFormatter().format(record(message, *args, **kwargs))


@pytest.fixture
def log_format(monkeypatch):
    """Sets MEDIABUY_LOG_FORMAT for one test; the settings are read again before and after."""
    def use(value):
        monkeypatch.setenv("MEDIABUY_LOG_FORMAT", value)
        config.settings.cache_clear()
    yield use
    monkeypatch.delenv("MEDIABUY_LOG_FORMAT", raising=False)
    config.settings.cache_clear()


def test_a_text_line_is_time_process_level_message_then_the_ids():
    token = logs.bind(request_id="0123456789abcdef", event_id=7, agent_id="sim_agent_1", campaign_id=None)
    try:
        line = text_line("event %s applied", 7, media_buy_id="mb_1", campaign_id="cmp_1")
    finally:
        logs.reset(token)
    assert "\n" not in line
    _clock, process, level, rest = LINE.match(line).groups()
    assert level == "INFO" and process  # the program (web, worker, …) or, in pytest, the process's name
    message, _, ids = rest.partition("  ")
    assert message == "event 7 applied"
    # in CONTEXT_FIELDS' order, the request id cut short, an id passed with extra= over the context's
    assert ids == "request_id=01234567 event_id=7 agent_id=sim_agent_1 campaign_id=cmp_1 media_buy_id=mb_1"


def test_a_line_without_context_has_no_ids():
    logs.clear()
    assert LINE.match(text_line("beat metrics on http://127.0.0.1:9809/metrics")).group(4) == (
        "beat metrics on http://127.0.0.1:9809/metrics")


def test_a_newline_in_a_message_or_an_id_cannot_make_a_second_line():
    line = text_line("first\nsecond\r\x1b[31m", agent_id="a\nb")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "first\\nsecond\\r\\x1b[31m" in line and "agent_id=a\\nb" in line


@pytest.mark.parametrize("text", [
    "Authorization: Bearer s3cr3t-t0ken-value",
    "connecting to postgresql://postgres:hunter2-pw@db:5432/x",
    'push config {"credentials": "x", "secret": "abcd1234abcd"}',
    "token=abcdefgh1234 and more",
    "X-AdCP-Signature: sha256=0123456789abcdef0123456789abcdef",
])
def test_secrets_are_redacted_as_in_the_json_lines(text):
    line = text_line(text)
    json_message = json.loads(logs.JsonFormatter().format(record(text)))["message"]
    for secret in ("s3cr3t-t0ken-value", "hunter2-pw", "abcd1234abcd", "abcdefgh1234", "0123456789abcdef0123"):
        assert secret not in line
    assert "[redacted]" in line
    assert LINE.match(line).group(4) == json_message  # the same redaction, word for word


def test_an_exception_follows_on_indented_lines_and_is_redacted_too():
    try:
        raise RuntimeError("failed with token=abcdefgh1234")
    except RuntimeError:
        line = text_line("boom", exc=sys.exc_info(), level=logging.ERROR, event_id=3)
    first, *rest = line.split("\n")
    assert LINE.match(first).group(3) == "ERROR" and first.endswith("boom  event_id=3")
    assert rest and all(part.startswith("  ") for part in rest)
    assert rest[0].strip() == "Traceback (most recent call last):"
    assert "RuntimeError" in rest[-1] and "abcdefgh1234" not in line and "[redacted]" in line


@pytest.mark.parametrize(("argv", "process_name", "label"), [
    (["/srv/.venv/bin/gunicorn", "--config", "python:mediabuy_sync.web.gunicorn_conf"], "MainProcess", "web"),
    (["/srv/.venv/bin/celery", "--app", "mediabuy_sync.worker.app:celery_app", "worker"], "MainProcess", "worker"),
    (["/srv/.venv/bin/celery", "--app", "mediabuy_sync.worker.app:celery_app", "worker"], "ForkPoolWorker-2", "worker-2"),
    (["/srv/.venv/bin/celery", "--app", "mediabuy_sync.worker.app:celery_app", "beat"], "MainProcess", "beat"),
    (["/srv/.venv/bin/mediabuy-sync", "simulate-agent", "--agents", "3"], "MainProcess", "agents"),
    (["/srv/.venv/bin/mediabuy-sync", "demo", "--stay"], "MainProcess", "demo"),
    (["some-script.py"], "SpawnProcess-1", "SpawnProcess-1"),
])
def test_the_process_is_named_by_what_it_runs(monkeypatch, argv, process_name, label):
    monkeypatch.setattr(sys, "argv", argv)
    line = logs.TextFormatter().format(record("hello", process=process_name))
    assert LINE.match(line).group(2) == label


def test_json_is_the_default_and_the_setting_picks_the_formatter(monkeypatch, log_format):
    monkeypatch.delenv("MEDIABUY_LOG_FORMAT", raising=False)
    config.settings.cache_clear()
    assert type(logs.make_formatter()) is logs.JsonFormatter
    log_format("text")
    assert type(logs.make_formatter()) is logs.TextFormatter
    log_format("json")
    assert type(logs.make_formatter()) is logs.JsonFormatter
    log_format("yaml")
    with pytest.raises(ValueError, match="MEDIABUY_LOG_FORMAT"):
        logs.make_formatter()


def test_gunicorns_own_lines_follow_the_setting(log_format):
    """gunicorn_conf.py hands GUNICORN_LOGCONFIG to gunicorn, which builds its formatter with dictConfig."""
    import logging.config

    log_format("text")
    configurator = logging.config.DictConfigurator(logs.GUNICORN_LOGCONFIG)
    spec = dict(logs.GUNICORN_LOGCONFIG["formatters"]["mediabuy"])
    assert type(configurator.configure_formatter(spec)) is logs.TextFormatter
    handler = logs.GUNICORN_LOGCONFIG["handlers"]["stderr"]
    assert handler["formatter"] == "mediabuy"


@pytest.mark.parametrize(("name", "level", "message", "shown"), [
    ("celery.app.trace", logging.INFO, "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s", False),
    ("celery.worker.strategy", logging.INFO, "Task %s[%s] received", False),
    ("celery.beat", logging.INFO, "Scheduler: Sending due task %s (%s)", False),
    ("celery.beat", logging.INFO, "beat: Starting...", True),
    ("httpx", logging.INFO, "HTTP Request: POST http://127.0.0.1:9101/mcp", False),
    ("httpx2", logging.INFO, "HTTP Request: POST http://127.0.0.1:9101/mcp", False),
    ("celery.app.trace", logging.ERROR, "Task %(name)s[%(id)s] raised unexpected: %(exc)r", True),
    ("httpx", logging.WARNING, "retrying", True),
    ("mediabuy_sync.services.ingest", logging.INFO, "event %s applied", True),
])
def test_routine_library_lines_are_left_out_of_the_text_format(name, level, message, shown):
    assert logs.RoutineFilter().filter(record(message, name=name, level=level)) is shown
