"""Queues by kind (issue 18, point 3): a buyer's execute, pause and reactivate through the buyer API
over HTTP, idle and while a 200-agent fallback-poll sweep and a 500/s webhook flood run; and the
ingest worker's drain rate of a pre-filled inbox with and without a buyer acting meanwhile. The workers
are the Procfile's per-kind lines, two processes each: worker-ingest, worker-agents, worker-interactive
(the shared all-queues worker is stopped first: it would take every queue).

When a buyer's action is done: when its cascade has settled — every agent call of it answered, state
done or failed. The API waits for that up to MEDIABUY_ACTION_DEADLINE_SECONDS and answers with the
cascade; an action is timed from just before its POST is sent to that answer or, when the answer still
shows the cascade running, to the first GET of the campaign showing it settled (polled every 50 ms). A
buy's later activation by its seller (a webhook) is the seller's pace and is not counted.

The buyer: one advertiser, acting one action at a time on campaigns of two products over two simulated
sales agents (`mediabuy-sync simulate-agent`, fast lifecycle: one agent call per agent per action, both
agents at once): execute each of n campaigns, then pause each, then reactivate each. Three rounds of
that, on campaigns of their own: idle, loaded, idle again (the idle figure pools both, so a drift of the
shared machine over the run shows in the two idle rounds' p95s).

Loaded: beat running as the Procfile runs it (its poll sweep every 5 s, the default), 200 agents' buys all due
(bench/fake_agents.py, 50 ms a call; due again as soon as every buy has been answered, so the sweep runs
throughout), and 500 signed webhooks/s paced open-loop at the web (bench/load.py, from a process of its
own so that its event loop and the buyer's timings do not share a GIL) toggling 2,000 other buys.

Ingest: worker_throughput's pre-filled inbox, drained by worker-ingest, in turn alone, while the buyer
pauses and reactivates the idle rounds' campaigns once a second, and while it does so back to back, in
the order A B C C B A (twice in a full run); the mean of each kind's rounds compared (the target on once
a second: a busy buyer's pace, not a load test's)."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import redis
import requests

from mediabuy_sync.queue.names import AGENTS_QUEUE, INGEST_QUEUE, INTERACTIVE_QUEUE, queue_keys
from mediabuy_sync.store import api_keys
from mediabuy_sync.store.db import transaction

from . import env as bench_env
from . import cpu, fixtures, load, worker_throughput
from .report import Figure, percentile

NAME = "queues"
API = "/api/v2/buyer"
FLOOD_RATE = 500.0
SWEEP_INTERVAL = "5"  # seconds: the setting's default (config.py)
BUYER_RATE = 1.0  # the buyer's actions per second beside the ingest drain (also run back to back: ~3/s here)
POLL_AGENTS = 200
FLOOD_FIRST, POLL_FIRST = 10_000, 100_000  # campaign numbers of their own (worker_throughput's: 0-99)
SIM_AGENTS = ("sim_q0", "sim_q1")
# the simulator's fast lifecycle (as the tests run it): no random rejections, no delivery reports
SIM_DEFAULTS = {
    "timings": {"approval_delay_seconds": 0.3, "activation_delay_seconds": 0.2, "input_required_share": 0.0,
                "reject_share": 0.0, "delivery_interval_seconds": 0, "tick_seconds": 0.05},
    "faults": {"webhook_retry_base_seconds": 0.1, "webhook_timeout_seconds": 2.0},
}
FLIGHT_START = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)
FLIGHT_END = FLIGHT_START + timedelta(hours=6)
PRODUCTS = (("display_ros", ["display_300x250"]), ("video_premium", ["video_15s"]))
CREATIVES = [{"creativeId": "cr_banner", "format": "display_300x250"},
             {"creativeId": "cr_video", "format": "video_15s"}]


@dataclass
class Action:
    verb: str
    ms: float  # request sent → the cascade settled, as the buyer saw it
    cascade_ms: float | None  # the cascade's own createdAt → finishedAt (queue wait + agent calls)
    ok: bool
    outcome: str  # "done", or what it was instead: the cascade's state, or the HTTP status and error code
    after_deadline: bool  # the answer still showed it running: the buyer read the campaign until it settled
    at: float  # time.monotonic() when it was done


class Buyer:
    """One advertiser on the buyer API, acting one action at a time."""

    def __init__(self, base: str, advertiser_id: str, key: str):
        self.base, self.advertiser_id = base + API, advertiser_id
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def create(self, agent_ids: list[str], n: int) -> list[str]:
        body = {"advertiserId": self.advertiser_id, "name": "queues bench",
                "flightDates": {"startDate": _iso(FLIGHT_START), "endDate": _iso(FLIGHT_END)},
                "budget": {"total": 1000 * len(agent_ids), "currency": "USD"}, "creatives": CREATIVES,
                "products": [{"salesAgentId": a, "productId": PRODUCTS[i % 2][0], "formats": PRODUCTS[i % 2][1],
                              "budget": 1000, "pricingOptionId": "cpm_fixed"} for i, a in enumerate(agent_ids)]}
        out = []
        for _ in range(n):
            answer = self.http.post(self.base + "/campaigns", json=body, timeout=30)
            assert answer.status_code == 201, answer.text
            out.append(answer.json()["data"]["campaignId"])
        return out

    def act(self, campaign_id: str, verb: str) -> Action:
        started = time.monotonic()
        answer = self.http.post(f"{self.base}/campaigns/{campaign_id}/{verb}", json={} if verb == "execute" else None,
                                timeout=60)
        if answer.status_code != 200:
            code = (answer.json().get("error") or {}).get("code", "") if answer.headers.get(
                "content-type", "").startswith("application/json") else ""
            return Action(verb, (time.monotonic() - started) * 1000, None, False, f"{verb} {answer.status_code} {code}",
                          False, time.monotonic())
        data = answer.json()["data"]
        cascade, late = data.get("cascade"), False
        if cascade and cascade["state"] == "running":
            late = True
            cascade = bench_env.wait_until(lambda: self._settled(campaign_id, cascade["cascadeId"]), 120, 0.05,
                                           what=f"{verb} of {campaign_id} settled")
        done = time.monotonic()
        outcome = cascade["state"] if cascade else "no cascade"
        outcome = "done" if outcome == "done" else f"{verb} {outcome}"
        return Action(verb, (done - started) * 1000, _span_ms(cascade), outcome == "done", outcome, late, done)

    def _settled(self, campaign_id: str, cascade_id: int) -> dict | None:
        answer = self.http.get(f"{self.base}/campaigns/{campaign_id}", timeout=30)
        for c in answer.json()["data"].get("cascades", []):
            if c["cascadeId"] == cascade_id and c["state"] != "running":
                return c
        return None

    def rounds(self, campaign_ids: list[str]) -> list[Action]:
        """Execute every campaign, then pause each, then reactivate each (a campaign's buys have seconds
        to go live at their seller before its pause)."""
        return [self.act(c, verb) for verb in ("execute", "pause", "reactivate") for c in campaign_ids]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _span_ms(cascade: dict | None) -> float | None:
    if not cascade or not cascade.get("finishedAt") or not cascade.get("createdAt"):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(cascade["finishedAt"]) - parse(cascade["createdAt"])).total_seconds() * 1000


def _start_simulator(env: dict) -> tuple[bench_env.Process, dict[str, str]]:
    ports = {a: bench_env.free_port() for a in SIM_AGENTS}
    bench_env.OUTPUT.mkdir(parents=True, exist_ok=True)
    path = bench_env.OUTPUT / "sim-queues.json"
    path.write_text(json.dumps({"seed": 11, "defaults": SIM_DEFAULTS,
                                "agents": [{"id": a, "port": p} for a, p in ports.items()]}))
    proc = bench_env.Process("simulator", [str(bench_env.BIN / "mediabuy-sync"), "simulate-agent", "--config", str(path)],
                             {**env, "PYTHONUNBUFFERED": "1"})
    bench_env.wait_until(lambda: "ready:" in proc.log() or not proc.alive(), 300, 0.2, what="the simulator")
    if not proc.alive():
        raise RuntimeError(f"simulator exited:\n{proc.log()[-3000:]}")
    return proc, {a: f"http://127.0.0.1:{p}/mcp" for a, p in ports.items()}


def _waiting(r: redis.Redis, namespace: str, queue: str) -> int:
    return sum(r.llen(namespace + key) for key in queue_keys(queue))


def _received() -> int:
    with transaction() as conn:
        return conn.execute("SELECT count(*) AS n FROM webhook_events WHERE state = 'received'").fetchone()["n"]


def _flood_accepted(agent_ids: list[str], since: float, until: float) -> int:
    with transaction() as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM webhook_events WHERE agent_id = ANY(%(a)s) "
            "AND received_at BETWEEN to_timestamp(%(s)s) AND to_timestamp(%(u)s)",
            {"a": agent_ids, "s": since, "u": until}).fetchone()["n"]


def _keep_sweeping(fake_base: str, agent_ids: list[str], n_buys: int, stop: threading.Event, sweeps: list) -> None:
    """Every buy of the poll agents due again as soon as all of them have been answered: one sweep after
    another for as long as the loaded round lasts (a sweep of this size takes less than the round)."""
    while not stop.wait(0.5):
        answered = requests.get(fake_base + "/_stats", timeout=5).json()["buys"]
        if answered >= (len(sweeps) + 1) * n_buys:
            sweeps.append(time.time())
            with transaction() as conn:
                conn.execute("UPDATE media_buys SET poll_due_at = now() - interval '1 second' "
                             "WHERE sales_agent_id = ANY(%(a)s)", {"a": agent_ids})


def _stats(actions: list[Action]) -> dict:
    ms = [a.ms for a in actions]
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "n": len(ms),
            "failed": sum(not a.ok for a in actions),
            "outcomes": Counter(a.outcome for a in actions if not a.ok), "late": sum(a.after_deadline for a in actions),
            "cascade_p95": percentile([a.cascade_ms for a in actions if a.cascade_ms is not None], 95),
            "by_verb": {v: percentile([a.ms for a in actions if a.verb == v], 95)
                        for v in ("execute", "pause", "reactivate")}}


def _describe(s: dict) -> str:
    verbs = ", ".join(f"{v} {p:.0f}" for v, p in s["by_verb"].items() if p is not None)
    cascade = f"{s['cascade_p95']:.0f}" if s["cascade_p95"] is not None else "—"
    return (f"{s['n']} actions, p95 by kind {verbs} ms; cascade created → finished p95 {cascade} ms; "
            f"{s['failed']} not done{_outcomes(s['outcomes'])}, {s['late']} past the API's deadline")


def _outcomes(counts: Counter) -> str:
    return f" ({', '.join(f'{n} {what}' for what, n in counts.most_common())})" if counts else ""


def run(env: dict, quick: bool) -> list[Figure]:
    # the shared worker consumes every queue: the per-kind workers must be the only consumers here
    bench_env.stop_all()
    n_campaigns = 6 if quick else 20  # per round: 3 × n actions
    n_poll_buys = 20_000 if quick else 100_000
    n_events = 4_000 if quick else 20_000
    namespace = env["MEDIABUY_REDIS_NAMESPACE"]
    r = redis.Redis.from_url(env["REDIS_URL"])

    fake_port = bench_env.free_port()
    fake_base = f"http://127.0.0.1:{fake_port}"
    # the SDK's import is 15-45 s of CPU per process here: the five starts overlap
    with ThreadPoolExecutor(5) as pool:
        starting = {
            "fake": pool.submit(bench_env.start_python, "fake-agents",
                                ["bench.fake_agents", "--port", str(fake_port), "--delay", "0.05"], env,
                                "fake agents listening", 300),
            "sim": pool.submit(_start_simulator, env),
            **{line: pool.submit(bench_env.start_worker, env, name=line, line=line, timeout=300)
               for line in ("worker-ingest", "worker-agents", "worker-interactive")},
        }
        web, base = bench_env.start_web(env, ready_path="/readyz")
        started = {k: f.result() for k, f in starting.items()}
    fake = started["fake"]
    sim, sim_mcp = started["sim"]
    interactive = started["worker-interactive"]

    def cascade_path() -> tuple[float, float]:
        """(on a CPU, waiting for one) so far: worker-interactive's processes and the simulated agents."""
        return cpu.scheduled([interactive.pid, *bench_env.children(interactive.pid), sim.pid])


    # the data: the buyer's agents and campaigns, the poll sweep's buys, the flood's buys
    sim_agents = [next(iter(fixtures.make_agents(1, endpoint=sim_mcp[a], prefix=a))) for a in SIM_AGENTS]
    with transaction() as conn:
        key = api_keys.create_key(conn, "adv_queues")[1]
    buyer = Buyer(base, "adv_queues", key)
    idle_a, loaded_c, idle_b = (buyer.create(sim_agents, n_campaigns) for _ in range(3))
    poll_agents = list(fixtures.make_agents(POLL_AGENTS, endpoint=fake_base + "/agents/{agent}/mcp", prefix="qpoll"))
    fixtures.make_campaigns(n_poll_buys // 100, 100, poll_agents, poll_due_in=-1, first=POLL_FIRST)
    flood_agents = fixtures.make_agents(20, prefix="qflood")
    flood_ids = list(flood_agents)
    flood_buys = [(fixtures.agent_of(c, 0, 1, flood_ids), fixtures.buy_of(c, 0)[1])
                  for c in range(FLOOD_FIRST, FLOOD_FIRST + 2_000)]
    fixtures.make_campaigns(2_000, 1, flood_ids, first=FLOOD_FIRST)
    # warm: the web's pools, each worker's first MCP session with each simulated agent
    load.pace(base, load.presign(flood_agents, flood_buys, 200, first_second=5_000_000), 100)
    buyer.rounds(buyer.create(sim_agents, 2))

    # idle
    t, windows = time.monotonic(), {"idle": [], "loaded": []}  # wall-clock stretches of each kind of round
    sched = {"idle": [0.0, 0.0], "loaded": [0.0, 0.0]}  # cascade_path()'s seconds in each kind of round
    before = cascade_path()
    idle = buyer.rounds(idle_a)
    _add(sched["idle"], before, cascade_path())
    idle_seconds = time.monotonic() - t
    windows["idle"].append((time.time() - idle_seconds, time.time()))

    # loaded: the flood from a process of its own, beat sweeping the polls
    flood_seconds = min(270.0, 30 + 3 * idle_seconds)  # the signatures' window is ±300 s
    presigned = load.presign(flood_agents, flood_buys, int(FLOOD_RATE * flood_seconds), first_second=10)
    flooder = multiprocessing.get_context("fork").Process(target=load.pace, args=(base, presigned, FLOOD_RATE),
                                                          name="flood", daemon=True)
    del presigned
    stop_sweeping, sweeps = threading.Event(), []
    snap, snap_at = cpu.others_apart(cpu.snapshot()), time.monotonic()
    flooder.start()
    # beat as deployed: the poll sweep every MEDIABUY_POLL_SWEEP_INTERVAL_SECONDS' default (5 s), not the
    # bench's 1 s, at which its sweep_polls tasks (ingest queue, 1.5-2 s each over 100,000 due buys) took
    # nearly all of worker-ingest's time: 29,000 webhooks were left waiting at the end of a full run's round
    beat = bench_env.start_beat({**env, "MEDIABUY_POLL_SWEEP_INTERVAL_SECONDS": SWEEP_INTERVAL})
    sweeper = threading.Thread(target=_keep_sweeping, args=(fake_base, poll_agents, n_poll_buys, stop_sweeping, sweeps),
                               daemon=True)
    sweeper.start()
    # both loads under way before the first action: the sweep's agents answering, a few seconds of flood
    bench_env.wait_until(lambda: requests.get(fake_base + "/_stats", timeout=5).json()["calls"] > 0, 120, 0.2,
                         what="the poll sweep's first answers")
    time.sleep(3)
    actions_from = time.time()
    before = cascade_path()
    loaded = buyer.rounds(loaded_c)
    _add(sched["loaded"], before, cascade_path())
    actions_until = time.time()
    windows["loaded"].append((actions_from, actions_until))
    flooding = flooder.is_alive()
    cores = cpu.summary(cpu.cores_by_group(snap, cpu.others_apart(cpu.snapshot()), time.monotonic() - snap_at))
    backlog = {"inbox": _received(), **{q: _waiting(r, namespace, q) for q in (INGEST_QUEUE, AGENTS_QUEUE, INTERACTIVE_QUEUE)}}
    stop_sweeping.set()
    sweeper.join()
    beat.stop()
    flooder.terminate()  # ours: started above; the figures below come from the database
    flooder.join()
    fake_stats = requests.get(fake_base + "/_stats", timeout=5).json()
    accepted = _flood_accepted(flood_ids, actions_from, actions_until)
    flood_rate = accepted / (actions_until - actions_from)
    sweep_rate = fake_stats["buys"] / max(1e-9, fake_stats["last"] - fake_stats["first"])
    # quiet again before the second idle round: the flood's backlog applied, the last polls answered
    bench_env.wait_until(lambda: _received() == 0 and _waiting(r, namespace, AGENTS_QUEUE) == 0
                         and _waiting(r, namespace, INGEST_QUEUE) == 0, 600, 0.5, what="queues: the backlog applied")
    time.sleep(2)
    t, before = time.time(), cascade_path()
    idle += buyer.rounds(idle_b)
    _add(sched["idle"], before, cascade_path())
    windows["idle"].append((t, time.time()))
    tasks = {kind: _cascade_tasks(bench_env.OUTPUT / "worker-interactive.log", spans) for kind, spans in windows.items()}
    loaded_span = actions_until - actions_from
    ingest_busy = ", ".join(f"{name} {seconds / loaded_span:.2f}"
                            for name, seconds in list(_busy(bench_env.OUTPUT / "worker-ingest.log",
                                                            windows["loaded"]).items())[:4])

    idle_s, loaded_s = _stats(idle), _stats(loaded)
    idle_a_p95, idle_b_p95 = (percentile([a.ms for a in idle[i * 3 * n_campaigns:(i + 1) * 3 * n_campaigns]], 95)
                              for i in range(2))

    # ingest: the pre-filled inbox drained alone and beside the buyer (pausing and reactivating the idle
    # rounds' campaigns, which all ended ACTIVE), alternately
    events, n_buys = worker_throughput.prepare(n_events, 100, 20)
    drain_campaigns = [f"cmp_b{c}" for c in range(100)]
    kinds = {"alone": None, "paced": 1 / BUYER_RATE, "back to back": 0.0}  # seconds between the buyer's actions
    rounds = {k: [] for k in kinds}
    beside = {k: [] for k in kinds}
    # A B C C B A (twice in a full run): a drift of the machine over the rounds weighs on each kind alike
    order = (list(kinds) + list(kinds)[::-1]) * (1 if quick else 2)
    for i, kind in enumerate(order):
        if i:
            worker_throughput._replayable(events, drain_campaigns)
            _vacuum("webhook_events", "media_buys", "campaigns", "status_changes")
        stop, got = threading.Event(), beside[kind]
        acting = None
        if kinds[kind] is not None:
            acting = threading.Thread(target=lambda: got.extend(_act_until(buyer, idle_a + idle_b, stop, kinds[kind])),
                                      daemon=True)
            acting.start()
            time.sleep(1)  # the buyer under way
        try:
            rounds[kind].append(worker_throughput.drain(events, f"queues {kind}", 600, campaign_ids=drain_campaigns))
        finally:
            stop.set()
            if acting is not None:
                acting.join()
    web.stop()
    fake.stop()
    mean = {k: sum(d["rate"] or 0 for d in v) / len(v) for k, v in rounds.items()}
    cores_of = {k: max(v, key=lambda d: d["rate"] or 0)["cores"] for k, v in rounds.items()}  # its best round's
    each = {k: ", ".join(f"{d['rate']:,.0f}" for d in v) for k, v in rounds.items()}

    def versus_alone(kind: str) -> float | None:
        return mean[kind] / mean["alone"] if mean["alone"] and mean[kind] else None

    ratio = loaded_s["p95"] / idle_s["p95"] if idle_s["p95"] and loaded_s["p95"] else None
    load_note = (f"flood {flood_rate:.0f}/s accepted while the actions ran (target {FLOOD_RATE:.0f}/s"
                 f"{'' if flooding else '; the flood had ended before the last action'}); poll sweep "
                 f"{sweep_rate:,.0f} buys/s over {fake_stats['agents']} agents, {len(sweeps)} full sweeps of "
                 f"{n_poll_buys:,} buys; left at the end: {backlog['inbox']:,} webhooks in the inbox, "
                 f"{backlog[AGENTS_QUEUE]} agents-, {backlog[INGEST_QUEUE]} ingest- and {backlog[INTERACTIVE_QUEUE]} "
                 f"interactive-queue tasks waiting; worker-ingest's two processes busy (of 2.00) in "
                 f"{ingest_busy}; cores used: {cores}")
    return [
        Figure(NAME, "buyer action → cascade settled, idle, p50", idle_s["p50"], "ms",
               note=f"{_describe(idle_s)}; p95 of the rounds before and after the loaded one {idle_a_p95:.0f} / "
                    f"{idle_b_p95:.0f} ms"),
        Figure(NAME, "buyer action → cascade settled, idle, p95", idle_s["p95"], "ms"),
        Figure(NAME, "buyer action → cascade settled, poll sweep + 500/s flood, p50", loaded_s["p50"], "ms",
               note=f"{_describe(loaded_s)}; {load_note}"),
        Figure(NAME, "buyer action → cascade settled, poll sweep + 500/s flood, p95", loaded_s["p95"], "ms"),
        Figure(NAME, "loaded p95 ÷ idle p95, buyer actions", ratio, "×", 1.5, "<=",
               "where the time went, worker-interactive's run_cascade_agent tasks idle → loaded: "
               + "; ".join(f"{what} p50 {tasks['idle'][what][0]:.0f} → {tasks['loaded'][what][0]:.0f} ms, p95 "
                           f"{tasks['idle'][what][1]:.0f} → {tasks['loaded'][what][1]:.0f} ms"
                           for what in ("waited in the worker", "ran"))
               + f" ({tasks['idle']['n']} / {tasks['loaded']['n']} tasks); per action, worker-interactive's processes "
                 f"and the simulated agents on a CPU {sched['idle'][0] / len(idle) * 1000:.0f} → "
                 f"{sched['loaded'][0] / len(loaded) * 1000:.0f} ms, runnable but waiting for one "
                 f"{sched['idle'][1] / len(idle) * 1000:.0f} → {sched['loaded'][1] / len(loaded) * 1000:.0f} ms "
                 f"(/proc schedstat); HTTP answer minus the cascade's own span p95 {_web_share(idle):.0f} → "
                 f"{_web_share(loaded):.0f} ms"),
        Figure(NAME, "inbox drained by worker-ingest, alone (mean of its rounds)", mean["alone"], "/s",
               note=f"rounds in order A B C C B A{' ×2' if not quick else ''}: alone {each['alone']} /s; {n_events:,} "
                    f"events over {n_buys:,} buys; cores used (best round): {cores_of['alone']}"),
        Figure(NAME, f"inbox drained by worker-ingest, a buyer acting {BUYER_RATE:g}/s meanwhile (mean of its rounds)",
               mean["paced"], "/s",
               note=f"rounds {each['paced']} /s; {_describe(_stats(beside['paced']))}; cores used: {cores_of['paced']}"),
        Figure(NAME, f"ingest drain rate with ÷ without a buyer acting {BUYER_RATE:g}/s", versus_alone("paced"), "×",
               0.9, ">="),
        Figure(NAME, "ingest drain rate with ÷ without a buyer acting back to back", versus_alone("back to back"), "×",
               note=f"rounds {each['back to back']} /s; {_describe(_stats(beside['back to back']))}; cores used: "
                    f"{cores_of['back to back']}"),
    ]


def _cascade_tasks(log_path, spans: list[tuple[float, float]]) -> dict:
    """From a worker's log: its run_cascade_agent tasks received within these stretches, how long each
    waited in the worker (received → its pool process started it) and ran (Celery's "succeeded in"),
    p50 and p95 in ms; the time before "received" is the broker's and the sender's."""
    received, waited, ran = {}, [], []
    for line in log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("message", "")
        if not message.startswith("Task mediabuy_sync.run_cascade_agent["):
            continue
        task_id = message.split("[", 1)[1].split("]", 1)[0]
        at = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        if message.endswith(" received"):
            if any(a <= at <= b for a, b in spans):
                received[task_id] = at
        elif " succeeded in " in message and task_id in received:
            seconds = float(message.split(" succeeded in ", 1)[1].split("s:", 1)[0])
            waited.append(max(0.0, (at - seconds - received[task_id]) * 1000))
            ran.append(seconds * 1000)
    return {"n": len(ran), "waited in the worker": (percentile(waited, 50) or 0, percentile(waited, 95) or 0),
            "ran": (percentile(ran, 50) or 0, percentile(ran, 95) or 0)}


def _add(total: list[float], before: tuple[float, float], after: tuple[float, float]) -> None:
    total[0] += after[0] - before[0]
    total[1] += after[1] - before[1]


def _vacuum(*tables: str) -> None:
    """After a replay rewrote the events and buys: their dead rows cleared, so the rounds stay alike
    (without it a full run's drain rounds fell 759 → 515 → 285 /s one after another)."""
    from mediabuy_sync.store.db import autocommit

    with autocommit() as conn:
        conn.execute("VACUUM (ANALYZE) " + ", ".join(tables))


def _busy(log_path, spans: list[tuple[float, float]]) -> dict[str, float]:
    """Seconds a worker's processes spent in each task (by name) that ended within these stretches."""
    out: dict[str, float] = {}
    for line in log_path.read_text().splitlines():
        if " succeeded in " not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(entry["ts"].replace("Z", "+00:00")).timestamp()
        if any(a <= at <= b for a, b in spans):
            message = entry["message"]
            name = message.removeprefix("Task mediabuy_sync.").split("[", 1)[0]
            out[name] = out.get(name, 0.0) + float(message.split(" succeeded in ", 1)[1].split("s:", 1)[0])
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _web_share(actions: list[Action]) -> float:
    """p95 of what the buyer waited beyond the cascade's own span: the web's handling, its 50 ms polls of
    the cascade, the HTTP round trip."""
    return percentile([a.ms - a.cascade_ms for a in actions if a.cascade_ms is not None], 95) or 0


def _act_until(buyer: Buyer, campaign_ids: list[str], stop: threading.Event, every: float) -> list[Action]:
    """Pause and reactivate one campaign after another until told to stop, an action every `every`
    seconds (0: back to back) or as soon as the last is done: every campaign ends ACTIVE."""
    out, started = [], time.monotonic()
    while True:
        for campaign_id in campaign_ids:
            if stop.is_set():
                return out
            for verb in ("pause", "reactivate"):
                stop.wait(started + len(out) * every - time.monotonic())
                out.append(buyer.act(campaign_id, verb))
