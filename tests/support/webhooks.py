"""Building and sending ADCP webhooks the way agents do."""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timedelta, timezone

import requests

from mediabuy_sync.adcp.signatures import hmac_headers

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def at(seconds: float) -> str:
    """An agent timestamp `seconds` after a fixed origin, so tests can order reports exactly."""
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def task_payload(
    adcp_media_buy_id: str | None,
    media_buy_status: str | None = None,
    *,
    task_status: str = "completed",
    task_type: str = "create_media_buy",
    timestamp: str | None = None,
    task_id: str | None = None,
    key: str | None = None,
    **extra,
) -> dict:
    result = {}
    if adcp_media_buy_id:
        result["media_buy_id"] = adcp_media_buy_id
    if media_buy_status:
        result["media_buy_status"] = media_buy_status
    payload = {
        "idempotency_key": key or "evt_" + secrets.token_hex(12),
        "operation_id": "op_" + secrets.token_hex(4),
        "task_id": task_id or "task_" + secrets.token_hex(4),
        "task_type": task_type,
        "status": task_status,
        "timestamp": timestamp or at(0),
        "result": result,
    }
    payload.update(extra)
    return payload


class Sender:
    """Posts webhooks for one agent, signed with its scheme."""

    def __init__(self, base_url: str, agent_id: str, scheme: str, secret: str):
        self.base_url, self.agent_id, self.scheme, self.secret = base_url, agent_id, scheme, secret

    def headers_for(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.scheme == "hmac-sha256":
            headers.update(hmac_headers(self.secret, body, int(time.time()) if timestamp is None else timestamp))
        else:
            headers["Authorization"] = f"Bearer {self.secret}"
        return headers

    def post(self, payload: dict | bytes, headers: dict | None = None, **kwargs) -> requests.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
        return requests.post(
            f"{self.base_url}/webhooks/adcp/{self.agent_id}",
            data=body,
            headers=headers if headers is not None else self.headers_for(body),
            timeout=kwargs.pop("timeout", 10),
            **kwargs,
        )
