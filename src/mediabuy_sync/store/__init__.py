"""store: PostgreSQL — the connection pool, migrations, and every SQL statement we run, as named queries
(sql/*.sql) behind one module per aggregate; rows or small dataclasses out."""
