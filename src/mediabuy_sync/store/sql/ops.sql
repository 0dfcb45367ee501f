-- What operators read: the gauges /metrics computes at scrape time, and the /ops pages.
-- Every statement here runs under a short statement_timeout (store/ops.py).

-- name: statement_timeout
-- SET LOCAL for the rest of this read: give up after that long; and no JIT, whose compilation costs
-- more than these short queries (a second, when the planner overestimates the lag query's join).
SELECT set_config('statement_timeout', %(milliseconds)s, true), set_config('jit', 'off', true);

-- name: inbox_gauges
-- Lag: how long the oldest received, not yet processed event has waited (0 when none waits).
-- Each state read by its own partial index (webhook_events_received, _dead_page, _unmatched): one
-- filter on the three states seq-scanned every day's partition, 2.4 s with 2 million processed events
-- in the inbox (bench/NOTES.md, 2026-12-05).
SELECT
    coalesce(extract(epoch FROM now() - (SELECT min(received_at) FROM webhook_events WHERE state = 'received')),
             0)::float8 AS lag_seconds,
    (SELECT count(*) FROM webhook_events WHERE state = 'received') AS received,
    (SELECT count(*) FROM webhook_events WHERE state = 'dead') AS dead,
    (SELECT count(*) FROM webhook_events WHERE state = 'unmatched') AS unmatched;

-- name: campaigns_by_surfaced_status
SELECT coalesce(surfaced_status, 'NONE') AS surfaced_status, count(*) AS campaigns
FROM campaigns
GROUP BY 1;

-- name: agent_gauges
-- Per agent: seconds since its last webhook (NULL: never), poll failures in a row, backoff left.
SELECT a.id AS agent_id,
       extract(epoch FROM now() - last.received_at)::float8 AS webhook_age_seconds,
       a.poll_failures,
       greatest(0, coalesce(extract(epoch FROM a.poll_backoff_until - now()), 0))::float8 AS poll_backoff_seconds
FROM sales_agents a
LEFT JOIN LATERAL (  -- the agent's newest event, by webhook_events_agent_id (see agents_page)
    SELECT e.received_at FROM webhook_events e WHERE e.agent_id = a.id ORDER BY e.id DESC LIMIT 1
) last ON true
ORDER BY a.id;

-- name: cascade_items_by_state
SELECT c.kind, i.state, count(*) AS items
FROM cascade_items i
JOIN cascades c ON c.id = i.cascade_id
WHERE c.state = 'running'
GROUP BY c.kind, i.state;

-- name: blocker_buys
-- The buys named as blockers, with what keeps them there.
SELECT b.id, b.campaign_id, b.sales_agent_id, b.status, b.adcp_status, b.last_error, b.poll_reason
FROM media_buys b
WHERE b.id = ANY(%(ids)s);

-- name: campaign
SELECT id, advertiser_id, name, status, surfaced_status, blockers[1:50] AS first_blockers,
       cardinality(blockers) AS blocker_count, status_version, rollup_version, rollup_at,
       rollups, budget_total, currency, flight_start, flight_end, created_at, updated_at
FROM campaigns
WHERE id = %(id)s;

-- name: campaign_buys
SELECT id, sales_agent_id, adcp_media_buy_id, status, adcp_status, status_as_of, poll_due_at, poll_reason,
       last_webhook_at, impressions, spend, clicks, delivery_as_of, last_error
FROM media_buys
WHERE campaign_id = %(id)s
ORDER BY id;

-- name: campaign_packages
SELECT p.id, p.media_buy_id, p.adcp_package_id, p.product_id, p.status, p.budget, p.currency, p.pacing,
       p.impressions, p.spend, p.clicks, p.delivery_as_of
FROM packages p
JOIN media_buys b ON b.id = p.media_buy_id
WHERE b.campaign_id = %(id)s
ORDER BY p.media_buy_id, p.id;

-- name: campaign_timeline
-- The status changes of the campaign's buys (and of the campaign), newest first: the newest `limit` of
-- each entity by status_changes_entity (entity_id, id), partitions newest first until it has them, then
-- the newest of those. One filter on all the entities walked the primary key backwards through every
-- month of the ledger (1.2 s with a million rows, bench/NOTES.md, 2026-12-05).
SELECT s.at, s.entity_type, s.entity_id, s.from_status, s.to_status, s.adcp_status, s.source, s.outcome,
       s.event_id, s.as_of
FROM unnest(ARRAY(SELECT id FROM media_buys WHERE campaign_id = %(id)s) || %(id)s::text) AS entity(id)
CROSS JOIN LATERAL (
    SELECT * FROM status_changes c WHERE c.entity_id = entity.id ORDER BY c.id DESC LIMIT %(limit)s
) s
ORDER BY s.id DESC
LIMIT %(limit)s;

-- name: agents_page
-- Per agent, over the inbox's partitions (one a day): its newest event by webhook_events_agent_id
-- (agent_id, id), ids being time-ordered, so the newest partition that has one answers (by received_at,
-- every partition's newest was merged: 0.3 s for 500 agents over 30 days); the last hour's count with
-- an id floor (the day an hour ago, << 36: time_ordered_id) that leaves the older days' partitions out.
SELECT a.id, a.name, a.endpoint_uri, a.inbound_scheme,
       last.received_at AS last_webhook_at,
       (SELECT count(*) FROM webhook_events e
        WHERE e.agent_id = a.id AND e.received_at > now() - interval '1 hour'
          AND e.id >= ((((now() - interval '1 hour') AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36))
           AS webhooks_last_hour,
       coalesce(dead.events, 0) AS dead_events,
       a.poll_failures, a.last_poll_at, a.last_poll_error, a.poll_backoff_until,
       (SELECT min(poll_due_at) FROM media_buys b WHERE b.sales_agent_id = a.id) AS next_poll_at
FROM sales_agents a
LEFT JOIN LATERAL (
    SELECT e.received_at FROM webhook_events e WHERE e.agent_id = a.id ORDER BY e.id DESC LIMIT 1
) last ON true
LEFT JOIN (SELECT agent_id, count(*) AS events FROM webhook_events WHERE state = 'dead' GROUP BY agent_id) dead
       ON dead.agent_id = a.id
ORDER BY a.id;

-- name: events_per_minute
-- Webhooks received per agent and minute over the last hour. The id floor (the day an hour ago, << 36:
-- time_ordered_id) leaves out the partitions of older days, which the filter on received_at alone
-- scanned every one of (bench/NOTES.md, 2026-12-05).
SELECT agent_id, date_trunc('minute', received_at) AS minute, count(*) AS events
FROM webhook_events
WHERE received_at > now() - interval '1 hour'
  AND id >= ((((now() - interval '1 hour') AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36)
GROUP BY agent_id, minute
ORDER BY minute;

-- name: inbox_lag_per_minute
-- At the end of each of the last 60 minutes: how long the oldest event then received and not yet
-- processed had waited. Only events that waited across a minute's end can count: the rest (nearly
-- all, processed within milliseconds) are left out before the join.
WITH waited AS MATERIALIZED (  -- scanned once, not once per minute
    SELECT received_at, coalesce(processed_at, CASE WHEN state = 'dead' THEN last_attempt_at END, 'infinity') AS done_at
    FROM webhook_events
    WHERE received_at > now() - interval '1 day'
      -- the partitions of yesterday and today only, as events_per_minute
      AND id >= ((((now() - interval '1 day') AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36)
      AND (state = 'received'
           OR date_trunc('minute', received_at)
              <> date_trunc('minute', coalesce(processed_at, last_attempt_at, received_at)))
)
SELECT m.minute,
       coalesce(extract(epoch FROM max(m.minute - w.received_at)), 0)::float8 AS lag_seconds
FROM generate_series(date_trunc('minute', now()) - interval '59 minutes', date_trunc('minute', now()),
                     interval '1 minute') AS m(minute)
LEFT JOIN waited w ON w.received_at <= m.minute AND w.done_at > m.minute
GROUP BY m.minute
ORDER BY m.minute;

-- name: ping
-- Readiness: the database answers a statement.
SELECT 1;
