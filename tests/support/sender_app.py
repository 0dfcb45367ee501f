"""A Celery app of ours made in the test process as a sender (the web, the CLI) makes it, under settings
the test names: the test process's own settings name the session's Redis namespace and broker."""

from __future__ import annotations


def sender_app(monkeypatch, **environ: str):
    """The app make_celery(fail_fast=True) gives with `environ` (MEDIABUY_BROKER_URL,
    MEDIABUY_REDIS_NAMESPACE, …) set; the settings are read again before and after, and the
    environment is put back (monkeypatch.undo) once the app is made."""
    from mediabuy_sync.config import settings
    from mediabuy_sync.queue.app import make_celery

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    try:
        return make_celery(fail_fast=True)
    finally:
        monkeypatch.undo()
        settings.cache_clear()
