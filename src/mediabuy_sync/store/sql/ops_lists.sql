-- The /ops lists, paged by a keyset cursor and filtered (store/ops_lists.py). Every read runs under
-- the short statement_timeout of store/ops.py, with custom plans forced: the optional filters are
-- "%(x)s IS NULL OR …", which a generic plan cannot fold away (it would scan for every filter).

-- name: read_settings
-- SET LOCAL for the rest of this read: give up after that long; no JIT (it costs more than these short
-- queries); and plan each statement for its parameters, so absent filters fold to nothing.
SELECT set_config('statement_timeout', %(milliseconds)s, true), set_config('jit', 'off', true),
       set_config('plan_cache_mode', 'force_custom_plan', true);

-- name: campaigns_page
-- Blocked first (a surfaced status an operator must act on: FAILED, REJECTED, INPUT_REQUIRED,
-- PENDING_APPROVAL; keep in step with domain and migration 0026's index), then most recently updated,
-- then id; the rows after the cursor (blocked, updated_at, id). The order is the index
-- campaigns_ops_order read backwards, so a page reads about `limit` rows plus those a filter skips.
-- The agent filter probes the campaign's buys (media_buys_campaign_status) per campaign walked.
SELECT c.id, c.advertiser_id, c.name, c.status, c.surfaced_status, c.blockers[1:5] AS first_blockers,
       cardinality(c.blockers) AS blocker_count, c.rollup_at, c.updated_at,
       coalesce(c.surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', 'PENDING_APPROVAL'), false) AS blocked,
       (SELECT count(*) FROM media_buys b WHERE b.campaign_id = c.id) AS media_buys
FROM campaigns c
WHERE (%(after_id)s::text IS NULL
       OR (coalesce(c.surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', 'PENDING_APPROVAL'), false),
           c.updated_at, c.id)
          < (%(after_blocked)s::boolean, %(after_updated_at)s::timestamptz, %(after_id)s::text))
  AND (%(advertiser)s::text IS NULL OR c.advertiser_id = %(advertiser)s::text)
  AND (%(name)s::text IS NULL OR c.name ILIKE %(name)s::text)
  AND (%(agent)s::text IS NULL
       OR EXISTS (SELECT 1 FROM media_buys b WHERE b.campaign_id = c.id AND b.sales_agent_id = %(agent)s::text))
ORDER BY coalesce(c.surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', 'PENDING_APPROVAL'), false) DESC,
         c.updated_at DESC, c.id DESC
LIMIT %(limit)s;

-- name: campaigns_page_of_status
-- One surfaced status: "blocked" is then the same for every row, so the order is updated_at, id
-- (index campaigns_surfaced_updated, backwards) and the cursor's blocked part is not needed.
SELECT c.id, c.advertiser_id, c.name, c.status, c.surfaced_status, c.blockers[1:5] AS first_blockers,
       cardinality(c.blockers) AS blocker_count, c.rollup_at, c.updated_at,
       coalesce(c.surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', 'PENDING_APPROVAL'), false) AS blocked,
       (SELECT count(*) FROM media_buys b WHERE b.campaign_id = c.id) AS media_buys
FROM campaigns c
WHERE c.surfaced_status = %(status)s::text
  AND (%(after_id)s::text IS NULL
       OR (c.updated_at, c.id) < (%(after_updated_at)s::timestamptz, %(after_id)s::text))
  AND (%(advertiser)s::text IS NULL OR c.advertiser_id = %(advertiser)s::text)
  AND (%(name)s::text IS NULL OR c.name ILIKE %(name)s::text)
  AND (%(agent)s::text IS NULL
       OR EXISTS (SELECT 1 FROM media_buys b WHERE b.campaign_id = c.id AND b.sales_agent_id = %(agent)s::text))
ORDER BY c.updated_at DESC, c.id DESC
LIMIT %(limit)s;

-- name: dead_events_page
-- Dead events, oldest first (the longest waiting), after the cursor (received_at, id); index
-- webhook_events_dead_page.
SELECT id, agent_id, idempotency_key, task_type, received_at, attempts, last_error
FROM webhook_events
WHERE state = 'dead'
  AND (%(after_id)s::bigint IS NULL
       OR (received_at, id) > (%(after_received_at)s::timestamptz, %(after_id)s::bigint))
ORDER BY received_at, id
LIMIT %(limit)s;
