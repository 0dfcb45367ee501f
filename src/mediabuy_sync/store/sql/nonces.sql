-- name: claim
-- Accepted once per agent while it can still verify. An expired leftover the purge has not reached
-- yet does not count; a live one (committed, or being committed by a concurrent request) does.
INSERT INTO webhook_nonces (agent_id, nonce, expires_at, key_id)
VALUES (%(agent_id)s, %(nonce)s, %(expires_at)s, %(key_id)s)
ON CONFLICT (agent_id, nonce) DO UPDATE SET expires_at = excluded.expires_at, key_id = excluded.key_id
    WHERE webhook_nonces.expires_at < now()
RETURNING nonce;

-- name: purge_expired
DELETE FROM webhook_nonces WHERE expires_at < now();

-- name: key_at_cap
-- Whether the key's live nonces reached the cap (spec step 9a): counted up to the cap only.
SELECT count(*) >= %(cap)s AS full
FROM (SELECT 1 FROM webhook_nonces
      WHERE agent_id = %(agent_id)s AND key_id = %(key_id)s AND expires_at >= now() LIMIT %(cap)s) live;
