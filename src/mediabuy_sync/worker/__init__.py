"""Celery: the app, its tasks (one module per concern) and the beat schedule."""
