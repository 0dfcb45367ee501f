-- name: delete_catalogue
DELETE FROM agent_products WHERE agent_id = %(agent_id)s;

-- name: insert_product
INSERT INTO agent_products (agent_id, product_id, product) VALUES (%(agent_id)s, %(product_id)s, %(product)s)
ON CONFLICT (agent_id, product_id) DO UPDATE SET product = EXCLUDED.product;

-- name: catalogue_read
UPDATE sales_agents SET products_fetched_at = now(), products_error = NULL WHERE id = %(agent_id)s;

-- name: catalogue_failed
UPDATE sales_agents SET products_error = %(error)s WHERE id = %(agent_id)s;

-- name: catalogue_state
SELECT id AS agent_id, products_fetched_at, products_error FROM sales_agents WHERE id = ANY(%(agent_ids)s);

-- name: products_of
SELECT agent_id, product_id, product FROM agent_products WHERE agent_id = ANY(%(agent_ids)s) ORDER BY agent_id, product_id;
