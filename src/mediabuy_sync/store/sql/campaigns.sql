-- name: insert_campaign
INSERT INTO campaigns (id, advertiser_id, name, status)
VALUES (%(id)s, %(advertiser_id)s, %(name)s, %(status)s);

-- name: lock_for_rollup
-- Holding the campaign row while the buys are read: every bump committed before the lock is in
-- what we read; later ones will find the rollup owed and ask for another recompute.
SELECT status_version, rollup_version, surfaced_status, blockers
FROM campaigns
WHERE id = %(campaign_id)s
FOR UPDATE;

-- name: buy_status_counts
-- Counted here rather than every buy read into Python: a recompute of 10,000 buys stays a few
-- milliseconds (index-only scan of media_buys_campaign_status).
SELECT status, count(*) AS buys FROM media_buys WHERE campaign_id = %(campaign_id)s GROUP BY status;

-- name: save_rollup
-- The blockers (the buys holding the surfaced status) are gathered and stored without leaving the
-- server; an unchanged list keeps its stored value (no new TOAST copy of a long array).
WITH new AS (
    SELECT coalesce(array_agg(id ORDER BY id), '{}') AS blockers
    FROM media_buys
    WHERE campaign_id = %(campaign_id)s AND status = %(surfaced_status)s
)
UPDATE campaigns
SET surfaced_status = %(surfaced_status)s,
    blockers = CASE WHEN campaigns.blockers = new.blockers THEN campaigns.blockers ELSE new.blockers END,
    rollup_version = %(version)s, rollup_at = now(), rollups = rollups + 1
FROM new
WHERE id = %(campaign_id)s
RETURNING cardinality(campaigns.blockers) AS blockers, campaigns.blockers[1:%(blockers_shown)s] AS first_blockers;

-- name: record_surfaced_change
-- clock_timestamp(), not now(): the moment the new status was decided, as the end-to-end benchmark reads it.
INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, source, outcome, at)
VALUES ('campaign', %(campaign_id)s, %(from_status)s, %(to_status)s, 'rollup', 'applied', clock_timestamp());

-- name: rollups_owed
SELECT id FROM campaigns WHERE rollup_version < status_version ORDER BY updated_at LIMIT %(limit)s;

-- name: get_for_advertiser
SELECT id, advertiser_id, name, status, surfaced_status, blockers, rollup_at, created_at, updated_at,
       flight_start, flight_end, budget_total, currency, daily_cap, pacing, property_list, frequency_caps,
       optimization_goals
FROM campaigns
WHERE id = %(campaign_id)s AND advertiser_id = %(advertiser_id)s;

-- name: buys_of_campaign
SELECT mb.id, mb.sales_agent_id, mb.adcp_media_buy_id, mb.status, mb.adcp_status, mb.status_as_of, mb.updated_at,
       mb.impressions, mb.spend, mb.clicks
FROM media_buys mb
WHERE mb.campaign_id = %(campaign_id)s
ORDER BY mb.id;

-- name: insert_plan
INSERT INTO campaigns (id, advertiser_id, name, status, flight_start, flight_end, budget_total, currency,
                       daily_cap, pacing, property_list, frequency_caps, optimization_goals)
VALUES (%(id)s, %(advertiser_id)s, %(name)s, 'DRAFT', %(flight_start)s, %(flight_end)s, %(budget_total)s,
        %(currency)s, %(daily_cap)s, %(pacing)s, %(property_list)s, %(frequency_caps)s, %(optimization_goals)s);

-- name: insert_product
INSERT INTO campaign_products (campaign_id, sales_agent_id, product_id, position, budget, pacing, bid_price,
                               pricing_option_id, formats, pacing_periods)
VALUES (%(campaign_id)s, %(sales_agent_id)s, %(product_id)s, %(position)s, %(budget)s, %(pacing)s,
        %(bid_price)s, %(pricing_option_id)s, %(formats)s, %(pacing_periods)s);

-- name: insert_creative
INSERT INTO campaign_creatives (campaign_id, creative_id, format, name)
VALUES (%(campaign_id)s, %(creative_id)s, %(format)s, %(name)s);

-- name: registered_agents
SELECT id FROM sales_agents WHERE id = ANY(%(agent_ids)s);

-- name: products_of_campaign
SELECT sales_agent_id, product_id, budget, pacing, bid_price, pricing_option_id, formats, pacing_periods
FROM campaign_products
WHERE campaign_id = %(campaign_id)s
ORDER BY position;

-- name: creatives_of_campaign
SELECT creative_id, format, name FROM campaign_creatives WHERE campaign_id = %(campaign_id)s ORDER BY creative_id;

-- name: packages_of_campaign
SELECT p.id, p.media_buy_id, p.adcp_package_id, p.product_id, p.status, p.budget, p.currency, p.pacing,
       p.bid_price, p.pacing_period_index, p.pacing_period ->> 'label' AS pacing_period_label,
       p.start_time, p.end_time, p.impressions, p.spend, p.clicks
FROM packages p
JOIN media_buys mb ON mb.id = p.media_buy_id
WHERE mb.campaign_id = %(campaign_id)s
ORDER BY p.media_buy_id, p.product_id, p.pacing_period_index, p.id;

-- name: list_for_advertiser
-- Newest first; a cursor is the last row's (created_at, id), so a page never repeats or skips a row
-- when campaigns are created meanwhile.
SELECT id, advertiser_id, name, status, surfaced_status, blockers, rollup_at, created_at, updated_at,
       flight_start, flight_end, budget_total, currency, daily_cap, pacing
FROM campaigns
WHERE advertiser_id = %(advertiser_id)s
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(after_created_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_created_at)s, %(after_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: count_for_advertiser
SELECT count(*) AS total
FROM campaigns
WHERE advertiser_id = %(advertiser_id)s AND (%(status)s::text IS NULL OR status = %(status)s);
