"""queue: what the web and the services need of Celery and Redis — task names, the app factory,
the broker transport, drain requests, the coalescing keys and the publisher. No task code: that is
worker/."""
