-- Notifications to the buyer's systems (store/notifications.py): subscriptions, the outbox, deliveries.

-- name: create_subscription
INSERT INTO notification_subscriptions (id, advertiser_id, url, event_types, secret_sealed, description)
VALUES (%(id)s, %(advertiser_id)s, %(url)s, %(event_types)s, %(secret_sealed)s, %(description)s)
RETURNING id, advertiser_id, url, event_types, description, state, disabled_reason, disabled_at, created_at;

-- name: list_subscriptions
SELECT id, advertiser_id, url, event_types, description, state, disabled_reason, disabled_at, created_at
FROM notification_subscriptions WHERE advertiser_id = %(advertiser_id)s ORDER BY created_at, id;

-- name: get_subscription
SELECT id, advertiser_id, url, event_types, description, state, disabled_reason, disabled_at, created_at
FROM notification_subscriptions WHERE id = %(id)s AND advertiser_id = %(advertiser_id)s;

-- name: delete_subscription
-- Its deliveries and their attempts go with it (ON DELETE CASCADE): nothing more is sent.
DELETE FROM notification_subscriptions WHERE id = %(id)s AND advertiser_id = %(advertiser_id)s RETURNING id;

-- name: emit
-- The outbox: an event about a campaign and one delivery per active subscription of its advertiser
-- that wants this type (none when an event with the same dedupe_key was written already) — in the caller's transaction, so it commits (or rolls back) with the change.
-- Nothing is written when nobody subscribed. One statement, whose rows (the deliveries) may be read
-- later: it runs inside the inbox drain's pipeline too.
WITH target AS (
    SELECT id AS campaign_id, advertiser_id FROM campaigns WHERE id = %(campaign_id)s
), subs AS (
    SELECT s.id FROM notification_subscriptions s JOIN target t ON s.advertiser_id = t.advertiser_id
    WHERE s.state = 'active' AND %(event_type)s = ANY (s.event_types)
), event AS (
    INSERT INTO notification_events (id, advertiser_id, event_type, campaign_id, payload, dedupe_key)
    SELECT %(event_id)s, t.advertiser_id, %(event_type)s, t.campaign_id,
           jsonb_build_object('advertiserId', t.advertiser_id) || %(payload)s::jsonb, %(dedupe_key)s::text
    FROM target t WHERE EXISTS (SELECT 1 FROM subs)
    ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
    RETURNING id
)
INSERT INTO notification_deliveries (event_id, subscription_id)
SELECT event.id, subs.id FROM event, subs
RETURNING id;

-- name: claim_due
-- Due deliveries, each moved a lease ahead: a worker that dies mid-POST leaves it due again after
-- the lease, and two workers never claim the same one (SKIP LOCKED).
WITH due AS (
    SELECT id FROM notification_deliveries
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notification_deliveries d
SET next_attempt_at = now() + make_interval(secs => %(lease)s), updated_at = now()
FROM due, notification_events e, notification_subscriptions s
WHERE d.id = due.id AND e.id = d.event_id AND s.id = d.subscription_id AND s.state = 'active'
RETURNING d.id, d.event_id, d.subscription_id, d.attempts, d.window_started_at,
          e.event_type, e.payload, e.created_at AS event_created_at, s.url, s.secret_sealed;

-- name: finish_attempt
-- One attempt's outcome: the delivery's new state (pending again: due after the delay) and the
-- attempt's row. Nothing when the delivery is gone (its subscription deleted meanwhile) or was
-- settled otherwise (canceled by a 410 seen by another attempt).
WITH finished AS (
    UPDATE notification_deliveries
    SET state = %(state)s::text, attempts = attempts + 1,
        next_attempt_at = now() + make_interval(secs => %(delay)s),
        last_status = %(status_code)s, last_error = %(error)s,
        delivered_at = CASE WHEN %(state)s::text = 'delivered' THEN now() END, updated_at = now()
    WHERE id = %(id)s AND state = 'pending'
    RETURNING id
)
INSERT INTO notification_attempts (delivery_id, attempted_at, status_code, error, duration_ms)
SELECT id, %(attempted_at)s, %(status_code)s, %(error)s, %(duration_ms)s FROM finished
RETURNING delivery_id;

-- name: disable_subscription
-- Its receiver answered 410 Gone: disabled, and what was still to be sent to it is canceled.
WITH sub AS (
    UPDATE notification_subscriptions SET state = 'disabled', disabled_reason = %(reason)s, disabled_at = now()
    WHERE id = %(id)s AND state = 'active'
    RETURNING id
)
UPDATE notification_deliveries d SET state = 'canceled', last_error = %(reason)s, updated_at = now()
FROM sub WHERE d.subscription_id = sub.id AND d.state = 'pending';

-- name: list_deliveries
-- Newest first, a page at a time (before: the last id of the previous page).
SELECT d.id, d.event_id, d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error,
       d.delivered_at, d.created_at, e.event_type, e.campaign_id, e.payload, e.created_at AS event_created_at
FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
WHERE d.subscription_id = %(subscription_id)s AND (%(before)s::bigint IS NULL OR d.id < %(before)s::bigint)
  AND (%(state)s::text IS NULL OR d.state = %(state)s::text)
ORDER BY d.id DESC LIMIT %(limit)s;

-- name: attempts_of
SELECT delivery_id, attempted_at, status_code, error, duration_ms
FROM notification_attempts WHERE delivery_id = ANY (%(delivery_ids)s) ORDER BY id;

-- name: replay
-- Due now, with a fresh count of attempts and retry window; the same event id (webhook-id), so a
-- receiver that had it already can tell.
UPDATE notification_deliveries
SET state = 'pending', attempts = 0, next_attempt_at = now(), window_started_at = now(), updated_at = now()
WHERE subscription_id = %(subscription_id)s AND id = ANY (%(delivery_ids)s)
RETURNING id;

-- name: replayable_between
-- The deliveries of a subscription whose events were made in [since, until), those in `states` only.
SELECT d.id FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
WHERE d.subscription_id = %(subscription_id)s AND e.created_at >= %(since)s AND e.created_at < %(until)s
  AND d.state = ANY (%(states)s)
ORDER BY d.id LIMIT %(limit)s;

-- name: any_due
SELECT EXISTS (SELECT 1 FROM notification_deliveries WHERE state = 'pending' AND next_attempt_at <= now()) AS due;

-- name: track_health
-- At a rollup that changed the surfaced status: since when the campaign has been blocked (kept while
-- it moves between blocked statuses, cleared when it is not). Returns when it was declared unhealthy
-- before this change (to send campaign.healthy when it clears). The rollup holds the campaign's lock.
WITH old AS (
    SELECT unhealthy_at FROM notification_campaign_health WHERE campaign_id = %(campaign_id)s
)
INSERT INTO notification_campaign_health AS h (campaign_id, blocked_status, blocked_since)
VALUES (%(campaign_id)s, %(blocked_status)s::text, CASE WHEN %(blocked_status)s::text IS NULL THEN NULL ELSE now() END)
ON CONFLICT (campaign_id) DO UPDATE
SET blocked_status = EXCLUDED.blocked_status,
    blocked_since = CASE WHEN EXCLUDED.blocked_status IS NULL THEN NULL ELSE coalesce(h.blocked_since, now()) END,
    unhealthy_at = CASE WHEN EXCLUDED.blocked_status IS NULL THEN NULL ELSE h.unhealthy_at END
RETURNING (SELECT unhealthy_at FROM old) AS was_unhealthy_at;

-- name: claim_unhealthy
-- Campaigns blocked longer than the threshold and not yet declared unhealthy: declared now.
WITH late AS (
    SELECT campaign_id FROM notification_campaign_health
    WHERE blocked_since IS NOT NULL AND unhealthy_at IS NULL
      AND blocked_since < now() - make_interval(secs => %(threshold)s)
    ORDER BY blocked_since LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE notification_campaign_health h SET unhealthy_at = now()
FROM late WHERE h.campaign_id = late.campaign_id
RETURNING h.campaign_id, h.blocked_status, h.blocked_since;

-- name: purge_events
-- Retention: events older than the window whose deliveries are all settled, a bounded batch a sweep.
DELETE FROM notification_events WHERE id IN (
    SELECT e.id FROM notification_events e
    WHERE e.created_at < now() - make_interval(secs => %(older_than)s)
      AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
    ORDER BY e.created_at LIMIT %(limit)s
);

-- name: sealed_secrets
SELECT id, secret_sealed FROM notification_subscriptions ORDER BY id FOR UPDATE;

-- name: store_sealed
UPDATE notification_subscriptions SET secret_sealed = %(secret_sealed)s WHERE id = %(id)s;

-- name: dead_event
SELECT id, agent_id, raw_body, last_error, attempts FROM webhook_events WHERE id = %(event_id)s;

-- name: campaigns_of_reports
-- The campaigns of the buys some reports name, among the agent's buys only (as the status path matches them).
SELECT DISTINCT campaign_id FROM media_buys
WHERE sales_agent_id = %(agent_id)s
  AND (adcp_media_buy_id = ANY (%(adcp_media_buy_ids)s) OR id = ANY (%(operation_ids)s) OR adcp_task_id = ANY (%(task_ids)s))
ORDER BY campaign_id;

-- name: cancel_stray
-- A delivery made for a subscription while its 410 was being recorded (the fan-out read it active just
-- before the disable committed) would stay pending and due for ever: canceled here, by the sweep.
UPDATE notification_deliveries d SET state = 'canceled', last_error = s.disabled_reason, updated_at = now()
FROM notification_subscriptions s
WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND s.id = d.subscription_id AND s.state = 'disabled';
