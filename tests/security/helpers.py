"""Helpers of the security tests: the webhook counter from /metrics, the error envelope, a raw POST."""

from __future__ import annotations

import json
import socket
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests
from prometheus_client.parser import text_string_to_metric_families


def webhook_counts(base_url: str, agent_id: str) -> Counter:
    """{(outcome, reason): count} of mediabuy_webhooks_received_total for one agent, from GET /metrics."""
    answer = requests.get(base_url + "/metrics", timeout=10)
    assert answer.status_code == 200, answer.text[:500]
    counts: Counter = Counter()
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name == "mediabuy_webhooks_received_total" and sample.labels.get("agent") == agent_id:
                counts[(sample.labels["outcome"], sample.labels["reason"])] += sample.value
    return counts


def assert_envelope(answer, status: int, code: str | None = None) -> dict:
    """The answer is `status` and the error envelope; returns its error."""
    assert answer.status_code == status, (answer.status_code, answer.text[:500])
    assert answer.headers.get("Content-Type", "").startswith("application/json"), answer.headers
    document = answer.json()
    assert document["data"] is None and isinstance(document["error"], dict), document
    error = document["error"]
    assert error["code"] and error["message"], document
    if code is not None:
        assert error["code"] == code, document
    return error


@dataclass
class RawAnswer:
    status_code: int
    headers: dict = field(default_factory=dict)
    text: str = ""
    closed: bool | None = None  # with wait_for_close: the server closed the connection after answering

    def json(self):
        return json.loads(self.text)


def raw_post(base_url: str, path: str, headers: dict, body: bytes, content_length: int | None = None,
             pause_after: int | None = None, timeout: float = 30, wait_for_close: bool = False) -> RawAnswer:
    """POST over a bare socket: announce `content_length` (default len(body)) and send `body`, or only
    its first `pause_after` bytes and then nothing more; read the answer the server gives anyway."""
    url = urlparse(base_url)
    head = f"POST {path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "content-length")
    head += f"Content-Length: {len(body) if content_length is None else content_length}\r\n\r\n"
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin1") + (body if pause_after is None else body[:pause_after]))
        answer = b""
        while True:
            if b"\r\n\r\n" in answer:
                top, _, rest = answer.partition(b"\r\n\r\n")
                lines = top.decode("latin1").split("\r\n")
                parsed = {k.strip().title(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                if len(rest) >= int(parsed.get("Content-Length", "0")):
                    closed = None
                    if wait_for_close:
                        try:
                            closed = sock.recv(1) == b""
                        except (TimeoutError, ConnectionResetError) as exc:
                            closed = isinstance(exc, ConnectionResetError)
                    return RawAnswer(int(lines[0].split()[1]), parsed, rest.decode(), closed)
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before a whole answer: {answer[:300]!r}")
            answer += chunk
