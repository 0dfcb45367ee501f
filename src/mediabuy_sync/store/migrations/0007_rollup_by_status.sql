-- A campaign's recompute counts its buys per status and gathers the ids of those holding the
-- surfaced one: both answered from this index alone (index-only scans), whatever the campaign's size.
-- It covers every query media_buys_campaign served, which it replaces.
CREATE INDEX media_buys_campaign_status ON media_buys (campaign_id, status, id);
DROP INDEX media_buys_campaign;
