"""The ingest yardstick a user would pick: the official ADCP SDK's `WebhookReceiver` in a Flask route
(legacy HMAC verify, dedup in memory, `receive_and_process`), then a Celery `send_task` per webhook to
Redis, answering 202. Not durable: the dedup lives in each
gunicorn worker's memory (lost at a restart, not shared between workers) and a webhook is only in
Redis once answered. Served by the same gunicorn configuration as ours (gunicorn_conf); the ingest
benchmark compares our accepted/s with it (bench/ingest.py).

The SDK is heavy: only this app imports it, never our web (bench/ingest.py checks that).

Environment: BENCH_SDK_SECRETS, a JSON file {agent id: HMAC secret} (a user's app looks its secrets
up in its own config: a dict here, the cheapest lookup, so the yardstick is not slowed by ours);
BENCH_SDK_QUEUE, the throwaway queue the webhooks go to (nothing consumes it; the benchmark purges
it); REDIS_URL and MEDIABUY_REDIS_NAMESPACE, the bench's Redis and namespace."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import warnings

from adcp.server.idempotency import MemoryBackend, WebhookDedupStore
from adcp.signing.webhook_verifier import WebhookVerifyOptions
from adcp.webhook_receiver import LegacyHmacFallback, WebhookReceiver, WebhookReceiverConfig
from celery import Celery
from flask import Flask, jsonify, request

# The SDK warns once per process that HMAC is the 3.x legacy scheme: known, and not the point here.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"adcp\.")

TASK_NAME = "sdk_yardstick.handle_webhook"


def make_celery() -> Celery:
    """A plain Celery app on the bench's Redis, its keys under the bench's namespace (dropped with it)."""
    app = Celery("sdk_yardstick")
    app.conf.update(
        broker_url=os.environ["REDIS_URL"],
        broker_transport_options={"global_keyprefix": os.environ.get("MEDIABUY_REDIS_NAMESPACE", "")},
        task_ignore_result=True,
        task_serializer="json",
    )
    return app


def _no_9421_keys(_key_id):  # legacy HMAC only: no agent signs with RFC 9421 here
    return None


def make_receivers(secrets: dict[str, str]) -> dict[str, WebhookReceiver]:
    """A receiver per agent, as the SDK's "one secret, one sender" HMAC fallback has it
    (`LegacyHmacFallback.from_shared_secret`), all sharing one in-memory dedup store: the agent is
    named by the URL, and the SDK's HMAC fallback only sees the headers."""
    dedup = WebhookDedupStore(MemoryBackend(), ttl_seconds=86400)
    verify = WebhookVerifyOptions(jwks_resolver=_no_9421_keys)
    return {
        agent_id: WebhookReceiver(WebhookReceiverConfig(
            verify_options=verify,
            dedup=dedup,
            receiver_scope="bench-buyer",
            publisher_scope_for=lambda signer: signer.as_sender_identity(),  # the agent id
            legacy_hmac=LegacyHmacFallback.from_shared_secret(secret=secret.encode(), sender_identity=agent_id),
        ))
        for agent_id, secret in secrets.items()
    }


def start_loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop, in a thread of its own, that every request's receive runs on.

    Not the SDK's `receive_and_process_sync`, which its docstring offers WSGI apps: that runs each
    request in an event loop of its own (asyncio.run), and the in-memory dedup store's asyncio.Lock,
    shared by the threads of a gthread worker, is then used from several loops — "RuntimeError: Lock
    is bound to a different event loop": 3,339 and 3,650 answers 500 in two runs of three 5 s rounds
    here, up to 79 % of a round's, whose accepted/s fell to 194 (bench/NOTES.md, 2026-12-04). One
    loop per process is what a user has to write to make it work under threads."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="sdk-receiver-loop", daemon=True).start()
    return loop


def create_app() -> Flask:
    with open(os.environ["BENCH_SDK_SECRETS"]) as f:
        secrets = json.load(f)
    queue = os.environ["BENCH_SDK_QUEUE"]
    celery_app = make_celery()
    receivers = make_receivers(secrets)
    loop = start_loop()  # gunicorn loads the app in each worker, after the fork (no preload_app)
    app = Flask(__name__)

    @app.post("/webhooks/adcp/<agent_id>")
    def receive(agent_id: str):
        receiver = receivers.get(agent_id)
        if receiver is None:
            return jsonify({"error": "unknown agent"}), 404
        body = request.get_data()

        def publish(_payload):  # the SDK calls it between the dedup claim and its acknowledgement
            celery_app.send_task(TASK_NAME, args=[agent_id, body.decode()], queue=queue)

        outcome = asyncio.run_coroutine_threadsafe(receiver.receive_and_process(
            method=request.method, url=request.url, headers=dict(request.headers), body=body, handler=publish),
            loop).result()
        if outcome.rejected:
            return jsonify({"error": outcome.rejection_reason}), outcome.http_status, dict(outcome.response_headers)
        if outcome.duplicate or outcome.in_progress:
            return jsonify({"duplicate": outcome.duplicate}), outcome.http_status
        return jsonify({"accepted": True}), 202

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True})

    return app
