"""queue: at most one poll in flight per agent — marks in Redis that expire by themselves.

A poll of an agent that hangs holds its task's worker slot for the whole call timeout. So a poll
task polls each of its agents' pages one after another and stops at the first failure, and a sweep
sends no new poll for an agent whose previous one still runs: a failing agent gets one call at a
time, and one hanging agent holds one slot at most (tests/faults/test_bad_agents.py). The marks are
a Redis hash (agent -> expiry), like the recompute coalescing keys: a lost task's mark expires by
itself.
"""

from __future__ import annotations

import time

from . import keys

PAGE_SIZE = 100  # buys per get_media_buys call (services/polling.py pages by it)


def _key() -> str:
    return keys.key("poll-in-flight")


def agents_in_flight() -> set[str]:
    now = time.time()
    return {agent.decode() for agent, until in keys.client().hgetall(_key()).items() if float(until) > now}


def mark_in_flight(seconds_by_agent: dict[str, float]) -> None:
    """{agent: how long its poll may run}: every agent of a sweep in one Redis command."""
    now = time.time()
    keys.client().hset(_key(), mapping={agent: now + seconds for agent, seconds in seconds_by_agent.items()})


def clear_in_flight(agent_id: str) -> None:
    keys.client().hdel(_key(), agent_id)


def in_flight_ttl(buys: int, call_timeout: float) -> float:
    """How long an agent's poll may run at most: its pages' calls and a margin for the queue."""
    return -(-buys // PAGE_SIZE) * call_timeout + 60.0  # one call per page, rounded up
