-- name: insert_agent
INSERT INTO sales_agents (id, name, endpoint_uri, protocol, inbound_scheme, jwks_uri, outbound_token_sealed,
                          outbound_auth_header, account_mode)
VALUES (%(id)s, %(name)s, %(endpoint_uri)s, %(protocol)s, %(inbound_scheme)s, %(jwks_uri)s, %(token_sealed)s,
        %(header)s, %(account_mode)s);

-- name: insert_credential
-- secret_sealed: the HMAC secret or Bearer token, encrypted (secretbox.py); never the plaintext.
INSERT INTO agent_credentials (agent_id, kind, key_id, secret_sealed, public_jwk)
VALUES (%(agent_id)s, %(kind)s, %(key_id)s, %(secret_sealed)s, %(public_jwk)s)
RETURNING id;

-- name: plaintext_secrets
-- Rows written before migration 0006, still in clear: sealed by `db upgrade`.
SELECT id, secret FROM agent_credentials WHERE secret IS NOT NULL FOR UPDATE;

-- name: store_sealed
UPDATE agent_credentials SET secret_sealed = %(secret_sealed)s, secret = NULL WHERE id = %(id)s;

-- name: sealed_secrets
SELECT id, secret_sealed FROM agent_credentials WHERE secret_sealed IS NOT NULL FOR UPDATE;

-- name: list_agents
SELECT a.id, a.name, a.endpoint_uri, a.protocol, a.inbound_scheme, a.created_at,
       a.outbound_token_sealed IS NOT NULL AS has_auth_token, a.outbound_auth_header, a.account_mode,
       a.disabled_at,
       count(c.id) FILTER (WHERE c.active) AS active_credentials
FROM sales_agents a
LEFT JOIN agent_credentials c ON c.agent_id = a.id
GROUP BY a.id
ORDER BY a.id;

-- name: get_agent
SELECT id, inbound_scheme, jwks_uri FROM sales_agents WHERE id = %(agent_id)s;

-- name: upsert_jwk
-- A key the JWKS lists: added, or updated and active again under the same key id.
INSERT INTO agent_credentials (agent_id, kind, key_id, public_jwk)
VALUES (%(agent_id)s, 'jwk', %(key_id)s, %(public_jwk)s)
ON CONFLICT (agent_id, key_id) WHERE kind = 'jwk'
DO UPDATE SET public_jwk = excluded.public_jwk, active = true, retired_at = NULL
    WHERE agent_credentials.revoked_at IS NULL;  -- revoked by an operator: for good

-- name: retire_missing_jwks
UPDATE agent_credentials
SET active = false, retired_at = now()
WHERE agent_id = %(agent_id)s AND kind = 'jwk' AND active AND NOT (key_id = ANY(%(key_ids)s))
RETURNING key_id;

-- name: active_jwks
SELECT key_id, public_jwk FROM agent_credentials
WHERE agent_id = %(agent_id)s AND kind = 'jwk' AND active;

-- name: claim_jwks_refresh
-- One process per agent and interval gets the URI and fetches; the others get no row.
UPDATE sales_agents
SET jwks_refreshed_at = now()
WHERE id = %(agent_id)s AND jwks_uri IS NOT NULL
  AND (jwks_refreshed_at IS NULL OR jwks_refreshed_at < now() - make_interval(secs => %(interval)s))
RETURNING jwks_uri;

-- name: push_credentials
-- Per agent: its webhook scheme and, for HMAC or Bearer, its newest active secret's id.
SELECT a.id, a.inbound_scheme,
       (SELECT c.id FROM agent_credentials c
        WHERE c.agent_id = a.id AND c.active AND c.secret_sealed IS NOT NULL AND c.kind = a.inbound_scheme
        ORDER BY c.id DESC LIMIT 1) AS credential_id
FROM sales_agents a
WHERE a.id = ANY(%(agent_ids)s);

-- name: agent_for_calls
SELECT id, endpoint_uri, protocol, outbound_token_sealed, outbound_auth_header FROM sales_agents WHERE id = %(agent_id)s;

-- name: set_outbound_auth
UPDATE sales_agents
SET outbound_token_sealed = %(token_sealed)s, outbound_auth_header = %(header)s, outbound_auth = NULL, updated_at = now()
WHERE id = %(agent_id)s
RETURNING id;

-- name: plaintext_outbound_auth
-- Tokens stored in clear before migration 0010 (sealed by db upgrade).
SELECT id, outbound_auth FROM sales_agents WHERE outbound_auth IS NOT NULL;

-- name: sealed_outbound_tokens
SELECT id, outbound_token_sealed FROM sales_agents WHERE outbound_token_sealed IS NOT NULL;

-- name: store_sealed_outbound_token
UPDATE sales_agents SET outbound_token_sealed = %(token_sealed)s WHERE id = %(id)s;

-- name: set_account_mode
UPDATE sales_agents SET account_mode = %(mode)s, updated_at = now() WHERE id = %(agent_id)s RETURNING id;

-- name: set_account
INSERT INTO agent_accounts (agent_id, advertiser_id, account_id, source)
VALUES (%(agent_id)s, %(advertiser_id)s, %(account_id)s, %(source)s)
ON CONFLICT (agent_id, advertiser_id) DO UPDATE
SET account_id = EXCLUDED.account_id, source = EXCLUDED.source, updated_at = now()
-- an operator's mapping is not overwritten by a discovery
WHERE agent_accounts.source = 'discovered' OR EXCLUDED.source = 'operator';

-- name: remove_account
DELETE FROM agent_accounts WHERE agent_id = %(agent_id)s AND advertiser_id = %(advertiser_id)s RETURNING account_id;

-- name: accounts_of_agent
SELECT advertiser_id, account_id, source, updated_at FROM agent_accounts WHERE agent_id = %(agent_id)s
ORDER BY advertiser_id;

-- name: accounts_for_calls
-- For each agent: how it names accounts, and the account id of this advertiser there (NULL: none yet).
SELECT a.id AS agent_id, a.account_mode, aa.account_id
FROM sales_agents a
LEFT JOIN agent_accounts aa ON aa.agent_id = a.id AND aa.advertiser_id = %(advertiser_id)s
WHERE a.id = ANY(%(agent_ids)s);

-- name: inbound_credentials
-- The agent's scheme, its active secrets (sealed: see secretbox.py) and its active public keys, in one
-- round trip on the webhook path.
SELECT a.id, a.inbound_scheme, a.hmac_compact_json,
       coalesce(array_agg(c.secret_sealed ORDER BY c.id) FILTER (WHERE c.active AND c.secret_sealed IS NOT NULL), '{}') AS sealed_secrets,
       coalesce(jsonb_object_agg(c.key_id, c.public_jwk) FILTER (WHERE c.active AND c.kind = 'jwk'), '{}') AS public_jwks,
       coalesce(array_agg(c.key_id) FILTER (WHERE c.kind = 'jwk' AND c.revoked_at IS NOT NULL), '{}') AS revoked_key_ids
FROM sales_agents a
LEFT JOIN agent_credentials c ON c.agent_id = a.id
WHERE a.id = %(agent_id)s
  AND a.disabled_at IS NULL  -- a disabled agent's webhooks are refused as an unknown agent's (migration 0025)
GROUP BY a.id;

-- name: credentials_of
-- An agent's credentials as an operator sees them (never the secret itself).
SELECT id, kind, key_id, active, created_at, retired_at, revoked_at
FROM agent_credentials WHERE agent_id = %(agent_id)s ORDER BY id;

-- name: retire_secret
-- Revoke an HMAC secret or Bearer token now (the trigger of migration 0020 tells every web process).
UPDATE agent_credentials SET active = false, retired_at = coalesce(retired_at, now()), revoked_at = now()
WHERE agent_id = %(agent_id)s AND id = %(credential_id)s AND kind <> 'jwk' AND revoked_at IS NULL
RETURNING id;

-- name: retire_key
-- Revoke an RFC 9421 key now, for good: a JWKS that still lists it does not bring it back.
UPDATE agent_credentials SET active = false, retired_at = coalesce(retired_at, now()), revoked_at = now()
WHERE agent_id = %(agent_id)s AND kind = 'jwk' AND key_id = %(key_id)s AND revoked_at IS NULL
RETURNING id;

-- name: set_hmac_compact_json
UPDATE sales_agents SET hmac_compact_json = %(on)s, updated_at = now() WHERE id = %(agent_id)s RETURNING id;

-- name: set_disabled
-- Disable (now) or enable (NULL) an agent; migration 0025's trigger tells every web process. Answers
-- only when the state changes, so a repeated disable is told apart.
UPDATE sales_agents SET disabled_at = CASE WHEN %(disabled)s THEN now() END, updated_at = now()
WHERE id = %(agent_id)s AND (disabled_at IS NULL) = %(disabled)s
RETURNING id, disabled_at;

-- name: agent_state
SELECT id, inbound_scheme, jwks_uri, disabled_at FROM sales_agents WHERE id = %(agent_id)s;
