-- name: insert_agent
INSERT INTO sales_agents (id, name, endpoint_uri, protocol, inbound_scheme, outbound_auth)
VALUES (%(id)s, %(name)s, %(endpoint_uri)s, %(protocol)s, %(inbound_scheme)s, %(outbound_auth)s);

-- name: insert_credential
INSERT INTO agent_credentials (agent_id, kind, key_id, secret, public_jwk)
VALUES (%(agent_id)s, %(kind)s, %(key_id)s, %(secret)s, %(public_jwk)s)
RETURNING id;

-- name: list_agents
SELECT a.id, a.name, a.endpoint_uri, a.protocol, a.inbound_scheme, a.created_at,
       count(c.id) FILTER (WHERE c.active) AS active_credentials
FROM sales_agents a
LEFT JOIN agent_credentials c ON c.agent_id = a.id
GROUP BY a.id
ORDER BY a.id;
