"""A buyer's webhook receiver, run as a process of its own: it verifies each notification's Standard
Webhooks signature with the subscription's secret (its own code, from the specification, not the
library we sign with), records what it got, and answers as told.

    python tests/support/notify_receiver.py PORT

Each subscription posts to /hooks/<name>. Control, per name:
    PUT  /_control/<name> {"secret": "whsec_…", "fail": n, "fail_status": 500, "gone": false}
         the next n POSTs answer fail_status, then 200 (410 for every one with gone)
    GET  /_received/<name> → [{"id", "timestamp", "signature", "body", "verified", "answered", "at"}]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
KNOBS: dict[str, dict] = {}
RECEIVED: dict[str, list[dict]] = {}
TOLERANCE = 300  # seconds: the specification's suggestion against replayed messages


def verify(secret: str, msg_id: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    """The specification's check: HMAC-SHA256 of "{id}.{timestamp}.{body}" with the base64-decoded
    secret after whsec_, compared in constant time with each space-separated v1 signature."""
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"))
        if abs(time.time() - int(timestamp)) > TOLERANCE:
            return False
    except ValueError:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest())
    for signature in signature_header.split(" "):
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the test reads /_received
        pass

    def _answer(self, status: int, payload=None) -> None:
        body = json.dumps(payload if payload is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_PUT(self):
        name = self.path.removeprefix("/_control/")
        knobs = json.loads(self._body() or b"{}")
        with LOCK:
            KNOBS[name] = {"secret": knobs.get("secret", ""), "fail": int(knobs.get("fail", 0)),
                           "fail_status": int(knobs.get("fail_status", 500)), "gone": bool(knobs.get("gone"))}
            RECEIVED.setdefault(name, [])
        self._answer(200)

    def do_GET(self):
        name = self.path.removeprefix("/_received/")
        with LOCK:
            self._answer(200, list(RECEIVED.get(name, [])))

    def do_POST(self):
        name = self.path.removeprefix("/hooks/")
        body = self._body()
        with LOCK:
            knobs = KNOBS.setdefault(name, {"secret": "", "fail": 0, "fail_status": 500, "gone": False})
            if knobs["gone"]:
                status = 410
            elif knobs["fail"] > 0:
                knobs["fail"] -= 1
                status = knobs["fail_status"]
            else:
                status = 200
            msg_id = self.headers.get("webhook-id", "")
            timestamp = self.headers.get("webhook-timestamp", "")
            signature = self.headers.get("webhook-signature", "")
            RECEIVED.setdefault(name, []).append({
                "id": msg_id, "timestamp": timestamp, "signature": signature, "body": body.decode("utf-8", "replace"),
                "verified": verify(knobs["secret"], msg_id, timestamp, body, signature), "answered": status,
                "at": time.time(),
            })
        self._answer(status)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"ready: receiving on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
