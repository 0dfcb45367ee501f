-- name: insert_key
INSERT INTO api_keys (id, advertiser_id, key_hash, name)
VALUES (%(id)s, %(advertiser_id)s, %(key_hash)s, %(name)s);

-- name: advertiser_for_key
SELECT id, advertiser_id FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: revoke_key
UPDATE api_keys SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL RETURNING id, advertiser_id;
