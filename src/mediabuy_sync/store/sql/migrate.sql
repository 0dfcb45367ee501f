-- The migrations' own bookkeeping (store/migrate.py); the migrations are migrations/NNNN_name.sql.

-- name: lock
-- Held for the whole upgrade (a session advisory lock), so two processes migrating at once take turns.
SELECT pg_advisory_lock(%(key)s);

-- name: unlock
SELECT pg_advisory_unlock(%(key)s);

-- name: create_ledger
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now());

-- name: applied
SELECT version FROM schema_migrations;

-- name: record
INSERT INTO schema_migrations (version, name) VALUES (%(version)s, %(name)s);
