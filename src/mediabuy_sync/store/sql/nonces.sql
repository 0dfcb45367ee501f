-- name: claim
-- Accepted once per agent while it can still verify. An expired leftover the purge has not reached
-- yet does not count; a live one (committed, or being committed by a concurrent request) does.
INSERT INTO webhook_nonces (agent_id, nonce, expires_at)
VALUES (%(agent_id)s, %(nonce)s, %(expires_at)s)
ON CONFLICT (agent_id, nonce) DO UPDATE SET expires_at = excluded.expires_at
    WHERE webhook_nonces.expires_at < now()
RETURNING nonce;

-- name: purge_expired
DELETE FROM webhook_nonces WHERE expires_at < now();
