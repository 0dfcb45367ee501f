-- The /ops lists paged by keyset (store/sql/ops_lists.sql): each page reads its rows from an index in
-- the list's order instead of sorting every campaign (measured in bench/NOTES.md, 2026-12-04).

-- Campaigns, blocked first then most recently updated: the expression is the one the query orders by
-- (the statuses an operator must act on; keep in step with ops_lists.sql).
CREATE INDEX campaigns_ops_order ON campaigns (
    (coalesce(surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', 'PENDING_APPROVAL'), false)),
    updated_at, id);
-- Campaigns of one surfaced status, most recently updated first.
CREATE INDEX campaigns_surfaced_updated ON campaigns (surfaced_status, updated_at, id);
-- Dead events, oldest first, (received_at, id) the cursor; it supersedes the (received_at) one.
CREATE INDEX webhook_events_dead_page ON webhook_events (received_at, id) WHERE state = 'dead';
DROP INDEX webhook_events_dead;
