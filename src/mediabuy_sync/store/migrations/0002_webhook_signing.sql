-- RFC 9421 webhooks: nonces seen, agents' JWKs by key id, and the per-agent JWKS refresh limit.

-- A nonce is accepted once per agent, recorded in the transaction that stores the event. Kept until
-- its signature could no longer pass the window check; beat purges it after that.
CREATE TABLE webhook_nonces (
    agent_id   text NOT NULL REFERENCES sales_agents (id) ON DELETE CASCADE,
    nonce      text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, nonce)
);
CREATE INDEX webhook_nonces_expires ON webhook_nonces (expires_at);

-- One row per key id of the agent's JWKS; a key gone from the JWKS is retired, one back is active again.
CREATE UNIQUE INDEX agent_credentials_jwk_kid ON agent_credentials (agent_id, key_id) WHERE kind = 'jwk';
ALTER TABLE agent_credentials
    ADD CONSTRAINT agent_credentials_jwk_complete CHECK (kind <> 'jwk' OR (key_id IS NOT NULL AND public_jwk IS NOT NULL));

-- When a webhook signed with an unknown key id last made us fetch the agent's JWKS: taken with a
-- guarded UPDATE, so one process at most fetches per interval. Registration and `agents refresh-keys`
-- fetch without it.
ALTER TABLE sales_agents ADD COLUMN jwks_refreshed_at timestamptz;
