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

-- name: insert_draft_buy
INSERT INTO media_buys (id, campaign_id, sales_agent_id, status, optimization_goals)
VALUES (%(id)s, %(campaign_id)s, %(sales_agent_id)s, 'DRAFT', %(optimization_goals)s);

-- name: insert_package
INSERT INTO packages (id, media_buy_id, product_id, status, budget, currency, pacing, bid_price, pacing_period,
                      pacing_period_index, start_time, end_time)
VALUES (%(id)s, %(media_buy_id)s, %(product_id)s, 'active', %(budget)s, %(currency)s, %(pacing)s, %(bid_price)s,
        %(pacing_period)s, %(pacing_period_index)s, %(start_time)s, %(end_time)s);
