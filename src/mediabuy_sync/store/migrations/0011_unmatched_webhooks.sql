-- A webhook no buy of ours matches (no operation id, media buy id, task id or echoed context we know)
-- is kept as 'unmatched' with the reason in last_error: not retried into 'dead' (another attempt finds
-- nothing more), listed for operators, replayable, and its agent's unsettled buys are polled instead.
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_state_check;
ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_state_check CHECK (state IN ('received', 'processed', 'dead', 'unmatched'));
CREATE INDEX webhook_events_unmatched ON webhook_events (received_at) WHERE state = 'unmatched';
