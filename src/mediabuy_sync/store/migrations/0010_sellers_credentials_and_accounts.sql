-- Real sellers: our credentials at each seller, sealed at rest; the seller's account id for each of our
-- advertisers; the brand each advertiser buys for.

-- The token we send the seller (sealed with Fernet under MEDIABUY_SECRETS_KEY, like the agents' webhook
-- secrets) and the header it goes in: the raw token in x-adcp-auth (the ADCP default), or
-- `Authorization: Bearer <token>`. outbound_auth (plain JSON before this) is sealed into them by
-- `mediabuy-sync db upgrade` (store/agents.py seal_plaintext_outbound_auth) and emptied.
ALTER TABLE sales_agents
    ADD COLUMN outbound_token_sealed text,
    ADD COLUMN outbound_auth_header text NOT NULL DEFAULT 'x-adcp-auth'
        CHECK (outbound_auth_header IN ('x-adcp-auth', 'authorization')),
    -- How the seller names accounts: 'advertiser_id' (it takes our advertiser id, as the simulated
    -- sellers do) or 'seller' (it assigns its own: each advertiser needs a mapping, agent_accounts).
    ADD COLUMN account_mode text NOT NULL DEFAULT 'advertiser_id' CHECK (account_mode IN ('advertiser_id', 'seller'));
COMMENT ON COLUMN sales_agents.outbound_auth IS 'obsolete: plaintext before 0010, sealed into outbound_token_sealed by db upgrade';

-- (advertiser, agent) -> the seller's account id: set by an operator, or discovered from the seller's
-- list_accounts / sync_accounts.
CREATE TABLE agent_accounts (
    agent_id      text NOT NULL REFERENCES sales_agents (id) ON DELETE CASCADE,
    advertiser_id text NOT NULL,
    account_id    text NOT NULL CHECK (length(account_id) BETWEEN 1 AND 255),
    source        text NOT NULL CHECK (source IN ('operator', 'discovered')),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, advertiser_id)
);

-- The brand an advertiser's buys are for (create_media_buy's brand.domain); NULL: MEDIABUY_BRAND_DOMAIN.
ALTER TABLE advertisers ADD COLUMN brand_domain text;
