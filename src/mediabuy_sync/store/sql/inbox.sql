-- name: insert_event
-- A duplicate (same agent, same idempotency_key) inserts nothing and returns the first row.
WITH inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    VALUES (%(agent_id)s, %(idempotency_key)s, %(task_type)s, %(raw_body)s, %(request_id)s)
    ON CONFLICT (agent_id, idempotency_key) DO NOTHING
    RETURNING id, raw_body
)
SELECT id, raw_body, true AS inserted FROM inserted
UNION ALL
SELECT id, raw_body, false FROM webhook_events
WHERE agent_id = %(agent_id)s AND idempotency_key = %(idempotency_key)s
LIMIT 1;

-- name: insert_events
-- Several events in one statement (the web's group commit, web/group_commit.py): the position (1..n)
-- of each one inserted, with its id. A position missing was not inserted: its (agent, idempotency_key)
-- was in the inbox already, or earlier in the same batch. inbox.store_events writes the VALUES rows,
-- five parameters and the position per event: scalar parameters, which psycopg dumps in C, where five
-- text[] arrays went through its Python list dumper (~100 us more of the web's CPU per batch).
WITH input (agent_id, idempotency_key, task_type, raw_body, request_id, position) AS (
    VALUES {rows}
), inserted AS (
    INSERT INTO webhook_events (agent_id, idempotency_key, task_type, raw_body, request_id)
    SELECT agent_id, idempotency_key, task_type, raw_body, request_id FROM input ORDER BY position
    ON CONFLICT (agent_id, idempotency_key) DO NOTHING
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
