"""Police-side defects found in review: parallel password guesses and the lockout,
reports with no county across counties, logout and session lifetime, lost updates,
huge report ids, audit rows for every view."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from accounts import officers
from reporting import jurisdiction, purge, reports
from storage.db import connect
from tests.helpers.app import SmsPhone
from tests.helpers.police import PASSWORD, csrf_token, logged_in, post_form

SECOND_COUNTY = (
    "province,city,county,township,village,station_code,station_name\n"
    "广西壮族自治区,贵港市,平南县,大安镇,大安村,PN-DA,平南县公安局大安派出所\n"
)
BIGGEST = 2**63 - 1


@pytest.fixture
def two_counties(degraded_app, county, tmp_path):
    csv = tmp_path / "pingnan.csv"
    csv.write_text(SECOND_COUNTY, encoding="utf-8")
    jurisdiction.import_csv(county, csv)
    officers.add(county, "pnsup", PASSWORD, "PN-DA", role="supervisor")
    return county


def sms_report(app, db, number: str, *answers: str) -> dict:
    phone = SmsPhone(app.test_client(), number)
    for i, text in enumerate(answers):
        phone.send(text if i else "我要举报：" + text)  # a report only when meant
    return list(db.query("SELECT * FROM reports ORDER BY id DESC LIMIT 1"))[0]


def listed(client) -> list[str]:
    return [r["ref"] for r in client.get("/police/api/reports").get_json()["reports"]]


# --- 1. parallel wrong passwords --------------------------------------------------------


def test_parallel_wrong_passwords_still_lock_the_account(degraded_app, county):
    path = degraded_app.config["HOTLINE_DB"]
    tries = 12
    barrier = threading.Barrier(tries)
    outcomes: list[str] = []

    def guess() -> None:
        db = connect(path, migrate_schema=False)
        try:
            barrier.wait()
            outcomes.append(officers.authenticate(db, "sp", "wrong guess")[1])
        finally:
            db.conn.close()

    threads = [threading.Thread(target=guess) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each attempt took its own number: only MAX_FAILURES - 1 were checked and refused
    # as wrong, the one reaching the limit locked the account for all the others.
    assert outcomes.count("invalid") == officers.MAX_FAILURES - 1
    assert outcomes.count("locked") == tries - officers.MAX_FAILURES + 1
    row = officers.get_by_username(county, "sp")
    assert row["locked_until"] and row["failed_logins"] == 0
    assert officers.authenticate(county, "sp", PASSWORD)[1] == "locked"


def test_right_password_resets_the_count(county):
    for _ in range(officers.MAX_FAILURES - 1):
        assert officers.authenticate(county, "sp", "wrong guess")[1] == "invalid"
    assert officers.authenticate(county, "sp", PASSWORD)[1] == "ok"
    assert officers.get_by_username(county, "sp")["failed_logins"] == 0


# --- 2. reports with no county ----------------------------------------------------------


def test_report_without_county_is_not_shown_to_every_county(degraded_app, two_counties):
    db = two_counties
    report = sms_report(
        degraded_app, db, "+8613900001111", "有人借手机", "跳过", "跳过", "跳过", "跳过"
    )
    assert report["county"] is None and report["submitted_at"]
    path = f"/police/reports/{report['id']}"
    sup, pnsup = logged_in(degraded_app, "sup"), logged_in(degraded_app, "pnsup")
    # Two counties and no catch-all county configured: neither supervisor gets it.
    for client in (sup, pnsup):
        assert listed(client) == [] and client.get(path).status_code == 404
        token = csrf_token(client, "/police/")
        assert client.post(path + "/reveal", data={"csrf_token": token}).status_code == 404
    # HOTLINE_DEFAULT_COUNTY names the county whose supervisors take them.
    degraded_app.config["HOTLINE_DEFAULT_COUNTY"] = "桂平市"
    assert listed(sup) == [report["ref"]] and sup.get(path).status_code == 200
    assert listed(pnsup) == [] and pnsup.get(path).status_code == 404
    assert listed(logged_in(degraded_app, "jt")) == []  # station officers never


def test_single_county_keeps_its_unplaced_reports(degraded_app, county):
    report = sms_report(degraded_app, county, "+8613900001112", "有人借手机", "跳过", "跳过")
    county.execute("UPDATE reports SET county = NULL, submitted_at = created_at")
    county.conn.commit()
    assert jurisdiction.catch_all_county(county) == "桂平市"
    assert listed(logged_in(degraded_app, "sup")) == [report["ref"]]


def test_unfinished_report_detail_follows_the_30_minute_rule(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613900002222")
    phone.send("我要举报 有人让扫二维码")
    phone.send("社坡镇大坡村")  # routed to 社坡, the form still running
    report = list(county.query("SELECT * FROM reports"))[0]
    assert report["station_code"] == "GP-SP" and report["submitted_at"] is None
    sp = logged_in(degraded_app, "sp")
    assert sp.get(f"/police/reports/{report['id']}").status_code == 404
    assert reports.get_scoped(county, officers.get_by_username(county, "sp"), report["id"]) is None
    for text in ("昨天", "两个人", "跳过"):
        phone.send(text)
    assert sp.get(f"/police/reports/{report['id']}").status_code == 200


# --- 4. logout, password change, deactivation, lifetime ---------------------------------


def test_a_cookie_saved_before_logout_is_dead_after(degraded_app, county):
    client = logged_in(degraded_app, "sp")
    saved = client.get_cookie("session").value
    assert post_form(client, "/police/logout", {}).status_code == 302
    replay = degraded_app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/police/")
    assert response.status_code == 302 and "/police/login" in response.headers["Location"]
    assert replay.get("/police/api/reports").status_code == 401


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_password_change_and_deactivation_end_sessions(degraded_app, county, change):
    client = logged_in(degraded_app, "sp")
    assert client.get("/police/").status_code == 200
    if change == "password":
        officers.set_password(county, "sp", "a brand new passphrase")
    else:
        officers.deactivate(county, "sp")
    assert client.get("/police/").status_code == 302


def test_police_session_lasts_12_hours(degraded_app, county):
    assert degraded_app.config["PERMANENT_SESSION_LIFETIME"] == dt.timedelta(hours=12)
    client = degraded_app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/police/login", data={"username": "sp", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie


# --- 5. lost updates --------------------------------------------------------------------


def test_an_answer_does_not_undo_a_status_change_or_a_purge(degraded_app, county, monkeypatch):
    report = sms_report(
        degraded_app, county, "+8613812345678", "有人让扫二维码", "社坡镇大坡村", "昨天"
    )
    stale = reports.get(county, report["id"])  # what the answer's update read first
    reports.set_status(county, stale, "resolved")  # meanwhile an officer closes it ...
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=200)
    assert purge.purge_closed(county, days=180, at=later) == 1  # ... and it is purged
    monkeypatch.setattr(reports, "get", lambda _db, _id: dict(stale))
    reports.update(county, report["id"], occurred_text="前天")  # then the answer lands
    monkeypatch.undo()
    row = reports.get(county, report["id"])
    assert row["status"] == "resolved" and row["closed_at"] and row["purged_at"]
    assert row["contact_enc"] is None and row["summary"] is None
    assert row["occurred_text"] == "前天"


# --- 8. huge report ids -----------------------------------------------------------------


def test_huge_report_ids_are_404(degraded_app, county):
    sp = logged_in(degraded_app, "sp")
    token = csrf_token(sp, "/police/")
    for number in (BIGGEST, BIGGEST + 1, 10**30):
        assert sp.get(f"/police/reports/{number}").status_code == 404
        for action in ("reveal", "status", "assign", "note", "route"):
            response = sp.post(
                f"/police/reports/{number}/{action}",
                data={"csrf_token": token, "status": "triaged", "text": "x"},
            )
            assert response.status_code == 404, (number, action)


# --- 9. audit ---------------------------------------------------------------------------


def test_every_view_and_the_reroute_are_audited(degraded_app, county):
    report = sms_report(
        degraded_app, county, "+8613900004444", "举报", "不知道在哪", "跳过", "跳过", "跳过", "跳过"
    )
    sup = logged_in(degraded_app, "sup")
    county.execute("DELETE FROM audit_log")
    county.conn.commit()
    sup.get("/police/")
    sup.get("/police/stats")
    sup.get("/police/export.csv")
    rows = list(county.query("SELECT action, ip FROM audit_log ORDER BY id"))
    assert [r["action"] for r in rows] == ["queue", "stats", "export"]
    assert all(r["ip"] == "127.0.0.1" for r in rows)
    page = f"/police/reports/{report['id']}"
    assert post_form(sup, page + "/route", {"station_code": "GP-JT"}, page).status_code == 302
    route = list(county.query("SELECT detail, ip FROM audit_log WHERE action = 'route'"))
    assert route == [{"detail": "None → GP-JT", "ip": "127.0.0.1"}]


@pytest.mark.parametrize(
    "target, lands",
    [
        ("/police/reports/1", "/police/reports/1"),
        ("/police/?status=new", "/police/?status=new"),
        ("/outreach/", "/outreach/"),
        ("/police/../../x", "/police/"),
        ("/police/./x", "/police/"),
        ("/police//x", "/police/"),
        ("//evil.example/police", "/police/"),
        ("/\\evil.example", "/police/"),
        ("https://evil.example/police", "/police/"),
        ("/police/\x00", "/police/"),
    ],
)
def test_login_follows_only_plain_local_paths(degraded_app, county, target, lands):
    client = degraded_app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/police/login",
        query_string={"next": target},
        data={"username": "sp", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == lands
