"""The fault tests' harness: a seeded stream of signed webhooks, a concurrent sender that retries the
way an agent does, and the ledger checks against the test database.

The stream: `campaigns` campaigns of `buys_per_campaign` buys (spread over a few agents, HMAC and
Bearer), each buy getting `events_per_buy` status webhooks with increasing agent timestamps along a
legal lifecycle (working → active → paused → active → a final paused/completed/canceled), plus a
share of stale reports (an older timestamp re-sent later). Every status in a buy's lifecycle may
move to every later one (DESIGN.md's transition table), so the newest report always wins whatever
order the events are processed in: the expected final status of a buy is its newest report's,
computed by the pure domain rules (`expected_final`, the oracle) — and a clean in-order run of the
same seed gives the same (test_duplicates_and_shuffle checks that too).
"""

from __future__ import annotations

import json
import os
import random
import signal
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from mediabuy_sync.domain.reports import Outcome, decide
from mediabuy_sync.domain.rollup import rollup
from mediabuy_sync.domain.statuses import Status
from mediabuy_sync.store import agents
from mediabuy_sync.store.campaigns import NewBuy, create_campaign
from mediabuy_sync.store.db import transaction
from support.stack import wait_until
from support.webhooks import Sender, at, task_payload

# ADCP (task status, media-buy status) → the internal status it maps to (DESIGN.md's table)
STEPS = {
    "working": (("working", None), Status.PENDING_APPROVAL),
    "active": (("completed", "active"), Status.ACTIVE),
    "paused": (("completed", "paused"), Status.PAUSED),
    "completed": (("completed", "completed"), Status.COMPLETED),
    "canceled": (("canceled", None), Status.CANCELED),
}
LIFECYCLE = ["working", "active", "paused", "active"]
# Not "completed": shuffled, a COMPLETED can reach a buy still PENDING_APPROVAL, and a seller's word
# that skips the flight is confirmed by reading the buy back before it is applied (DESIGN.md, the
# suspicious words) — these agents have no endpoint to read from. Completion out of order is tested
# against a simulated agent (tests/integration/test_seller_words.py).
FINALS = ["paused", "canceled", "active"]


@dataclass
class Event:
    sender: Sender
    buy: str  # the agent's media buy id
    key: str
    status: Status
    seconds: float  # the agent timestamp, seconds after support.webhooks.T0
    body: bytes

    def post(self, base_url: str | None = None, timeout: float = 10) -> requests.Response:
        headers = self.sender.headers_for(self.body)  # signed now: a real agent signs each attempt
        url = f"{base_url or self.sender.base_url}/webhooks/adcp/{self.sender.agent_id}"
        return requests.post(url, data=self.body, headers=headers, timeout=timeout)


@dataclass
class Stream:
    senders: list[Sender]
    campaigns: dict[str, list[str]]  # campaign id -> its buys' ids
    buy_of: dict[tuple[str, str], str]  # (agent id, adcp id) -> buy id
    events: list[Event]

    @property
    def agent_ids(self) -> list[str]:
        return [s.agent_id for s in self.senders]

    def expected_final(self) -> dict[str, Status]:
        """The oracle: each buy's status after its reports in timestamp order, by the domain's guard."""
        by_buy: dict[str, list[Event]] = {}
        for event in self.events:
            by_buy.setdefault(self.buy_of[(event.sender.agent_id, event.buy)], []).append(event)
        final = {}
        for buy_id, events in by_buy.items():
            status, as_of = Status.PENDING_APPROVAL, None
            for event in sorted(events, key=lambda e: e.seconds):
                when = _when(event.seconds)
                if decide(status, as_of, event.status, when) in (Outcome.APPLIED, Outcome.UNCHANGED):
                    status, as_of = event.status, when
            final[buy_id] = status
        return final


def _when(seconds: float):
    from datetime import datetime

    return datetime.fromisoformat(at(seconds).replace("Z", "+00:00"))


def heavy() -> bool:
    import os

    return os.environ.get("MEDIABUY_FAULTS_HEAVY") == "1"


# 50 campaigns x 4 buys x 5 events = 1,000 events per stream; MEDIABUY_FAULTS_HEAVY=1: 10,000
CAMPAIGNS = 500 if heavy() else 50


def build_stream(
    base_url: str,
    seed: int,
    campaigns: int = 50,
    buys_per_campaign: int = 4,
    events_per_buy: int = 5,
    agent_count: int = 3,
    stale_share: float = 0.1,
) -> Stream:
    """Register agents and campaigns of this stream's own, and generate its events (seeded)."""
    rng = random.Random(seed)
    senders = []
    with transaction() as conn:
        for i in range(agent_count):
            scheme = "hmac-sha256" if i % 2 == 0 else "bearer"
            agent_id = f"agent_{seed}_{i}_{secrets.token_hex(3)}"
            secret = secrets.token_urlsafe(32)
            agents.add_agent(conn, agent_id, agent_id, "http://127.0.0.1:9/mcp", scheme)
            agents.add_secret(conn, agent_id, scheme, secret)
            senders.append(Sender(base_url, agent_id, scheme, secret))
    campaign_buys: dict[str, list[str]] = {}
    buy_of: dict[tuple[str, str], str] = {}
    events: list[Event] = []
    for c in range(campaigns):
        plan = []
        for b in range(buys_per_campaign):
            sender = senders[(c + b) % len(senders)]
            plan.append((sender, f"sa_{seed}_{c}_{b}_{secrets.token_hex(2)}"))
        with transaction() as conn:
            campaign_id, buy_ids = create_campaign(
                conn, "adv_faults", f"faults {seed}/{c}",
                [NewBuy(s.agent_id, adcp, status=Status.PENDING_APPROVAL) for s, adcp in plan], status="ACTIVE")
        campaign_buys[campaign_id] = buy_ids
        for (sender, adcp), buy_id in zip(plan, buy_ids):
            buy_of[(sender.agent_id, adcp)] = buy_id
            steps = (LIFECYCLE + [rng.choice(FINALS)])[-events_per_buy:] if events_per_buy <= 5 else \
                LIFECYCLE + ["paused", "active"] * ((events_per_buy - 5) // 2) + [rng.choice(FINALS)]
            steps = steps[:events_per_buy]
            t = 10.0 * (c + 1)
            for i, step in enumerate(steps):
                t += rng.uniform(0.5, 3)
                seconds = t
                # Never the first nor the last: the newest report (never terminal before the last) then
                # decides the final status whatever the order, which keeps the oracle exact.
                if 0 < i < len(steps) - 1 and rng.random() < stale_share:
                    seconds = t - rng.uniform(1, 5) - 3  # older than the previous report: stale when it lands
                events.append(_event(sender, adcp, step, seconds))
    return Stream(senders, campaign_buys, buy_of, events)


def _event(sender: Sender, adcp: str, step: str, seconds: float) -> Event:
    (task_status, buy_status), status = STEPS[step]
    payload = task_payload(adcp, buy_status, task_status=task_status, timestamp=at(seconds),
                           key="evt_" + secrets.token_hex(10), task_id=f"task_{adcp}")
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Event(sender, adcp, payload["idempotency_key"], status, seconds, body)


@dataclass
class Answers:
    """Every answer the web gave, per event key."""

    codes: dict[str, list] = field(default_factory=dict)
    slowest: float = 0.0  # seconds, of any answer
    unavailable_without_retry_after: int = 0  # 503s that did not say when to come back
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str, code, seconds: float = 0.0) -> None:
        with self.lock:
            self.codes.setdefault(key, []).append(code)
            self.slowest = max(self.slowest, seconds)

    def count(self) -> int:
        with self.lock:
            return sum(1 for codes in self.codes.values() if any(isinstance(c, int) and c < 300 for c in codes))

    def accepted(self) -> set[str]:
        return {k for k, codes in self.codes.items() if any(isinstance(c, int) and 200 <= c < 300 for c in codes)}

    def all_codes(self) -> Counter:
        return Counter(c for codes in self.codes.values() for c in codes)


def send(
    events: list[Event],
    answers: Answers | None = None,
    threads: int = 8,
    order: str = "interleaved",
    copies: int = 1,
    seed: int = 0,
    base_url: str | None = None,
    give_up_after: float = 180.0,
    timeout: float = 10.0,
    rate: float | None = None,
) -> Answers:
    """Post every event (`copies` times each) from `threads` threads, retrying 5xx and connection
    errors with the same body until a 2xx, a 4xx or `give_up_after` seconds.

    order: "interleaved" (each buy's events in order, buys interleaved: one agent's natural order),
    "shuffled" (any order at all). rate: first attempts per second, all threads together (None: flat out).
    """
    answers = answers or Answers()
    rng = random.Random(seed)
    work = [e for e in events for _ in range(copies)]
    if order == "shuffled":
        rng.shuffle(work)
    else:  # one queue per buy, in order; threads take the buys' heads round-robin
        by_buy: dict[str, list[Event]] = {}
        for e in work:
            by_buy.setdefault(e.buy, []).append(e)
        lanes = list(by_buy.values())
        rng.shuffle(lanes)
        work = [lane for lane in lanes]  # each lane posted in order by one thread

    pacer = {"next": time.monotonic(), "lock": threading.Lock()}

    def pace() -> None:
        """At most `rate` first attempts a second, all threads together (retries are not paced)."""
        if rate is None:
            return
        with pacer["lock"]:
            at_, pacer["next"] = pacer["next"], max(pacer["next"], time.monotonic()) + 1 / rate
        time.sleep(max(0.0, at_ - time.monotonic()))

    def post_until_answered(event: Event) -> None:
        pace()
        deadline = time.monotonic() + give_up_after
        pause = 0.1
        while True:
            started = time.monotonic()
            try:
                answer = event.post(base_url, timeout=timeout)
                code = answer.status_code
                if code == 503 and not answer.headers.get("Retry-After"):
                    answers.unavailable_without_retry_after += 1
            except requests.RequestException as exc:
                code = type(exc).__name__
            answers.add(event.key, code, time.monotonic() - started)
            if isinstance(code, int) and code < 500:
                return
            if time.monotonic() > deadline:
                return
            time.sleep(pause)
            pause = min(1.0, pause * 2)

    def run(item) -> None:
        if isinstance(item, list):
            for event in item:
                post_until_answered(event)
        else:
            post_until_answered(item)

    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(run, work):
            pass
    return answers


def send_in_background(events: list[Event], **kwargs) -> tuple[threading.Thread, Answers]:
    answers = kwargs.pop("answers", None) or Answers()
    thread = threading.Thread(target=send, args=(events,), kwargs={"answers": answers, **kwargs}, daemon=True)
    thread.start()
    return thread, answers


def query(sql: str, params=None) -> list[dict]:
    with transaction() as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def _settled(stream: Stream, accepted: set[str]) -> bool:
    rows = query(
        "SELECT count(*) FILTER (WHERE state = 'processed') AS processed, count(*) AS n FROM webhook_events "
        "WHERE agent_id = ANY(%s) AND idempotency_key = ANY(%s)", (stream.agent_ids, sorted(accepted)))[0]
    owed = query("SELECT count(*) AS n FROM campaigns WHERE id = ANY(%s) AND rollup_version < status_version",
                 (list(stream.campaigns),))[0]["n"]
    return rows["processed"] == len(accepted) and owed == 0


def wait_settled(stream: Stream, answers: Answers, timeout: float = 180.0) -> float:
    """Wait until every accepted event is processed and no rollup is owed; returns the seconds waited."""
    started = time.monotonic()
    accepted = answers.accepted()
    wait_until(lambda: _settled(stream, accepted), timeout, 0.5, "every accepted event processed and rolled up")
    return time.monotonic() - started


def wait_processed(stream: Stream, keys: set[str], timeout: float) -> float:
    """Wait until these events are processed; returns the seconds waited."""
    started = time.monotonic()

    def done() -> bool:
        return query("SELECT count(*) FILTER (WHERE state = 'processed') AS n FROM webhook_events "
                     "WHERE agent_id = ANY(%s) AND idempotency_key = ANY(%s)",
                     (stream.agent_ids, sorted(keys)))[0]["n"] == len(keys)

    wait_until(done, timeout, 0.5, f"{len(keys)} events processed")
    return time.monotonic() - started


def check_ledger(stream: Stream, answers: Answers) -> dict:
    """The ledger's verdict; asserts every rule and returns the figures."""
    accepted = answers.accepted()
    keys = [e.key for e in stream.events]
    rows = query(
        """
        SELECT e.idempotency_key, e.state, e.id,
               (SELECT count(*) FROM status_changes sc WHERE sc.event_id = e.id) AS changes,
               (SELECT array_agg(sc.outcome) FROM status_changes sc WHERE sc.event_id = e.id) AS outcomes
        FROM webhook_events e WHERE e.agent_id = ANY(%s)
        """,
        (stream.agent_ids,),
    )
    by_key = {r["idempotency_key"]: r for r in rows}
    lost = sorted(k for k in accepted if k not in by_key or by_key[k]["state"] != "processed")
    twice = sorted(k for k, r in by_key.items() if r["changes"] > 1)
    missing_effect = sorted(k for k in accepted if k in by_key and by_key[k]["changes"] == 0)
    unknown = sorted(set(by_key) - set(keys))
    outcomes = Counter(o for r in rows for o in (r["outcomes"] or []))
    figures = {
        "events": len(stream.events),
        "posts": sum(len(c) for c in answers.codes.values()),
        "accepted": len(accepted),
        "processed": sum(1 for r in rows if r["state"] == "processed"),
        "lost": len(lost),
        "applied_twice": len(twice),
        "answers": {str(code): n for code, n in answers.all_codes().items()},
        "slowest_answer_s": round(answers.slowest, 2),
        "outcomes": dict(outcomes),
    }
    assert not unknown, f"events nobody sent: {unknown[:5]}"
    assert not lost, f"{len(lost)} accepted events not processed: {lost[:5]}"
    assert not twice, f"{len(twice)} events with more than one ledger row: {twice[:5]}"
    assert not missing_effect, f"{len(missing_effect)} processed events with no ledger row: {missing_effect[:5]}"
    # no status change outside the stream's events (a poll, a duplicate applied) on its buys
    buy_ids = [b for buys in stream.campaigns.values() for b in buys]
    stray = query("SELECT count(*) AS n FROM status_changes WHERE entity_id = ANY(%s) AND event_id IS NULL",
                  (buy_ids,))[0]["n"]
    assert stray == 0, f"{stray} status changes on the stream's buys that no event made"

    buys = {r["id"]: r for r in query("SELECT id, campaign_id, status FROM media_buys WHERE id = ANY(%s)", (buy_ids,))}
    expected = stream.expected_final()
    wrong = {b: (buys[b]["status"], s.value) for b, s in expected.items() if buys[b]["status"] != s.value}
    assert not wrong, f"{len(wrong)} buys not in their expected final status (got, expected): {list(wrong.items())[:5]}"
    camp_rows = query("SELECT id, surfaced_status, blockers FROM campaigns WHERE id = ANY(%s)", (list(stream.campaigns),))
    for campaign in camp_rows:
        want = rollup((b, Status(buys[b]["status"])) for b in stream.campaigns[campaign["id"]])
        assert campaign["surfaced_status"] == want.status.value, (campaign, want)
        # the stored blockers are the deciding buys (possibly only the first few of them)
        assert campaign["blockers"] and set(campaign["blockers"]) <= set(want.blockers), (campaign, want)
    figures["final_statuses"] = dict(Counter(r["status"] for r in buys.values()))
    return figures


def final_statuses(stream: Stream) -> list[str]:
    """Each buy's status in the order the stream made them: comparable across streams of one seed."""
    order = [b for buys in stream.campaigns.values() for b in buys]
    rows = {r["id"]: r["status"] for r in query("SELECT id, status FROM media_buys WHERE id = ANY(%s)", (order,))}
    return [rows[b] for b in order]


def report(name: str, figures: dict) -> None:
    """Print the figures (pytest -s shows them) and keep them in test-output/<run>/faults.jsonl, so a
    CI run's figures can be quoted."""
    from support.stack import OUTPUT

    line = json.dumps({"scenario": name, **figures}, sort_keys=True, default=str)
    print(f"\n[faults] {line}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with open(OUTPUT / "faults.jsonl", "a") as out:
        out.write(line + "\n")


# --- process faults ------------------------------------------------------------------------


def pool_children(proc) -> set[int]:
    """The pids of the prefork pool of a worker started by tests/support/stack.py (Linux /proc)."""
    pid = proc.popen.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(p) for p in f.read().split()}
    except FileNotFoundError:
        return set()


def kill_pool_children(proc) -> int:
    """SIGKILL every pool process of the worker (its parent forks new ones); returns how many."""
    children = pool_children(proc)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: pool_children(proc) - children, 30, 0.2, "the pool to fork again")
    return len(children)


# --- broker outages ------------------------------------------------------------------------


def broker_cut(base_url: str, proxy, *, seed: int, sender_seed: int, name: str, broker: str) -> dict:
    """The broker cut for 30 s (`proxy`, the TcpProxy in front of it) in the middle of a paced stream
    to the web at `base_url`, the same with either broker (test_process_faults.py's Redis,
    test_rabbit_broker_cut.py's RabbitMQ). What has to hold: the web never fails a webhook for the
    broker's sake (its publish fails fast; the inbox watch and sweeper enqueue what it could not),
    nothing is lost, nothing is applied twice, and the backlog is processed soon after the broker
    returns. Reports the figures as scenario `name`, asserts that, and returns the figures."""
    stream = build_stream(base_url, seed=seed, campaigns=CAMPAIGNS)
    total = len(stream.events)
    # a paced sender (about 50 s for 1,000 events) so that the stream spans the outage, on both sides
    sender, answers = send_in_background(stream.events, order="interleaved", seed=sender_seed, rate=total / 50)
    wait_until(lambda: answers.count() >= int(total * 0.15), 120, 0.1, "15% of the events answered")
    proxy.cut()
    cut_at = answers.count()
    time.sleep(30)
    during = answers.count() - cut_at
    proxy.restore()
    backlog = answers.accepted()  # everything accepted before and during the outage
    # "everything is processed within a minute of the broker coming back" (the sender carries on
    # meanwhile). The deadline is twice that: the worker reconnects on its own backoff (up to ~12 s
    # after a 30 s Redis outage) and this machine is shared; the figure printed is the time it took.
    caught_up = wait_processed(stream, backlog, timeout=120)
    sender.join()
    waited = wait_settled(stream, answers)
    figures = check_ledger(stream, answers)  # nothing lost, nothing applied twice
    figures.update(accepted_during_outage=during, backlog_at_restore=len(backlog),
                   backlog_processed_within_s_of_restore=round(caught_up, 1), settled_after_last_answer_s=round(waited, 1))
    report(name, figures)
    assert during > 0, f"no event was answered while {broker} was cut"
    assert set(figures["answers"]) == {"202"}, figures["answers"]  # never an error, never a timeout
    assert figures["accepted"] == total
    return figures
