-- The foundation: agents and their credentials, campaigns, media buys, packages,
-- the webhook inbox, the status ledger, API keys and the periodic-job claims.

CREATE TABLE sales_agents (
    id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    name           text NOT NULL,
    endpoint_uri   text NOT NULL,
    protocol       text NOT NULL DEFAULT 'mcp' CHECK (protocol IN ('mcp', 'a2a')),
    -- how we authenticate to the agent, e.g. {"type": "bearer", "token": "…"}
    outbound_auth  jsonb,
    -- how the agent authenticates its webhooks to us: one scheme per agent, never "try both"
    inbound_scheme text NOT NULL CHECK (inbound_scheme IN ('hmac-sha256', 'bearer', 'rfc9421')),
    jwks_uri       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Inbound credentials. Several may be active at once while an agent rotates.
CREATE TABLE agent_credentials (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id   text NOT NULL REFERENCES sales_agents (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('hmac-sha256', 'bearer', 'jwk')),
    key_id     text,
    secret     text,   -- HMAC secret or Bearer token: sent to the agent in push_notification_config
    public_jwk jsonb,  -- RFC 9421 public key
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    CHECK (secret IS NOT NULL OR public_jwk IS NOT NULL)
);
CREATE INDEX agent_credentials_active ON agent_credentials (agent_id) WHERE active;

CREATE TABLE campaigns (
    id              text PRIMARY KEY,
    advertiser_id   text NOT NULL,
    name            text NOT NULL,
    status          text NOT NULL DEFAULT 'DRAFT'
                    CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'COMPLETED', 'ARCHIVED', 'CANCELED')),
    -- the most restrictive status of its buys (NULL while it has none) and the buys that decide it
    surfaced_status text,
    blockers        text[] NOT NULL DEFAULT '{}',
    -- status_version is bumped by every applied buy change; the rollup reflects rollup_version.
    -- rollup_version < status_version means a recompute is owed (the rollup sweeper's work list).
    status_version  bigint NOT NULL DEFAULT 0,
    rollup_version  bigint NOT NULL DEFAULT 0,
    rollup_at       timestamptz,
    rollups         bigint NOT NULL DEFAULT 0,  -- recomputes run, to show coalescing at work
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_advertiser ON campaigns (advertiser_id, created_at);
CREATE INDEX campaigns_rollup_owed ON campaigns (id) WHERE rollup_version < status_version;

CREATE TABLE media_buys (
    id                text PRIMARY KEY,  -- mb_…
    campaign_id       text NOT NULL REFERENCES campaigns (id),
    sales_agent_id    text NOT NULL REFERENCES sales_agents (id),
    adcp_media_buy_id text,              -- the agent's id, known once it has accepted the buy
    adcp_task_id      text,              -- the agent's task for our create_media_buy, until then
    status            text NOT NULL DEFAULT 'DRAFT'
                      CHECK (status IN ('DRAFT', 'PENDING_APPROVAL', 'INPUT_REQUIRED', 'ACTIVE', 'PAUSED',
                                        'COMPLETED', 'CANCELED', 'FAILED', 'REJECTED', 'ARCHIVED')),
    adcp_status       text,              -- the raw ADCP status the internal one came from
    status_as_of      timestamptz,       -- the agent's time of that status; older reports are stale
    -- when the next poll of this buy is due (NULL: none planned); an anomaly asks for one now
    poll_due_at       timestamptz,
    poll_reason       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sales_agent_id, adcp_media_buy_id)
);
CREATE INDEX media_buys_campaign ON media_buys (campaign_id);
CREATE INDEX media_buys_task ON media_buys (sales_agent_id, adcp_task_id) WHERE adcp_task_id IS NOT NULL;
CREATE INDEX media_buys_poll_due ON media_buys (poll_due_at) WHERE poll_due_at IS NOT NULL;

CREATE TABLE packages (
    id              text PRIMARY KEY,    -- pkg_…
    media_buy_id    text NOT NULL REFERENCES media_buys (id),
    adcp_package_id text,
    product_id      text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'canceled')),
    budget          numeric(14, 2),
    currency        text,
    pacing          text,
    bid_price       numeric(14, 4),
    pacing_period   jsonb,
    start_time      timestamptz,
    end_time        timestamptz,
    impressions     bigint NOT NULL DEFAULT 0,
    spend           numeric(14, 2) NOT NULL DEFAULT 0,
    clicks          bigint NOT NULL DEFAULT 0,
    delivery_as_of  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX packages_media_buy ON packages (media_buy_id);

-- The inbox. A row is committed before the agent hears 2xx; (agent, idempotency_key) dedups retries.
CREATE TABLE webhook_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id        text NOT NULL REFERENCES sales_agents (id),
    idempotency_key text NOT NULL,
    task_type       text NOT NULL,
    raw_body        text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'received' CHECK (state IN ('received', 'processed', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    last_error      text,
    enqueued_at     timestamptz,  -- set by the sweeper when it enqueues the event again
    processed_at    timestamptz,
    outcome         text,
    UNIQUE (agent_id, idempotency_key)
);
CREATE INDEX webhook_events_received ON webhook_events (received_at) WHERE state = 'received';
CREATE INDEX webhook_events_dead ON webhook_events (received_at) WHERE state = 'dead';

-- The ledger: every status report about a buy, applied or not, and every surfaced-status change.
CREATE TABLE status_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type text NOT NULL CHECK (entity_type IN ('media_buy', 'campaign')),
    entity_id   text NOT NULL,
    from_status text,
    to_status   text,
    adcp_status text,
    source      text NOT NULL CHECK (source IN ('webhook', 'poll', 'api', 'admin', 'rollup')),
    event_id    bigint REFERENCES webhook_events (id),
    -- applied; unchanged (same status, fresher report); stale (older than status_as_of);
    -- anomaly (transition not allowed: recorded, not applied, reconcile poll asked for)
    outcome     text NOT NULL CHECK (outcome IN ('applied', 'unchanged', 'stale', 'anomaly')),
    as_of       timestamptz,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX status_changes_entity ON status_changes (entity_id, id);
CREATE INDEX status_changes_event ON status_changes (event_id) WHERE event_id IS NOT NULL;

-- Buyer API keys, stored as SHA-256 of the key (keys are random 256-bit strings).
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    advertiser_id text NOT NULL,
    key_hash      bytea NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- Periodic jobs claim their turn here, so two beat processes still run each job once a period.
CREATE TABLE periodic_jobs (
    name        text PRIMARY KEY,
    last_run_at timestamptz NOT NULL
);
