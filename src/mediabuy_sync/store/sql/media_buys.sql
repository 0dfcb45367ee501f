-- name: lock_buy_for_report
-- The buy a report is about, among this agent's buys only: by the agent's media-buy id, then by
-- our id echoed as operation_id, then by the agent's task id. Locked until the transaction ends (the
-- campaign is not: its flight's end is read, for the suspicious-word rule, without a lock).
SELECT id, campaign_id, status, adcp_status, status_as_of, adcp_media_buy_id,
       (SELECT c.flight_end FROM campaigns c WHERE c.id = media_buys.campaign_id) AS flight_end
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
    adcp_media_buy_id = coalesce(adcp_media_buy_id, %(adcp_media_buy_id)s), updated_at = now(),
    -- a new status brings its own message (or none); a fresher report of the same status keeps the
    -- seller's last word unless it says something new (`status` here is the row's value before)
    seller_message = CASE WHEN status = %(to_status)s THEN coalesce(%(message)s::text, seller_message)
                          ELSE %(message)s::text END
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
INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, adcp_status, source, event_id, outcome, as_of,
                            message)
VALUES ('media_buy', %(id)s, %(from_status)s, %(to_status)s, %(adcp_status)s, %(source)s, %(event_id)s, %(outcome)s, %(as_of)s,
        %(message)s);

-- name: bump_campaigns
-- Each applied change makes the campaign's rollup owed (see campaigns.status_version).
UPDATE campaigns SET status_version = status_version + 1, updated_at = now()
WHERE id = ANY(%(campaign_ids)s);

-- name: update_package
UPDATE packages
SET budget = coalesce(%(budget)s, budget), pacing = coalesce(%(pacing)s, pacing),
    bid_price = coalesce(%(bid_price)s, bid_price), updated_at = now()
WHERE id = %(id)s;

-- name: set_buy_overrides
UPDATE media_buys
SET creative_ids = CASE WHEN %(set_creative_ids)s THEN %(creative_ids)s ELSE creative_ids END,
    optimization_goals = CASE WHEN %(set_goals)s THEN %(optimization_goals)s ELSE optimization_goals END,
    updated_at = now()
WHERE id = %(id)s;

-- name: record_submission
-- What the agent's answer to create_media_buy told us; polling starts soon after a submission.
UPDATE media_buys
SET adcp_task_id = coalesce(%(task_id)s, adcp_task_id),
    adcp_media_buy_id = coalesce(adcp_media_buy_id, %(adcp_media_buy_id)s),
    submitted_at = now(), last_error = NULL,
    poll_due_at = CASE WHEN %(poll_in)s::float8 IS NULL THEN poll_due_at
                       ELSE least(coalesce(poll_due_at, 'infinity'), now() + make_interval(secs => %(poll_in)s)) END,
    poll_reason = CASE WHEN %(poll_in)s::float8 IS NULL THEN poll_reason ELSE 'submitted' END,
    updated_at = now()
WHERE id = %(id)s;

-- name: set_last_error
UPDATE media_buys SET last_error = %(error)s, updated_at = now() WHERE id = %(id)s;

-- name: forget_adcp_ids
-- A re-execute submits the buy anew: the failed attempt's (or the rejected buy's) task and buy ids are
-- not this one's; the seller keeps its rejected buy as it was and makes a new one.
UPDATE media_buys SET adcp_task_id = NULL, adcp_media_buy_id = NULL
WHERE id = ANY(%(ids)s) AND status IN ('FAILED', 'REJECTED');

-- name: buy_for_calls
-- Locked: what the caller decides from the status holds until its transaction ends.
SELECT id, campaign_id, status, adcp_media_buy_id FROM media_buys WHERE id = %(id)s FOR UPDATE;

-- name: packages_of_buy
SELECT p.id, p.product_id, p.adcp_package_id, p.status
FROM packages p
JOIN media_buys mb ON mb.id = p.media_buy_id
LEFT JOIN campaign_products cp
       ON cp.campaign_id = mb.campaign_id AND cp.sales_agent_id = mb.sales_agent_id AND cp.product_id = p.product_id
WHERE p.media_buy_id = %(id)s
ORDER BY cp.position NULLS LAST, p.pacing_period_index, p.id;

-- name: learn_package_ids
UPDATE packages p SET adcp_package_id = m.adcp_id, updated_at = now()
FROM unnest(%(ids)s::text[], %(adcp_ids)s::text[]) AS m(id, adcp_id)
WHERE p.id = m.id AND p.media_buy_id = %(media_buy_id)s AND p.adcp_package_id IS DISTINCT FROM m.adcp_id;

-- name: set_package_statuses
UPDATE packages p SET status = m.status, updated_at = now()
FROM unnest(%(ids)s::text[], %(statuses)s::text[]) AS m(id, status)
WHERE p.id = m.id AND p.media_buy_id = %(media_buy_id)s
  AND p.status <> 'canceled';  -- canceled is final
