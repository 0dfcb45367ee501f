-- Each seller's catalogue, from its get_products (wholesale): what a campaign's products are checked
-- against, and where a package's pricing option comes from. Kept as the seller listed each product.
CREATE TABLE agent_products (
    agent_id   text NOT NULL REFERENCES sales_agents (id) ON DELETE CASCADE,
    product_id text NOT NULL,
    product    jsonb NOT NULL,
    PRIMARY KEY (agent_id, product_id)
);
-- When the catalogue was last read (NULL: never), and why the last read failed (NULL: it didn't).
ALTER TABLE sales_agents
    ADD COLUMN products_fetched_at timestamptz,
    ADD COLUMN products_error text;
