-- name: claim_turn
-- This period's turn of a periodic job: a row per job, its last run moved forward only when the
-- last one is at least min_gap seconds old (nothing returned: another beat's tick had it).
INSERT INTO periodic_jobs (name, last_run_at) VALUES (%(name)s, now())
ON CONFLICT (name) DO UPDATE SET last_run_at = now(), runs = periodic_jobs.runs + 1
    WHERE periodic_jobs.last_run_at < now() - make_interval(secs => %(min_gap)s)
RETURNING name;
