-- name: insert_event
-- A duplicate (same agent, same idempotency_key, within MEDIABUY_DEDUP_DAYS) inserts nothing and
-- returns the first row. The inbox is partitioned by day (migration 0029), and a unique index can only
-- be per partition: today's catches a duplicate of today (ON CONFLICT, also against a concurrent
-- insert), the NOT EXISTS probes the earlier days of the window — and the legacy partition, the rows
-- from before partitioning (ids below 1254955084152832, domain/retention.py), until it expires. The
-- window's first id is the day number << 36 (time_ordered_id). On a table not yet partitioned every id
-- is a legacy one and its own UNIQUE constraint does all of it.
-- {window_first} and {window_end} are literal ids (store/inbox.py writes them, from the app's clock, a day
-- wider each way than the window): bounds the planner can prune partitions with when it plans. The
-- window's own bounds use the database's clock, which only the executor evaluates: with those alone,
-- every partition of the inbox (a month of days, and the days ahead) was planned and, for the prepared
-- statement's generic plan, locked with its indexes at each execution: 2.5x fewer webhooks accepted/s
-- with 30 days of partitions than with none (bench/NOTES.md, 2026-12-05).
WITH inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    SELECT %(agent_id)s, %(idempotency_key)s, %(task_type)s, %(raw_body)s, %(request_id)s
    WHERE NOT EXISTS (
        SELECT 1 FROM webhook_events
        WHERE agent_id = %(agent_id)s AND idempotency_key = %(idempotency_key)s
          AND (id < 1254955084152832 OR id >= {window_first} AND id < {window_end})
          AND (id < 1254955084152832
               OR id >= (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01' - %(dedup_days)s)::bigint << 36)
                  AND id < (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36)))
    ON CONFLICT DO NOTHING
    RETURNING id, raw_body
)
SELECT id, raw_body, true AS inserted FROM inserted
UNION ALL
(SELECT id, raw_body, false FROM webhook_events
 WHERE agent_id = %(agent_id)s AND idempotency_key = %(idempotency_key)s
   AND (id < 1254955084152832 OR id >= {window_first} AND id < {window_end})
   AND (id < 1254955084152832
        OR id >= (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01' - %(dedup_days)s)::bigint << 36))
 ORDER BY id LIMIT 1)
LIMIT 1;

-- name: insert_events
-- Several events in one statement (the web's group commit, web/group_commit.py): the position (1..n)
-- of each one inserted, with its id. A position missing was not inserted: its (agent, idempotency_key)
-- was in the inbox already, or earlier in the same batch. inbox.store_events writes the VALUES rows,
-- five parameters and the position per event, then the dedup window's days: scalar parameters, which
-- psycopg dumps in C, where five text[] arrays went through its Python list dumper (~100 us more of
-- the web's CPU per batch).
WITH input (agent_id, idempotency_key, task_type, raw_body, request_id, position) AS (
    VALUES {rows}
), inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    SELECT agent_id, idempotency_key, task_type, raw_body, request_id FROM input
    WHERE NOT EXISTS (  -- the earlier days of the dedup window, as insert_event (and its literal bounds)
        SELECT 1 FROM webhook_events e
        WHERE e.agent_id = input.agent_id AND e.idempotency_key = input.idempotency_key
          AND (e.id < 1254955084152832 OR e.id >= {window_first} AND e.id < {window_end})
          AND (e.id < 1254955084152832
               OR e.id >= (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01' - %s::int)::bigint << 36)
                  AND e.id < (((now() AT TIME ZONE 'UTC')::date - date '1970-01-01')::bigint << 36)))
    ORDER BY position
    ON CONFLICT DO NOTHING
    RETURNING id, agent_id, idempotency_key
)
SELECT min(input.position) AS position, inserted.id
FROM inserted JOIN input USING (agent_id, idempotency_key)
GROUP BY inserted.id;

-- name: claim_batch
-- The oldest received events no one is applying, for one batch: locked until the batch commits, and
-- skipped by a concurrent batch. An event that failed once (attempts > 0) is left to its own retries
-- (the ingest task), so that a doomed event cannot fail batch after batch.
SELECT id, agent_id, raw_body, request_id
FROM webhook_events
WHERE state = 'received' AND attempts = 0
ORDER BY received_at, id
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED;

-- name: lock_event
SELECT id, agent_id, raw_body, request_id, state, attempts
FROM webhook_events
WHERE id = %(event_id)s
FOR UPDATE;

-- name: mark_processed
UPDATE webhook_events
SET state = 'processed', processed_at = now(), outcome = %(outcome)s,
    attempts = attempts + 1, last_attempt_at = now(), last_error = NULL
WHERE id = %(event_id)s AND state = 'received';

-- name: mark_unmatched
-- Nothing of ours matches the event: kept, with why, and not tried again (see migration 0011).
UPDATE webhook_events
SET state = 'unmatched', processed_at = now(), outcome = 'unmatched', last_error = %(reason)s,
    attempts = attempts + 1, last_attempt_at = now()
WHERE id = %(event_id)s AND state = 'received';

-- name: record_failure
-- The attempt that failed is counted; at the limit the event is dead and waits for a replay.
UPDATE webhook_events
SET attempts = attempts + 1, last_attempt_at = now(), last_error = %(error)s,
    state = CASE WHEN attempts + 1 >= %(max_attempts)s THEN 'dead' ELSE state END
WHERE id = %(event_id)s AND state = 'received'
RETURNING attempts, state;

-- name: oldest_waiting_age
-- How long the oldest event a drain would take has waited (seconds), or no row: the first row of the
-- partial index webhook_events_received, so as cheap with a year of history as with none.
SELECT extract(epoch FROM now() - received_at)::float AS age
FROM webhook_events
WHERE state = 'received' AND attempts = 0
ORDER BY received_at
LIMIT 1;

-- name: no_jit
-- For the rest of the transaction: no JIT. Over a month of day partitions the sweeper's claim below is
-- estimated above jit_above_cost (a nested loop into every partition per id), and compiling it took
-- 176 ms of a 222 ms run where the claim itself takes ~45 ms (bench/NOTES.md, 2026-12-05).
SELECT set_config('jit', 'off', true);

-- name: claim_stale_received
-- Events whose enqueue was lost (broker down, worker gone): enqueue them again. The wait before the
-- next re-enqueue doubles (at least stale_after, else as long as the event had waited when last
-- enqueued): an event merely waiting in a deep queue is not copied into it again every period,
-- which multiplied a backlog (tests/faults saw 8,700 re-enqueues for 2,000 events).
UPDATE webhook_events
SET enqueued_at = now()
WHERE id IN (
    SELECT id FROM webhook_events
    WHERE state = 'received'
      AND coalesce(enqueued_at, received_at) < now() - greatest(make_interval(secs => %(stale_after)s),
                                                              coalesce(enqueued_at, received_at) - received_at)
    ORDER BY received_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id;

-- name: list_dead
SELECT id, agent_id, idempotency_key, task_type, received_at, attempts, last_error
FROM webhook_events
WHERE state = 'dead'
ORDER BY received_at
LIMIT %(limit)s;

-- name: list_unmatched
SELECT id, agent_id, idempotency_key, task_type, received_at, last_error AS reason
FROM webhook_events
WHERE state = 'unmatched'
ORDER BY received_at DESC
LIMIT %(limit)s;

-- name: replay_dead
-- A replayed event starts over: received, no attempts, enqueued again by the caller. Dead events, and
-- unmatched ones (once an operator has made them matchable, say).
UPDATE webhook_events
SET state = 'received', attempts = 0, last_error = NULL, enqueued_at = now()
WHERE id = ANY(%(event_ids)s) AND state IN ('dead', 'unmatched')
RETURNING id;
