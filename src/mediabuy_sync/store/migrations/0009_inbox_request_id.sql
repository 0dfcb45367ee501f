-- Events are applied in batches (worker/ingest.py, process_batch), not one Celery task each, so the
-- webhook request's id can no longer ride in a task header: it is kept with the event, and the
-- worker logs each event's lines under it.
ALTER TABLE webhook_events ADD COLUMN request_id text;
