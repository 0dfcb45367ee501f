-- Databases on the server, for local runs and tests (store/databases.py; run on the `postgres` database).

-- name: exists
SELECT 1 FROM pg_database WHERE datname = %(name)s;
