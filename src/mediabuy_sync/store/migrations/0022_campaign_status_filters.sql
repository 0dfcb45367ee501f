-- Issue 17: the campaign list filters by the status a campaign reports (its buys' rollup, or its
-- lifecycle while it has no buys) and by its lifecycle, each paged newest first by (created_at, id):
-- one index per filter, in the order the cursor reads, so a page stays a short index range scan
-- however many campaigns the advertiser has. The expression is the one list_for_advertiser filters on.
CREATE INDEX campaigns_advertiser_reported
    ON campaigns (advertiser_id, (coalesce(surfaced_status, status)), created_at DESC, id DESC);
CREATE INDEX campaigns_advertiser_lifecycle
    ON campaigns (advertiser_id, status, created_at DESC, id DESC);

-- The rollup sweeper's look for live campaigns whose flight is over (completions_due): only the live
-- ones, by flight end.
CREATE INDEX campaigns_flight_end_live ON campaigns (flight_end) WHERE status IN ('ACTIVE', 'PAUSED');
