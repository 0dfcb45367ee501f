-- Notifications to the buyer's own systems (issue 17): an advertiser's webhook subscriptions, the
-- events (an outbox written in the transaction of the change that causes them), one delivery per
-- (event, subscription), and every attempt at a delivery.
CREATE TABLE notification_subscriptions (
    id              text PRIMARY KEY,
    advertiser_id   text NOT NULL,
    url             text NOT NULL,
    event_types     text[] NOT NULL,
    -- whsec_… sealed with MEDIABUY_SECRETS_KEY (store/secretbox.py): we sign with it, so it cannot be hashed
    secret_sealed   text NOT NULL,
    description     text,
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    disabled_reason text,
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
-- the outbox's fan-out reads the advertiser's active subscriptions at every change
CREATE INDEX notification_subscriptions_advertiser ON notification_subscriptions (advertiser_id) WHERE state = 'active';

CREATE TABLE notification_events (
    -- sent as webhook-id: the same on every attempt and replay, so a receiver deduplicates by it
    id            text PRIMARY KEY,
    advertiser_id text NOT NULL,
    event_type    text NOT NULL CHECK (event_type IN ('campaign.status_changed', 'media_buy.status_changed',
                                                      'campaign.unhealthy', 'campaign.healthy')),
    campaign_id   text NOT NULL,
    payload       jsonb NOT NULL,
    -- an alert raised from many places at once (each failed item of one cascade) is sent once
    dedupe_key    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_events_created ON notification_events (created_at);
CREATE UNIQUE INDEX notification_events_dedupe ON notification_events (dedupe_key) WHERE dedupe_key IS NOT NULL;

CREATE TABLE notification_deliveries (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL REFERENCES notification_events (id) ON DELETE CASCADE,
    subscription_id text NOT NULL REFERENCES notification_subscriptions (id) ON DELETE CASCADE,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'canceled')),
    attempts        integer NOT NULL DEFAULT 0,
    -- when it is due; a claim moves it a lease ahead, so a worker that dies mid-POST is retried
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- the retry window (MEDIABUY_NOTIFY_RETRY_WINDOW_SECONDS) counts from here; a replay starts a new one
    window_started_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, subscription_id)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notification_deliveries_subscription ON notification_deliveries (subscription_id, id);

CREATE TABLE notification_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES notification_deliveries (id) ON DELETE CASCADE,
    attempted_at timestamptz NOT NULL,
    status_code  integer,
    error        text,
    duration_ms  integer NOT NULL
);
CREATE INDEX notification_attempts_delivery ON notification_attempts (delivery_id, id);

-- Since when a campaign's surfaced status has been blocked (INPUT_REQUIRED, PENDING_APPROVAL), kept
-- at each rollup that changes it; beat's health sweep sends campaign.unhealthy past the threshold
-- and campaign.healthy when it clears.
CREATE TABLE notification_campaign_health (
    campaign_id    text PRIMARY KEY REFERENCES campaigns (id) ON DELETE CASCADE,
    blocked_status text,
    blocked_since  timestamptz,
    unhealthy_at   timestamptz
);
CREATE INDEX notification_campaign_health_blocked ON notification_campaign_health (blocked_since)
    WHERE blocked_since IS NOT NULL AND unhealthy_at IS NULL;
