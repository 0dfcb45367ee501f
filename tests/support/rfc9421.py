"""RFC 9421 agents for the tests: their keys, a JWKS server they publish on, and a sender that signs
with the ADCP SDK's own webhook signer (imported here, in the test process — never in the web)."""

from __future__ import annotations

import base64
import importlib.util
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from support.webhooks import Sender


def _compliance_vectors() -> Path:
    """The webhook-signing vectors of the protocol version the installed SDK ships, found without
    importing it."""
    sdk = Path(importlib.util.find_spec("adcp").submodule_search_locations[0])
    version = (sdk / "ADCP_VERSION").read_text().strip()
    return sdk / "_compliance" / version / "test-vectors" / "webhook-signing"


VECTORS = _compliance_vectors()
# the vectors' keys by kid, private parts (`_private_d_for_test_only`) included
VECTOR_KEYS = {key["kid"]: key for key in json.loads((VECTORS / "keys.json").read_text())["keys"]}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    alg: str  # the RFC 9421 name: ed25519 | ecdsa-p256-sha256
    private: object = field(repr=False)

    @classmethod
    def generate(cls, alg: str = "ed25519", kid: str | None = None) -> "SigningKey":
        private = ed25519.Ed25519PrivateKey.generate() if alg == "ed25519" else ec.generate_private_key(ec.SECP256R1())
        return cls(kid or f"{alg}-{secrets.token_hex(4)}", alg, private)

    @property
    def public_jwk(self) -> dict:
        jwk = {"kid": self.kid, "use": "sig", "key_ops": ["verify"], "adcp_use": "request-signing"}
        public = self.private.public_key()
        if self.alg == "ed25519":
            raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            return {**jwk, "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": _b64url(raw)}
        numbers = public.public_numbers()
        return {**jwk, "kty": "EC", "crv": "P-256", "alg": "ES256",
                "x": _b64url(numbers.x.to_bytes(32, "big")), "y": _b64url(numbers.y.to_bytes(32, "big"))}


class JwksServer:
    """Serves /<agent>/jwks.json for every agent that published, and counts the fetches."""

    def __init__(self):
        self.documents: dict[str, dict] = {}
        self.fetches: Counter[str] = Counter()
        self.drip: dict[str, float] = {}  # agent → seconds between two bytes of its answer (a slow server)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                agent = self.path.strip("/").split("/")[0]
                server.fetches[agent] += 1
                document = server.documents.get(agent)
                body = json.dumps(document).encode() if document is not None else b"{}"
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if agent not in server.drip:
                    self.wfile.write(body)
                    return
                try:
                    for i in range(len(body)):
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                        time.sleep(server.drip[agent])
                except OSError:
                    pass  # the client gave up

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def url(self, agent_id: str) -> str:
        return f"{self.base_url}/{agent_id}/jwks.json"

    def publish(self, agent_id: str, keys: list[SigningKey], extra: list[dict] = ()) -> None:
        self.documents[agent_id] = {"keys": [key.public_jwk for key in keys] + list(extra)}

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class SignedSender(Sender):
    """Posts webhooks for an RFC 9421 agent, signed by adcp.signing.webhook_signer.sign_webhook."""

    def __init__(self, base_url: str, agent_id: str, keys: list[SigningKey]):
        super().__init__(base_url, agent_id, "rfc9421", "")
        self.keys = keys

    @property
    def url(self) -> str:
        return f"{self.base_url}/webhooks/adcp/{self.agent_id}"

    def headers_for(self, body: bytes, timestamp: int | None = None, *, key: SigningKey | None = None,
                    url: str | None = None, nonce: str | None = None) -> dict[str, str]:
        from adcp.signing.webhook_signer import sign_webhook

        key = key or self.keys[0]
        headers = {"Content-Type": "application/json"}
        signed = sign_webhook(method="POST", url=url or self.url, headers=headers, body=body,
                              private_key=key.private, key_id=key.kid, alg=key.alg, created=timestamp, nonce=nonce)
        return {**headers, **signed.as_dict()}
