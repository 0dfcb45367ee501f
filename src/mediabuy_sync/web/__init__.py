"""web: the Flask app — webhooks in, the buyer API, admin and ops endpoints; HTTP only, over services/."""

from __future__ import annotations

from importlib import import_module

from flask import Flask

from ..config import settings
from ..logs import configure_logging
from ..store.secretbox import require_key as require_secrets_key

# Each module has a flask-smorest blueprint `bp`; listing it here serves it and puts it in /openapi.json.
BLUEPRINT_MODULES = (
    "ops",
    "docs",
    "webhooks",
    "campaigns",
    "campaign_actions",
    "campaign_lifecycle",
    "sales_agents",
    "admin",
    "admin_agents",
    "dashboard",
    "admin_credentials",
    "webhook_subscriptions",
    "admin_api_keys",
    "admin_agent_upkeep",
    "admin_audit",
    "media_buys",
)

ADMIN_TOKEN_MIN_BYTES = 32


def check_settings() -> None:
    """Refuse to start on settings that would leave a hole (issue 20), saying which and why."""
    s = settings()
    base = s.public_base_url
    if not base or not base.startswith(("http://", "https://")) or "/" in base.split("://", 1)[1].rstrip("/"):
        raise SystemExit(
            "MEDIABUY_PUBLIC_BASE_URL must be set to the scheme and host agents post webhooks to (e.g. "
            f"https://hooks.example.com), got {base!r}: RFC 9421 signatures are verified against it, never "
            "against the request's Host")
    if s.admin_token and len(s.admin_token.encode()) < ADMIN_TOKEN_MIN_BYTES:
        raise SystemExit(f"MEDIABUY_ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN_BYTES} bytes (e.g. "
                         "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or empty to disable /admin")


def create_app() -> Flask:
    configure_logging()
    require_secrets_key()  # at start, not at the first webhook
    check_settings()
    # no static folder: every route the app has is in the OpenAPI document
    app = Flask(__name__, static_folder=None)
    # Werkzeug refuses larger bodies from Content-Length up front, and caps chunked ones while reading.
    app.config["MAX_CONTENT_LENGTH"] = settings().webhook_max_body_bytes
    app.json.sort_keys = False

    from . import errors
    from .api import make_api

    api = make_api(app)
    for name in BLUEPRINT_MODULES:
        api.register_blueprint(import_module(f"{__name__}.{name}").bp)
    errors.register(app)  # after the Api, whose HTTP error handler it replaces with the same envelope
    from .ingress import WebhookIngress

    app.wsgi_app = WebhookIngress(app.wsgi_app)  # webhook POSTs are answered before Flask (ingress.py)
    return app
