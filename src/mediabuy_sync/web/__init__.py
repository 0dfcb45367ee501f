"""The Flask app: webhooks in, the buyer API, ops endpoints. Thin edges over the store."""

from __future__ import annotations

from flask import Flask

from ..config import settings
from ..logs import configure_logging


def create_app() -> Flask:
    configure_logging()
    app = Flask(__name__)
    # Werkzeug refuses larger bodies from Content-Length up front, and caps chunked ones while reading.
    app.config["MAX_CONTENT_LENGTH"] = settings().webhook_max_body_bytes
    app.json.sort_keys = False

    from . import admin, buyer, errors, ops, webhooks

    errors.register(app)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(buyer.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(admin.bp)
    return app
