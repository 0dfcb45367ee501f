"""The history benchmark's kept database: a year-shaped history made server-side with generate_series.

Kept between runs under a name of its shape (mediabuy_history_<events>): a run reuses it when the shape
it recorded (bench_history_shape, written last, so a fill cut short is never reused) is the one asked
for and it was filled within MAX_AGE_DAYS; otherwise, or with --rebuild-history, it is dropped and
filled again. Every run migrates it first (a new migration's index is built on the history once).

The shape (chosen to look like one platform a year in):
- 500 sales agents, 50,000 campaigns of 10 media buys (500,000): 20 % of them live (ACTIVE, polled,
  their next poll hours ahead), the rest finished (COMPLETED, not polled).
- The inbox holds its retention only (30 days, docs/data-lifecycle.md): `events` webhooks spread evenly
  over the 30 days before the fill's day, each in its day's partition with the ids time_ordered_id()
  gives that day (first_id(day) + n) and its received_at in that day. Bodies are media_buy_delivery
  reports of 4 packages (~1 KB, the size the seller SDKs send). 0.01 % dead, 0.1 % unmatched, the rest
  processed. Each day's partition is filled as a table of its own, then attached (its indexes built
  once, not row by row) and given its dedup index, as store/partitions.create names it.
- The ledger: `ledger` status changes of the buys over the 400 days the ledger keeps (30-day
  partitions), those of the last 30 days pointing at inbox events.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from mediabuy_sync.devtools import services as devservices
from mediabuy_sync.domain.retention import INBOX, LEDGER, first_id, partition_for, partition_start
from mediabuy_sync.store import partitions
from mediabuy_sync.store.migrate import upgrade

MAX_AGE_DAYS = 7  # older than this, the history has drifted out of the inbox's window: filled again
INBOX_DAYS, LEDGER_DAYS = 30, 400


@dataclass(frozen=True)
class Shape:
    events: int
    ledger: int
    agents: int = 500
    campaigns: int = 50_000
    buys_per_campaign: int = 10
    version: int = 1  # bump when the fill's SQL changes what it makes


FULL = Shape(events=20_100_000, ledger=10_000_000)
QUICK = Shape(events=2_010_000, ledger=1_000_000)


def database_name(shape: Shape) -> str:
    return f"mediabuy_history_{shape.events // 1_000_000}m"


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def recorded(url: str) -> dict | None:
    try:
        with _connect(url) as conn:
            row = conn.execute("SELECT shape, filled_on FROM bench_history_shape").fetchone()
    except (psycopg.OperationalError, psycopg.errors.UndefinedTable):
        return None
    return row


def ensure(base_url: str, shape: Shape, rebuild: bool, log=print) -> tuple[str, str]:
    """The kept database's URL, filled to `shape`; and what was done ("reused …" or "filled in …")."""
    url = devservices.with_database(base_url, database_name(shape))
    have = None if rebuild else recorded(url)
    today = date.today()
    if have is not None and have["shape"] == asdict(shape) and (today - have["filled_on"]).days <= MAX_AGE_DAYS:
        upgrade(url)
        with _connect(url) as conn:
            partitions.ensure_ahead(conn, 2)
        return url, f"reused (filled {have['filled_on']})"
    started = time.monotonic()
    devservices.drop_database(url)
    devservices.create_database(url)
    upgrade(url)
    fill(url, shape, log)
    return url, f"filled in {time.monotonic() - started:.0f} s"


def fill(url: str, shape: Shape, log=print) -> None:
    with _connect(url) as conn:
        conn.execute("SET maintenance_work_mem = '256MB'")
        fill_day = partitions.today(conn)
        t = time.monotonic()
        _population(conn, shape)
        log(f"   history: agents, campaigns, buys ({time.monotonic() - t:.0f} s)")
        per_day = shape.events // INBOX_DAYS
        for i in range(INBOX_DAYS, 0, -1):
            t = time.monotonic()
            _inbox_day(conn, shape, fill_day - timedelta(days=i), per_day)
            log(f"   history: inbox {fill_day - timedelta(days=i)}: {per_day:,} events ({time.monotonic() - t:.0f} s)")
        t = time.monotonic()
        _ledger(conn, shape, fill_day)
        log(f"   history: ledger {shape.ledger:,} rows ({time.monotonic() - t:.0f} s)")
        t = time.monotonic()
        conn.execute("VACUUM ANALYZE sales_agents, campaigns, media_buys")
        conn.execute("ANALYZE webhook_events")
        conn.execute("ANALYZE status_changes")
        log(f"   history: analyzed ({time.monotonic() - t:.0f} s)")
        conn.execute("CREATE TABLE bench_history_shape (shape jsonb NOT NULL, filled_on date NOT NULL)")
        conn.execute("INSERT INTO bench_history_shape VALUES (%s, %s)",
                     (psycopg.types.json.Jsonb(asdict(shape)), fill_day))


def _population(conn: psycopg.Connection, shape: Shape) -> None:
    conn.execute("""
        INSERT INTO sales_agents (id, name, endpoint_uri, inbound_scheme, created_at)
        SELECT 'hfill_' || a, 'seller ' || a, 'https://seller' || a || '.example/mcp', 'hmac-sha256',
               now() - interval '400 days'
        FROM generate_series(0, %(n)s - 1) a""", {"n": shape.agents})
    # a campaign c was created c / campaigns of the way through the year; the newest 20 % are live
    conn.execute("""
        INSERT INTO campaigns (id, advertiser_id, name, status, surfaced_status, status_version, rollup_version,
                               rollup_at, created_at, updated_at, flight_start, flight_end, budget_total, currency)
        SELECT 'cmp_h' || c, 'adv_h' || (c %% 1000), 'history campaign ' || c, s, s, 3, 3, t, t, t,
               t, t + interval '60 days', 50000, 'USD'
        FROM generate_series(0, %(n)s - 1) c,
             LATERAL (SELECT CASE WHEN c >= %(n)s * 0.8 THEN 'ACTIVE' ELSE 'COMPLETED' END AS s,
                             now() - interval '400 days' * (1 - c::float8 / %(n)s) AS t) x""",
                 {"n": shape.campaigns})
    conn.execute("""
        INSERT INTO media_buys (id, campaign_id, sales_agent_id, adcp_media_buy_id, status, adcp_status,
                                status_as_of, poll_due_at, poll_reason, created_at, updated_at, submitted_at,
                                impressions, spend, clicks, delivery_as_of)
        SELECT 'mb_h' || c || '_' || k, 'cmp_h' || c, 'hfill_' || ((c * %(per)s + k) %% %(agents)s),
               'sah_' || c || '_' || k, s, lower(s), t,
               CASE WHEN s = 'ACTIVE' THEN now() + interval '10 minutes' + interval '6 hours' * random() END,
               CASE WHEN s = 'ACTIVE' THEN 'scheduled' END, t, t, t, 1000000, 1234.56, 2000, t
        FROM generate_series(0, %(n)s - 1) c, generate_series(0, %(per)s - 1) k,
             LATERAL (SELECT CASE WHEN c >= %(n)s * 0.8 THEN 'ACTIVE' ELSE 'COMPLETED' END AS s,
                             now() - interval '400 days' * (1 - c::float8 / %(n)s) AS t) x""",
                 {"n": shape.campaigns, "per": shape.buys_per_campaign, "agents": shape.agents})


# n-th event of a day: its agent, buy and time (the day's events evenly over its 86,400 s)
_INBOX_ROWS = """
INSERT INTO {part} (id, agent_id, idempotency_key, task_type, raw_body, received_at, state, attempts,
                    last_attempt_at, last_error, enqueued_at, processed_at, outcome, request_id)
SELECT %(first)s + n, 'hfill_' || (b %% %(agents)s), key, 'media_buy_delivery',
       '{{"idempotency_key":"' || key || '","operation_id":"op_' || md5(key) || '","task_id":"task_' || n
       || '","task_type":"media_buy_delivery","status":"completed","timestamp":"' || ts
       || '","result":{{"reporting_period":{{"start":"' || %(day)s::date || 'T00:00:00Z","end":"' || ts
       || '"}},"currency":"USD","media_buy_deliveries":[{{"media_buy_id":"sah_' || (b / %(per)s) || '_' || (b %% %(per)s)
       || '","status":"active","totals":{{"impressions":' || (n * 37 %% 9000000) || ',"spend":' || (n %% 100000) * 0.1
       || ',"clicks":' || (n %% 9000) || ',"ctr":0.0021,"video_completions":' || (n %% 5000) || '}},"by_package":['
       || '{{"package_id":"pkg_display_a","impressions":' || (n %% 400000) || ',"spend":' || (n %% 3000) * 0.1 || ',"clicks":' || (n %% 700) || ',"pricing_option_id":"cpm_usd_fixed","pacing_index":0.98}},'
       || '{{"package_id":"pkg_display_b","impressions":' || (n %% 300000) || ',"spend":' || (n %% 2000) * 0.1 || ',"clicks":' || (n %% 500) || ',"pricing_option_id":"cpm_usd_fixed","pacing_index":1.02}},'
       || '{{"package_id":"pkg_video_c","impressions":' || (n %% 200000) || ',"spend":' || (n %% 5000) * 0.1 || ',"clicks":' || (n %% 300) || ',"pricing_option_id":"cpm_usd_fixed","pacing_index":0.95}},'
       || '{{"package_id":"pkg_ctv_d","impressions":' || (n %% 100000) || ',"spend":' || (n %% 7000) * 0.1 || ',"clicks":' || (n %% 100) || ',"pricing_option_id":"cpm_usd_fixed","pacing_index":1.00}}'
       || ']}}]}}}}',
       at, st,
       CASE st WHEN 'dead' THEN 5 ELSE 1 END, at + interval '2 seconds',
       CASE st WHEN 'dead' THEN 'AgentError: seller answered 500 five times'
               WHEN 'unmatched' THEN 'no media buy of ours is sah_unknown' END,
       at, CASE WHEN st <> 'dead' THEN at + interval '2 seconds' END,
       CASE st WHEN 'processed' THEN 'applied' WHEN 'unmatched' THEN 'unmatched' END,
       'req_' || n
FROM generate_series(1::bigint, %(count)s::bigint) n,
     LATERAL (SELECT 'evt_' || %(daynum)s || '_' || n AS key,
                     -- the live buys (the newest 20 %% of campaigns) send the reports
                     %(live_first)s + (n * 7919) %% %(live)s AS b,
                     %(day)s::timestamptz + interval '86400 seconds' * (n::float8 / (%(count)s + 1)) AS at,
                     CASE WHEN n %% 10000 = 0 THEN 'dead' WHEN n %% 1000 = 1 THEN 'unmatched'
                          ELSE 'processed' END AS st) x,
     LATERAL (SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS ts) y
"""


def _filled_then_attached(conn: psycopg.Connection, parent: str, name: str, lo: int, hi: int, insert) -> None:
    """Fill a partition as a table of its own (no index to maintain row by row), then attach it: its
    bound proven by a CHECK (no scan), the parent's indexes built once on it."""
    ident = sql.Identifier(name)
    exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS e", (name,)).fetchone()["e"]
    if exists:  # a partition migrate made already (the current month's ledger): filled in place
        insert(ident)
        return
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
        ident, sql.Identifier(parent)))
    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (id >= {} AND id < {})").format(
        ident, sql.Identifier(name + "_bound"), sql.Literal(lo), sql.Literal(hi)))
    insert(ident)
    conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
        sql.Identifier(parent), ident, sql.Literal(lo), sql.Literal(hi)))
    conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(ident, sql.Identifier(name + "_bound")))
    conn.execute(sql.SQL("VACUUM {}").format(ident))


def _inbox_day(conn: psycopg.Connection, shape: Shape, day: date, count: int) -> None:
    part = partition_for(INBOX, day)
    live_first = int(shape.campaigns * 0.8) * shape.buys_per_campaign
    params = {"first": first_id(day), "day": day, "daynum": (day - date(1970, 1, 1)).days, "count": count,
              "agents": shape.agents, "per": shape.buys_per_campaign, "live_first": live_first,
              "live": shape.campaigns * shape.buys_per_campaign - live_first}

    def insert(ident):
        conn.execute(sql.SQL(_INBOX_ROWS).format(part=ident), params)

    _filled_then_attached(conn, INBOX.name, part.name, first_id(part.start), first_id(part.end), insert)
    conn.execute(sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (agent_id, idempotency_key)").format(
        sql.Identifier(f"{part.name}_dedup"), sql.Identifier(part.name)))


_LEDGER_ROWS = """
INSERT INTO {part} (id, entity_type, entity_id, from_status, to_status, adcp_status, source, event_id,
                    outcome, as_of, at)
SELECT first_id + n, 'media_buy', 'mb_h' || (b / %(per)s) || '_' || (b %% %(per)s), fr, tr, lower(tr),
       'webhook', CASE WHEN d >= %(inbox_from)s THEN first_id + n END, 'applied', at, at
FROM generate_series(%(d0)s, %(d1)s - 1) d,
     LATERAL (SELECT (d::bigint << 36) AS first_id) f,
     generate_series(1::bigint, %(per_day)s::bigint) n,
     LATERAL (SELECT (d::bigint * 104729 + n * 7919) %% %(buys)s AS b,
                     timestamptz '1970-01-01 00:00:00+00' + interval '1 day' * d
                       + interval '86400 seconds' * (n::float8 / (%(per_day)s + 1)) AS at,
                     CASE WHEN n %% 2 = 0 THEN 'ACTIVE' ELSE 'PAUSED' END AS fr,
                     CASE WHEN n %% 2 = 0 THEN 'PAUSED' ELSE 'ACTIVE' END AS tr) x
"""


def _ledger(conn: psycopg.Connection, shape: Shape, fill_day: date) -> None:
    per_day = shape.ledger // LEDGER_DAYS
    first_day, end_day = fill_day - timedelta(days=LEDGER_DAYS), fill_day
    epoch = date(1970, 1, 1)
    start = partition_start(LEDGER, first_day)
    while start < end_day:
        part = partition_for(LEDGER, start)
        d0, d1 = max(part.start, first_day), min(part.end, end_day)
        params = {"d0": (d0 - epoch).days, "d1": (d1 - epoch).days, "per_day": per_day,
                  "buys": shape.campaigns * shape.buys_per_campaign, "per": shape.buys_per_campaign,
                  "inbox_from": (fill_day - timedelta(days=INBOX_DAYS) - epoch).days}

        def insert(ident, params=params):
            conn.execute(sql.SQL(_LEDGER_ROWS).format(part=ident), params)

        _filled_then_attached(conn, LEDGER.name, part.name, first_id(part.start), first_id(part.end), insert)
        start = part.end
