"""services: the application — apply a report, ingest webhook events, poll agents, run the buyer's
campaign actions and their cascades, re-sync. Called by web/ and worker/; calls store/, domain/, adcp/
and queue/, never Flask or the Celery worker."""
