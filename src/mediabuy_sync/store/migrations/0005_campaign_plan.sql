-- The buyer's plan: a campaign's flight, budget, selected products, creative manifest, property list,
-- frequency caps and goals; and the cascades that carry the buyer's actions to the agents.

CREATE TABLE advertisers (
    id             text PRIMARY KEY,
    frequency_caps jsonb NOT NULL DEFAULT '[]',  -- enforced across all the advertiser's media buys
    updated_at     timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE campaigns
    ADD COLUMN flight_start       timestamptz,
    ADD COLUMN flight_end         timestamptz,
    ADD COLUMN budget_total       numeric(14, 2),
    ADD COLUMN currency           text,
    ADD COLUMN daily_cap          numeric(14, 2),
    ADD COLUMN pacing             text CHECK (pacing IN ('EVEN', 'ASAP', 'FRONTLOADED')),
    ADD COLUMN property_list      jsonb,
    ADD COLUMN frequency_caps     jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN optimization_goals jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN executed_at        timestamptz;

-- The products the buyer selected; execute makes one media buy per sales agent and one package per
-- product per pacing period. `formats` are the creative formats the product accepts.
CREATE TABLE campaign_products (
    campaign_id    text NOT NULL REFERENCES campaigns (id),
    sales_agent_id text NOT NULL REFERENCES sales_agents (id),
    product_id     text NOT NULL,
    position       integer NOT NULL,
    budget         numeric(14, 2) NOT NULL CHECK (budget >= 0),
    pacing         text CHECK (pacing IN ('even', 'asap', 'front_loaded')),
    bid_price      numeric(14, 4),
    pricing_option_id text,
    formats        text[] NOT NULL DEFAULT '{}',
    pacing_periods jsonb NOT NULL DEFAULT '[]',  -- [{label, startTime, endTime, budget?}]
    PRIMARY KEY (campaign_id, sales_agent_id, product_id)
);

-- The campaign's creative manifest.
CREATE TABLE campaign_creatives (
    campaign_id text NOT NULL REFERENCES campaigns (id),
    creative_id text NOT NULL,
    format      text NOT NULL,
    name        text,
    PRIMARY KEY (campaign_id, creative_id)
);

ALTER TABLE media_buys
    -- NULL: the campaign's manifest auto-syncs (filtered by format); [] clears; a list overrides
    ADD COLUMN creative_ids       text[],
    ADD COLUMN optimization_goals jsonb,
    ADD COLUMN submitted_at       timestamptz,
    ADD COLUMN last_error         jsonb;  -- the last failed call to the agent: {kind, message, adcp_error, at}

ALTER TABLE packages
    ADD COLUMN pacing_period_index integer NOT NULL DEFAULT 0;

-- A buyer action carried to every media buy it concerns, one Celery job per agent. Its progress
-- and failures are visible on the campaign; each item is retried per agent with backoff.
CREATE TABLE cascades (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id text NOT NULL REFERENCES campaigns (id),
    kind        text NOT NULL CHECK (kind IN ('execute', 'pause', 'reactivate', 'update', 'creatives',
                                              'property_list', 'frequency_caps')),
    state       text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'failed')),
    request     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
CREATE INDEX cascades_campaign ON cascades (campaign_id, id);

CREATE TABLE cascade_items (
    cascade_id   bigint NOT NULL REFERENCES cascades (id),
    media_buy_id text NOT NULL REFERENCES media_buys (id),
    sales_agent_id text NOT NULL,
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    previous_status text,
    request      jsonb,   -- what is sent to the agent (idempotent: the same request on every attempt)
    result       jsonb,
    error        jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cascade_id, media_buy_id)
);
CREATE INDEX cascade_items_pending ON cascade_items (cascade_id) WHERE state = 'pending';

