-- name: claim_due_buys
-- Due buys of agents that are not backing off, at most per_agent of each agent per sweep (the
-- per-agent concurrency limit), leased forward so that the next sweep leaves them alone while
-- their poll is in flight. The poll sets the real next time.
WITH due AS (
    SELECT mb.id,
           row_number() OVER (PARTITION BY mb.sales_agent_id ORDER BY mb.poll_due_at) AS rank
    FROM media_buys mb
    JOIN sales_agents a ON a.id = mb.sales_agent_id
    WHERE mb.poll_due_at <= now()
      AND mb.status = ANY(%(polled)s)
      AND mb.adcp_media_buy_id IS NOT NULL
      AND (a.poll_backoff_until IS NULL OR a.poll_backoff_until <= now())
      AND a.disabled_at IS NULL  -- a disabled agent is not polled (migration 0025)
      -- an agent whose poll is still in flight (a hanging agent) gets no second one: see worker/polling.py
      AND NOT (mb.sales_agent_id = ANY(%(in_flight)s))
)
UPDATE media_buys mb
SET poll_due_at = now() + make_interval(secs => %(lease)s)
FROM due
WHERE mb.id = due.id AND due.rank <= %(per_agent)s
RETURNING mb.id, mb.sales_agent_id;

-- name: buys_to_poll
SELECT id, campaign_id, adcp_media_buy_id, status, adcp_status, last_webhook_at
FROM media_buys
WHERE id = ANY(%(buy_ids)s) AND sales_agent_id = %(agent_id)s AND adcp_media_buy_id IS NOT NULL
ORDER BY id;

-- name: poll_succeeded
UPDATE sales_agents
SET poll_failures = 0, poll_backoff_until = NULL, last_poll_at = now(), last_poll_error = NULL
WHERE id = %(agent_id)s;

-- name: poll_failed
UPDATE sales_agents
SET poll_failures = poll_failures + 1, last_poll_at = now(), last_poll_error = %(error)s,
    poll_backoff_until = now() + make_interval(secs => %(backoff)s)
WHERE id = %(agent_id)s
RETURNING poll_failures, poll_backoff_until;

-- name: poll_failures
SELECT poll_failures FROM sales_agents WHERE id = %(agent_id)s;

-- name: schedule_polls
-- The next poll of each buy; a NULL delay (terminal status) means no more polling.
UPDATE media_buys mb
SET poll_due_at = CASE WHEN s.delay IS NULL THEN NULL ELSE now() + make_interval(secs => s.delay) END
FROM unnest(%(buy_ids)s::text[], %(delays)s::float8[]) AS s(id, delay)
WHERE mb.id = s.id;

-- name: reconcile_agent
-- A webhook of this agent matched none of our buys: poll its unsettled buys soon (never later than
-- planned), so whatever it was about is read from the seller's state.
UPDATE media_buys
SET poll_due_at = least(coalesce(poll_due_at, 'infinity'), now() + make_interval(secs => %(delay)s)),
    poll_reason = %(reason)s
WHERE sales_agent_id = %(agent_id)s AND status = ANY(%(polled)s) AND adcp_media_buy_id IS NOT NULL;

-- name: quiet_delivery
-- Of these buys, the live ones whose delivery reports went quiet (none for `quiet` seconds: since the
-- last report, or since we submitted the buy when none came yet) and whose delivery was not read within
-- that long either: claimed (their read time set) in the same statement.
UPDATE media_buys
SET delivery_polled_at = now()
WHERE id = ANY(%(buy_ids)s) AND status = ANY(%(live)s) AND adcp_media_buy_id IS NOT NULL
  AND coalesce(delivery_as_of, submitted_at) < now() - make_interval(secs => %(quiet)s)
  AND (delivery_polled_at IS NULL OR delivery_polled_at < now() - make_interval(secs => %(quiet)s))
RETURNING id, adcp_media_buy_id;

-- name: defer_polls
UPDATE media_buys SET poll_due_at = %(until)s WHERE id = ANY(%(buy_ids)s);

-- name: defer_polls_to_backoff
-- Buys left unpolled because their agent just failed: they wait for its backoff like the rest.
UPDATE media_buys mb
SET poll_due_at = coalesce(a.poll_backoff_until, now())
FROM sales_agents a
WHERE a.id = %(agent_id)s AND mb.sales_agent_id = a.id AND mb.id = ANY(%(buy_ids)s);

-- name: buys_of_campaign
SELECT id, sales_agent_id, adcp_media_buy_id, status, adcp_status
FROM media_buys WHERE campaign_id = %(campaign_id)s ORDER BY id;
