-- name: record_buy_delivery
-- Cumulative totals, applied only when newer than what the buy already shows (reports may arrive
-- out of order; an "adjusted" report may lower them).
UPDATE media_buys
SET impressions = coalesce(%(impressions)s, impressions), spend = coalesce(%(spend)s, spend),
    clicks = coalesce(%(clicks)s, clicks), delivery_as_of = %(as_of)s
WHERE id = %(buy_id)s AND (delivery_as_of IS NULL OR delivery_as_of < %(as_of)s);

-- name: record_package_delivery
UPDATE packages p
SET impressions = coalesce(d.impressions, p.impressions), spend = coalesce(d.spend, p.spend),
    clicks = coalesce(d.clicks, p.clicks), delivery_as_of = %(as_of)s, updated_at = now()
FROM unnest(%(package_ids)s::text[], %(impressions)s::bigint[], %(spend)s::numeric[], %(clicks)s::bigint[])
     AS d(package_id, impressions, spend, clicks)
WHERE p.media_buy_id = %(buy_id)s
  AND (p.adcp_package_id = d.package_id OR p.id = d.package_id)
  AND (p.delivery_as_of IS NULL OR p.delivery_as_of < %(as_of)s);

-- name: buy_for_task
-- The buy a task webhook is about: our id echoed as operation_id, or the agent's task id.
SELECT id FROM media_buys
WHERE sales_agent_id = %(agent_id)s AND (id = %(operation_id)s OR adcp_task_id = %(task_id)s)
ORDER BY id = %(operation_id)s DESC NULLS LAST
LIMIT 1;

-- name: buys_for_packages
SELECT DISTINCT mb.id
FROM packages p JOIN media_buys mb ON mb.id = p.media_buy_id
WHERE mb.sales_agent_id = %(agent_id)s AND (p.adcp_package_id = ANY(%(package_ids)s) OR p.id = ANY(%(package_ids)s))
ORDER BY mb.id;

-- name: record_creative_review
INSERT INTO media_buy_creatives (media_buy_id, creative_id, action, status, assigned_to, errors, as_of, event_id)
VALUES (%(buy_id)s, %(creative_id)s, %(action)s, %(status)s, %(assigned_to)s, %(errors)s, %(as_of)s, %(event_id)s)
ON CONFLICT (media_buy_id, creative_id) DO UPDATE
SET action = EXCLUDED.action, status = EXCLUDED.status, assigned_to = EXCLUDED.assigned_to,
    errors = EXCLUDED.errors, as_of = EXCLUDED.as_of, event_id = EXCLUDED.event_id
WHERE media_buy_creatives.as_of < EXCLUDED.as_of;
