-- Partitioning, step 2 of 3: validate the legacy bounds. A full scan of each table, holding only a SHARE
-- UPDATE EXCLUSIVE lock: webhooks keep being stored and applied meanwhile.
ALTER TABLE webhook_events VALIDATE CONSTRAINT webhook_events_legacy_bound;
ALTER TABLE status_changes VALIDATE CONSTRAINT status_changes_legacy_bound;
