-- Revocation and per-agent leniency (issue 20, issue 16 points 11-12).

-- A credential an operator retired (`agents retire-secret` / `retire-key`, the admin API): inactive for
-- good. A JWKS refresh that still lists a revoked key does not bring it back, and a webhook signed with
-- it is answered webhook_signature_key_revoked rather than key_unknown.
ALTER TABLE agent_credentials ADD COLUMN revoked_at timestamptz;

-- Opt-in per agent: its HMAC may be over the compact JSON of the body (a seller that re-serialises).
ALTER TABLE sales_agents ADD COLUMN hmac_compact_json boolean NOT NULL DEFAULT false;

-- The RFC 9421 key a nonce was signed with: the replay cache is capped per key id (spec step 9a).
ALTER TABLE webhook_nonces ADD COLUMN key_id text;
CREATE INDEX webhook_nonces_key ON webhook_nonces (agent_id, key_id, expires_at);

-- Every web process keeps agents' credentials for a few seconds (services/agent_credentials.py) and
-- LISTENs on this channel: any change to an agent or its credentials, whoever makes it (CLI, admin API,
-- a JWKS refresh, SQL by hand), drops that agent from every process's cache when it commits.
CREATE FUNCTION notify_agent_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mediabuy_agent_credentials', coalesce(NEW.id, OLD.id));
    RETURN NULL;
END $$;

CREATE FUNCTION notify_agent_credential_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mediabuy_agent_credentials', coalesce(NEW.agent_id, OLD.agent_id));
    RETURN NULL;
END $$;

CREATE TRIGGER agent_credentials_changed AFTER INSERT OR UPDATE OR DELETE ON agent_credentials
    FOR EACH ROW EXECUTE FUNCTION notify_agent_credential_changed();
CREATE TRIGGER sales_agents_changed AFTER INSERT OR DELETE OR UPDATE OF inbound_scheme, hmac_compact_json, jwks_uri
    ON sales_agents FOR EACH ROW EXECUTE FUNCTION notify_agent_changed();
