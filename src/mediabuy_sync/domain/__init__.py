"""Pure rules of the domain: no I/O, no Flask, Celery or psycopg imports."""
