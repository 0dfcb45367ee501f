"""queue: the names of our Celery tasks and of the queues they wait in, shared by every sender.

The web, the CLI and beat send tasks by these names without importing the worker's task code.
"""

INGEST = "mediabuy_sync.ingest"
DRAIN = "mediabuy_sync.drain_inbox"
RECOMPUTE = "mediabuy_sync.recompute"
SWEEP_INBOX = "mediabuy_sync.sweep_inbox"
WATCH_INBOX = "mediabuy_sync.watch_inbox"
SWEEP_ROLLUPS = "mediabuy_sync.sweep_rollups"
SWEEP_POLLS = "mediabuy_sync.sweep_polls"
POLL_AGENT = "mediabuy_sync.poll_agent"
POLL_AGENTS = "mediabuy_sync.poll_agents"
RUN_SYNC = "mediabuy_sync.run_sync"
PURGE_NONCES = "mediabuy_sync.purge_nonces"
RUN_CASCADE_AGENT = "mediabuy_sync.run_cascade_agent"
SWEEP_CASCADES = "mediabuy_sync.sweep_cascades"
REFRESH_PRODUCTS = "mediabuy_sync.refresh_products"
DISCOVER_ACCOUNTS = "mediabuy_sync.discover_accounts"
DELIVER_NOTIFICATIONS = "mediabuy_sync.deliver_notifications"
SWEEP_NOTIFICATIONS = "mediabuy_sync.sweep_notifications"
KEEP_DATA = "mediabuy_sync.keep_data"

# The queues, by what waits in them: a webhook flood or a 200-agent poll sweep must not hold up what a
# buyer's request waits for, and the workers that only apply webhooks need not load the ADCP SDK.
INGEST_QUEUE = "ingest"  # drains, single events, recomputes, sweeps: PostgreSQL and Redis only
AGENTS_QUEUE = "agents"  # the poll sweep and its polls, cascades beat restarted, re-syncs, catalogue reads, notifications: outbound calls
INTERACTIVE_QUEUE = "interactive"  # a buyer's or an operator's request waits on it: action cascades, live queries
QUEUES = (INGEST_QUEUE, AGENTS_QUEUE, INTERACTIVE_QUEUE)
# The queues whose tasks call sales agents: a worker consuming one of them loads the SDK at start.
SDK_QUEUES = frozenset({AGENTS_QUEUE, INTERACTIVE_QUEUE})

# Each task's queue when its sender names none; the senders a request waits on name INTERACTIVE_QUEUE.
ROUTES = {
    **dict.fromkeys((INGEST, DRAIN, RECOMPUTE, SWEEP_INBOX, WATCH_INBOX, SWEEP_ROLLUPS, PURGE_NONCES,
                     SWEEP_CASCADES, SWEEP_NOTIFICATIONS, KEEP_DATA), INGEST_QUEUE),
    # outbound calls wait on someone else's server: the notifications' POSTs too, so that a slow
    # receiver of the buyer's never holds up the applying of webhooks. The poll sweep with the polls
    # it makes: leasing a sweep's buys (40,000 over 200 agents) took 0.4 of the ingest worker beside a
    # webhook flood (bench/run queues, bench/NOTES.md 2026-12-05).
    **dict.fromkeys((SWEEP_POLLS, POLL_AGENT, POLL_AGENTS, RUN_SYNC, RUN_CASCADE_AGENT, REFRESH_PRODUCTS,
                     DISCOVER_ACCOUNTS, DELIVER_NOTIFICATIONS), AGENTS_QUEUE),
}


def queue_keys(queue: str) -> tuple[str, ...]:
    """kombu's Redis lists for a queue: one per priority step (0, 3, 6, 9)."""
    return tuple(queue + suffix for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169"))
