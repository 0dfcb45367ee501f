"""The web's Celery app: it only sends tasks by name, and fails fast when Redis doesn't answer."""

from ..worker.app import make_celery

publisher = make_celery(fail_fast=True)
