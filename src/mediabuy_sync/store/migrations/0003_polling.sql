-- Fallback polling, re-sync runs and the media-buy-status rate limit.

-- When the buy last heard from its agent by webhook: polling relaxes while webhooks flow.
ALTER TABLE media_buys ADD COLUMN last_webhook_at timestamptz;

-- Per-agent polling health: consecutive failures back the agent off, with jitter.
ALTER TABLE sales_agents
    ADD COLUMN poll_failures      integer NOT NULL DEFAULT 0,
    ADD COLUMN poll_backoff_until timestamptz,
    ADD COLUMN last_poll_at       timestamptz,
    ADD COLUMN last_poll_error    text;

-- GET …/media-buy-status asks every agent now; clients may do so once per 30 s per campaign.
ALTER TABLE campaigns ADD COLUMN last_status_query_at timestamptz;

-- A re-sync (admin, CLI) or a live status query: its progress and its result, for whoever waits.
CREATE TABLE sync_runs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('media_buy', 'campaign', 'agent', 'status_query')),
    target_id    text NOT NULL,
    source       text NOT NULL CHECK (source IN ('api', 'admin')),
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total        integer NOT NULL DEFAULT 0,
    done         integer NOT NULL DEFAULT 0,
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

-- How many times each periodic job ran: with two beats it must still be once per period.
ALTER TABLE periodic_jobs ADD COLUMN runs bigint NOT NULL DEFAULT 1;
