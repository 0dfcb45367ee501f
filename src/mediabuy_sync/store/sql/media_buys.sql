-- name: lock_buy_for_report
-- The buy a report is about, among this agent's buys only: by the agent's media-buy id, then by
-- our id echoed as operation_id, then by the agent's task id. Locked until the transaction ends.
SELECT id, campaign_id, status, adcp_status, status_as_of, adcp_media_buy_id
FROM media_buys
WHERE sales_agent_id = %(agent_id)s
  AND (adcp_media_buy_id = %(adcp_media_buy_id)s OR id = %(operation_id)s OR adcp_task_id = %(task_id)s)
ORDER BY adcp_media_buy_id = %(adcp_media_buy_id)s DESC NULLS LAST,
         id = %(operation_id)s DESC NULLS LAST
LIMIT 1
FOR UPDATE;

-- name: lock_buys_for_batch
-- A batch of events locks every buy its reports name by the agent's media-buy id up front, in our id
-- order: two batches touching the same buys then queue behind each other instead of deadlocking.
-- (A report naming its buy only by operation or task id is locked as it is applied.)
SELECT b.id
FROM media_buys b
JOIN unnest(%(agent_ids)s::text[], %(adcp_media_buy_ids)s::text[]) AS r (agent_id, adcp_media_buy_id)
  ON b.sales_agent_id = r.agent_id AND b.adcp_media_buy_id = r.adcp_media_buy_id
ORDER BY b.id
FOR UPDATE OF b;

-- name: set_status
-- Guarded by the status we read under the row lock: zero rows means the guard caught a race.
UPDATE media_buys
SET status = %(to_status)s, adcp_status = %(adcp_status)s, status_as_of = %(as_of)s,
    adcp_media_buy_id = coalesce(adcp_media_buy_id, %(adcp_media_buy_id)s), updated_at = now()
WHERE id = %(id)s AND status = %(from_status)s
RETURNING id;

-- name: request_reconcile
-- An anomaly: poll soon (never later than already planned) to learn the agent's truth.
UPDATE media_buys
SET poll_due_at = least(coalesce(poll_due_at, 'infinity'), now() + make_interval(secs => %(delay)s)),
    poll_reason = %(reason)s, updated_at = now()
WHERE id = %(id)s;

-- name: heard_by_webhook
-- A NULL delay (terminal status) ends polling; the agent's id is learnt if the buy lacked it.
UPDATE media_buys
SET last_webhook_at = now(),
    poll_due_at = CASE WHEN %(delay)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(delay)s) END,
    poll_reason = %(reason)s,
    adcp_media_buy_id = coalesce(adcp_media_buy_id, %(adcp_media_buy_id)s)
WHERE id = %(id)s;

-- name: record_change
INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, adcp_status, source, event_id, outcome, as_of)
VALUES ('media_buy', %(id)s, %(from_status)s, %(to_status)s, %(adcp_status)s, %(source)s, %(event_id)s, %(outcome)s, %(as_of)s);

-- name: bump_campaigns
-- Each applied change makes the campaign's rollup owed (see campaigns.status_version).
UPDATE campaigns SET status_version = status_version + 1, updated_at = now()
WHERE id = ANY(%(campaign_ids)s);

-- name: insert_buy
INSERT INTO media_buys (id, campaign_id, sales_agent_id, adcp_media_buy_id, adcp_task_id, status, adcp_status,
                        status_as_of, poll_due_at, poll_reason)
VALUES (%(id)s, %(campaign_id)s, %(sales_agent_id)s, %(adcp_media_buy_id)s, %(adcp_task_id)s, %(status)s,
        %(adcp_status)s, %(status_as_of)s,
        CASE WHEN %(poll_in)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(poll_in)s) END,
        %(poll_reason)s);

-- name: history
SELECT entity_type, entity_id, from_status, to_status, adcp_status, source, event_id, outcome, as_of, at
FROM status_changes
WHERE entity_id = %(id)s
ORDER BY id;
