-- The buyer's reads: media buys (one, or a page of them) and a campaign's status timeline.
-- Every read is scoped to the API key's advertiser through the buy's campaign.

-- name: media_buy_for_advertiser
SELECT mb.id, mb.campaign_id, mb.sales_agent_id, mb.adcp_media_buy_id, mb.status, mb.adcp_status,
       mb.status_as_of, mb.seller_message, mb.last_error, mb.optimization_goals, mb.creative_ids,
       mb.impressions, mb.spend, mb.clicks, mb.delivery_as_of, mb.submitted_at, mb.created_at, mb.updated_at
FROM media_buys mb
JOIN campaigns c ON c.id = mb.campaign_id
WHERE mb.id = %(id)s AND c.advertiser_id = %(advertiser_id)s;

-- name: media_buys_for_advertiser
-- Newest first; the cursor is the last row's (created_at, id): a page never repeats or skips a buy
-- while buys are made. One more row than the limit says whether there is a next page.
SELECT mb.id, mb.campaign_id, mb.sales_agent_id, mb.adcp_media_buy_id, mb.status, mb.adcp_status,
       mb.status_as_of, mb.seller_message, mb.last_error, mb.optimization_goals, mb.creative_ids,
       mb.impressions, mb.spend, mb.clicks, mb.delivery_as_of, mb.submitted_at, mb.created_at, mb.updated_at
FROM media_buys mb
JOIN campaigns c ON c.id = mb.campaign_id
WHERE c.advertiser_id = %(advertiser_id)s
  AND (%(status)s::text IS NULL OR mb.status = %(status)s::text)
  AND (%(campaign_id)s::text IS NULL OR mb.campaign_id = %(campaign_id)s::text)
  AND (%(sales_agent_id)s::text IS NULL OR mb.sales_agent_id = %(sales_agent_id)s::text)
  AND (%(after_at)s::timestamptz IS NULL OR (mb.created_at, mb.id) < (%(after_at)s::timestamptz, %(after_id)s::text))
ORDER BY mb.created_at DESC, mb.id DESC
LIMIT %(limit)s + 1;

-- name: packages_of_buys
SELECT p.id, p.media_buy_id, p.adcp_package_id, p.product_id, p.status, p.budget, p.currency, p.pacing,
       p.bid_price, p.pacing_period_index, p.pacing_period ->> 'label' AS pacing_period_label,
       p.start_time, p.end_time, p.impressions, p.spend, p.clicks
FROM packages p
WHERE p.media_buy_id = ANY(%(ids)s)
ORDER BY p.media_buy_id, p.product_id, p.pacing_period_index, p.id;

-- name: campaign_of_advertiser
SELECT id FROM campaigns WHERE id = %(id)s AND advertiser_id = %(advertiser_id)s;

-- name: campaign_buy_ids
SELECT mb.id FROM media_buys mb WHERE mb.campaign_id = %(campaign_id)s ORDER BY mb.id;

-- name: campaign_history
-- The applied changes of the campaign's buys and of its surfaced status, newest first (the ledger's
-- id is its order of writing); the cursor is the last row's id. status_changes_entity serves it.
SELECT sc.id, sc.entity_type, sc.entity_id, sc.from_status, sc.to_status, sc.adcp_status, sc.source,
       sc.message, sc.as_of, sc.at, mb.sales_agent_id
FROM status_changes sc
LEFT JOIN media_buys mb ON sc.entity_type = 'media_buy' AND mb.id = sc.entity_id
WHERE sc.entity_id = ANY(%(entity_ids)s)
  AND sc.outcome = 'applied'
  AND (%(before_id)s::bigint IS NULL OR sc.id < %(before_id)s::bigint)
ORDER BY sc.id DESC
LIMIT %(limit)s + 1;
