-- name: insert_campaign
INSERT INTO campaigns (id, advertiser_id, name, status)
VALUES (%(id)s, %(advertiser_id)s, %(name)s, %(status)s);

-- name: lock_for_rollup
-- Holding the campaign row while the buys are read: every bump committed before the lock is in
-- what we read; later ones will find the rollup owed and ask for another recompute.
SELECT status_version, rollup_version, surfaced_status, blockers, status, flight_end
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
-- A disabled agent (migration 0025) takes no new campaign.
SELECT id FROM sales_agents WHERE id = ANY(%(agent_ids)s) AND disabled_at IS NULL;

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
-- when campaigns are created meanwhile. `status` is the reported one (the rollup, or the lifecycle
-- while there are no buys: the expression of index campaigns_advertiser_reported); `lifecycle` the
-- buyer's. Archived campaigns are left out unless a filter asks for ARCHIVED.
SELECT id, advertiser_id, name, status, surfaced_status, blockers, rollup_at, created_at, updated_at,
       flight_start, flight_end, budget_total, currency, daily_cap, pacing
FROM campaigns
WHERE advertiser_id = %(advertiser_id)s
  AND (%(status)s::text IS NULL OR coalesce(surfaced_status, status) = %(status)s)
  AND (%(lifecycle)s::text IS NULL OR status = %(lifecycle)s)
  AND (status <> 'ARCHIVED' OR %(lifecycle)s::text = 'ARCHIVED' OR %(status)s::text = 'ARCHIVED')
  AND (%(after_created_at)s::timestamptz IS NULL OR (created_at, id) < (%(after_created_at)s, %(after_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: count_for_advertiser
SELECT count(*) AS total
FROM campaigns
WHERE advertiser_id = %(advertiser_id)s
  AND (%(status)s::text IS NULL OR coalesce(surfaced_status, status) = %(status)s)
  AND (%(lifecycle)s::text IS NULL OR status = %(lifecycle)s)
  AND (status <> 'ARCHIVED' OR %(lifecycle)s::text = 'ARCHIVED' OR %(status)s::text = 'ARCHIVED');

-- name: bump_campaign
-- The campaign's buys changed: its rollup is owed (see campaigns.status_version).
UPDATE campaigns SET status_version = status_version + 1, updated_at = now() WHERE id = %(campaign_id)s;

-- name: set_campaign_status
-- A change of the campaign's own status (a buyer's action) goes into the ledger beside its buys' changes
-- (source api; its surfaced-status changes are source rollup): the buyer's history reads both.
WITH before AS (SELECT id, status FROM campaigns WHERE id = %(campaign_id)s FOR UPDATE),
changed AS (
    UPDATE campaigns c
    SET status = %(status)s, updated_at = now(),
        executed_at = CASE WHEN %(executed)s THEN coalesce(c.executed_at, now()) ELSE c.executed_at END
    FROM before
    WHERE c.id = before.id
    RETURNING c.id, before.status AS from_status, c.status AS to_status
)
INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, source, outcome, at)
SELECT 'campaign', id, from_status, to_status, 'api', 'applied', clock_timestamp()
FROM changed WHERE from_status IS DISTINCT FROM to_status;

-- name: update_campaign
-- Only the fields the request names (a NULL parameter keeps the stored value, except where a
-- `set_*` flag says the NULL is the new value).
UPDATE campaigns
SET name = coalesce(%(name)s, name),
    budget_total = coalesce(%(budget_total)s, budget_total),
    currency = coalesce(%(currency)s, currency),
    daily_cap = CASE WHEN %(set_daily_cap)s THEN %(daily_cap)s ELSE daily_cap END,
    pacing = CASE WHEN %(set_pacing)s THEN %(pacing)s ELSE pacing END,
    frequency_caps = coalesce(%(frequency_caps)s, frequency_caps),
    property_list = CASE WHEN %(set_property_list)s THEN %(property_list)s ELSE property_list END,
    updated_at = now()
WHERE id = %(campaign_id)s;

-- name: delete_manifest
DELETE FROM campaign_creatives WHERE campaign_id = %(campaign_id)s;

-- name: update_product_budget
UPDATE campaign_products SET budget = %(budget)s, pacing_periods = %(pacing_periods)s
WHERE campaign_id = %(campaign_id)s AND sales_agent_id = %(sales_agent_id)s AND product_id = %(product_id)s;

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

-- name: claim_status_query
-- At most one live status query per campaign per window; returns nothing while one is too recent.
UPDATE campaigns
SET last_status_query_at = now()
WHERE id = %(campaign_id)s AND advertiser_id = %(advertiser_id)s
  AND (last_status_query_at IS NULL OR last_status_query_at <= now() - make_interval(secs => %(window)s))
RETURNING id;

-- name: status_query_retry_after
SELECT ceil(extract(epoch FROM last_status_query_at + make_interval(secs => %(window)s) - now()))::int AS seconds
FROM campaigns WHERE id = %(campaign_id)s AND advertiser_id = %(advertiser_id)s;

-- name: insert_buy
INSERT INTO media_buys (id, campaign_id, sales_agent_id, adcp_media_buy_id, adcp_task_id, status, adcp_status,
                        status_as_of, poll_due_at, poll_reason)
VALUES (%(id)s, %(campaign_id)s, %(sales_agent_id)s, %(adcp_media_buy_id)s, %(adcp_task_id)s, %(status)s,
        %(adcp_status)s, %(status_as_of)s,
        CASE WHEN %(poll_in)s::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => %(poll_in)s) END,
        %(poll_reason)s);

-- name: release_status_query
-- The live status query could not be started (the broker is down): the client may ask again at once.
UPDATE campaigns SET last_status_query_at = NULL WHERE id = %(campaign_id)s;

-- name: start_versioning
-- A campaign made with its buys: version 1, so that the rollup computed next is its first.
UPDATE campaigns SET status_version = 1 WHERE id = %(id)s;

-- name: advertisers_with_brand
SELECT id, brand_domain FROM advertisers WHERE brand_domain IS NOT NULL ORDER BY id;

-- name: advertiser_brand
SELECT brand_domain FROM advertisers WHERE id = %(advertiser_id)s;

-- name: set_advertiser_brand
INSERT INTO advertisers (id, brand_domain) VALUES (%(advertiser_id)s, %(brand_domain)s)
ON CONFLICT (id) DO UPDATE SET brand_domain = EXCLUDED.brand_domain, updated_at = now();

-- name: complete_campaign
-- The flight is over and every buy is done (domain/lifecycle.completes): the lifecycle ends, guarded
-- so that a buyer's action that won the row lock first is not overwritten.
UPDATE campaigns SET status = 'COMPLETED', updated_at = now()
WHERE id = %(campaign_id)s AND status = ANY(%(from_statuses)s);

-- name: completions_due
-- Campaigns whose flight is over with every buy already terminal and at least one COMPLETED, but whose
-- lifecycle did not end (their last buy finished before the flight's end, so no recompute came after
-- it): the rollup sweeper recomputes them, which completes them. The buy statuses are
-- domain/lifecycle.TERMINAL; the lifecycles are COMPLETABLE_FROM, written out so that the partial index
-- campaigns_flight_end_live (migration 0022) serves the scan.
SELECT c.id FROM campaigns c
WHERE c.status IN ('ACTIVE', 'PAUSED') AND c.flight_end <= now()
  AND EXISTS (SELECT 1 FROM media_buys mb WHERE mb.campaign_id = c.id AND mb.status = 'COMPLETED')
  AND NOT EXISTS (SELECT 1 FROM media_buys mb WHERE mb.campaign_id = c.id AND mb.status <> ALL(%(terminal)s))
ORDER BY c.flight_end
LIMIT %(limit)s;
