-- name: set_flight
UPDATE campaigns SET flight_start = %(flight_start)s, flight_end = %(flight_end)s, updated_at = now()
WHERE id = %(campaign_id)s;

-- name: delete_products
DELETE FROM campaign_products WHERE campaign_id = %(campaign_id)s;

-- name: insert_product
INSERT INTO campaign_products (campaign_id, sales_agent_id, product_id, position, budget, pacing, bid_price,
                               pricing_option_id, formats, pacing_periods)
VALUES (%(campaign_id)s, %(sales_agent_id)s, %(product_id)s, %(position)s, %(budget)s, %(pacing)s,
        %(bid_price)s, %(pricing_option_id)s, %(formats)s, %(pacing_periods)s);
