"""queue: the names of our Celery tasks and of the queue they wait in, shared by every sender.

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

# The one queue every task goes to, and kombu's Redis lists for it: one per priority step (0, 3, 6, 9).
QUEUE = "mediabuy"
QUEUE_KEYS = tuple(QUEUE + suffix for suffix in ("", "\x06\x163", "\x06\x166", "\x06\x169"))
