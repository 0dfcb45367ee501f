"""queue: the senders' Celery app — it only sends tasks by name, and fails fast when Redis doesn't
answer (the web's requests must not wait on the broker; the sweepers make up for a failed send)."""

from .app import make_celery

publisher = make_celery(fail_fast=True)
