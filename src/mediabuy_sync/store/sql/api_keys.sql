-- name: insert_key
INSERT INTO api_keys (id, advertiser_id, key_hash, name)
VALUES (%(id)s, %(advertiser_id)s, %(key_hash)s, %(name)s);

-- name: advertiser_for_key
SELECT id, advertiser_id FROM api_keys WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- name: revoke_key
UPDATE api_keys SET revoked_at = now() WHERE id = %(id)s AND revoked_at IS NULL RETURNING id, advertiser_id;

-- name: list_keys
-- Never the hash: id, name, advertiser and dates. Newest first.
SELECT id, advertiser_id, name, created_at, revoked_at FROM api_keys
WHERE (%(advertiser_id)s::text IS NULL OR advertiser_id = %(advertiser_id)s)
  AND (%(include_revoked)s OR revoked_at IS NULL)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;
