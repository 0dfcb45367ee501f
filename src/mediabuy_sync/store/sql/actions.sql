-- name: lock_campaign
-- One action at a time per campaign: execute, update, pause and reactivate all start here.
SELECT id, advertiser_id, name, status, flight_start, flight_end, budget_total, currency, daily_cap, pacing,
       property_list, frequency_caps, optimization_goals, executed_at
FROM campaigns
WHERE id = %(campaign_id)s AND advertiser_id = %(advertiser_id)s
FOR UPDATE;

-- name: products
SELECT sales_agent_id, product_id, position, budget, pacing, bid_price, pricing_option_id, formats, pacing_periods
FROM campaign_products
WHERE campaign_id = %(campaign_id)s
ORDER BY position;

-- name: manifest
SELECT creative_id, format, name FROM campaign_creatives WHERE campaign_id = %(campaign_id)s ORDER BY creative_id;

-- name: lock_buys
-- Locked in id order (every path's order) so that a webhook can't move a buy between our checks and
-- our changes.
SELECT id, sales_agent_id, status, adcp_media_buy_id, creative_ids, optimization_goals
FROM media_buys
WHERE campaign_id = %(campaign_id)s
ORDER BY id
FOR UPDATE;

-- name: packages_of_campaign
-- In the order create_media_buy lists them: by the product's position, then the pacing period.
SELECT p.id, p.media_buy_id, p.adcp_package_id, p.product_id, p.status, p.budget, p.currency, p.pacing,
       p.bid_price, p.pacing_period_index, p.start_time, p.end_time, cp.formats
FROM packages p
JOIN media_buys mb ON mb.id = p.media_buy_id
LEFT JOIN campaign_products cp
       ON cp.campaign_id = mb.campaign_id AND cp.sales_agent_id = mb.sales_agent_id AND cp.product_id = p.product_id
WHERE mb.campaign_id = %(campaign_id)s
ORDER BY p.media_buy_id, cp.position NULLS LAST, p.pacing_period_index, p.id;

-- name: insert_buy
INSERT INTO media_buys (id, campaign_id, sales_agent_id, status, optimization_goals)
VALUES (%(id)s, %(campaign_id)s, %(sales_agent_id)s, 'DRAFT', %(optimization_goals)s);

-- name: insert_package
INSERT INTO packages (id, media_buy_id, product_id, status, budget, currency, pacing, bid_price, pacing_period,
                      pacing_period_index, start_time, end_time)
VALUES (%(id)s, %(media_buy_id)s, %(product_id)s, 'active', %(budget)s, %(currency)s, %(pacing)s, %(bid_price)s,
        %(pacing_period)s, %(pacing_period_index)s, %(start_time)s, %(end_time)s);

-- name: bump_campaign
-- The campaign's buys changed: its rollup is owed (see campaigns.status_version).
UPDATE campaigns SET status_version = status_version + 1, updated_at = now() WHERE id = %(campaign_id)s;

-- name: push_credentials
-- Per agent: its webhook scheme and, for HMAC or Bearer, its newest active secret's id.
SELECT a.id, a.inbound_scheme,
       (SELECT c.id FROM agent_credentials c
        WHERE c.agent_id = a.id AND c.active AND c.secret_sealed IS NOT NULL AND c.kind = a.inbound_scheme
        ORDER BY c.id DESC LIMIT 1) AS credential_id
FROM sales_agents a
WHERE a.id = ANY(%(agent_ids)s);

-- name: set_campaign_status
UPDATE campaigns
SET status = %(status)s, updated_at = now(),
    executed_at = CASE WHEN %(executed)s THEN coalesce(executed_at, now()) ELSE executed_at END
WHERE id = %(campaign_id)s;

-- name: update_campaign
-- Only the fields the request names (a NULL parameter keeps the stored value, except where a
-- `set_*` flag says the NULL is the new value).
UPDATE campaigns
SET name = coalesce(%(name)s, name),
    budget_total = coalesce(%(budget_total)s, budget_total),
    currency = coalesce(%(currency)s, currency),
    daily_cap = CASE WHEN %(set_budget)s THEN %(daily_cap)s ELSE daily_cap END,
    pacing = CASE WHEN %(set_budget)s THEN %(pacing)s ELSE pacing END,
    frequency_caps = coalesce(%(frequency_caps)s, frequency_caps),
    property_list = CASE WHEN %(set_property_list)s THEN %(property_list)s ELSE property_list END,
    updated_at = now()
WHERE id = %(campaign_id)s;

-- name: delete_manifest
DELETE FROM campaign_creatives WHERE campaign_id = %(campaign_id)s;

-- name: insert_creative
INSERT INTO campaign_creatives (campaign_id, creative_id, format, name)
VALUES (%(campaign_id)s, %(creative_id)s, %(format)s, %(name)s);

-- name: update_product_budget
UPDATE campaign_products SET budget = %(budget)s, pacing_periods = %(pacing_periods)s
WHERE campaign_id = %(campaign_id)s AND sales_agent_id = %(sales_agent_id)s AND product_id = %(product_id)s;

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

-- name: advertiser_caps
SELECT frequency_caps FROM advertisers WHERE id = %(advertiser_id)s;

-- name: upsert_advertiser_caps
INSERT INTO advertisers (id, frequency_caps) VALUES (%(advertiser_id)s, %(frequency_caps)s)
ON CONFLICT (id) DO UPDATE SET frequency_caps = EXCLUDED.frequency_caps, updated_at = now();

-- name: campaigns_with_buys_at_agents
-- The advertiser's campaigns that have a buy an agent holds, locked in id order.
SELECT c.id FROM campaigns c
WHERE c.advertiser_id = %(advertiser_id)s
  AND EXISTS (SELECT 1 FROM media_buys mb WHERE mb.campaign_id = c.id AND mb.status = ANY(%(statuses)s))
ORDER BY c.id
FOR UPDATE;

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
-- A re-execute submits the buy anew: the failed attempt's task and buy ids are not this one's.
UPDATE media_buys SET adcp_task_id = NULL, adcp_media_buy_id = NULL WHERE id = ANY(%(ids)s) AND status = 'FAILED';

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
