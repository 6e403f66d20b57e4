"""Incidents in the police pages: station isolation, the timeline, closing, and the urgent
alert sent from an incident through the outreach confirmation step, all audited."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from outreach import groups
from reporting import incidents, jurisdiction, reports
from tests.helpers.police import logged_in, post_form

T0 = dt.datetime(2025, 3, 4, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 Beijing time
SUSPECT = "13977665544"
# 金田村 (金田镇, station GP-JT), 紫荆村 (紫荆镇, GP-ZJ), 清水村 (江口镇, GP-JK).
VILLAGES = ["金田镇金田村", "紫荆镇紫荆村", "江口镇清水村"]
JINTIAN = "桂平市/金田镇"


@pytest.fixture
def vault(degraded_app):
    return degraded_app.extensions["hotline_vault"]


@pytest.fixture
def incident(county, vault):
    """One incident of three reports (three townships, three stations)."""
    refs = []
    for n, village in enumerate(VILLAGES):
        report = reports.create(
            county,
            vault,
            channel="sms",
            contact=f"+86136000000{n:02d}",
            intent="report_qr_code",
            summary=f"让扫码送鸡蛋 号码{SUSPECT} 举报人私话{n}",
        )
        reports.apply_route(county, report["id"], jurisdiction.route(county, village), village)
        created = (T0 + dt.timedelta(hours=n)).isoformat(timespec="seconds")
        reports.update(county, report["id"], created_at=created)
        refs.append(incidents.submit(county, vault, report["id"])["ref"])
    (row,) = county.query("SELECT * FROM incidents")
    return {**row, "refs": refs}


@pytest.fixture
def villagers(county, vault):
    """Enrolled villagers: two in 金田村, one in 古程村 (a neighbour in 金田镇, no
    report from it), one in 紫荆村. 江口镇 has none."""
    people = {
        ("金田镇", "金田村"): ["13800000001", "13800000002"],
        ("金田镇", "古程村"): ["13800000003"],
        ("紫荆镇", "紫荆村"): ["13800000004"],
    }
    for (township, village), phones in people.items():
        group_id = groups.ensure_group(county, "桂平市", township, village)
        for phone in phones:
            assert groups.enroll(county, vault, phone, group_id, by="张主任", channel="csv")
    return people


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def test_station_isolation(degraded_app, county, incident):
    path = f"/police/incidents/{incident['id']}"
    jt = logged_in(degraded_app, "jt")
    assert f"事件{incident['id']}" in page(jt, "/police/incidents")
    assert f"事件{incident['id']}" in page(jt, "/police/")  # the banner on the queue
    detail = page(jt, path)
    # Their own report opens; the other stations' show where and when only.
    assert incident["refs"][0] in detail
    assert incident["refs"][1] not in detail and incident["refs"][2] not in detail
    assert detail.count("其他辖区") == 2
    assert "举报人私话" not in detail and "13600000000" not in detail

    sp = logged_in(degraded_app, "sp")  # 社坡: none of the reports is theirs
    assert f"事件{incident['id']}" not in page(sp, "/police/incidents")
    assert "incident-banner" not in page(sp, "/police/")
    assert sp.get(path).status_code == 404
    assert sp.get("/police/incidents/99999999999999999999").status_code == 404

    sup = logged_in(degraded_app, "sup")
    everything = page(sup, path)
    assert all(ref in everything for ref in incident["refs"])


def test_timeline_and_shared_keys(degraded_app, county, incident):
    detail = page(logged_in(degraded_app, "sup"), f"/police/incidents/{incident['id']}")
    timeline = detail.split('id="timeline"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>", timeline)
    assert [(when, " ".join(place.split()), what) for when, place, what in rows] == [
        ("2025-03-04 10:00", "金田镇 金田村", "扫码领礼品"),
        ("2025-03-04 11:00", "紫荆镇 紫荆村", "扫码领礼品"),
        ("2025-03-04 12:00", "江口镇 清水村", "扫码领礼品"),
    ]
    assert "139****5544" in detail and SUSPECT not in detail


def test_views_and_closing_are_audited(degraded_app, county, incident):
    jt = logged_in(degraded_app, "jt")
    path = f"/police/incidents/{incident['id']}"
    page(jt, path)
    assert post_form(jt, f"{path}/status", {"status": "closed"}, page=path).status_code == 302
    (row,) = county.query("SELECT status, closed_by FROM incidents")
    assert row == {"status": "closed", "closed_by": "jt"}
    assert post_form(jt, f"{path}/status", {"status": "bogus"}, page=path).status_code == 400
    audit = [
        (r["action"], r["detail"])
        for r in county.query("SELECT action, detail FROM audit_log WHERE username = 'jt'")
    ]
    assert ("incident_view", f"incident {incident['id']}") in audit
    assert ("incident_status", f"incident {incident['id']} → closed") in audit


def alert_page(incident_id: int) -> str:
    return f"/police/outreach/alerts/from-incident/{incident_id}"


def test_officer_alerts_their_townships_after_confirmation(
    degraded_app, county, incident, villagers
):
    jt = logged_in(degraded_app, "jt")
    base = alert_page(incident["id"])
    form = page(jt, base)
    others = re.search(r"不在您辖区的乡镇：([^，]+)，", form).group(1)
    assert "金田镇" in form and sorted(others.split("、")) == sorted(["紫荆镇", "江口镇"])
    text = re.search(r'<textarea name="text"[^>]*>([^<]+)</textarea>', form).group(1)
    assert "金田镇" in text and "扫码" in text

    preview = post_form(jt, f"{base}/preview", {"text": text}, page=base)
    shown = preview.get_data(as_text=True)
    assert preview.status_code == 200
    code = re.search(r'name="code" value="([0-9A-F]{6})"', shown).group(1)
    # 金田镇: 金田村 and its neighbour 古程村, three villagers.
    assert re.search(r"<td>金田镇</td><td>2</td><td>3</td>", shown)

    wrong = post_form(jt, f"{base}/send", {"text": text, "code": "000000"}, page=base)
    assert wrong.status_code == 302
    assert county.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0

    for _ in range(2):  # a double click sends once
        sent = post_form(jt, f"{base}/send", {"text": text, "code": code}, page=base)
        assert sent.status_code == 302
    (alert,) = county.query("SELECT * FROM alerts")
    assert (alert["scope_value"], alert["recipients"], alert["sent_by"]) == (
        "桂平市/金田镇",
        3,
        "jt",
    )
    assert alert["urgent"] == 1
    assert county.execute("SELECT count(*) FROM outbox").fetchone()[0] == 3
    (recorded,) = county.query("SELECT * FROM incident_alerts")
    assert (recorded["incident_id"], recorded["alert_id"]) == (incident["id"], alert["id"])
    (row,) = county.query("SELECT alerted_at FROM incidents")
    assert row["alerted_at"]
    audit = [
        r["detail"]
        for r in county.query("SELECT detail FROM audit_log WHERE action = ?", ["incident_alert"])
    ]
    assert audit == [
        f"incident {incident['id']}: alert {alert['id']} to 桂平市/金田镇, 3 recipients"
    ]
    assert "jt 发给 金田镇（3 人" in page(jt, f"/police/incidents/{incident['id']}")


def test_supervisor_alerts_every_township_of_the_incident(
    degraded_app, county, incident, villagers
):
    sup = logged_in(degraded_app, "sup")
    base = alert_page(incident["id"])
    text = (
        "金田镇、紫荆镇、江口镇有人冒充医保局上门让扫码，都是骗子，别扫码别给验证码，可疑就打110。"
    )
    shown = post_form(sup, f"{base}/preview", {"text": text}, page=base).get_data(as_text=True)
    assert "还没有登记村民的乡镇（不会发送）：江口镇" in shown
    code = re.search(r'name="code" value="([0-9A-F]{6})"', shown).group(1)
    post_form(sup, f"{base}/send", {"text": text, "code": code}, page=base)
    scopes = [r["scope_value"] for r in county.query("SELECT scope_value FROM alerts ORDER BY id")]
    assert sorted(scopes) == sorted(["桂平市/金田镇", "桂平市/紫荆镇"])
    assert county.execute("SELECT count(*) FROM outbox").fetchone()[0] == 4


def test_alert_refuses_links_and_outsiders(degraded_app, county, incident, villagers):
    base = alert_page(incident["id"])
    jt = logged_in(degraded_app, "jt")
    bad = post_form(jt, f"{base}/preview", {"text": "点 http://x.cn 看"}, page=base)
    assert bad.status_code == 400 and "不能发送" in bad.get_data(as_text=True)
    sp = logged_in(degraded_app, "sp")
    assert sp.get(base).status_code == 404
    assert post_form(sp, f"{base}/send", {"text": "x", "code": "x"}).status_code == 404
    assert county.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
