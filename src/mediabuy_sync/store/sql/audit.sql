-- name: insert_entry
INSERT INTO admin_audit (actor, action, target_type, target_id, change)
VALUES (%(actor)s, %(action)s, %(target_type)s, %(target_id)s, %(change)s)
RETURNING id;

-- name: list_entries
-- Newest first; `before_id` is the cursor (the last id of the page before). Each filter is optional.
SELECT id, at, actor, action, target_type, target_id, change
FROM admin_audit
WHERE (%(before_id)s::bigint IS NULL OR id < %(before_id)s)
  AND (%(target_type)s::text IS NULL OR target_type = %(target_type)s)
  AND (%(target_id)s::text IS NULL OR target_id = %(target_id)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(since)s::timestamptz IS NULL OR at >= %(since)s)
ORDER BY id DESC
LIMIT %(limit)s;
