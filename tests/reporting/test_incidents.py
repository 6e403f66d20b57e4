"""Linked reports become incidents: three or more reports in two or more villages
sharing a number, link, team, plate or township within 72 hours."""

from __future__ import annotations

import datetime as dt

import pytest

from reporting import incidents, jurisdiction, link_keys, reports
from tests.helpers.app import SmsPhone

T0 = dt.datetime(2025, 3, 4, 2, 0, tzinfo=dt.timezone.utc)  # 10:00 Beijing time
SUSPECT = "13977665544"
OTHER = "15066554433"


@pytest.fixture
def vault(degraded_app):
    return degraded_app.extensions["hotline_vault"]


_counter = iter(range(10**6))


def _meant(texts):
    """A report is made only when meant: the first message says so (bot/report_form.py)."""
    from bot.report_form import explicit_report

    first, *rest = texts
    return [first if explicit_report(first) else "我要举报：" + first, *rest]


def make_report(db, vault, village, summary, at, *, contact=None, qr_note=None, details=None):
    """A finished report: created, routed, dated ``at``, and submitted (which links it)."""
    contact = contact or f"+86138{next(_counter):08d}"
    report = reports.create(
        db, vault, channel="sms", contact=contact, intent="report_suspicious_visit", summary=summary
    )
    route = jurisdiction.route(db, village)
    assert route.status == "routed", village
    reports.apply_route(db, report["id"], route, village_text=village)
    reports.update(db, report["id"], created_at=at.isoformat(timespec="seconds"))
    if details:
        reports.update(db, report["id"], details=details)
    if qr_note:
        reports.add_message(db, report["id"], "qr", qr_note)
    return incidents.submit(db, vault, report["id"])


def all_incidents(db):
    return list(db.query("SELECT * FROM incidents ORDER BY id"))


def test_burst_from_three_villages_in_a_day_is_one_incident(county, vault):
    # Three townships: only the shared number links them.
    for hours, village in enumerate(["金田镇金田村", "社坡镇社坡社区", "紫荆镇紫荆村"]):
        make_report(
            county,
            vault,
            village,
            f"有人上门办医保码 电话{SUSPECT}",
            T0 + dt.timedelta(hours=hours),
        )
    found = all_incidents(county)
    assert len(found) == 1
    incident = found[0]
    assert (incident["status"], incident["reports"], incident["villages"]) == ("open", 3, 3)
    keys = incidents.shared_keys(county, incident)
    assert keys == [{"kind": "phone", "display": "139****5544", "reports": 3}]


def test_a_fourth_report_joins_the_same_incident(county, vault):
    for hours, village in enumerate(["金田村", "社坡社区", "紫荆村", "江口镇清水村"]):
        make_report(county, vault, village, f"电话{SUSPECT}", T0 + dt.timedelta(hours=hours))
    found = all_incidents(county)
    assert len(found) == 1
    assert (found[0]["reports"], found[0]["villages"]) == (4, 4)


def test_two_reports_or_one_village_make_no_incident(county, vault):
    make_report(county, vault, "金田村", f"电话{SUSPECT}", T0)
    make_report(county, vault, "社坡社区", f"电话{SUSPECT}", T0 + dt.timedelta(hours=2))
    assert all_incidents(county) == []
    # Three reports, but all from one village: a neighbourhood's worry, not a spread.
    for hours in range(3):
        make_report(county, vault, "木乐镇石桥村", f"电话{OTHER}", T0 + dt.timedelta(hours=hours))
    assert all_incidents(county) == []


def test_the_72_hour_window(county, vault):
    # 80 hours apart each: no two are linked.
    for step, village in enumerate(["金田村", "社坡社区", "紫荆村"]):
        make_report(county, vault, village, f"电话{SUSPECT}", T0 + dt.timedelta(hours=80 * step))
    assert all_incidents(county) == []
    # 60 hours apart each: a chain (first and last are 120 h apart, linked through the middle).
    later = T0 + dt.timedelta(days=30)
    for step, village in enumerate(["清水村", "木乐社区", "蒙圩社区"]):
        make_report(county, vault, village, f"电话{OTHER}", later + dt.timedelta(hours=60 * step))
    found = all_incidents(county)
    assert len(found) == 1 and found[0]["reports"] == 3


def test_a_report_bridging_two_incidents_merges_them(county, vault):
    for hours, village in enumerate(["金田村", "社坡社区", "紫荆村"]):
        make_report(county, vault, village, f"电话{SUSPECT}", T0 + dt.timedelta(hours=hours))
    for hours, village in enumerate(["清水村", "木乐社区", "蒙圩社区"]):
        make_report(county, vault, village, f"电话{OTHER}", T0 + dt.timedelta(hours=hours))
    first, second = all_incidents(county)
    make_report(
        county, vault, "麻垌社区", f"两个号码{SUSPECT}和{OTHER}", T0 + dt.timedelta(hours=5)
    )
    first, second = all_incidents(county)
    assert (first["status"], first["reports"], first["villages"]) == ("open", 7, 7)
    assert (second["status"], second["merged_into"], second["cluster_id"]) == (
        "closed",
        first["id"],
        None,
    )
    assert incidents.live(county, second["id"])["id"] == first["id"]
    assert len(incidents.report_ids(county, first)) == 7


def test_same_township_within_72_hours_links_without_any_shared_key(county, vault):
    for hours, village in enumerate(["金田镇金田村", "金田镇新圩村", "金田镇古程村"]):
        make_report(county, vault, village, "有人上门要验证码", T0 + dt.timedelta(hours=hours))
    (incident,) = all_incidents(county)
    assert incident["reports"] == 3
    assert incidents.shared_keys(county, incident) == [
        {"kind": "township", "display": "金田镇", "reports": 3}
    ]
    assert incidents.townships(county, incident) == [("桂平市", "金田镇")]


def test_links_from_qr_codes_teams_and_plates(county, vault):
    note = "[二维码检查 附件1] suspicious：http://www.yb-jihuo.cn/u/{n}（链接未打开）"
    make_report(county, vault, "金田村", "扫码送鸡蛋", T0, qr_note=note.format(n=1))
    make_report(county, vault, "社坡社区", "扫码", T0, qr_note=note.format(n=2))
    make_report(county, vault, "紫荆村", "扫码", T0, details="扫出来是 yb-jihuo.cn/u/3")
    make_report(county, vault, "清水村", "自称桂平惠民医保服务队的", T0)
    make_report(county, vault, "木乐社区", "开着桂R·12345的面包车，说是桂平惠民医保服务队", T0)
    make_report(county, vault, "蒙圩社区", "车牌桂R12345", T0)
    (qr, team) = all_incidents(county)
    assert incidents.shared_keys(county, qr) == [
        {"kind": "url", "display": "yb-jihuo.cn", "reports": 3}
    ]
    assert {(k["kind"], k["display"]) for k in incidents.shared_keys(county, team)} == {
        ("org", "桂平惠民医保服务队"),
        ("plate", "桂R·1***5"),
    }


def test_keys_are_stored_hashed_and_the_reporters_own_number_is_no_key(county, vault):
    reporter = "+8613612345678"
    make_report(
        county,
        vault,
        "金田村",
        f"我的号码13612345678被拿去注册 对方{SUSPECT}",
        T0,
        contact=reporter,
    )
    rows = list(county.query("SELECT kind, key, display FROM report_links"))
    assert {r["kind"] for r in rows} == {"phone", "township"}
    (phone,) = [r for r in rows if r["kind"] == "phone"]
    assert phone["display"] == "139****5544"
    assert SUSPECT not in phone["key"] and len(phone["key"]) == 64
    assert not [r for r in rows if "13612345678" in (r["key"] + r["display"])]


def test_relinking_is_idempotent_and_a_closed_incident_reopens(county, vault):
    for hours, village in enumerate(["金田村", "社坡社区", "紫荆村"]):
        make_report(county, vault, village, f"电话{SUSPECT}", T0 + dt.timedelta(hours=hours))
    (incident,) = all_incidents(county)
    incidents.relink_all(county, vault)
    assert [i["id"] for i in all_incidents(county)] == [incident["id"]]
    incidents.set_status(county, incident, "closed", "sup")
    incidents.relink_all(county, vault)
    assert all_incidents(county)[0]["status"] == "closed"  # nothing new: stays closed
    make_report(county, vault, "清水村", f"又来了 {SUSPECT}", T0 + dt.timedelta(hours=30))
    (again,) = all_incidents(county)
    assert (again["id"], again["status"], again["reports"]) == (incident["id"], "open", 4)


def test_withdrawn_and_unlinked_reports_never_count(county, vault):
    report = reports.create(
        county, vault, channel="sms", contact="+8613800009999", intent="x", summary=SUSPECT
    )
    reports.withdraw(county, report["id"])
    assert incidents.link_report(county, vault, report["id"]) is None
    assert link_keys.neighbours(county, report["id"]) == set()


def answer_form(app, number: str, *texts: str) -> list[str]:
    phone = SmsPhone(app.test_client(), number)
    replies = []
    for text in _meant(texts):
        replies += phone.send(text)
    return replies


def test_end_to_end_three_villagers_by_sms(degraded_app, county):
    for n, village in enumerate(["金田镇金田村", "社坡镇社坡社区", "紫荆镇紫荆村"]):
        replies = answer_form(
            degraded_app,
            f"+861380000{n:04d}",
            f"有人上门说帮办医保码 留了电话{SUSPECT}",
            village,
            "今天上午",
            "两个男的",
            "跳过",
        )
        assert "编号" in replies[-1] or "R" in replies[-1]
    (incident,) = all_incidents(county)
    assert (incident["reports"], incident["villages"]) == (3, 3)


def test_cli_relink_forms_incidents_from_reports_linked_before(
    degraded_app, county, vault, monkeypatch
):
    from click.testing import CliRunner

    from bot.cli import cli

    for hours, village in enumerate(["金田镇金田村", "社坡镇社坡社区", "紫荆镇紫荆村"]):
        make_report(county, vault, village, f"电话{SUSPECT}", T0 + dt.timedelta(hours=hours))
    with county.atomic():  # as if the reports came in before linking existed
        for table in ("incidents", "report_clusters", "report_links"):
            county.execute(f"DELETE FROM {table}")  # noqa: S608
    monkeypatch.setenv("HOTLINE_VAR", str(degraded_app.config["HOTLINE_VAR"]))
    monkeypatch.setenv("HOTLINE_DB", str(degraded_app.config["HOTLINE_DB"]))
    for _ in range(2):  # and again: nothing doubles
        result = CliRunner().invoke(cli, ["reports", "relink"])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "linked 3 reports; 1 incidents"
    assert len(all_incidents(county)) == 1
