-- name: insert_cascade
INSERT INTO cascades (campaign_id, kind, request) VALUES (%(campaign_id)s, %(kind)s, %(request)s)
RETURNING id;

-- name: insert_item
INSERT INTO cascade_items (cascade_id, media_buy_id, sales_agent_id, previous_status, request)
VALUES (%(cascade_id)s, %(media_buy_id)s, %(sales_agent_id)s, %(previous_status)s, %(request)s);

-- name: get_cascade
SELECT id, campaign_id, kind, state, request, created_at, finished_at FROM cascades WHERE id = %(cascade_id)s;

-- name: items_of_cascade
SELECT i.media_buy_id, i.sales_agent_id, i.state, i.attempts, i.previous_status, i.request, i.result, i.error,
       i.updated_at, mb.status AS media_buy_status
FROM cascade_items i
JOIN media_buys mb ON mb.id = i.media_buy_id
WHERE i.cascade_id = %(cascade_id)s
ORDER BY i.media_buy_id;

-- name: agents_pending
SELECT DISTINCT sales_agent_id FROM cascade_items
WHERE cascade_id = %(cascade_id)s AND state = 'pending'
ORDER BY sales_agent_id;

-- name: pending_items_of_agent
-- What one agent's job has left to do, with what it needs of each buy. Sorted by buy id: the lock
-- order of every other path.
SELECT c.kind, c.campaign_id, i.media_buy_id, i.attempts, i.request, i.result, i.answered_at,
       mb.status AS media_buy_status, mb.adcp_media_buy_id, cmp.advertiser_id
FROM cascade_items i
JOIN cascades c ON c.id = i.cascade_id
JOIN media_buys mb ON mb.id = i.media_buy_id
JOIN campaigns cmp ON cmp.id = c.campaign_id
WHERE i.cascade_id = %(cascade_id)s AND i.sales_agent_id = %(agent_id)s AND i.state = 'pending'
  AND c.state = 'running'
ORDER BY i.media_buy_id;

-- name: count_attempt
-- Counted before the call, so an attempt cut short by a dying worker still counts.
UPDATE cascade_items SET attempts = attempts + 1, updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending'
RETURNING attempts;

-- name: store_request
-- The request with the agent's ids resolved: what every later attempt sends.
UPDATE cascade_items SET request = %(request)s
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending';

-- name: append_log
UPDATE cascade_items
SET result = jsonb_set(coalesce(result, '{}'), '{log}', coalesce(result -> 'log', '[]') || %(lines)s::jsonb),
    updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s;

-- name: record_error
-- A failed attempt: the item stays pending until the agent's job gives up on it.
UPDATE cascade_items SET error = %(error)s, updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending';

-- name: item_done
UPDATE cascade_items
SET state = 'done', result = jsonb_set(coalesce(result, '{}'), '{response}', %(response)s::jsonb), updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending'
RETURNING media_buy_id;

-- name: item_answered
-- The seller accepted the item's request; it stays pending until a read of the buy shows it done.
UPDATE cascade_items
SET answered_at = now(), result = jsonb_set(coalesce(result, '{}'), '{response}', %(response)s::jsonb),
    updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending' AND answered_at IS NULL
RETURNING answered_at;

-- name: item_confirmed
UPDATE cascade_items SET state = 'done', updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending'
RETURNING media_buy_id;

-- name: item_unconfirmed
UPDATE cascade_items SET state = 'unconfirmed', error = %(error)s, updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending'
RETURNING media_buy_id;

-- name: item_failed
UPDATE cascade_items SET state = 'failed', error = %(error)s, updated_at = now()
WHERE cascade_id = %(cascade_id)s AND media_buy_id = %(media_buy_id)s AND state = 'pending'
RETURNING media_buy_id;

-- name: finish_if_complete
-- Over once no item is pending: 'failed' when any item failed, or was answered but never shown done.
UPDATE cascades c
SET state = CASE WHEN EXISTS (SELECT 1 FROM cascade_items i WHERE i.cascade_id = c.id
                                                             AND i.state IN ('failed', 'unconfirmed'))
                 THEN 'failed' ELSE 'done' END,
    finished_at = now()
WHERE c.id = %(cascade_id)s AND c.state = 'running'
  AND NOT EXISTS (SELECT 1 FROM cascade_items i WHERE i.cascade_id = c.id AND i.state = 'pending')
RETURNING c.state;

-- name: recent_for_campaign
SELECT c.id, c.kind, c.state, c.created_at, c.finished_at,
       count(i.media_buy_id) AS total,
       count(i.media_buy_id) FILTER (WHERE i.state = 'done') AS succeeded,
       count(i.media_buy_id) FILTER (WHERE i.state IN ('failed', 'unconfirmed')) AS failed,
       count(i.media_buy_id) FILTER (WHERE i.state = 'pending') AS pending
FROM cascades c
LEFT JOIN cascade_items i ON i.cascade_id = c.id
WHERE c.campaign_id = %(campaign_id)s
GROUP BY c.id
ORDER BY c.id DESC
LIMIT %(limit)s;

-- name: stale_agent_jobs
-- (cascade, agent) pairs whose pending items nobody has touched for a while: their job was lost
-- (an enqueue that failed, a purged queue). Old enough that a job still retrying is not among them.
SELECT i.cascade_id, i.sales_agent_id
FROM cascade_items i
JOIN cascades c ON c.id = i.cascade_id
WHERE c.state = 'running' AND i.state = 'pending'
GROUP BY i.cascade_id, i.sales_agent_id
HAVING max(i.updated_at) < now() - make_interval(secs => %(stale_after)s)
ORDER BY i.cascade_id
LIMIT 100;

-- name: touch_agent_items
-- Claimed for a re-enqueue: the next sweep leaves them alone while that job runs.
UPDATE cascade_items SET updated_at = now()
WHERE cascade_id = %(cascade_id)s AND sales_agent_id = %(agent_id)s AND state = 'pending';

-- name: credential_secret
-- Sealed (secretbox.py): the caller opens it.
SELECT secret_sealed FROM agent_credentials WHERE id = %(credential_id)s AND active AND secret_sealed IS NOT NULL;

-- name: newest_secret
-- The credential a push_notification_config names: the agent's newest active HMAC secret or token (sealed).
SELECT id, secret_sealed FROM agent_credentials
WHERE agent_id = %(agent_id)s AND active AND kind = %(kind)s AND secret_sealed IS NOT NULL
ORDER BY id DESC
LIMIT 1;

-- name: buys_being_submitted
-- Buys an execute is still submitting: a second execute must not send them again (under another key).
SELECT DISTINCT i.media_buy_id
FROM cascade_items i JOIN cascades c ON c.id = i.cascade_id
WHERE c.campaign_id = %(campaign_id)s AND c.kind = 'execute' AND c.state = 'running' AND i.state = 'pending';

-- name: deletes_buy
-- Whether the buyer's request behind this cascade deletes this buy (a live buy's delete is carried as a
-- cancel; the worker archives the buy once the agent accepted it).
SELECT EXISTS (
    SELECT 1 FROM cascades c, jsonb_array_elements(coalesce(c.request -> 'mediaBuys', '[]'::jsonb)) AS e
    WHERE c.id = %(cascade_id)s AND e ->> 'mediaBuyId' = %(media_buy_id)s AND e ->> 'action' = 'delete'
) AS deletes;

-- name: delete_finished
-- Retention (services/retention.py): cascades finished before the horizon, with their items, a bounded
-- batch at a time (index cascades_finished, migration 0030). A running cascade is never deleted.
WITH old AS (
    SELECT id FROM cascades
    WHERE state <> 'running' AND finished_at < now() - make_interval(days => %(days)s)
    ORDER BY finished_at LIMIT %(limit)s
), items AS (
    DELETE FROM cascade_items WHERE cascade_id IN (SELECT id FROM old)
)
DELETE FROM cascades WHERE id IN (SELECT id FROM old)
RETURNING id;
