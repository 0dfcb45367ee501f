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

-- name: buy_statuses
SELECT id, status FROM media_buys WHERE campaign_id = %(campaign_id)s;

-- name: save_rollup
UPDATE campaigns
SET surfaced_status = %(surfaced_status)s, blockers = %(blockers)s, rollup_version = %(version)s,
    rollup_at = now(), rollups = rollups + 1
WHERE id = %(campaign_id)s;

-- name: record_surfaced_change
INSERT INTO status_changes (entity_type, entity_id, from_status, to_status, source, outcome)
VALUES ('campaign', %(campaign_id)s, %(from_status)s, %(to_status)s, 'rollup', 'applied');

-- name: rollups_owed
SELECT id FROM campaigns WHERE rollup_version < status_version ORDER BY updated_at LIMIT %(limit)s;

-- name: get_for_advertiser
SELECT id, advertiser_id, name, status, surfaced_status, blockers, rollup_at, created_at, updated_at
FROM campaigns
WHERE id = %(campaign_id)s AND advertiser_id = %(advertiser_id)s;

-- name: buys_of_campaign
SELECT mb.id, mb.sales_agent_id, mb.adcp_media_buy_id, mb.status, mb.adcp_status, mb.status_as_of, mb.updated_at
FROM media_buys mb
WHERE mb.campaign_id = %(campaign_id)s
ORDER BY mb.id;
