-- What the operators' views read (/metrics at every scrape, the /ops pages): each agent's latest
-- webhook and its webhooks per minute over the last hour, from this index rather than a scan of
-- every event kept (events are kept at least 7 days). received_at only grows: appends stay cheap.
CREATE INDEX webhook_events_agent_received ON webhook_events (agent_id, received_at);
