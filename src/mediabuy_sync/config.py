"""Every setting, read from the environment in one place.

SETTINGS is the single list: the configuration table of docs/configuration.md is generated from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import cache


@dataclass(frozen=True)
class Settings:
    database_url: str
    redis_url: str
    redis_namespace: str
    broker_url: str
    webhook_max_body_bytes: int
    webhook_body_timeout_seconds: float
    webhook_rate_per_agent: float
    webhook_burst_per_agent: int
    webhook_drain_window_seconds: float
    webhook_batch_wait_seconds: float
    secrets_key: str
    hmac_tolerance_seconds: int
    public_base_url: str
    jwks_refresh_interval_seconds: float
    jwks_fetch_timeout_seconds: float
    jwks_allow_http: int
    rfc9421_nonces_per_key: int
    nonce_purge_interval_seconds: float
    db_pool_max: int
    db_connect_timeout_seconds: float
    db_pool_timeout_seconds: float
    broker_socket_timeout_seconds: float
    inbox_stale_after_seconds: float
    inbox_sweep_interval_seconds: float
    inbox_watch_interval_seconds: float
    inbox_watch_after_seconds: float
    rollup_sweep_interval_seconds: float
    ingest_max_attempts: int
    ingest_batch_size: int
    recompute_every_change: int
    recompute_min_interval_seconds: float
    retry_after_seconds: int
    log_level: str
    log_format: str
    poll_sweep_interval_seconds: float
    poll_pages_per_agent: int
    poll_agents_per_task: int
    agent_call_timeout_seconds: float
    status_query_window_seconds: int
    status_query_deadline_seconds: float
    action_deadline_seconds: float
    cascade_max_attempts: int
    cascade_stale_after_seconds: float
    cascade_confirm_seconds: float
    delivery_quiet_seconds: float
    brand_domain: str
    products_ttl_seconds: float
    admin_token: str
    web_bind: str
    web_workers: int
    web_threads: int
    web_limit_request_line: int
    web_limit_request_fields: int
    web_limit_request_field_size: int
    access_log: str
    worker_metrics_port: int
    beat_metrics_port: int
    metrics_bind: str
    worker_metrics_url: str
    notify_allow_http: int
    notify_sweep_interval_seconds: float
    notify_timeout_seconds: float
    notify_batch_size: int
    notify_retry_base_seconds: float
    notify_retry_max_delay_seconds: float
    notify_max_attempts: int
    notify_retry_window_seconds: float
    notify_blocked_seconds: float
    notify_retention_days: float
    dedup_days: int
    retention_days: int
    ledger_retention_days: int
    run_retention_days: int
    partitions_ahead_days: int
    retention_interval_seconds: float


# (field, environment variable, default, meaning)
SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    ("database_url", "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/mediabuy", "PostgreSQL, the source of truth."),
    ("redis_url", "REDIS_URL", "redis://127.0.0.1:6379/0", "Redis: the Celery broker (unless `MEDIABUY_BROKER_URL` names another), and always the recompute coalescing keys, poll in-flight marks and drain requests."),
    ("redis_namespace", "MEDIABUY_REDIS_NAMESPACE", "mediabuy:", "Prefix of every Redis key and queue we use, so several deployments can share one Redis."),
    ("broker_url", "MEDIABUY_BROKER_URL", "", "The Celery broker. Empty: Redis at `REDIS_URL` (queues under `MEDIABUY_REDIS_NAMESPACE`). `amqp://user:password@host:5672/vhost`: RabbitMQ, with durable quorum queues that survive the loss of a node of a cluster (docs/scaling.md says when to pick which); each deployment sharing a RabbitMQ needs its own vhost. Redis keeps the coalescing keys, poll in-flight marks and drain requests either way."),
    ("webhook_max_body_bytes", "MEDIABUY_WEBHOOK_MAX_BODY_BYTES", "1048576", "Largest webhook body accepted (413 above)."),
    ("webhook_body_timeout_seconds", "MEDIABUY_WEBHOOK_BODY_TIMEOUT_SECONDS", "10", "A webhook body must arrive within this many seconds (and no read may wait longer): 408 otherwise, so a slow sender cannot hold a web thread."),
    ("webhook_rate_per_agent", "MEDIABUY_WEBHOOK_RATE_PER_AGENT", "200", "Webhooks per second one agent may send to one web process (a token bucket, counted after the signature verifies; 429 with `Retry-After` above). The tier-wide limit is this times the web processes (`MEDIABUY_WEB_WORKERS` × instances): 400/s per instance with the defaults. Change it with the number of web processes, or when an agent legitimately sends more (or should send less)."),
    ("webhook_burst_per_agent", "MEDIABUY_WEBHOOK_BURST_PER_AGENT", "1000", "Webhooks one agent may send at once to one web process above its rate (the bucket's size)."),
    ("webhook_drain_window_seconds", "MEDIABUY_WEBHOOK_DRAIN_WINDOW_SECONDS", "0.005", "Each web process asks Redis for an inbox drain at most once per this many seconds: the first commit at once, those within the window by one request at its end (queue/drain_requests.py), so an event waits at most this much longer for its drain. 0: a request after every webhook (one Redis command per webhook). A longer window saves Redis commands under heavy load and adds up to that much to each status change's latency."),
    ("webhook_batch_wait_seconds", "MEDIABUY_WEBHOOK_BATCH_WAIT_SECONDS", "0.001", "Group commit of webhooks (services/group_commit.py): the first webhook of a web process to reach its insert waits this long for the process's other threads, then one statement commits them all; each answers after that commit. 0: no wait (those arriving during a statement still share the next). It pays only with several threads per process (`MEDIABUY_WEB_THREADS`); a longer wait makes larger batches and adds that much to every webhook's answer."),
    ("secrets_key", "MEDIABUY_SECRETS_KEY", "", "Fernet key(s) encrypting agent HMAC secrets and Bearer tokens at rest, comma-separated: the first encrypts, every one decrypts (rotation: prepend a new key, then `mediabuy-sync secrets rotate`). Every process needs it and refuses to start without it; `mediabuy-sync services up` (and so `./dev`) makes one in `.local/secrets.key` when unset."),
    ("hmac_tolerance_seconds", "MEDIABUY_HMAC_TOLERANCE_SECONDS", "300", "Legacy HMAC webhooks: how far X-AdCP-Timestamp may be from now."),
    ("public_base_url", "MEDIABUY_PUBLIC_BASE_URL", "", "The scheme and host agents post webhooks to (e.g. `https://hooks.example.com`; required: the web refuses to start without it). Execute registers `<this>/webhooks/adcp/<agent_id>` with each agent; RFC 9421 verification takes the signed URL to be this plus the path and query received, never the request's Host, so a webhook signed for another receiver fails; the /ops cookie is Secure when it is https. `./dev up` sets `http://` + `MEDIABUY_BIND`."),
    ("jwks_refresh_interval_seconds", "MEDIABUY_JWKS_REFRESH_INTERVAL_SECONDS", "30", "RFC 9421: a webhook signed with an unknown key id fetches the agent's JWKS again at most once per this many seconds per agent, across all web processes."),
    ("jwks_fetch_timeout_seconds", "MEDIABUY_JWKS_FETCH_TIMEOUT_SECONDS", "3", "Deadline of one JWKS fetch, all of it (connect, TLS, headers, body; 64 KiB at most, no redirects). The web fetches in the background, never in a request."),
    ("jwks_allow_http", "MEDIABUY_JWKS_ALLOW_HTTP", "0", "1: JWKS URIs may be plain `http://` (development and tests, whose agents serve their keys on loopback). 0: `https://` only — a key fetched in clear could be swapped on the way."),
    ("rfc9421_nonces_per_key", "MEDIABUY_RFC9421_NONCES_PER_KEY", "100000", "RFC 9421 replay cache cap: live nonces kept per agent key; past it a webhook is refused with `webhook_signature_rate_abuse` (nothing evicted: the spec's step 9a and suggested cap). Only verified webhooks add nonces, so only the key's holder can fill it."),
    ("nonce_purge_interval_seconds", "MEDIABUY_NONCE_PURGE_INTERVAL_SECONDS", "60", "How often beat deletes RFC 9421 nonces whose signatures have expired."),
    ("db_pool_max", "MEDIABUY_DB_POOL_MAX", "4", "PostgreSQL connections per process (each web process, worker process and beat): the total is this times the processes, which must stay under the server's `max_connections`."),
    ("db_connect_timeout_seconds", "MEDIABUY_DB_CONNECT_TIMEOUT_SECONDS", "2", "Connect timeout to PostgreSQL."),
    ("db_pool_timeout_seconds", "MEDIABUY_DB_POOL_TIMEOUT_SECONDS", "3", "How long a request waits for a PostgreSQL connection before answering 503."),
    ("broker_socket_timeout_seconds", "MEDIABUY_BROKER_SOCKET_TIMEOUT_SECONDS", "0.5", "Socket timeouts towards Redis: the web's enqueues and drain requests, the coalescing keys and poll in-flight marks, and the Redis checks of /readyz and /metrics. A failed enqueue is made good by the next webhook's drain or by the inbox sweeper. With RabbitMQ as the broker (`MEDIABUY_BROKER_URL`), also the web's connect and read timeouts towards it and the queue-depth reads of /metrics and the inbox sweeper. Raise it only for a broker that is far away (many milliseconds per round trip)."),
    ("inbox_stale_after_seconds", "MEDIABUY_INBOX_STALE_AFTER_SECONDS", "60", "A received event not processed after this long is enqueued again by the sweeper."),
    ("inbox_sweep_interval_seconds", "MEDIABUY_INBOX_SWEEP_INTERVAL_SECONDS", "30", "How often beat runs the inbox sweeper."),
    ("inbox_watch_interval_seconds", "MEDIABUY_INBOX_WATCH_INTERVAL_SECONDS", "2", "How often beat checks that the inbox's oldest waiting event has a drain coming: a cheap check (one indexed row, one Redis key) that heals a lost drain within seconds — a broker restarted empty, an outage that swallowed the web's enqueues — where the sweeper would take a minute or more."),
    ("inbox_watch_after_seconds", "MEDIABUY_INBOX_WATCH_AFTER_SECONDS", "5", "An event waiting this long with no drain queued gets one from the inbox watch (MEDIABUY_INBOX_WATCH_INTERVAL_SECONDS). Below it, the web's own drain request is trusted."),
    ("rollup_sweep_interval_seconds", "MEDIABUY_ROLLUP_SWEEP_INTERVAL_SECONDS", "30", "How often beat recomputes campaigns whose rollup fell behind."),
    ("ingest_max_attempts", "MEDIABUY_INGEST_MAX_ATTEMPTS", "5", "Attempts at processing one webhook event before it is marked dead."),
    ("ingest_batch_size", "MEDIABUY_INGEST_BATCH_SIZE", "100", "Most webhook events a worker applies in one transaction (one inbox drain). Larger batches cost fewer commits; each holds its buys' row locks until it commits."),
    ("recompute_every_change", "MEDIABUY_RECOMPUTE_EVERY_CHANGE", "0", "1: every applied change queues a recompute of its campaign, no coalescing (the worker benchmark's baseline; never in production)."),
    ("recompute_min_interval_seconds", "MEDIABUY_RECOMPUTE_MIN_INTERVAL_SECONDS", "0.2", "A campaign's surfaced status is recomputed at most once per this many seconds: a change to a quiet campaign is recomputed at once, changes to a busy one within the interval are folded into one recompute at its end."),
    ("retry_after_seconds", "MEDIABUY_RETRY_AFTER_SECONDS", "5", "Retry-After sent with 503 when PostgreSQL is unreachable."),
    ("log_level", "MEDIABUY_LOG_LEVEL", "INFO", "Log level of every process (DEBUG, INFO, WARNING, ERROR). DEBUG also shows the libraries' routine lines that the text format leaves out."),
    ("log_format", "MEDIABUY_LOG_FORMAT", "json", "How log lines look. `json`: one JSON object per line, for log collectors (containers, tests and production keep it). `text`: one short line per record for a person at a terminal (time, process, level, message, the ids), without the libraries' routine per-task and per-request INFO lines; `./dev up` sets it unless you do."),
    ("poll_sweep_interval_seconds", "MEDIABUY_POLL_SWEEP_INTERVAL_SECONDS", "5", "How often beat looks for media buys due a fallback poll."),
    ("poll_pages_per_agent", "MEDIABUY_POLL_PAGES_PER_AGENT", "2", "Pages of 100 buys polled per agent per sweep: the per-agent concurrency limit."),
    ("poll_agents_per_task", "MEDIABUY_POLL_AGENTS_PER_TASK", "25", "Agents one poll task polls at once (each agent's pages one after another): the calls mostly wait on the agents, so one worker slot keeps many in flight. A hanging agent holds its task's slot for one call timeout."),
    ("agent_call_timeout_seconds", "MEDIABUY_AGENT_CALL_TIMEOUT_SECONDS", "10", "Deadline of one ADCP call to a sales agent."),
    ("status_query_window_seconds", "MEDIABUY_STATUS_QUERY_WINDOW_SECONDS", "30", "A campaign's live media-buy-status query may run once per this many seconds (429 otherwise)."),
    ("status_query_deadline_seconds", "MEDIABUY_STATUS_QUERY_DEADLINE_SECONDS", "8", "How long a live media-buy-status query waits for the agents."),
    ("action_deadline_seconds", "MEDIABUY_ACTION_DEADLINE_SECONDS", "10", "How long execute, update, pause and reactivate wait for their calls to the agents before answering with what is known (the rest carries on; GET the campaign for its cascades)."),
    ("cascade_max_attempts", "MEDIABUY_CASCADE_MAX_ATTEMPTS", "3", "Attempts at one agent's share of a cascade (agent unreachable, timing out or answering a transient error) before its items fail."),
    ("cascade_stale_after_seconds", "MEDIABUY_CASCADE_STALE_AFTER_SECONDS", "120", "A cascade's agent job whose pending items nobody touched for this long is taken as lost (a worker died mid-call, an enqueue failed) and beat starts it again; it must exceed the longest untouched stretch of a live job (one agent call, `MEDIABUY_AGENT_CALL_TIMEOUT_SECONDS`, plus a retry's countdown of at most 5 s). A job run twice is harmless: the agents deduplicate each call by its idempotency key."),
    ("cascade_confirm_seconds", "MEDIABUY_CASCADE_CONFIRM_SECONDS", "30", "How long a pause, resume, cancel or package change the seller answered \"done\" may take to show on its buy (read back with get_media_buys) before the item is `unconfirmed` rather than `done`. Lengthen it for sellers that apply changes slowly."),
    ("delivery_quiet_seconds", "MEDIABUY_DELIVERY_QUIET_SECONDS", "7200", "A live media buy with no delivery report for this long has its delivery read by the fallback poll (get_media_buy_delivery), at most once per this long. Sellers report hourly by default; raise it for sellers that report daily."),
    ("brand_domain", "MEDIABUY_BRAND_DOMAIN", "example.com", "The brand domain sent as `brand.domain` with create_media_buy for an advertiser that has none of its own (`mediabuy-sync advertisers set-brand`)."),
    ("products_ttl_seconds", "MEDIABUY_PRODUCTS_TTL_SECONDS", "3600", "How long a seller's catalogue (its get_products) is used before it is read again; campaigns' products are checked against it. Shorten it for a seller whose catalogue changes often; `mediabuy-sync agents products ID --refresh` reads one now."),
    ("admin_token", "MEDIABUY_ADMIN_TOKEN", "", "Bearer token of the /admin endpoints; empty: they answer 403."),
    ("web_bind", "MEDIABUY_BIND", "127.0.0.1:8000", "Where gunicorn listens."),
    ("web_workers", "MEDIABUY_WEB_WORKERS", "2", "gunicorn worker processes: one per core."),
    ("web_threads", "MEDIABUY_WEB_THREADS", "8", "Threads per gunicorn worker: requests in flight per process. Several threads let the webhooks a process receives together share one commit (`MEDIABUY_WEBHOOK_BATCH_WAIT_SECONDS`); the measurements behind the default are in bench/NOTES.md."),
    ("web_limit_request_line", "MEDIABUY_WEB_LIMIT_REQUEST_LINE", "8190", "Longest request line gunicorn accepts, in bytes (414 above)."),
    ("web_limit_request_fields", "MEDIABUY_WEB_LIMIT_REQUEST_FIELDS", "100", "Most request headers gunicorn accepts (431 above)."),
    ("web_limit_request_field_size", "MEDIABUY_WEB_LIMIT_REQUEST_FIELD_SIZE", "8190", "Largest request header gunicorn accepts, in bytes (431 above)."),
    ("access_log", "MEDIABUY_ACCESS_LOG", "", "gunicorn access log target (`-` for stderr; empty: none). Off by default: a line per request costs the web CPU under load; turn it on to see every request."),
    ("worker_metrics_port", "MEDIABUY_WORKER_METRICS_PORT", "0", "Port on which a Celery worker's parent serves the Prometheus metrics of it and its pool processes (`/metrics`); 0: not served. A worker of one queue adds its offset (ingest 0, agents 1, interactive 2), so one per queue can share a host. The web serves its own at `/metrics`."),
    ("beat_metrics_port", "MEDIABUY_BEAT_METRICS_PORT", "0", "Port on which beat serves its Prometheus metrics (tasks it sent); 0: not served."),
    ("metrics_bind", "MEDIABUY_METRICS_BIND", "127.0.0.1", "Address the worker's and beat's metrics ports listen on (`0.0.0.0` in a container)."),
    ("worker_metrics_url", "MEDIABUY_WORKER_METRICS_URL", "", "Where the web reads the workers' metrics for the /ops agents page (e.g. `http://worker:9808/metrics`): the answer deviations of each agent are counted where the calls are made. Empty: the page shows only what the web's own process group counted."),
    ("notify_allow_http", "MEDIABUY_NOTIFY_ALLOW_HTTP", "0", "1: buyers' webhook subscriptions may point at plain `http://` URLs anywhere (development and tests). 0: `https://` only, but for `http://` to this machine (127.0.0.1, localhost, ::1)."),
    ("notify_sweep_interval_seconds", "MEDIABUY_NOTIFY_SWEEP_INTERVAL_SECONDS", "5", "How often beat looks for notification deliveries due (a first attempt whose kick was lost, or a retry) and for campaigns blocked too long. A change's notification is sent at once after its commit; this bounds how late a retry can be."),
    ("notify_timeout_seconds", "MEDIABUY_NOTIFY_TIMEOUT_SECONDS", "10", "Deadline of one notification POST to a buyer's receiver (connect, then each read); no redirects are followed."),
    ("notify_batch_size", "MEDIABUY_NOTIFY_BATCH_SIZE", "50", "Most notification deliveries one worker task claims and sends at once (concurrently, up to 16 in flight)."),
    ("notify_retry_base_seconds", "MEDIABUY_NOTIFY_RETRY_BASE_SECONDS", "30", "A failed notification delivery is retried after about this long, doubling at each failure (with jitter: half to all of it) up to `MEDIABUY_NOTIFY_RETRY_MAX_DELAY_SECONDS`."),
    ("notify_retry_max_delay_seconds", "MEDIABUY_NOTIFY_RETRY_MAX_DELAY_SECONDS", "3600", "Longest wait between two attempts at a notification delivery."),
    ("notify_max_attempts", "MEDIABUY_NOTIFY_MAX_ATTEMPTS", "20", "Attempts at a notification delivery before it is marked failed (it can be replayed from the API). With the defaults the last retries come about 14 hours after the event."),
    ("notify_retry_window_seconds", "MEDIABUY_NOTIFY_RETRY_WINDOW_SECONDS", "86400", "A notification delivery still failing this long after its event (or its replay) is marked failed, whatever its attempts."),
    ("notify_blocked_seconds", "MEDIABUY_NOTIFY_BLOCKED_SECONDS", "21600", "A campaign whose surfaced status stays INPUT_REQUIRED or PENDING_APPROVAL longer than this is notified `campaign.unhealthy` (and `campaign.healthy` once it leaves them)."),
    ("notify_retention_days", "MEDIABUY_NOTIFY_RETENTION_DAYS", "14", "Notification events, their deliveries and attempts are deleted this many days after the event, once no delivery of it is pending."),
    ("dedup_days", "MEDIABUY_DEDUP_DAYS", "7", "A webhook whose (agent, idempotency key) was received within this many days is a duplicate: at least the sellers' delivery retry horizon. Each day of it is one more partition probed per new webhook (docs/data-lifecycle.md)."),
    ("retention_days", "MEDIABUY_RETENTION_DAYS", "30", "Days the inbox keeps webhook events with their raw bodies (at least MEDIABUY_DEDUP_DAYS: the rows are the dedup state). A day's partition is dropped whole once older, unless it holds events not yet applied or dead ones (docs/data-lifecycle.md)."),
    ("ledger_retention_days", "MEDIABUY_LEDGER_RETENTION_DAYS", "400", "Days the ledger (status_changes: every status report and surfaced-status change, the campaign history the buyer API reads) is kept; dropped 30 days (one partition) at a time."),
    ("run_retention_days", "MEDIABUY_RUN_RETENTION_DAYS", "90", "Days finished run records (re-syncs, live status queries, cascades with their items) are kept, counted from their end; deleted in batches."),
    ("partitions_ahead_days", "MEDIABUY_PARTITIONS_AHEAD_DAYS", "7", "The partitions of the inbox and the ledger are created this many days ahead, so that a beat down for less than that loses nothing."),
    ("retention_interval_seconds", "MEDIABUY_RETENTION_INTERVAL_SECONDS", "3600", "How often beat creates the partitions ahead, drops the expired ones and deletes old run records."),
)


def _convert(field_type: str, raw: str):
    if field_type == "int":
        return int(raw)
    if field_type == "float":
        return float(raw)
    return raw


@cache
def settings() -> Settings:
    """The settings of this process, read once from the environment."""
    types = {f.name: f.type for f in fields(Settings)}
    values = {
        name: _convert(types[name], os.environ.get(env, default)) for name, env, default, _ in SETTINGS
    }
    return Settings(**values)


def markdown_table() -> str:
    """docs/configuration.md's table, generated so that it cannot drift from SETTINGS."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    lines += [f"| `{env}` | `{default}` | {meaning} |" for _, env, default, meaning in SETTINGS]
    return "\n".join(lines)
