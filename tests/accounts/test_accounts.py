"""accounts/: one sign-in for every officers' area. One session opens every area the
role may use, one sign-out closes them all, every area sends the same security
headers, and no area keeps its own session or login code."""

from __future__ import annotations

import re
from pathlib import Path

from accounts.web import SECURITY_HEADERS
from registry import staff
from tests.helpers.police import PASSWORD, csrf_token, logged_in, post_form

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("/police/", "/police/incidents", "/police/outreach/", "/police/review/", "/bureau/")


def test_one_sign_in_opens_every_area_of_the_role_and_one_sign_out_closes_them(
    degraded_app, county
):
    client = logged_in(degraded_app, "sup")  # a county supervisor: all five areas
    for path in AREAS:
        page = client.get(path)
        assert page.status_code == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert page.headers[name] == value, (path, name)
    assert post_form(client, "/police/logout", {}).status_code == 302
    for path in AREAS:
        assert client.get(path).status_code == 302, path  # back to a sign-in page


def test_the_bureau_and_police_sign_in_are_one_form_and_one_audit(degraded_app, county):
    staff.add(county, "ybj", PASSWORD, "桂平市")
    client = degraded_app.test_client()
    fields = re.compile(r'<input[^>]*name="(\w+)"')
    police = client.get("/police/login").get_data(as_text=True)
    bureau = client.get("/bureau/login").get_data(as_text=True)
    assert (
        fields.findall(police)
        == fields.findall(bureau)
        == [
            "csrf_token",
            "username",
            "password",
        ]
    )
    assert "民警登录" in police and "医保局工作人员登录" in bureau
    # A wrong password on either page: the same answer, the same audit action.
    for path in ("/police/login", "/bureau/login"):
        token = csrf_token(client, path)
        wrong = client.post(path, data={"username": "ybj", "password": "x", "csrf_token": token})
        assert wrong.status_code == 401
        assert "用户名或密码不对" in wrong.get_data(as_text=True)
    actions = [r[0] for r in county.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login_invalid", "login_invalid"]
    # Signed in at /bureau, the session opens the police pages a bureau account may
    # see (none: it is sent back to /bureau), and the bureau's own.
    token = csrf_token(client, "/bureau/login")
    client.post(
        "/bureau/login", data={"username": "ybj", "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/bureau/").status_code == 200
    assert client.get("/police/review/").headers["Location"] == "/bureau/"


def test_no_area_keeps_its_own_session_or_login_code():
    """The session keys, the password check and the login form live in accounts/ only."""
    offenders = []
    for folder in ("reporting", "registry", "review", "bot"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".html"):
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(
                r"session\[|session\.(pop|clear)\(|session\.get\(\"police|officers\.authenticate\(",
                text,
            ):
                offenders.append(str(path.relative_to(ROOT)))
            if path.suffix == ".html" and 'type="password"' in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_area_imports_the_police_pages_for_its_login():
    """Outreach, review and the bureau enter through accounts/ (and reporting/access.py
    for the police roles), never through the police queue's module."""
    importers = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "registry", "review", "scamcheck", "accounts")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"from reporting\.web import|from reporting import [^\n]*\bweb\b",
                     path.read_text(encoding="utf-8"))
        and path.name != "app.py"  # the app shell registers the blueprint
    ]  # fmt: skip
    assert importers == []
