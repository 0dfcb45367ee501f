-- Indexes the history benchmark (bench/history.py) found missing with a year of data.

-- An agent's newest event (/metrics' webhook age, the /ops agents page; store/sql/ops.sql) by id, which
-- is time-ordered: the partitions are ranges of ids, so a backward scan of this index takes the newest
-- partition first and stops at the first event found, where (agent_id, received_at) merged the newest
-- event of every day's partition, per agent (bench/NOTES.md, 2026-12-05: the history benchmark).
-- webhook_events_agent_received stays: the last hour's count per agent reads it.
CREATE INDEX webhook_events_agent_id ON webhook_events (agent_id, id);

-- The /ops agents page's next poll per agent: the first due time of the agent's buys, read off this
-- index, where media_buys_poll_due (all agents) was walked until one of the agent's buys came up —
-- 0.4 ms an agent with 500,000 buys over 500 agents, 0.2 s for the page.
CREATE INDEX media_buys_agent_poll_due ON media_buys (sales_agent_id, poll_due_at) WHERE poll_due_at IS NOT NULL;
