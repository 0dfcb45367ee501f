"""worker: Celery only — the app the worker and beat run, its signal handlers, thin tasks over services/,
and beat's schedule."""
