-- The buyer's reads: what the seller said with a status (why INPUT_REQUIRED, why REJECTED), kept on the
-- buy and on each ledger row; and the indexes the media-buy list pages by (newest first, keyset).

-- The message of the report that set the buy's current status (ADCP `message`, else its errors').
ALTER TABLE media_buys ADD COLUMN seller_message text;
ALTER TABLE status_changes ADD COLUMN message text;

-- GET /api/v2/buyer/media-buys: newest first, filtered by the campaign's advertiser (joined), status
-- or agent; (created_at, id) is the cursor.
CREATE INDEX media_buys_created ON media_buys (created_at, id);
CREATE INDEX media_buys_agent_created ON media_buys (sales_agent_id, created_at, id);
