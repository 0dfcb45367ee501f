-- name: open_session
-- Expired rows are dropped as new sessions open: the table holds the live ones and a few stale.
WITH purged AS (DELETE FROM ops_sessions WHERE expires_at < now() - interval '1 day')
INSERT INTO ops_sessions (id, expires_at) VALUES (%(id)s, now() + make_interval(secs => %(seconds)s));

-- name: session_live
SELECT 1 AS live FROM ops_sessions WHERE id = %(id)s AND ended_at IS NULL AND expires_at > now();

-- name: end_session
UPDATE ops_sessions SET ended_at = now() WHERE id = %(id)s AND ended_at IS NULL;

-- name: end_all_sessions
UPDATE ops_sessions SET ended_at = now() WHERE ended_at IS NULL AND expires_at > now();
