"""The bare route the ingest benchmark compares against: a Flask app of one POST route answering 202
with a small JSON body, served by the same gunicorn configuration as ours (gunicorn_conf)."""

from flask import Flask, jsonify, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/webhooks/adcp/<agent_id>")
    def receive(agent_id: str):
        request.get_data()  # read the body, as ours does
        return jsonify({"data": {"event_id": 1}, "error": None}), 202

    @app.get("/healthz")
    def healthz():
        return jsonify({"data": {"ok": True}, "error": None})

    return app
