-- Partitioning the inbox and the ledger, step 1 of 3 (docs/data-lifecycle.md): what needs only a brief
-- lock. Each step is its own transaction, so that step 2's scan never runs under step 1's lock.

-- Time-ordered ids (domain/retention.py): the UTC day number above 36 bits of a sequence. Rows of one
-- day get ids in that day's range, so partitions by id are partitions by day, and a lookup by id
-- still reads one partition.
CREATE FUNCTION time_ordered_id(seq regclass) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36) | (nextval(seq) & 68719476735)
$$;

-- The rows written so far become each table's "legacy" partition, FROM (MINVALUE) TO the first id of
-- 2020-01-01 (identity ids are far below it). A valid CHECK that implies the bound lets step 3 attach
-- the table without scanning it; NOT VALID here, validated (a scan that blocks no writer) in step 2.
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_legacy_bound CHECK (id < 1254955084152832) NOT VALID;
ALTER TABLE status_changes ADD CONSTRAINT status_changes_legacy_bound CHECK (id < 1254955084152832) NOT VALID;

-- The inbox's partitions are dropped whole once expired, while the ledger and the creatives' reviews
-- that name an event are kept longer: their event_id stays as a reference, no longer a foreign key.
ALTER TABLE status_changes DROP CONSTRAINT status_changes_event_id_fkey;
ALTER TABLE media_buy_creatives DROP CONSTRAINT media_buy_creatives_event_id_fkey;
