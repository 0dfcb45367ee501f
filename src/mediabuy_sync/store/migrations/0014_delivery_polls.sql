-- The delivery backstop: a live buy whose delivery reports went quiet has its delivery read with
-- get_media_buy_delivery, at most once per MEDIABUY_DELIVERY_QUIET_SECONDS (the last read's time here).
ALTER TABLE media_buys ADD COLUMN delivery_polled_at timestamptz;
