"""The one sign-in of every officers' area (/police, /police/outreach, /police/review,
/bureau): the session check, the role check, sign-in and sign-out, the security
headers, and the base template and stylesheet (this package's blueprint).

A session holds the account's id and its ``session_version``: a logout, a new password
or a deactivation bumps the version, and every cookie issued before stops working. A
sign-in starts a fresh session (no fixation), expires after ``SESSION_LIFETIME``, and
is throttled per client address on top of the per-account lockout. Every outcome is
audited. An area says who may enter with a ``Guard``; the accounts are shared, so one
sign-in opens every area the role may use.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from accounts import audit, officers
from storage import buckets
from storage.db import get_db
from throttle import RateLimiter
from weburl import same_site_path

# Templates (accounts/base.html, accounts/login.html) and the officers' stylesheet,
# served where it always was: /police/static/police.css.
bp = Blueprint(
    "accounts",
    __name__,
    url_prefix="/police",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# An officer's session ends after this long even if the browser stays open (shared PCs).
SESSION_LIFETIME = dt.timedelta(hours=12)
# Failed sign-ins per client address, on top of the per-account lockout: one address
# guessing across many accounts is slowed without locking any of them.
LOGIN_PER_MINUTE = 10
LOGIN_BURST = 20
# One answer for a wrong password, an unknown name and a locked account: the lockout
# must not tell a guesser which names exist.
LOGIN_FAILED = "用户名或密码不对；多次失败后账号会暂时锁定，请15分钟后再试。"
LOGIN_THROTTLED = "尝试次数过多，请稍后再试。"
# Officers' pages load nothing from elsewhere, cannot be framed, and are not kept by
# the browser or a proxy (a shared station computer).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
# Session keys (the names predate the bureau: kept, so signed-in officers stay in).
_ACCOUNT, _VERSION = "police_officer", "police_session"


@bp.record_once
def _session_lifetime(state: Any) -> None:
    # Flask's default is 31 days; an explicit setting in the app config wins.
    if state.app.config.get("PERMANENT_SESSION_LIFETIME") == dt.timedelta(days=31):
        state.app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME


def secure_headers(response: Response) -> Response:
    """After-request hook of every officers' blueprint (police, outreach, review, bureau)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


bp.after_request(secure_headers)


def client_ip() -> str | None:
    """The client address as waitress resolved it (HOTLINE_TRUSTED_PROXIES)."""
    return request.remote_addr


def signed_in_officer() -> dict[str, Any] | None:
    """The account of this session (any role), or None (and the session cleared)."""
    officer_id = session.get(_ACCOUNT)
    officer = officers.get(get_db(), officer_id) if officer_id else None
    # A cookie from before a logout (or a new password, a deactivation) carries an
    # old version: it no longer opens anything.
    if officer is not None and session.get(_VERSION) != officer["session_version"]:
        officer = None
    if officer is None:
        session.pop(_ACCOUNT, None)
        session.pop(_VERSION, None)
    return officer


def _login_limiter() -> RateLimiter:
    limiter = current_app.extensions.get("hotline_login_limiter")
    if limiter is None:
        limiter = current_app.extensions.setdefault(
            "hotline_login_limiter",
            RateLimiter(
                float(current_app.config.get("HOTLINE_LOGIN_PER_MINUTE", LOGIN_PER_MINUTE)),
                int(current_app.config.get("HOTLINE_LOGIN_BURST", LOGIN_BURST)),
                # Shared by the worker processes: a guesser gains nothing by landing on
                # another one.
                store=buckets.store_for(current_app),
                name="logins",
                clock=time.time,
            ),
        )
    return limiter


def sign_in(detail: str = "") -> tuple[dict[str, Any] | None, str | None]:
    """Check the posted username and password: the account, with a fresh session, or
    the error to show. Both outcomes are audited (``detail``: which area's form)."""
    db = get_db()
    username = request.form.get("username", "")[:64]
    limiter, address = _login_limiter(), client_ip() or "unknown"
    if limiter.exhausted(address):
        audit.record(db, None, "login_throttled", username=username, ip=client_ip())
        return None, LOGIN_THROTTLED
    officer, outcome = officers.authenticate(db, username, request.form.get("password", ""))
    if officer:
        session.clear()  # a fresh session: no fixation
        session[_ACCOUNT] = officer["id"]
        session[_VERSION] = officer["session_version"]
        session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME (12 h)
        audit.record(db, officer, "login", detail=detail, ip=client_ip())
        return officer, None
    limiter.check(address)  # failures only: an officer signing in is never slowed
    audit.record(db, None, f"login_{outcome}", username=username, ip=client_ip())
    return None, LOGIN_FAILED


def sign_out() -> None:
    """End this account's sessions everywhere (audited) and clear this one."""
    audit.record(get_db(), g.officer, "logout", ip=client_ip())
    officers.end_sessions(get_db(), g.officer["id"])
    session.clear()


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site, judged after the
    normalisation a browser does to a Location ("////evil", "/\\evil", tabs and
    newlines all leave the site): an open redirect would help phishing officers."""
    return same_site_path(target) or default


@dataclass(frozen=True)
class Guard:
    """Who may enter an area, and what someone else gets.

    - no valid session: a redirect to ``login_endpoint`` (with ``?next=`` when
      ``keep_next``), or 401 JSON under ``api_prefix``;
    - signed in with a role outside ``roles``: a GET is sent to ``elsewhere`` (their own
      area) when given; anything else is a 403;
    - ``load``: what the area adds to the account for its views (``g.officer``).
    """

    login_endpoint: str
    roles: tuple[str, ...] = officers.ROLES
    api_prefix: str | None = None
    elsewhere: str | None = None
    keep_next: bool = True
    load: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, compare=False)

    def _refused(self, officer: dict[str, Any] | None) -> Any:
        is_api = bool(self.api_prefix) and request.path.startswith(self.api_prefix or "")
        if officer is None:
            if is_api:
                return jsonify({"error": "login required"}), 401
            if self.keep_next:
                return redirect(url_for(self.login_endpoint, next=request.full_path))
            return redirect(url_for(self.login_endpoint))
        if self.elsewhere and request.method == "GET" and not is_api:
            return redirect(self.elsewhere)
        abort(403)

    def required(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """The view needs a signed-in account of one of this area's roles."""

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            officer = signed_in_officer()
            if officer is None or officer["role"] not in self.roles:
                return self._refused(officer)
            g.officer = self.load(officer) if self.load else officer
            return view(*args, **kwargs)

        return wrapped

    def role_required(self, *roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Signed in to this area (as ``required``) and with one of ``roles``: else 403."""

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def wrapped(*args: Any, **kwargs: Any) -> Any:
                if g.officer["role"] not in roles:
                    abort(403)
                return view(*args, **kwargs)

            return self.required(wrapped)

        return decorate


def login_page(
    base: str, heading: str, home: Callable[[], str], detail: str = ""
) -> ResponseReturnValue:
    """An area's sign-in page (GET) and form (POST): one template, the area's frame."""
    error = None
    if request.method == "POST":
        officer, error = sign_in(detail=detail)
        if officer:
            return redirect(home())
    page = render_template("accounts/login.html", base=base, heading=heading, error=error)
    return page, 401 if error else 200
