"""PostgreSQL access: the connection pool, migrations and one module per aggregate."""
