"""tests/containers: the images and compose.yaml on a real engine, as an operator runs them (./dev containers-test).

run.sh has started the engine (engine.sh) and tears it down after, also on failure; this script does the rest:
base images (real, or stand-ins where no registry answers), the build, a stop right after start, `up --wait`
with the demo profile, the README's signed webhook through the front, two workers, a stop during an in-flight
cascade and the restart that finishes it, the images' user, size and content, and the figures.

Standard library only: it runs on the host's python3, before any virtual environment exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROJECT = os.environ.get("MEDIABUY_CONTAINERS_PROJECT", "mediabuy-sync-ctest")
BASE_IMAGES = ("python:3.11.7-slim-bookworm", "postgres:16", "redis:7", "nginx:1.27")
IMAGES = {"web": "mediabuy-sync-web:dev", "worker": "mediabuy-sync-worker:dev"}
SIZE_TARGETS_MB = {"web": 250, "worker": 650}  # on the official base image
DEMO_AGENTS = ("sim_agent_1", "sim_agent_2", "sim_agent_3")  # registered by the demo service (devtools/demo.py)
STOP_LIMIT_S = 10  # every service exits within this after a stop right after start
UPDATE_DELAY_S = 8  # the agents answer update_media_buy this late: the pause cascade is in flight when we stop
CELERY_APP = "mediabuy_sync.worker.app:celery_app"
WORKERS = ("worker-ingest", "worker-agents", "worker-interactive")  # a worker per queue (compose.yaml)

figures: dict[str, object] = {}


class Failed(Exception):
    pass


def say(text: str) -> None:
    print(f"containers-test: {text}", flush=True)


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failed(what)
    say(f"ok: {what}")


def run(*argv: str, check_rc: bool = True, timeout: float = 600, input_text: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input_text)
    if check_rc and result.returncode != 0:
        raise Failed(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def compose(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return run("docker", "compose", "--project-name", PROJECT, "--profile", "demo", "--file", str(ROOT / "compose.yaml"),
               "--file", str(HERE / "compose.test.yaml"), *args, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def containers() -> list[dict]:
    """Every container of the project (running or not): name, service, state, exit code, times."""
    ids = compose("ps", "--all", "--quiet").stdout.split()
    if not ids:
        return []
    found = json.loads(run("docker", "inspect", *ids).stdout)
    return [{"name": c["Name"].lstrip("/"), "service": c["Config"]["Labels"].get("com.docker.compose.service"),
             "running": c["State"]["Running"], "exit": c["State"]["ExitCode"],
             "started": c["State"]["StartedAt"], "finished": c["State"]["FinishedAt"],
             "health": (c["State"].get("Health") or {}).get("Status")} for c in found]


def docker_time(text: str) -> float:
    """Docker's RFC 3339 times with nanoseconds, as epoch seconds."""
    main, _, rest = text.partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6] or "0"
    return datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + float("0." + fraction)


def timed(name: str, fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    figures[name] = round(time.monotonic() - started, 1)
    return result


# --- the steps


def _standins(output: str) -> None:
    for line in output.splitlines():
        if line.strip():
            tag, kind = line.split()
            figures.setdefault("base images", {})[tag] = kind
    figures["stand-ins used"] = sorted(t for t, k in figures["base images"].items() if k == "stand-in")


def build_with_base_images() -> None:
    """The Python base first (both images start FROM it); the other three (postgres, redis, nginx) are made while
    our images build, since a stand-in build mostly waits on the package mirror."""
    python_base, *others = BASE_IMAGES
    timed("base image (python) s", lambda: _standins(run(str(HERE / "standins.sh"), python_base, timeout=900).stdout))
    rest = subprocess.Popen([str(HERE / "standins.sh"), *others], stdout=subprocess.PIPE, text=True)
    try:
        timed("build s", build)
        started = time.monotonic()
        output, _ = rest.communicate(timeout=900)
        figures["other base images, after the build s"] = round(time.monotonic() - started, 1)
    finally:
        if rest.poll() is None:
            rest.kill()
            rest.wait()
    if rest.returncode != 0:
        raise Failed("the postgres, redis and nginx base images could not be had (standins.sh says why above)")
    _standins(output)
    for name, tag in IMAGES.items():
        figures[f"{name} image MB"] = round(int(run("docker", "image", "inspect", "--format", "{{.Size}}", tag).stdout) / 1e6)
    base_size = int(run("docker", "image", "inspect", "--format", "{{.Size}}", python_base).stdout) / 1e6
    figures["python base MB"] = round(base_size)
    for name in IMAGES:
        figures[f"{name} layers over the base MB"] = figures[f"{name} image MB"] - figures["python base MB"]


def build() -> None:
    # Once each: migrate, beat, flower, agents and demo name the worker's build too, and building it for
    # each would only make more copies of the same image; every `up` below then runs with --no-build.
    compose("build", "web", "worker-ingest", timeout=900)


def image_checks() -> None:
    for name, tag in IMAGES.items():
        ident = run("docker", "run", "--rm", "--entrypoint", "id", tag).stdout.strip()
        check(ident.startswith("uid=10001(app) gid=10001(app)"), f"{name} image runs as uid 10001 in group 10001 'app' ({ident})")
        # the package is installed (a wheel in the environment), with no source tree, build folder or pip cache beside it
        leftovers = run("docker", "run", "--rm", "--entrypoint", "sh", tag, "-c",
                        "ls -d /usr/src/* /root/.cache /home/app/.cache /tmp/* /opt/venv/lib/python3*/site-packages/mediabuy_sync-*.egg-link "
                        "2>/dev/null; python -c 'import mediabuy_sync, sys; sys.stdout.write(mediabuy_sync.__file__)'").stdout
        lines = leftovers.strip().splitlines()
        check(len(lines) == 1 and lines[0].startswith("/opt/venv/lib/") and "site-packages/mediabuy_sync/" in lines[0],
              f"{name} image: the package from site-packages, no source copy or build leftovers ({lines})")


def stop_right_after_start() -> None:
    """Started, then stopped 2 s later: each process obeys the stop at once (tini passes SIGTERM on: a worker that
    was PID 1 ignored it for its first 14–18 s), so each container exits within STOP_LIMIT_S of the stop command,
    none killed. The stores and the schema come first (as depends_on has it); then our processes and the agents
    start at once, so that all of them are stopped in their first seconds. (The front and the demo start only once
    the web and the agents are healthy: their stop is checked in stop_during_cascade.)"""
    compose("up", "--no-build", "--detach", "--wait", "postgres", "redis", timeout=300)
    compose("run", "--rm", "migrate", timeout=300)
    ours = ("web", *WORKERS, "beat", "flower", "agents")
    compose("up", "--no-build", "--detach", "--no-deps", *ours, timeout=300)
    time.sleep(2)
    started = time.time()
    timed("stop right after start s", compose, "stop", *ours, timeout=300)
    slow = []
    for c in containers():
        if c["service"] not in ours:
            continue
        took = docker_time(c["finished"]) - started
        if took > STOP_LIMIT_S or c["exit"] == 137:
            slow.append(f"{c['name']} exited {c['exit']} after {took:.1f} s")
    check(not slow, f"{', '.join(ours)} each exit within {STOP_LIMIT_S} s of a stop 2 s after their start {slow or ''}")


def up() -> None:
    compose("up", "--no-build", "--detach", "--wait", timeout=600)
    states = {c["service"]: c for c in containers()}
    for service in ("postgres", "redis", "web", "front", *WORKERS, "beat", "flower", "agents", "demo"):
        check(states[service]["running"] and states[service]["health"] == "healthy", f"{service} is up and healthy")
    check(states["migrate"]["exit"] == 0, "migrate ran to completion")


def cli(*args: str) -> str:
    """The project's CLI in a worker container (it has every extra), on the stack's database."""
    return compose("exec", "--no-TTY", "worker-agents", "mediabuy-sync", *args).stdout.strip()


def campaign(base: str, key: str, campaign_id: str) -> dict:
    code, answer = http("GET", f"{base}/api/v2/buyer/campaigns/{campaign_id}", headers={"Authorization": f"Bearer {key}"})
    if code != 200:
        raise Failed(f"GET campaign {campaign_id}: {code} {answer}")
    return answer["data"]


def wait_for(what: str, condition, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failed(f"{what}: not within {timeout:.0f} s")
        time.sleep(1)


def readme_webhook(base: str) -> None:
    """The README's example, as its shell block does it, against the front (nginx → gunicorn)."""
    agent, secret = f"agent_{secrets.token_hex(3)}", secrets.token_hex(32)
    cli("agents", "add", "--id", agent, "--endpoint", "http://agents:9101/mcp", "--scheme", "hmac-sha256", "--secret", secret)
    key = cli("apikeys", "create", "--advertiser", "adv_demo", "--quiet")
    campaign_id = cli("campaigns", "create", "--advertiser", "adv_demo", "--name", "Spring sale",
                      "--buy", f"{agent}:sa_demo_1:PENDING_APPROVAL", "--quiet")
    check(campaign(base, key, campaign_id)["mediaBuyStatus"]["surfacedStatus"] == "PENDING_APPROVAL",
          "the README's campaign reads PENDING_APPROVAL through the front")
    body = json.dumps({"idempotency_key": f"evt_{secrets.token_hex(8)}", "operation_id": "op_demo", "task_id": "task_demo",
                       "task_type": "create_media_buy", "status": "completed",
                       "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "result": {"media_buy_id": "sa_demo_1", "media_buy_status": "active"}}).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-AdCP-Timestamp": stamp, "X-AdCP-Signature": f"sha256={signature}"}
    code, answer = http("POST", f"{base}/webhooks/adcp/{agent}", body, headers)
    check(code == 202 and answer["data"]["event_id"], f"the signed webhook is accepted: {code}")
    wait_for("the campaign ACTIVE after the webhook",
             lambda: campaign(base, key, campaign_id)["mediaBuyStatus"]["surfacedStatus"] == "ACTIVE", 30)
    say("ok: the webhook moved the campaign to ACTIVE")
    code, answer = http("POST", f"{base}/webhooks/adcp/{agent}", body, headers)
    check(code == 200 and answer["data"].get("duplicate") is True, "the same webhook again is a duplicate (200)")


def worker_nodes(kind: str) -> set[str]:
    """The nodes of one kind (ingest, agents, interactive) that answer a ping through the broker
    (`inspect ping --json`: {"ingest@host": {"ok": "pong"}, …})."""
    result = compose("exec", "--no-TTY", "worker-ingest", "celery", "--app", CELERY_APP, "inspect", "ping", "--timeout", "5",
                     "--json", check_rc=False)
    lines = result.stdout.strip().splitlines()
    try:
        return {n for n in json.loads(lines[-1]) if n.startswith(f"{kind}@")} if lines else set()
    except ValueError:
        return set()


def scale_workers() -> None:
    timed("scale to 2 ingest workers s", compose, "up", "--no-build", "--detach", "--no-recreate", "--scale",
          "worker-ingest=2", "worker-ingest", timeout=300)
    nodes = wait_for("two ingest worker nodes answering a ping",
                     lambda: (lambda n: n if len(n) == 2 else None)(worker_nodes("ingest")), 120)
    check(len([c for c in containers() if c["service"] == "worker-ingest" and c["running"]]) == 2,
          f"two ingest worker containers run, both answer: {sorted(nodes)}")


def sim(agent_port: int, method: str, path: str, body: dict | None = None):
    """The simulated agents' control API, from inside the agents container (no port of theirs is published)."""
    code = ("import json, sys, urllib.request\n"
            f"r = urllib.request.Request('http://127.0.0.1:{agent_port}{path}', method='{method}', "
            "data=sys.stdin.read().encode() or None, headers={'Content-Type': 'application/json'})\n"
            "print(urllib.request.urlopen(r, timeout=10).read().decode())")
    out = compose("exec", "--no-TTY", "agents", "python", "-c", code, input_text=json.dumps(body) if body else "").stdout
    return json.loads(out)


def stop_during_cascade(base: str) -> None:
    """One worker (two pool slots); the three demo agents answer update_media_buy 8 s late; a pause fans out three
    jobs (one per agent): two run, one waits in the queue. The stack stops (not the agents: they stand for the
    sellers, and keep their buys in memory): the worker finishes its two, exits 0 before its grace period; after
    the restart the third runs, and the cascade ends with every buy paused."""
    # the pause's jobs run on the interactive worker (queues by kind): one, with two pool slots
    compose("up", "--no-build", "--detach", "--no-recreate", "--scale", "worker-interactive=1", "worker-interactive",
            timeout=300)
    wait_for("one interactive worker node", lambda: len(worker_nodes("interactive")) == 1, 60)
    key = cli("apikeys", "create", "--advertiser", "adv_demo", "--quiet")
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    now = datetime.now(timezone.utc)
    products = [{"salesAgentId": a, "productId": f"{a}_display_300x250", "budget": 1000, "pacing": "even",
                 "pricingOptionId": "cpm_fixed", "formats": ["display_300x250"]} for a in DEMO_AGENTS]
    request = {"advertiserId": "adv_demo", "name": "containers-test", "budget": {"total": 3000, "currency": "USD", "pacing": "EVEN"},
               "flightDates": {"startDate": now.isoformat(), "endDate": now.replace(year=now.year + 1).isoformat()},
               "products": products, "creatives": [{"creativeId": "cr_banner", "format": "display_300x250"}]}
    code, created = http("POST", f"{base}/api/v2/buyer/campaigns", json.dumps(request).encode(), auth)
    check(code == 201, f"a campaign over the three demo agents is created ({code})")
    campaign_id = created["data"]["campaignId"]
    code, answer = http("POST", f"{base}/api/v2/buyer/campaigns/{campaign_id}/execute", b'{"debug": false}', auth)
    check(code in (200, 202), f"it is executed ({code})")
    wait_for("every buy live", lambda: all(b["status"] not in ("DRAFT", "PENDING_APPROVAL")
                                           for b in campaign(base, key, campaign_id)["mediaBuys"]), 90)
    for port in (9101, 9102, 9103):
        sim(port, "POST", "/_sim/knobs", {"update_delay_seconds": UPDATE_DELAY_S})
    paused = {}
    threading.Thread(target=lambda: paused.update(answer=http("POST", f"{base}/api/v2/buyer/campaigns/{campaign_id}/pause",
                                                              b"{}", auth, timeout=60)), daemon=True).start()
    time.sleep(2.5)  # the pause's jobs reach the worker; its two slots take two of them
    others = [s for s in compose("config", "--services").stdout.split() if s != "agents"]
    started = time.time()
    timed("stop during a cascade s", compose, "stop", *others, timeout=300)
    worker = [c for c in containers() if c["service"] == "worker-interactive"][0]
    took = docker_time(worker["finished"]) - started
    figures["worker stop during a cascade s"] = round(took, 1)
    check(worker["exit"] == 0, f"the worker stopped gracefully during the cascade (exit {worker['exit']}, {took:.1f} s)")
    check(took >= UPDATE_DELAY_S - 3, f"it waited for its running jobs ({took:.1f} s ≥ {UPDATE_DELAY_S - 3} s)")
    killed = [f"{c['name']} exit {c['exit']}" for c in containers() if c["service"] in others and c["service"] != "migrate"
              and (c["running"] or c["exit"] == 137)]
    check(not killed, f"every other service stopped by itself, none killed {killed or ''}")
    demo = [c for c in containers() if c["service"] == "demo"][0]
    demo_took = docker_time(demo["finished"]) - started
    check(demo["exit"] == 0 and demo_took <= STOP_LIMIT_S, f"the demo stops on SIGTERM (exit {demo['exit']}, {demo_took:.1f} s)")
    logs = compose("logs", "--no-color", "--no-log-prefix", *WORKERS).stdout + compose("logs", "--no-color", *WORKERS).stderr
    check("Warm shutdown" not in logs.replace("Warm shutdown on", ""), "no plain-text 'Warm shutdown' line in the worker's logs")
    restarted = time.time()
    timed("restart s", compose, "up", "--no-build", "--detach", "--no-recreate", timeout=600)

    def finished():
        try:
            c = campaign(base, key, campaign_id)
        except (Failed, OSError):  # the front or the web is still starting
            return None
        cascades = [x for x in c.get("cascades", []) if x.get("kind") == "pause"]
        return c if cascades and cascades[-1]["state"] not in ("pending", "running") else None
    done = timed("restart to cascade done s", wait_for, "the pause cascade finished after the restart", finished, 180)
    cascade = [x for x in done["cascades"] if x["kind"] == "pause"][-1]
    check(cascade["succeeded"] == 3 and cascade["failed"] == 0, f"the pause cascade completed: {cascade}")
    finished_at = datetime.fromisoformat(cascade["finishedAt"]).timestamp()
    check(finished_at > restarted, "its last job ran after the restart (it had waited in the queue through the stop)")
    buys = [b for port in (9101, 9102, 9103) for b in sim(port, "GET", "/_sim/buys")["media_buys"]
            if (b.get("context") or {}).get("campaign_id") == campaign_id]
    check(len(buys) == 3 and all(b["status"] == "paused" for b in buys),
          f"each of the campaign's buys is paused at its agent: {[b['status'] for b in buys]}")


def stderr_is_json() -> None:
    """Every line our processes write on stderr is one JSON log event (no Celery superuser warning, no banner)."""
    bad = []
    for service in ("web", *WORKERS, "beat"):
        for c in [c for c in containers() if c["service"] == service]:
            result = run("docker", "logs", c["name"])
            for line in result.stderr.splitlines():
                try:
                    json.loads(line)
                except ValueError:
                    bad.append(f"{c['name']}: {line[:160]}")
            if "superuser privileges" in result.stderr + result.stdout:
                bad.append(f"{c['name']}: Celery's superuser warning")
    check(not bad, f"stderr of web, worker and beat is all JSON {bad[:5] or ''}")


def main() -> int:
    figures["engine setup s"] = float(os.environ.get("MEDIABUY_CONTAINERS_ENGINE_SECONDS", "0"))
    front, flower = free_port(), free_port()
    os.environ.update({
        "MEDIABUY_FRONT_PORT": str(front), "MEDIABUY_FLOWER_PORT": str(flower),
        "POSTGRES_PASSWORD": secrets.token_hex(16), "MEDIABUY_PUBLIC_BASE_URL": "http://front:8080",
        # the operator gives the admin token (compose.yaml has none): here, a fresh one
        "MEDIABUY_ADMIN_TOKEN": secrets.token_urlsafe(32),
        # what `mediabuy-sync secrets new-key` prints: a Fernet key (32 random bytes, URL-safe base64)
        "MEDIABUY_SECRETS_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    })
    base = f"http://127.0.0.1:{front}"
    failed, began = None, time.monotonic()
    try:
        compose("down", "--volumes", "--remove-orphans", timeout=300)  # what an interrupted run may have left
        build_with_base_images()
        figures["setup s"] = round(figures["engine setup s"] + figures["base image (python) s"]
                                   + figures["other base images, after the build s"], 1)
        image_checks()
        stop_right_after_start()
        timed("up --wait s", up)
        readme_webhook(base)
        scale_workers()
        stop_during_cascade(base)
        stderr_is_json()
        timed("down s", compose, "down", "--volumes", "--remove-orphans", timeout=300)
    except (Failed, subprocess.TimeoutExpired) as exc:
        failed = exc
        say(f"FAILED: {exc}")
        try:
            for c in containers():
                say(f"  {c['name']}: running={c['running']} exit={c['exit']} health={c['health']}")
        except Failed as inner:
            say(f"  (the containers could not be listed: {inner})")
        tail = compose("logs", "--no-color", "--tail", "15", check_rc=False)
        print(tail.stdout[-8000:], tail.stderr[-4000:], sep="\n")
    figures["total s"] = round(figures["engine setup s"] + time.monotonic() - began, 1)
    say("figures: " + json.dumps(figures))
    standin_python = "python:3.11.7-slim-bookworm" in figures.get("stand-ins used", [])
    for name, target in SIZE_TARGETS_MB.items():
        size = figures.get(f"{name} image MB")
        if size is None:
            continue
        if standin_python:
            # the stand-in base is Debian's python3 with pip and venv, not the official slim image: what the
            # target is about is what our layers add to the base
            say(f"{name} image {size} MB on the STAND-IN base of {figures['python base MB']} MB (official base not "
                f"reachable here); our layers add {figures[f'{name} layers over the base MB']} MB "
                f"(target on the official base: ≤ {target} MB in all)")
        else:
            say(f"{name} image {size} MB on the official base (target ≤ {target} MB)")
            if size > target:
                say(f"FAILED: the {name} image is over its target")
                failed = failed or Failed(f"{name} image over its size target")
    if figures.get("stand-ins used"):
        say(f"stand-ins used (no registry reachable): {', '.join(figures['stand-ins used'])}: Debian 12's Python "
            "3.11.2, PostgreSQL 15, Redis 7.0, nginx 1.22 under the official tags")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
