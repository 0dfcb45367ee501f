-- Delivery as the agents report it, and each creative's review on each buy.

-- The buy's delivery totals (cumulative, as of the agent's report time); packages hold their own.
ALTER TABLE media_buys
    ADD COLUMN impressions    bigint NOT NULL DEFAULT 0,
    ADD COLUMN spend          numeric(14, 2) NOT NULL DEFAULT 0,
    ADD COLUMN clicks         bigint NOT NULL DEFAULT 0,
    ADD COLUMN delivery_as_of timestamptz;

-- What the seller said of a creative synced to a buy (sync_creatives): approved, rejected, ….
CREATE TABLE media_buy_creatives (
    media_buy_id text NOT NULL REFERENCES media_buys (id),
    creative_id  text NOT NULL,
    action       text,
    status       text,
    assigned_to  text[] NOT NULL DEFAULT '{}',
    errors       jsonb,
    as_of        timestamptz NOT NULL,
    event_id     bigint REFERENCES webhook_events (id),
    PRIMARY KEY (media_buy_id, creative_id)
);
