"""The Flask app factory: one blueprint per channel, the police queue, health."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify

from bot.config import load_config
from nlu import Parser, load_parser
from storage.db import close_db, connect
from storage.privacy import load_vault

log = logging.getLogger(__name__)


def create_app(overrides: dict[str, Any] | None = None, parser: Parser | None = None) -> Flask:
    """Build the hotline app. ``parser`` lets tests share one loaded model."""
    app = Flask(__name__)
    app.config.update(load_config(overrides))
    app.config.setdefault("MAX_CONTENT_LENGTH", 6 * 1024 * 1024)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    if str(app.config["HOTLINE_PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    # Create and migrate the database once, at start, not per request.
    connect(app.config["HOTLINE_DB"]).conn.close()
    app.teardown_appcontext(close_db)
    app.extensions["hotline_vault"] = load_vault(app.config["HOTLINE_VAR"] / "keys.json")
    if parser is None:
        parser = load_parser(app.config["HOTLINE_MODEL_DIR"])
    app.extensions["hotline_parser"] = parser

    from bot.channels import twilio_sms, webchat

    app.register_blueprint(twilio_sms.bp)
    app.register_blueprint(webchat.bp)

    @app.get("/healthz")
    def healthz():
        degraded = parser.name != "rasa"
        return jsonify(
            {"status": "degraded" if degraded else "ok", "nlu": parser.name, "degraded": degraded}
        )

    @app.errorhandler(413)
    def too_large(_exc):
        return jsonify({"error": "request too large"}), 413

    return app
