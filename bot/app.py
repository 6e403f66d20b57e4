"""The Flask app factory: one blueprint per channel, the police queue, health."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from flask import Flask, Request, jsonify
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFProtect

from nlu import Parser, load_parser
from settings import load_config
from storage.db import close_db, connect
from storage.privacy import load_vault

log = logging.getLogger(__name__)

# Blueprints that receive provider webhooks or JSON API calls (no browser form, so no
# CSRF token): Twilio SMS and its status callbacks, web chat, WeChat, SMS gateways.
CSRF_EXEMPT_BLUEPRINTS = (
    "twilio_sms",
    "webchat",
    "wechat",
    "aliyun_sms",
    "tencent_sms",
    "sms_console",
)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the signer built only for a request that carries
    a session cookie: provider webhooks (every SMS) never do, and Flask would build it
    for each of them to find nothing to read."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what the parent returns for no cookie
        return super().open_session(app, request)


_LONE_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings (and keys) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, safe on any request body: nesting deep enough to exhaust the
    parser's recursion is invalid JSON (a 400, never a RecursionError's 500), and a
    lone surrogate escape ("\\ud800", valid JSON, no valid text) becomes U+FFFD, so no
    sender id or text that cannot be encoded as UTF-8 reaches a hash or the database."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
            text = s if isinstance(s, str) else s.decode("latin-1")  # only to look for \\u
            return _scrub(value) if _LONE_SURROGATE_ESCAPE.search(text) else value
        except RecursionError as exc:
            raise ValueError("JSON nested too deeply") from exc


def _record_for_review(turn: Any, reason: str) -> None:
    """Keep a turn the engine did not understand for the supervisors' review (review/)."""
    from review.queue import record
    from storage.db import get_db

    record(get_db(), turn.text, turn.parse, reason, turn.message.channel)


def create_app(overrides: dict[str, Any] | None = None, parser: Parser | None = None) -> Flask:
    """Build the hotline app. ``parser`` lets tests share one loaded model."""
    app = Flask(__name__)
    app.json = _JSONProvider(app)
    app.session_interface = _SessionInterface()
    app.config.update(load_config(overrides))
    # Flask's default provider, whose options are attributes (JSONProvider has none).
    assert isinstance(app.json, DefaultJSONProvider)
    app.json.ensure_ascii = False  # readable Chinese in JSON answers
    app.config.setdefault("MAX_CONTENT_LENGTH", 6 * 1024 * 1024)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    if str(app.config["HOTLINE_PUBLIC_URL"]).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    # Create and migrate the database once, at start, not per request.
    database = connect(app.config["HOTLINE_DB"])
    places = database.execute("SELECT village, township FROM jurisdictions").fetchall()
    database.conn.close()
    app.teardown_appcontext(close_db)
    app.extensions["hotline_vault"] = load_vault(app.config["HOTLINE_VAR"] / "keys.json")
    if parser is None:
        parser = load_parser(app.config["HOTLINE_MODEL_DIR"])
    app.extensions["hotline_parser"] = parser
    # Villages and townships of the loaded jurisdiction table become entities (nlu/entities.py);
    # a table imported later is seen at the next start.
    set_places = getattr(parser, "set_places", None)
    if set_places is not None and places:
        set_places([v for v, _t in places], sorted({t for _v, t in places}))
    # The conversation engine's skills, in order (bot/skills.py); review/ may append a
    # recorder of unsure turns to hotline_unsure_hooks (bot/engine.py Engine.unsure).
    from bot.skills import default_skills

    app.extensions["hotline_skills"] = default_skills()
    app.extensions["hotline_unsure_hooks"] = [_record_for_review]

    from bot.channels import twilio_sms, webchat

    app.register_blueprint(twilio_sms.bp)
    app.register_blueprint(webchat.bp)
    from bot.channels import wechat

    app.register_blueprint(wechat.bp)
    from bot.channels import aliyun_sms, tencent_sms

    app.register_blueprint(aliyun_sms.bp)
    app.register_blueprint(tencent_sms.bp)
    from bot.channels import gateway_webhooks

    app.register_blueprint(gateway_webhooks.bp)  # POST /sms/console (local, console only)
    # The police pages tell reporters and villagers through outbox rows
    # (messaging/outbox.py), never by calling into bot/.
    from accounts import web as accounts_web
    from reporting import web as police_web

    # The officers' sign-in frame: base and login templates, the stylesheet.
    app.register_blueprint(accounts_web.bp)
    app.register_blueprint(police_web.bp)
    from outreach import web as outreach_web

    app.register_blueprint(outreach_web.bp)
    from registry import web as bureau_web

    app.register_blueprint(bureau_web.bp)
    from review import web as review_web

    app.register_blueprint(review_web.bp)

    @app.get("/healthz")
    def healthz() -> ResponseReturnValue:
        degraded = parser.name != "rasa"
        loading = bool(getattr(parser, "loading", False))
        status = "starting" if loading else "degraded" if degraded else "ok"
        # The worker process that answered (hotline serve --workers): which one is
        # up, and a health check that lands on each can tell them apart.
        return jsonify(
            {
                "status": status,
                "nlu": parser.name,
                "degraded": degraded,
                "loading": loading,
                "worker": os.getpid(),
            }
        )

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> ResponseReturnValue:
        return jsonify({"error": "request too large"}), 413

    # CSRF tokens on every form (the police pages). Kept last so every blueprint above
    # is registered: provider webhooks and the chat API are signed or token-less and
    # must be exempt; add a new provider's blueprint name to CSRF_EXEMPT_BLUEPRINTS.
    csrf = CSRFProtect(app)
    for name in CSRF_EXEMPT_BLUEPRINTS:
        if name in app.blueprints:
            csrf.exempt(app.blueprints[name])
    return app
