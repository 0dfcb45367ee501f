-- Partitioning, step 3 of 3: each table becomes the legacy partition of a new partitioned table of the
-- same name, in one transaction that scans nothing: renames, catalog changes, and an ATTACH whose bound
-- the validated CHECK proves. Writers wait for it (milliseconds once it has its locks); lock_timeout
-- makes it give up, rather than queue every writer behind a long transaction, and migrate can be run
-- again. The partitions from today on are created in the same transaction (store/migrate.py), so the
-- first row written after the commit has its partition.
-- Needs the release whose inbox insert names no ON CONFLICT constraint (store/sql/inbox.sql): the
-- parent cannot carry UNIQUE (agent_id, idempotency_key), which does not include the partition key.
SET LOCAL lock_timeout = '10s';
LOCK TABLE webhook_events, status_changes IN ACCESS EXCLUSIVE MODE;

-- the inbox
ALTER TABLE webhook_events RENAME TO webhook_events_legacy;
ALTER TABLE webhook_events_legacy RENAME CONSTRAINT webhook_events_pkey TO webhook_events_legacy_pkey;
ALTER INDEX webhook_events_agent_received RENAME TO webhook_events_legacy_agent_received;
ALTER INDEX webhook_events_dead_page RENAME TO webhook_events_legacy_dead_page;
ALTER INDEX webhook_events_received RENAME TO webhook_events_legacy_received;
ALTER INDEX webhook_events_unmatched RENAME TO webhook_events_legacy_unmatched;
ALTER TABLE webhook_events_legacy ALTER COLUMN id DROP IDENTITY;  -- ids now come from the parent's default
CREATE SEQUENCE webhook_events_id_seq;
CREATE TABLE webhook_events (LIKE webhook_events_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (id);
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_legacy_bound;
ALTER TABLE webhook_events ALTER COLUMN id SET DEFAULT time_ordered_id('webhook_events_id_seq');
ALTER SEQUENCE webhook_events_id_seq OWNED BY webhook_events.id;
-- The same definitions as the legacy table's: ATTACH adopts its indexes and foreign key, builds nothing.
ALTER TABLE webhook_events ADD PRIMARY KEY (id);
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES sales_agents (id);
CREATE INDEX webhook_events_agent_received ON webhook_events (agent_id, received_at);
CREATE INDEX webhook_events_dead_page ON webhook_events (received_at, id) WHERE state = 'dead';
CREATE INDEX webhook_events_received ON webhook_events (received_at) WHERE state = 'received';
CREATE INDEX webhook_events_unmatched ON webhook_events (received_at) WHERE state = 'unmatched';
ALTER TABLE webhook_events ATTACH PARTITION webhook_events_legacy FOR VALUES FROM (MINVALUE) TO (1254955084152832);

-- the ledger
ALTER TABLE status_changes RENAME TO status_changes_legacy;
ALTER TABLE status_changes_legacy RENAME CONSTRAINT status_changes_pkey TO status_changes_legacy_pkey;
ALTER INDEX status_changes_entity RENAME TO status_changes_legacy_entity;
ALTER INDEX status_changes_event RENAME TO status_changes_legacy_event;
ALTER TABLE status_changes_legacy ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE status_changes_id_seq;
CREATE TABLE status_changes (LIKE status_changes_legacy INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (id);
ALTER TABLE status_changes DROP CONSTRAINT status_changes_legacy_bound;
ALTER TABLE status_changes ALTER COLUMN id SET DEFAULT time_ordered_id('status_changes_id_seq');
ALTER SEQUENCE status_changes_id_seq OWNED BY status_changes.id;
ALTER TABLE status_changes ADD PRIMARY KEY (id);
CREATE INDEX status_changes_entity ON status_changes (entity_id, id);
CREATE INDEX status_changes_event ON status_changes (event_id) WHERE event_id IS NOT NULL;
ALTER TABLE status_changes ATTACH PARTITION status_changes_legacy FOR VALUES FROM (MINVALUE) TO (1254955084152832);
