"""Issue 18: the same figures on an empty database and on a year of history, side by side in one run.

The history is a database kept between runs (bench/history_fill.py: 20 million inbox events with their
bodies over the inbox's 30 days of partitions, 10 million ledger rows over 400 days, 500 agents, 50,000
campaigns, 500,000 buys; --quick: 2 million events). The empty one is the run's own bench database. Both
get the same working set (20 agents, 100 campaigns of 20 buys, an API key), and the same processes,
started from the Procfile's lines with only DATABASE_URL told apart. Each figure is filled ÷ empty (for
a rate, empty ÷ filled: how much slower the history makes it); target 1.2 at most.

- accepted webhooks/s: a web on each database, wrk rounds alternating between them (bench/ingest.py's
  presigned requests), no worker running;
- the /metrics scrape, the /ops pages, GET campaign (buyer API): sequential requests alternating
  between the two webs, median;
- the sweeper's, the watch's, the drain's and the poll sweep's claims (store/sql/inbox.sql
  claim_stale_received, oldest_waiting_age, claim_batch; polling.sql claim_due_buys), called through
  the store with the values the services pass, each in a transaction rolled back, with the working set's
  events waiting and its buys due: median client-side time (planning included: with one partition per
  day, planning is part of the cost); EXPLAIN (ANALYZE, BUFFERS) of each kept in bench-output/;
- drained events/s: a worker (the Procfile's, two processes) on each database in turn, the same status
  events (bench/worker_throughput.py), two drains each, alternating, the best of each.
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from contextlib import contextmanager
from datetime import date

import psycopg
import redis
import requests
from psycopg import sql
from psycopg.rows import dict_row

from mediabuy_sync.config import settings
from mediabuy_sync.domain.retention import PARTITIONED, first_id
from mediabuy_sync.store import api_keys, inbox, partitions, polling
from mediabuy_sync.store.db import close_pool, transaction

from . import env as bench_env
from . import fixtures, history_fill, load, worker_throughput
from .report import Figure

NAME = "history"
TARGET = 1.2
N_CAMPAIGNS, PER_CAMPAIGN = 100, 20


@contextmanager
def using(url: str):
    """This process's store (its pool, settings) on another database for a while."""
    saved = os.environ["DATABASE_URL"]
    close_pool()
    os.environ["DATABASE_URL"] = url
    settings.cache_clear()
    try:
        yield
    finally:
        close_pool()
        os.environ["DATABASE_URL"] = saved
        settings.cache_clear()


def _today_floor() -> int:
    """Ids at or above it were written today: the bench's own rows (the history ends yesterday)."""
    return first_id(date.today())


def clean(url: str) -> None:
    """Take a run's working set out of the kept history: the rows written since the fill (ids from its
    day on), the bench's campaigns, buys and agents, every other table (the fill writes none of them)."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        floor = first_id(conn.execute("SELECT filled_on FROM bench_history_shape").fetchone()["filled_on"])
        conn.execute("DELETE FROM webhook_events WHERE id >= %s", (floor,))
        conn.execute("DELETE FROM status_changes WHERE id >= %s", (floor,))
        keep = {"schema_migrations", "bench_history_shape", "sales_agents", "campaigns", "media_buys",
                "webhook_events", "status_changes"}
        others = [r["tablename"] for r in conn.execute(
            "SELECT c.relname AS tablename FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition")]
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in others if t not in keep))
        conn.execute("DELETE FROM media_buys WHERE id NOT LIKE 'mb\\_h%'")
        conn.execute("DELETE FROM campaigns WHERE id NOT LIKE 'cmp\\_h%'")
        conn.execute("DELETE FROM sales_agents WHERE id NOT LIKE 'hfill\\_%'")
        # the history's live buys are polled hours ahead: none due but the working set's (they were
        # hours ahead when it was filled, a day ago, say)
        conn.execute("UPDATE media_buys SET poll_due_at = now() + interval '10 minutes' + interval '6 hours' * random() "
                     "WHERE status = 'ACTIVE' AND poll_due_at < now() + interval '10 minutes'")
        conn.execute("VACUUM ANALYZE media_buys, campaigns, sales_agents")
        # and the partitions the runs wrote and emptied: left with only dead rows (n_live_tup 0), today's
        # inbox partition was planned as empty and the agents' newest-event probe walked its primary key
        # through every dead entry (/ops/agents 52 ms one run, 1.4 s the next)
        day = conn.execute("SELECT filled_on FROM bench_history_shape").fetchone()["filled_on"]
        for table in PARTITIONED:
            for part in partitions.existing(conn, table):
                if part.start is not None and part.end > day:
                    conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(part.name)))


def working_set(given: dict[str, str] | None = None) -> dict:
    """In the current database: the agents (their secrets: the `given` ones, the same agents as in the
    other database), the campaigns, due buys and an API key."""
    agents = fixtures.make_agents(20, prefix="hagent", given=given)
    fixtures.make_campaigns(N_CAMPAIGNS, PER_CAMPAIGN, list(agents), poll_due_in=-1)
    with transaction() as conn:
        _, key = api_keys.create_key(conn, "adv_bench", "history bench")
    return {"agents": agents, "key": key}


def _purge_queue(env: dict) -> None:
    """The drains the webs queued (nothing consumed them) and the drain key, not the broker's bindings."""
    r = redis.Redis.from_url(env["REDIS_URL"])
    ns = env["MEDIABUY_REDIS_NAMESPACE"]
    keys = [k for k in r.scan_iter(match=ns + "*", count=1000) if b"_kombu.binding" not in k]
    if keys:
        r.delete(*keys)


def _accepted(url: str) -> int:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events WHERE id >= %s",
                            (_today_floor(),)).fetchone()["n"]


def _ratio(empty: float | None, filled: float | None) -> float | None:
    return filled / empty if empty and filled else None


def ingest(bases: dict[str, str], urls: dict[str, str], secrets_of: dict[str, str], quick: bool) -> list[Figure]:
    from .ingest import _middle

    rounds, seconds = (3, 2) if quick else (3, 5)
    agent_ids = list(secrets_of)
    buys = [(fixtures.agent_of(c, k, PER_CAMPAIGN, agent_ids), fixtures.buy_of(c, k)[1])
            for c in range(N_CAMPAIGNS) for k in range(PER_CAMPAIGN)]
    warm = load.presign(secrets_of, buys, 200, first_second=1_000_000)
    for base in bases.values():
        load.pace(base, warm, 100)
    rates: dict[str, list[float]] = {db: [] for db in bases}
    p99: dict[str, list[float]] = {db: [] for db in bases}
    for i in range(rounds):
        # the same requests to both: each database a copy of the other's work
        presigned = load.presign(secrets_of, buys, 2_500 * seconds, first_second=10 + i * 100_000)
        script, data = load.write_wrk_inputs(presigned, f"history-{i}")
        for db in (("empty", "filled") if i % 2 == 0 else ("filled", "empty")):
            before = _accepted(urls[db])
            run = load.wrk(bases[db], script, data, seconds)
            rates[db].append((_accepted(urls[db]) - before) / seconds)
            p99[db].append(run.p99_ms)
            (bench_env.OUTPUT / f"wrk-history-{db}-{i}.txt").write_text(run.output)
    empty, filled = _middle(rates["empty"]), _middle(rates["filled"])
    each = "; ".join(f"{e:,.0f} / {f:,.0f}" for e, f in zip(rates["empty"], rates["filled"]))
    return [Figure(NAME, f"signed webhooks accepted/s: empty ÷ filled (median of {rounds} × {seconds} s, alternating)",
                   _ratio(filled, empty), "×", TARGET, "<=",
                   f"empty {empty:,.0f}/s, filled {filled:,.0f}/s; rounds empty / filled: {each}; "
                   f"wrk p99 ms empty {p99['empty']}, filled {p99['filled']}")]


def pages(bases: dict[str, str], keys: dict[str, str], token: str, quick: bool) -> list[Figure]:
    reps = 10 if quick else 30
    ops = {"Authorization": f"Bearer {token}"}
    paths = [
        ("/metrics scrape", "/metrics", {}),
        ("/ops campaigns page", "/ops", ops),
        ("/ops campaign page", "/ops/campaigns/cmp_b0", ops),
        ("/ops agents page", "/ops/agents", ops),
        ("/ops dead events page", "/ops/events/dead", ops),
        ("/ops storage page", "/ops/storage", ops),
        ("GET campaign (buyer API)", "/api/v2/buyer/campaigns/cmp_b0", None),
    ]
    figures = []
    with requests.Session() as session:
        for label, path, headers in paths:
            times: dict[str, list[float]] = {db: [] for db in bases}
            for i in range(reps + 2):  # the first two of each: warming
                for db in (("empty", "filled") if i % 2 == 0 else ("filled", "empty")):
                    h = headers if headers is not None else {"Authorization": f"Bearer {keys[db]}"}
                    started = time.perf_counter()
                    answer = session.get(bases[db] + path, headers=h, timeout=120, allow_redirects=False)
                    took = (time.perf_counter() - started) * 1000
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path} on {db}: {answer.status_code} {answer.text[:300]}")
                    if i >= 2:
                        times[db].append(took)
            e, f = statistics.median(times["empty"]), statistics.median(times["filled"])
            figures.append(Figure(NAME, f"{label}: filled ÷ empty (median of {reps})", _ratio(e, f), "×",
                                  TARGET, "<=", f"empty {e:.1f} ms, filled {f:.1f} ms"))
    return figures


QUERIES = [
    # (label, inbox.sql / polling.sql name, how the service calls it)
    ("inbox sweeper's claim (claim_stale_received, stale_after 0: every waiting event stale, 1,000)",
     "claim_stale_received", lambda conn: inbox.claim_stale(conn, 0, limit=1000)),
    ("inbox watch (oldest_waiting_age)", "oldest_waiting_age", lambda conn: inbox.oldest_waiting_age(conn)),
    ("drain's claim (claim_batch, 100)", "claim_batch", lambda conn: inbox.claim_batch(conn, 100)),
    ("poll sweep's claim (claim_due_buys)", "claim_due_buys", None),
]


def _poll_claim(conn):
    from mediabuy_sync.services import poll_sweep

    return poll_sweep.claim_due(conn)


def _explain(conn, name: str, params: dict) -> str:
    q = (inbox.Q if name != "claim_due_buys" else polling.Q)[name]
    with conn.transaction(force_rollback=True):
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + q, params).fetchall()
    return "\n".join(r["QUERY PLAN"] for r in rows)


def _params(name: str) -> dict:
    from mediabuy_sync.domain.statuses import POLLED
    from mediabuy_sync.queue.in_flight import PAGE_SIZE

    return {"claim_stale_received": {"stale_after": 0, "limit": 1000}, "oldest_waiting_age": {},
            "claim_batch": {"limit": 100},
            "claim_due_buys": {"polled": sorted(POLLED), "per_agent": 2 * PAGE_SIZE, "lease": 120.0,
                               "in_flight": []}}[name]


def queries(urls: dict[str, str], quick: bool) -> list[Figure]:
    reps = 30 if quick else 100
    conns = {db: psycopg.connect(url, row_factory=dict_row) for db, url in urls.items()}
    figures = []
    try:
        for label, name, call in QUERIES:
            call = call or _poll_claim
            times: dict[str, list[float]] = {db: [] for db in urls}
            rows = {}
            for i in range(reps + 6):  # the first six: warming, and psycopg's prepared statement from the 5th
                for db in (("empty", "filled") if i % 2 == 0 else ("filled", "empty")):
                    conn = conns[db]
                    with conn.transaction(force_rollback=True):
                        started = time.perf_counter()
                        got = call(conn)
                        took = (time.perf_counter() - started) * 1000
                    rows[db] = len(got) if isinstance(got, (list, dict)) else got
                    if i >= 6:
                        times[db].append(took)
            for db, conn in conns.items():
                (bench_env.OUTPUT / f"explain-{name}-{db}.txt").write_text(_explain(conn, name, _params(name)))
            e, f = statistics.median(times["empty"]), statistics.median(times["filled"])
            figures.append(Figure(NAME, f"{label}: filled ÷ empty (median of {reps})", _ratio(e, f), "×", TARGET, "<=",
                                  f"empty {e:.2f} ms, filled {f:.2f} ms; rows/answer: empty {rows['empty']}, "
                                  f"filled {rows['filled']}"))
    finally:
        for conn in conns.values():
            conn.close()
    return figures


def _replayable(event_ids: list[int]) -> None:
    """The working set's events back in the inbox, its buys as they were and its ledger rows gone (in the
    current database; the history's rows untouched), for another drain of the same work."""
    with transaction() as conn:
        conn.execute("UPDATE webhook_events SET state = 'received', processed_at = NULL, outcome = NULL, attempts = 0 "
                     "WHERE id = ANY(%(ids)s)", {"ids": event_ids})
        conn.execute("UPDATE media_buys SET status = 'ACTIVE', adcp_status = 'active', status_as_of = %(t0)s "
                     "WHERE campaign_id LIKE 'cmp\\_b%%'", {"t0": fixtures.T0})
        conn.execute("DELETE FROM status_changes WHERE id >= %s", (_today_floor(),))
        conn.execute("UPDATE campaigns SET rollups = 0 WHERE id LIKE 'cmp\\_b%'")


def drains(env: dict, urls: dict[str, str], event_ids: dict[str, list[int]]) -> list[Figure]:
    """Two drains on each database, alternating (empty, filled, filled, empty), a worker started for
    each on its database; each database's best round (one drain each swung 0.76-2.1x between runs)."""
    got: dict[str, list[dict]] = {"empty": [], "filled": []}
    for db in ("empty", "filled", "filled", "empty"):
        with using(urls[db]):
            if got[db]:
                _replayable(event_ids[db])
            worker = bench_env.start_worker({**env, "DATABASE_URL": urls[db]}, name=f"worker-{db}-{len(got[db])}")
            try:
                got[db].append(worker_throughput.drain(event_ids[db], db, 600))
            finally:
                worker.stop()
    best = {db: max(rounds, key=lambda r: r["rate"] or 0) for db, rounds in got.items()}
    e, f = best["empty"]["rate"], best["filled"]["rate"]
    n = len(event_ids["empty"])
    each = {db: ", ".join(f"{r['rate']:,.0f}" for r in rounds) for db, rounds in got.items()}
    return [Figure(NAME, "status events drained/s, 2 worker processes: empty ÷ filled (best of 2 drains each, alternating)",
                   _ratio(f, e), "×", TARGET, "<=",
                   f"empty {e:,.0f}/s (rounds {each['empty']}; {n:,} in {best['empty']['span']:.1f} s, cores "
                   f"{best['empty']['cores']}), filled {f:,.0f}/s (rounds {each['filled']}; {n:,} in "
                   f"{best['filled']['span']:.1f} s, cores {best['filled']['cores']})")]


def run(env: dict, quick: bool) -> list[Figure]:
    bench_env.stop_all()  # the shared worker would drain the empty database's events
    shape = history_fill.QUICK if quick else history_fill.FULL
    rebuild = os.environ.get("BENCH_HISTORY_REBUILD") == "1"
    filled_url, how = history_fill.ensure(env["DATABASE_URL"], shape, rebuild, log=lambda s: print(s, flush=True))
    urls = {"empty": env["DATABASE_URL"], "filled": filled_url}
    token = secrets.token_urlsafe(24)
    n_events = 4_000 if quick else 20_000
    try:
        clean(filled_url)
        sets = {}
        with using(urls["empty"]):
            sets["empty"] = working_set()
        secrets_of = sets["empty"]["agents"]  # the same agents and secrets in both: one set of signed requests
        with using(filled_url):
            sets["filled"] = working_set(given=secrets_of)
        webs = {db: bench_env.start_web({**env, "DATABASE_URL": url, "MEDIABUY_ADMIN_TOKEN": token},
                                        name=f"web-{db}", ready_path="/readyz") for db, url in urls.items()}
        bases = {db: base for db, (_, base) in webs.items()}
        figures = ingest(bases, urls, secrets_of, quick)
        figures += pages(bases, {db: s["key"] for db, s in sets.items()}, token, quick)
        for proc, _ in webs.values():
            proc.stop()
        _purge_queue(env)
        event_ids = {}
        for db, url in urls.items():
            with using(url):
                with transaction() as conn:
                    conn.execute("DELETE FROM webhook_events WHERE id >= %s", (_today_floor(),))
                event_ids[db] = worker_throughput.status_events(n_events, N_CAMPAIGNS, PER_CAMPAIGN,
                                                                 list(sets[db]["agents"]))
        figures += queries(urls, quick)
        figures += drains(env, urls, event_ids)
        size = _size(filled_url)
    finally:
        bench_env.stop_all()
        close_pool()
        clean(filled_url)
    return [Figure(NAME, f"history database {history_fill.database_name(shape)}: {shape.events:,} inbox events, "
                         f"{shape.ledger:,} ledger rows, {shape.campaigns:,} campaigns, "
                         f"{shape.campaigns * shape.buys_per_campaign:,} buys", size / 1e9, "GB",
                   note=f"{how}; PostgreSQL shared_buffers {_setting(filled_url, 'shared_buffers')}, "
                        f"{os.cpu_count()} cores")] + figures


def _size(url: str) -> int:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT pg_database_size(current_database()) AS b").fetchone()["b"]


def _setting(url: str, name: str) -> str:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute("SELECT current_setting(%s) AS v", (name,)).fetchone()["v"]
