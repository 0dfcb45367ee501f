"""Row counts for "a refused request wrote nothing": every table a request could write to, counted
before and after.

Left out: what only background work writes (periodic_jobs, status_changes, sync_runs, packages'
delivery, cascade items), which earlier tests' polls and sweeps may still be doing; a webhook
reaches those only through webhook_events, and a buyer call through campaigns, cascades or
media_buys. webhook_nonces is counted as the nonces that were not there when the counter was made:
beat purges expired nonces whenever it runs, so the table's total can fall in the middle of a test
(a CI run failed on 30 before, 22 after), while a request that records a nonce adds a new one.
"""

from __future__ import annotations

from typing import Callable

WRITABLE_TABLES = ("sales_agents", "agent_credentials", "advertisers", "campaigns", "campaign_products",
                   "campaign_creatives", "media_buys", "webhook_events", "api_keys", "cascades", "admin_audit")

Query = Callable[..., list[dict]]  # query(sql, params) -> rows, like the tests' db fixture


def row_counter(query: Query) -> Callable[[], dict[str, int]]:
    """A snapshot function: () -> {table: rows}, nonces counted as those new since this call."""
    baseline = query("SELECT coalesce(array_agg(agent_id), '{}') AS agents, "
                     "coalesce(array_agg(nonce), '{}') AS nonces FROM webhook_nonces")[0]
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in WRITABLE_TABLES) + """
        UNION ALL
        SELECT 'webhook_nonces', count(*) FROM webhook_nonces
        WHERE (agent_id, nonce) NOT IN (SELECT * FROM unnest(%(agents)s::text[], %(nonces)s::text[]))"""

    def snapshot() -> dict[str, int]:
        return {row["t"]: row["n"] for row in query(sql, baseline)}

    return snapshot
