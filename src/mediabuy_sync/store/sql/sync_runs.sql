-- name: buys_of_agent_polled
SELECT id FROM media_buys
WHERE sales_agent_id = %(agent_id)s AND status = ANY(%(polled)s) AND adcp_media_buy_id IS NOT NULL
ORDER BY id;

-- name: buys_of_campaign_polled
SELECT id, sales_agent_id FROM media_buys
WHERE campaign_id = %(campaign_id)s AND status = ANY(%(polled)s) AND adcp_media_buy_id IS NOT NULL
ORDER BY sales_agent_id, id;

-- name: create_run
INSERT INTO sync_runs (kind, target_id, source, total) VALUES (%(kind)s, %(target_id)s, %(source)s, %(total)s)
RETURNING id;

-- name: run_progress
UPDATE sync_runs SET state = 'running', done = done + %(done)s WHERE id = %(run_id)s;

-- name: finish_run
UPDATE sync_runs SET state = %(state)s, result = %(result)s, finished_at = now(),
    done = CASE WHEN %(state)s = 'done' THEN total ELSE done END
WHERE id = %(run_id)s;

-- name: get_run
SELECT id, kind, target_id, source, state, total, done, result, created_at, finished_at
FROM sync_runs WHERE id = %(run_id)s;

-- name: buy_polled
SELECT id, sales_agent_id FROM media_buys WHERE id = %(id)s AND adcp_media_buy_id IS NOT NULL;

-- name: delete_finished
-- Retention (services/retention.py): runs finished before the horizon, a bounded batch at a time
-- (index sync_runs_finished, migration 0030).
DELETE FROM sync_runs WHERE id IN (
    SELECT id FROM sync_runs
    WHERE state IN ('done', 'failed') AND finished_at < now() - make_interval(days => %(days)s)
    ORDER BY finished_at LIMIT %(limit)s)
RETURNING id;
