-- The partitions of the inbox and the ledger (domain/retention.py, docs/data-lifecycle.md). DDL cannot
-- take parameters: {braced} names and bounds are composed by store/partitions.py (psycopg.sql).

-- name: list
-- Each partition of a partitioned table, with its bounds as PostgreSQL prints them
-- ("FOR VALUES FROM (MINVALUE) TO ('1254955084152832')").
SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = %(parent)s::regclass
ORDER BY c.relname;

-- name: today
SELECT (now() AT TIME ZONE 'UTC')::date AS today;

-- name: create
-- IF NOT EXISTS: two beats, or migrate beside beat, may create the same partition.
CREATE TABLE IF NOT EXISTS {partition} PARTITION OF {parent} FOR VALUES FROM ({start}) TO ({end});

-- name: create_unique
CREATE UNIQUE INDEX IF NOT EXISTS {index} ON {partition} ({columns});

-- name: holds_pending
-- Whether a partition holds rows in one of these states (each state by its partial index).
SELECT EXISTS (SELECT 1 FROM {partition} WHERE state = %(state)s) AS found;

-- name: newest
-- The newest row's own time, by the primary key (ids are time-ordered): the legacy partition's age.
SELECT {time_column} AS at FROM {partition} ORDER BY id DESC LIMIT 1;

-- name: lock_timeout
-- Creating or dropping a partition locks its parent: give up (and try at the next run) rather than
-- queue every writer of the table behind a long transaction.
SET LOCAL lock_timeout = '5s';

-- name: lock
-- Before looking for pending rows in a partition to drop: no writer changes its rows meanwhile.
LOCK TABLE {partition} IN SHARE ROW EXCLUSIVE MODE;

-- name: drop
DROP TABLE {partition};

-- name: sizes
-- /ops's storage page: each table of ours, its partitions under it, with sizes on disk (heap, indexes
-- and TOAST) and the planner's row estimates (-1: never analysed).
SELECT c.relname AS name,
       parent.relname AS parent,
       c.relkind = 'p' AS partitioned,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)
                  FROM pg_inherits i WHERE i.inhparent = c.oid)
            ELSE pg_total_relation_size(c.oid) END AS bytes,
       CASE WHEN c.relkind = 'p'
            THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint
                  FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid WHERE i.inhparent = c.oid)
            ELSE greatest(c.reltuples, 0)::bigint END AS rows_estimate,
       pg_get_expr(c.relpartbound, c.oid) AS bound
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid
LEFT JOIN pg_class parent ON parent.oid = inh.inhparent
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY coalesce(parent.relname, c.relname), parent.relname IS NOT NULL, c.relname;
