-- The admin audit (issue 17 point 6): every change an operator makes to agents, their credentials,
-- accounts, brands or buyer API keys — through the admin API or the CLI — is recorded here in the same
-- transaction as the change itself (services/audit.py): who, what, when. Never a secret: `change`
-- holds what was asked with every secret left out.
CREATE TABLE admin_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL CHECK (action IN ('agent.register', 'agent.set_auth', 'agent.set_account_mode',
                    'agent.set_account', 'agent.remove_account', 'agent.add_secret', 'agent.retire_secret',
                    'agent.retire_key', 'agent.refresh_keys', 'agent.disable', 'agent.enable',
                    'advertiser.set_brand', 'api_key.create', 'api_key.revoke')),
    target_type text NOT NULL CHECK (target_type IN ('agent', 'advertiser', 'api_key')),
    target_id   text NOT NULL,
    change      jsonb NOT NULL DEFAULT '{}'
);
-- newest first, paged by id (ids grow with time: one sequence)
CREATE INDEX admin_audit_target ON admin_audit (target_type, target_id, id DESC);
CREATE INDEX admin_audit_action ON admin_audit (action, id DESC);

-- A disabled agent (`agents disable`, POST /admin/agents/{id}/disable): its webhooks are refused as
-- from an unknown agent and it is not polled, until it is enabled again. Nothing about it is deleted.
ALTER TABLE sales_agents ADD COLUMN disabled_at timestamptz;

-- The trigger of migration 0020 also fires on a disable or an enable: every web process drops what it
-- keeps of the agent at once, so a disabled agent's webhooks are refused everywhere from the answer on.
DROP TRIGGER sales_agents_changed ON sales_agents;
CREATE TRIGGER sales_agents_changed AFTER INSERT OR DELETE OR UPDATE OF inbound_scheme, hmac_compact_json, jwks_uri, disabled_at
    ON sales_agents FOR EACH ROW EXECUTE FUNCTION notify_agent_changed();
