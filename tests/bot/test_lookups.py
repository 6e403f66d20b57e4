"""Known-bad lookups: "这个号码是不是骗子", a bare number or link. Counts only: how many
reports and villages, never who reported, their contact, their reference or their words."""

from __future__ import annotations

import datetime as dt

import pytest

import responses
from reporting import incidents, jurisdiction, link_keys, reports

SUSPECT = "13977665544"
NOW = dt.datetime.now(dt.timezone.utc)


@pytest.fixture
def vault(degraded_app):
    return degraded_app.extensions["hotline_vault"]


@pytest.fixture
def villager(degraded_app, phone_for):
    return phone_for(degraded_app.test_client(), "+8615000000001")


def make_report(db, vault, village, summary, contact, qr_note=None):
    report = reports.create(
        db, vault, channel="sms", contact=contact, intent="report_qr_code", summary=summary
    )
    reports.apply_route(db, report["id"], jurisdiction.route(db, village), village)
    if qr_note:
        reports.add_message(db, report["id"], "qr", qr_note)
    return incidents.submit(db, vault, report["id"])


@pytest.fixture
def reported(county, vault):
    """Three reports naming SUSPECT from two villages, plus one the police found to be a
    false alarm and one with a scam link decoded from its QR photo."""
    made = [
        make_report(
            county, vault, "金田村", f"张三家来人 电话{SUSPECT} 我是李四", "+8613600000001"
        ),
        make_report(county, vault, "金田村", f"又是{SUSPECT}打来的", "+8613600000002"),
        make_report(county, vault, "紫荆村", f"号码{SUSPECT}让扫码", "+8613600000003"),
    ]
    false_alarm = make_report(county, vault, "清水村", f"{SUSPECT}?", "+8613600000004")
    reports.set_status(county, false_alarm, "false_alarm")
    note = "[二维码检查 附件1] suspicious：http://www.yb-jihuo.cn/u/1（链接未打开）"
    made.append(make_report(county, vault, "江口社区", "扫码送油", "+8613600000005", note))
    return made


def secrets_of(db, made) -> list[str]:
    """Everything about the reporters a lookup must never show."""
    out = []
    for report in made:
        row = reports.get(db, report["id"])
        out += [row["ref"], row["contact_masked"], row["summary"], row["village"]]
        out += [row["contact_masked"][-4:]]
    return [s for s in out if s]


def assert_private(replies, county, made):
    text = "\n".join(replies)
    leaked = [s for s in secrets_of(county, made) if s in text]
    assert not leaked, leaked
    assert "李四" not in text and "张三" not in text
    assert all(responses.fits_sms(r) for r in replies)


def test_counts_for_a_number_and_never_the_reporter(villager, county, reported):
    replies = villager.send(f"这个号码是不是骗子 {SUSPECT}")
    assert len(replies) == 1
    month = f"{NOW.astimezone(dt.timezone(dt.timedelta(hours=8))).month}月"
    # The false alarm does not count; two villages.
    assert "号码139****5544已被举报3次（2个村" in replies[0] and month in replies[0]
    assert "别接听" in replies[0] and "回3举报" in replies[0]
    assert SUSPECT not in replies[0]
    assert_private(replies, county, reported)


def test_bare_number_and_bare_link(villager, county, reported):
    assert "已被举报3次" in villager.send(SUSPECT)[0]
    assert "已被举报3次" in villager.send(f"+86 {SUSPECT[:3]} {SUSPECT[3:7]} {SUSPECT[7:]}")[0]
    # Another path on the same scam site counts as the same site.
    (reply,) = villager.send("http://yb-jihuo.cn/u/77")
    assert "链接yb-jihuo.cn已被举报1次" in reply
    assert_private([reply], county, reported)


def test_unknown_number_is_not_called_safe(villager, county, reported):
    (reply,) = villager.send("13111112222")
    assert "暂无举报，但不代表安全" in reply and "96110" in reply


def test_official_numbers_from_facts(villager, county):
    (reply,) = villager.send("96110")
    assert reply.startswith("96110是全国反诈预警劝阻专线")
    (reply,) = villager.send("12393这个号码打来说我医保卡要冻结 是不是骗子")
    assert reply.startswith("12393是医保服务热线") and "县医保局" in reply
    (reply,) = villager.send("0775-96110")
    assert reply.startswith("96110是全国反诈预警劝阻专线")
    # A bare "110" is not a lookup (too short to be anything but the police's number).
    assert not link_keys.is_lookup_only("110")


def test_asking_without_a_number(villager, county):
    (reply,) = villager.send("帮我查号码")
    assert reply == responses.catalogue("lookups")["ask"].strip()


def test_a_number_inside_the_report_form_is_an_answer(villager, county):
    villager.send("我要举报 有人让扫二维码")
    villager.send("金田镇金田村")
    villager.send("昨天")
    replies = villager.send(SUSPECT)  # the details question: the visitors' number
    assert not [r for r in replies if "举报" in r and "次" in r]
    (row,) = county.query("SELECT suspect_phones FROM reports")
    assert row["suspect_phones"] == SUSPECT


def test_end_to_end_a_report_by_sms_then_a_lookup(degraded_app, county, phone_for):
    reporter = phone_for(degraded_app.test_client(), "+8613800000042")
    for text in (
        f"举报：有人上门办医保码 留了电话{SUSPECT}",
        "社坡镇社坡社区",
        "今天",
        "两个人",
        "跳过",
    ):
        reporter.send(text)
    asker = phone_for(degraded_app.test_client(), "+8613800000043")
    (reply,) = asker.send(f"查一下{SUSPECT}")
    assert "已被举报1次（1个村" in reply
    assert "138****0042" not in reply and "0042" not in reply
