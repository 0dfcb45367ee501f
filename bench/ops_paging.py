"""bench: EXPLAIN ANALYZE of the /ops list queries (store/sql/ops_lists.sql) on a big scratch database.

    python -m bench.ops_paging postgresql://postgres@127.0.0.1:5432/scratch

Runs each page query (first page, a later page by cursor, each filter) with the parameters the store
gives it and prints its execution time and the plan's top nodes. Fill the scratch database first (say
200,000 campaigns made with generate_series; bench/NOTES.md, 2026-12-04, has the statements).
"""

from __future__ import annotations

import sys

import psycopg
from psycopg.rows import dict_row

from mediabuy_sync.store.ops_lists import Q, like_substring

BASE = {"advertiser": None, "agent": None, "status": None, "name": None, "limit": 51,
        "after_id": None, "after_blocked": None, "after_updated_at": None}


def cases(conn) -> list[tuple[str, str, dict]]:
    # a cursor from the middle of the list: the 100,000th campaign in the order
    middle = conn.execute(
        "SELECT id, updated_at, coalesce(surfaced_status IN ('FAILED', 'REJECTED', 'INPUT_REQUIRED', "
        "'PENDING_APPROVAL'), false) AS blocked FROM campaigns ORDER BY 3 DESC, 2 DESC, 1 DESC OFFSET 100000 LIMIT 1"
    ).fetchone()
    after = {"after_id": middle["id"], "after_blocked": middle["blocked"], "after_updated_at": middle["updated_at"]}
    dead = conn.execute("SELECT id, received_at FROM webhook_events WHERE state = 'dead' "
                        "ORDER BY received_at, id OFFSET 5000 LIMIT 1").fetchone()
    return [
        ("first page", "campaigns_page", BASE),
        ("page after the 100,000th", "campaigns_page", {**BASE, **after}),
        ("status INPUT_REQUIRED", "campaigns_page_of_status", {**BASE, "status": "INPUT_REQUIRED"}),
        ("status ACTIVE, after the 100,000th", "campaigns_page_of_status", {**BASE, "status": "ACTIVE", **after}),
        ("agent_3 (a common agent)", "campaigns_page", {**BASE, "agent": "agent_3"}),
        ("agent_rare (10 buys)", "campaigns_page", {**BASE, "agent": "agent_rare"}),
        ("advertiser adv_7", "campaigns_page", {**BASE, "advertiser": "adv_7"}),
        ("name 'spring' (every campaign)", "campaigns_page", {**BASE, "name": like_substring("spring")}),
        ("name '12345 ' (one campaign)", "campaigns_page", {**BASE, "name": like_substring("12345 ")}),
        ("name 'no such' (none)", "campaigns_page", {**BASE, "name": like_substring("no such")}),
        ("dead events, first page", "dead_events_page", {"limit": 51, "after_id": None, "after_received_at": None}),
        ("dead events, after the 5,000th", "dead_events_page",
         {"limit": 51, "after_id": dead["id"], "after_received_at": dead["received_at"]}),
    ]


def main(url: str) -> None:
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as conn:
        conn.execute("SET jit = off")
        for label, name, params in cases(conn):
            plan = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + Q[name], params).fetchone()
            top = plan["QUERY PLAN"][0]
            nodes, node = [], top["Plan"]
            while node is not None and len(nodes) < 4:
                nodes.append(node["Node Type"] + (f" {node['Index Name']}" if "Index Name" in node else ""))
                node = (node.get("Plans") or [None])[0]
            print(f"{label:38} {top['Execution Time']:9.2f} ms  {' > '.join(nodes)}")


if __name__ == "__main__":
    main(sys.argv[1])
