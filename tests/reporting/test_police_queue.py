"""The police queue: login and lockout, CSRF, station isolation, audit, literal text,
status changes that reach the reporter, CSV export, stats, purge."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest

from accounts import audit, officers
from messaging.providers import base as senders
from messaging.providers.console import ConsoleSender
from reporting import purge, reports
from tests.helpers.app import SmsPhone
from tests.helpers.police import PASSWORD, csrf_token, drain_outbox, logged_in, login, post_form


@pytest.fixture
def console(monkeypatch) -> ConsoleSender:
    """Every SMS the hotline starts goes to this console sender, for the test to read."""
    sender = ConsoleSender(out=io.StringIO())
    monkeypatch.setitem(senders.CHANNEL_SENDERS, "sms", lambda _config: sender)
    return sender


def _meant(texts):
    """A report is made only when meant: the first message says so (bot/report_form.py)."""
    from bot.report_form import explicit_report

    first, *rest = texts
    return [first if explicit_report(first) else "我要举报：" + first, *rest]


def report_by_sms(app, number: str, *answers: str) -> dict:
    phone = SmsPhone(app.test_client(), number)
    for text in _meant(answers):
        phone.send(text)
    from storage.db import connect

    db = connect(app.config["HOTLINE_DB"])
    row = list(db.query("SELECT * FROM reports ORDER BY id DESC LIMIT 1"))[0]
    db.conn.close()
    return row


@pytest.fixture
def sp_report(degraded_app, county):
    """A finished SMS report routed to the 社坡 station."""
    return report_by_sms(
        degraded_app, "+8613812345678", "有人让扫二维码", "社坡镇大坡村", "昨天", "两个人", "跳过"
    )


def test_login_required(degraded_app, county):
    client = degraded_app.test_client()
    assert client.get("/police/").status_code == 302
    assert client.get("/police/api/reports").status_code == 401


def test_login_logout(degraded_app, county):
    client = logged_in(degraded_app, "sp")
    assert "待处理" in client.get("/police/").get_data(as_text=True)
    assert post_form(client, "/police/logout", {}).status_code == 302
    assert client.get("/police/").status_code == 302
    actions = [r["action"] for r in county.query("SELECT action FROM audit_log")]
    assert actions == ["login", "queue", "queue", "logout"]  # the queue page, and post_form


def test_wrong_password_and_lockout(degraded_app, county):
    client = degraded_app.test_client()
    assert login(client, "sp", "wrong password").status_code == 401
    assert login(client, "nobody", "wrong password").status_code == 401
    for _ in range(officers.MAX_FAILURES - 1):
        login(client, "sp", "wrong password")
    # Locked now: even the right password is refused until the lockout ends.
    response = login(client, "sp", PASSWORD)
    assert response.status_code == 401 and "锁定" in response.get_data(as_text=True)
    later = dt.datetime.now(dt.timezone.utc) + officers.LOCKOUT + dt.timedelta(seconds=1)
    assert officers.authenticate(county, "sp", PASSWORD, at=later)[1] == "ok"
    actions = [r["action"] for r in county.query("SELECT action FROM audit_log")]
    assert actions.count("login_invalid") == 5 and "login_locked" in actions


def test_passwords_are_hashed(county):
    stored = county.execute("SELECT password_hash FROM officers").fetchall()
    assert all(
        PASSWORD not in row[0] and row[0].startswith(("scrypt:", "pbkdf2:")) for row in stored
    )


def test_csrf_refused(degraded_app, county, sp_report):
    client = degraded_app.test_client()
    response = client.post("/police/login", data={"username": "sp", "password": PASSWORD})
    assert response.status_code == 400
    client = logged_in(degraded_app, "sp")
    path = f"/police/reports/{sp_report['id']}/status"
    assert client.post(path, data={"status": "resolved"}).status_code == 400
    bad = client.post(path, data={"status": "resolved", "csrf_token": "forged"})
    assert bad.status_code == 400
    assert reports.get(county, sp_report["id"])["status"] == "new"


def test_provider_webhooks_are_not_csrf_protected(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613900003333")
    assert phone.send("你好")  # signed webhook, no CSRF token: still answered
    response = degraded_app.test_client().post("/api/chat", json={"sender": "s1", "text": "你好"})
    assert response.status_code == 200


def test_station_isolation(degraded_app, county, sp_report):
    path = f"/police/reports/{sp_report['id']}"
    jt = logged_in(degraded_app, "jt")
    assert jt.get(path).status_code == 404
    assert jt.get("/police/api/reports").get_json()["reports"] == []
    assert sp_report["ref"] not in jt.get("/police/?status=all").get_data(as_text=True)
    token = csrf_token(jt, "/police/")
    assert (
        jt.post(path + "/status", data={"status": "resolved", "csrf_token": token}).status_code
        == 404
    )
    assert jt.post(path + "/reveal", data={"csrf_token": token}).status_code == 404
    assert jt.get("/police/reports/999999").status_code == 404
    sp = logged_in(degraded_app, "sp")
    assert sp.get(path).status_code == 200
    assert [r["ref"] for r in sp.get("/police/api/reports").get_json()["reports"]] == [
        sp_report["ref"]
    ]
    sup = logged_in(degraded_app, "sup")  # county supervisor
    assert sup.get(path).status_code == 200


def test_unrouted_report_goes_to_county_queue(degraded_app, county):
    # An unknown village is asked once more (village_again) before the county queue.
    report = report_by_sms(
        degraded_app, "+8613900004444", "举报", "不知道在哪", "跳过", "跳过", "跳过", "跳过"
    )
    assert (
        report["submitted_at"]
        and report["routing"] == "unrouted"
        and report["station_code"] is None
    )
    sup = logged_in(degraded_app, "sup")
    listed = sup.get("/police/api/reports").get_json()["reports"]
    assert [r["ref"] for r in listed] == [report["ref"]] and listed[0]["routing"] == "unrouted"
    assert logged_in(degraded_app, "jt").get("/police/api/reports").get_json()["reports"] == []
    # The supervisor sends it on to a station.
    assert (
        post_form(
            sup,
            f"/police/reports/{report['id']}/route",
            {"station_code": "GP-JT"},
            f"/police/reports/{report['id']}",
        ).status_code
        == 302
    )
    jt_list = logged_in(degraded_app, "jt").get("/police/api/reports").get_json()["reports"]
    assert [r["ref"] for r in jt_list] == [report["ref"]]


def test_queue_order_priority_then_waiting(degraded_app, county):
    report_by_sms(degraded_app, "+8613900000001", "有人上门", "金田村", "跳过", "跳过", "跳过")
    report_by_sms(
        degraded_app, "+8613900000002", "我被骗了，转账了2000", "金田村", "跳过", "跳过", "跳过"
    )
    report_by_sms(degraded_app, "+8613900000003", "有人借手机", "新圩村", "跳过", "跳过", "跳过")
    listed = logged_in(degraded_app, "jt").get("/police/api/reports").get_json()["reports"]
    assert [r["priority"] for r in listed] == ["urgent", "high", "normal"]
    assert all(r["waited_minutes"] >= 0 for r in listed)
    page = logged_in(degraded_app, "jt").get("/police/?category=phone_borrowing")
    text = page.get_data(as_text=True)
    assert listed[1]["ref"] in text and listed[0]["ref"] not in text


def test_status_change_notifies_reporter_and_is_audited(degraded_app, county, sp_report, console):
    sp = logged_in(degraded_app, "sp")
    page = f"/police/reports/{sp_report['id']}"
    assert sp.get(page).status_code == 200
    assert post_form(sp, page + "/status", {"status": "triaged"}, page).status_code == 302
    assert console.sent == []
    assert post_form(sp, page + "/status", {"status": "resolved"}, page).status_code == 302
    # The officer's request only queues the notice: the outbox drain sends it.
    assert console.sent == []
    assert reports.get(county, sp_report["id"])["notify_status"] == "queued"
    assert "排队发送中" in sp.get(page).get_data(as_text=True)
    assert drain_outbox(degraded_app).sent == 1
    assert drain_outbox(degraded_app).sent == 0  # once
    assert console.sent == [
        (
            "13812345678",
            f"您的举报{sp_report['ref']}已由民警处理完毕，谢谢您！验证码不给人，手机不借人。",
        )
    ]
    report = reports.get(county, sp_report["id"])
    assert report["status"] == "resolved" and report["notify_status"] == "sent"
    assert report["closed_at"]
    actions = [
        (e["username"], e["action"], e["detail"]) for e in audit.for_report(county, report["id"])
    ]
    assert ("sp", "status", "→ resolved") in actions and ("sp", "notify", "queued") in actions
    assert ("sp", "view", "") in actions
    # A closed report does not jump straight to another closed state.
    bad = post_form(sp, page + "/status", {"status": "false_alarm"}, page)
    assert bad.status_code == 400


def test_web_chat_reporter_cannot_be_pushed(degraded_app, county, console):
    client = degraded_app.test_client()
    for text in ("举报", "金田村", "跳过", "跳过", "跳过"):
        client.post("/api/chat", json={"sender": "browser-1", "text": text})
    report = list(county.query("SELECT * FROM reports"))[0]
    assert report["channel"] == "web" and report["station_code"] == "GP-JT"
    jt = logged_in(degraded_app, "jt")
    page = f"/police/reports/{report['id']}"
    assert post_form(jt, page + "/status", {"status": "false_alarm"}, page).status_code == 302
    assert reports.get(county, report["id"])["notify_status"] == "undeliverable"
    assert "无法推送" in jt.get(page).get_data(as_text=True)
    # Recorded in the outbox as undeliverable, its address not kept; nothing to drain.
    (row,) = county.query("SELECT * FROM outbox WHERE kind = 'report_update'")
    assert row["status"] == "undeliverable" and row["contact_enc"] is None
    assert drain_outbox(degraded_app).handled == 0
    assert console.sent == []


def test_duplicate_assign_note(degraded_app, county, sp_report):
    other = report_by_sms(
        degraded_app, "+8613900005555", "有人让扫码", "社坡镇大坡村", "跳过", "跳过", "跳过"
    )
    sp = logged_in(degraded_app, "sp")
    page = f"/police/reports/{other['id']}"
    # Same village, same day: shown as similar.
    assert sp_report["ref"] in sp.get(page).get_data(as_text=True)
    assert (
        post_form(
            sp, page + "/status", {"status": "duplicate", "merged_into": "RXXXX"}, page
        ).status_code
        == 400
    )
    assert (
        post_form(
            sp, page + "/status", {"status": "duplicate", "merged_into": sp_report["ref"]}, page
        ).status_code
        == 302
    )
    assert reports.get(county, other["id"])["merged_into"] == sp_report["id"]
    jt_id = officers.get_by_username(county, "jt")["id"]
    sp_id = officers.get_by_username(county, "sp")["id"]
    first = f"/police/reports/{sp_report['id']}"
    assert post_form(sp, first + "/assign", {"officer_id": jt_id}, first).status_code == 400
    assert post_form(sp, first + "/assign", {"officer_id": sp_id}, first).status_code == 302
    assert reports.get(county, sp_report["id"])["status"] == "assigned"
    assert post_form(sp, first + "/note", {"text": "已电话联系村委"}, first).status_code == 302
    assert "已电话联系村委" in sp.get(first).get_data(as_text=True)


def test_show_number_is_audited(degraded_app, county, sp_report):
    sp = logged_in(degraded_app, "sp")
    page = f"/police/reports/{sp_report['id']}"
    html = sp.get(page).get_data(as_text=True)
    assert "138****5678" in html and "13812345678" not in html
    shown = post_form(sp, page + "/reveal", {}, page).get_data(as_text=True)
    assert "13812345678" in shown
    assert "reveal_contact" in [e["action"] for e in audit.for_report(county, sp_report["id"])]


def test_sql_and_html_are_stored_and_shown_literally(degraded_app, county):
    nasty = "<script>alert(1)</script>'); DROP TABLE reports;--"
    report = report_by_sms(degraded_app, "+8613900006666", "举报", "金田村", "跳过", nasty, "跳过")
    assert report["details"] == nasty
    assert county["reports"].count == 1
    html = (
        logged_in(degraded_app, "jt").get(f"/police/reports/{report['id']}").get_data(as_text=True)
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#39;); DROP TABLE reports;--" in html
    assert "<script>alert(1)" not in html


def test_csv_export(degraded_app, county):
    report = report_by_sms(
        degraded_app, "+8613900007777", "举报", "金田村", "跳过", '=HYPERLINK("http://x")', "跳过"
    )
    jt = logged_in(degraded_app, "jt")
    response = jt.get("/police/export.csv")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [r["ref"] for r in rows] == [report["ref"]]
    assert rows[0]["details"].startswith("'=HYPERLINK")  # not a live formula in Excel
    assert rows[0]["contact_masked"] == "139****7777"
    assert "export" in [r["action"] for r in county.query("SELECT action FROM audit_log")]


def test_stats_chart_is_inline_svg(degraded_app, county, sp_report):
    html = logged_in(degraded_app, "sp").get("/police/stats").get_data(as_text=True)
    assert '<svg id="chart-day"' in html and '<svg id="chart-village"' in html
    assert "大坡村" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN


def test_purge_keeps_statistics(degraded_app, county, sp_report):
    report = reports.set_status(county, reports.get(county, sp_report["id"]), "resolved")
    assert purge.purge_closed(county, days=30) == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert purge.purge_closed(county, days=30, at=later) == 1
    report = reports.get(county, sp_report["id"])
    assert report["contact_enc"] is None and report["details"] is None
    assert report["summary"] is None and report["purged_at"]
    assert reports.messages(county, report["id"]) == []
    assert report["village"] == "大坡村" and report["category"] == "qr_code"
    sp = officers.get_by_username(county, "sp")
    assert reports.stats(county, sp)["per_village"] == [("大坡村", 1)]


def test_purge_takes_the_conversation_and_photo_files(degraded_app, county, sp_report, phone_for):
    vault = degraded_app.extensions["hotline_vault"]
    reporter = vault.hash("+8613812345678")
    assert sp_report["contact_hash"] == reporter  # messages and reports: the same hash
    phone_for(degraded_app.test_client(), "+8613900005555").send("你好")  # someone else
    uploads = Path(degraded_app.config["HOTLINE_VAR"]) / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    photo = uploads / ("ab" * 16 + ".png")
    photo.write_bytes(b"\x89PNG")
    reports.add_attachment(county, sp_report["id"], "upload:" + photo.name, "image/png")
    reports.set_status(county, reports.get(county, sp_report["id"]), "resolved")
    count = lambda h: county.execute(  # noqa: E731
        "SELECT count(*) FROM messages WHERE sender_hash = ?", [h]
    ).fetchone()[0]
    assert count(reporter) > 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=181)
    assert purge.purge_closed(county, days=180, at=later, uploads=uploads) == 1
    assert count(reporter) == 0 and count(vault.hash("+8613900005555")) > 0
    assert not photo.exists() and reports.attachments(county, sp_report["id"]) == []
    sp = officers.get_by_username(county, "sp")
    assert reports.stats(county, sp, days=5)["per_village"] == [("大坡村", 1)]


def test_purge_is_scheduled_daily_at_3_beijing_time(degraded_app, county):
    from bot import periodic
    from jobs import runner
    from outreach import schedules

    db_path = degraded_app.config["HOTLINE_DB"]
    app_jobs = periodic.periodic_jobs(degraded_app.config, degraded_app.extensions["hotline_vault"])
    running = runner.start(db_path, app_jobs)
    try:
        job = running.get_job("reports-purge")
        assert job.func_ref == "reporting.purge:purge_job"
        uploads = str(Path(degraded_app.config["HOTLINE_VAR"]) / "uploads")
        assert job.args == (degraded_app.config["HOTLINE_DB"], 180, uploads)
        next_run = job.next_run_time
        assert str(next_run.tzinfo) == "Asia/Shanghai"
        assert (next_run.hour, next_run.minute) == (3, 0)
    finally:
        running.shutdown(wait=False)
        schedules.set_runtime(None)
    assert purge.purge_job(*job.args) == 0  # the job itself runs


def test_purge_missed_while_down_runs_at_next_start(degraded_app, county, sp_report):
    """A server down across 03:00 purges when it comes back, and keeps one job."""
    import time

    from bot import periodic
    from jobs import runner
    from outreach import schedules
    from reporting import periodic as reporting_periodic

    reports.set_status(county, reports.get(county, sp_report["id"]), "resolved")
    long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)).isoformat()
    with county.atomic():
        county["reports"].update(sp_report["id"], {"closed_at": long_ago})
    db_path = degraded_app.config["HOTLINE_DB"]
    app_jobs = periodic.periodic_jobs(degraded_app.config, degraded_app.extensions["hotline_vault"])
    runner.start(db_path, app_jobs).shutdown(wait=False)
    schedules.set_runtime(None)
    # While the server is down, "last night's" 03:00 passes: the stored job is due.
    missed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=20)
    with runner.open_store(db_path) as store:
        store.modify_job(reporting_periodic.PURGE_JOB_ID, next_run_time=missed)

    running = runner.start(db_path, app_jobs)
    try:
        deadline = time.monotonic() + 10
        while reports.get(county, sp_report["id"])["purged_at"] is None:
            assert time.monotonic() < deadline, "the missed purge did not run at start"
            time.sleep(0.1)
        jobs = [j for j in running.get_jobs() if j.id == reporting_periodic.PURGE_JOB_ID]
        assert len(jobs) == 1 and jobs[0].next_run_time > dt.datetime.now(dt.timezone.utc)
    finally:
        running.shutdown(wait=False)
        schedules.set_runtime(None)


def test_purge_drops_the_keys_taken_from_what_the_reporter_wrote(degraded_app, county, sp_report):
    reports.set_status(county, reports.get(county, sp_report["id"]), "resolved")
    with county.atomic():
        for kind in ("phone", "url", "plate", "township", "org"):
            county["report_links"].insert(
                {"report_id": sp_report["id"], "kind": kind, "key": f"k-{kind}", "at": 0}
            )
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=400)
    assert purge.purge_closed(county, days=180, at=later) == 1
    kinds = {r[0] for r in county.execute("SELECT kind FROM report_links")}
    assert kinds == {"township", "org"}
