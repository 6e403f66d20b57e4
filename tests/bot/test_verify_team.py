"""The verify_team check through the SMS dialogue (keyword parser): the four answers,
a cadre's check, a revoked activity, and "回1" starting a report pre-filled."""

from __future__ import annotations

import datetime as dt

import pytest

import responses
from bot import verify_team
from registry import activities
from reporting import cadres
from tests.helpers.police import load_county

CODE = "YB-450881-2025-0001"
WARNING = "手机和验证码谁要都别给。"


def _day(offset: int) -> str:
    return (activities.today() + dt.timedelta(days=offset)).isoformat()


def _register(db, vault, code, villages="金田村 新圩村", start=-1, end=2, **extra):
    values = {
        "code": code,
        "organisation": "中国银行桂平支行",
        "leader": "李晓梅",
        "work_ids": "ZH2025031 ZH2025032",
        "villages": villages,
        "start": _day(start),
        "end": _day(end),
        "authorised_by": "桂平市医疗保障局",
        **extra,
    }
    return activities.save(db, vault, "桂平市", values, activities.Actor(name="test"))


@pytest.fixture
def county(degraded_app):
    db = load_county(degraded_app)
    vault = degraded_app.extensions["hotline_vault"]
    _register(db, vault, CODE)
    yield db
    db.conn.close()


@pytest.fixture
def vault(degraded_app):
    return degraded_app.extensions["hotline_vault"]


@pytest.fixture
def sms(degraded_app, phone_for):
    return phone_for(degraded_app.test_client(), "+8613600001234")


def _only(replies: list[str]) -> str:
    assert len(replies) == 1, replies
    return replies[0]


def test_authorised_here_today_from_a_loosely_written_code(sms, county):
    reply = _only(sms.send("ｙｂ 450881 2025 0001 金田村"))
    assert reply.startswith("查到了")
    assert "中国银行桂平支行" in reply and "桂平市医疗保障局" in reply
    start, end = activities.today() + dt.timedelta(days=-1), activities.today() + dt.timedelta(2)
    assert f"{start.month}月{start.day}日至{end.month}月{end.day}日" in reply
    assert "验证码" in reply and "别给" in reply
    # Nothing about the members beyond what the villager gave.
    assert "李" not in reply and "ZH" not in reply


def test_general_question_then_code_then_village(sms, county):
    first = _only(sms.send("村里来了一伙人说是医保局的，是真的吗"))
    assert first == responses.answer("verify_team")[0] and "授权编号" in first
    assert _only(sms.send(CODE)) == verify_team._text("ask_village")
    assert _only(sms.send("新圩")).startswith("查到了")
    # The form is over: the next message is read afresh.
    assert "110" in sms.send("我已经把验证码告诉他们了")[0]


def test_wrong_village(sms, county):
    reply = _only(sms.send(f"{CODE} 清水村"))
    assert "不包括" in reply and "金田村" in reply and "回1举报" in reply
    assert reply.endswith(WARNING)


def test_expired(sms, county, vault):
    _register(county, vault, "YB-450881-2025-0002", start=-10, end=-3)
    reply = _only(sms.send("YB4508812025-0002 金田村"))
    assert "已经结束" in reply and "今天" in reply and reply.endswith(WARNING)


def test_not_started_but_authorised_for_the_day_named(sms, county, vault):
    _register(county, vault, "YB-450881-2025-0003", start=1, end=1)
    assert "还没开始" in _only(sms.send("YB-450881-2025-0003 金田村"))
    assert _only(sms.send("YB-450881-2025-0003 金田村 明天来")).startswith("查到了")


def test_no_record_then_one_reply_reports(sms, county, degraded_app):
    reply = _only(sms.send("YB-450881-2025-0777 三江口村"))
    assert "没查到授权编号YB-450881-2025-0777" in reply and "回1举报" in reply
    assert reply.endswith(WARNING)
    replies = sms.send("1")
    assert any("已登记您的线索" in r for r in replies)
    report = dict(
        zip(
            ("category", "summary", "station_code", "village"),
            county.execute(
                "SELECT category, summary, station_code, village FROM reports"
            ).fetchone(),
            strict=True,
        )
    )
    assert report["category"] == "suspicious_visit"
    assert report["station_code"] == "GP-ZJ" and report["village"] == "三江口村"
    assert "YB-450881-2025-0777" in report["summary"] and "无登记" in report["summary"]
    # The village is known: the form goes on to the next question.
    assert "什么时候" in replies[-1]


def test_forged_code(sms, county):
    activities.mark_forged(
        county, "YB-450881-2025-0001", "金田村发现伪造介绍信", "桂平市", activities.Actor(name="t")
    )
    reply = _only(sms.send("YB-450881-2025-0001 金田村"))
    assert "伪造" in reply and "回1举报" in reply and reply.endswith(WARNING)


def test_revoked_activity_is_no_longer_authorised(sms, county):
    activity = activities.get_by_code(county, CODE)
    activities.revoke(county, activity["id"], "桂平市", "活动取消", activities.Actor(name="t"))
    reply = _only(sms.send(f"{CODE} 金田村"))
    assert "撤销" in reply and not reply.startswith("查到了")


def test_work_id_and_a_real_code_with_a_stranger_badge(sms, county, degraded_app, phone_for):
    assert _only(sms.send("工作证号：zh-2025031 金田村的 是真的吗")).startswith("查到了")
    other = phone_for(degraded_app.test_client(), "+8613600005678")
    reply = _only(other.send("1"))
    assert reply == responses.answer("verify_team")[0]
    reply = _only(other.send(f"{CODE} 工号ZH9999"))
    assert reply == verify_team._text("ask_village")
    assert "不在登记名单上" in _only(other.send("金田村"))


def test_organisation_name_is_a_weak_match(sms, county):
    sms.send("1")
    sms.send("中国银行桂平支行")
    reply = _only(sms.send("金田村"))
    assert "冒用" in reply and "授权编号" in reply
    sms.send("1")
    sms.send("某某科技有限公司")
    assert "没查到“某某科技有限公司”" in _only(sms.send("金田村"))


def test_cadre_check_knows_the_village(county, degraded_app, vault, phone_for):
    cadres.add(county, vault, "13700007777", "三江口村")
    cadre = phone_for(degraded_app.test_client(), "+8613700007777")
    replies = cadre.send(f"{CODE} 这个编号是真的吗")
    text = "\n".join(replies)
    assert "不包括紫荆镇三江口村" in text and "村干部请先别让他们召集村民" in text
    assert text.endswith(WARNING)
    cadre.send("取消")
    _register(county, vault, "YB-450881-2025-0005", villages="紫荆镇三江口村")
    assert _only(cadre.send("YB-450881-2025-0005")).startswith("查到了")


def test_skip_and_other_topics_leave_the_form(sms, county):
    sms.send("1")
    assert _only(sms.send("跳过")) == verify_team._text("left")
    sms.send("1")
    sms.send(CODE)  # the village is asked; a menu digit leaves the form
    # A menu digit inside the form is answered, and the village asked again.
    reply = sms.send("4")[0]
    assert reply.startswith(responses.answer("activate_voucher")[0])
    assert reply.endswith(verify_team._text("ask_village"))
    sms.send("1")
    assert "110" in sms.send("我已经把验证码告诉他们了")[0]


def test_day_words():
    today = dt.date(2025, 6, 3)
    assert verify_team.parse_day("明天来", today) == dt.date(2025, 6, 4)
    assert verify_team.parse_day("昨天", today) == dt.date(2025, 6, 2)
    assert verify_team.parse_day("6月10日", today) == dt.date(2025, 6, 10)
    assert verify_team.parse_day("10号", today) == dt.date(2025, 6, 10)
    assert verify_team.parse_day("金田村", today) is None


LONG = {
    "organisation": "广西壮族自治区贵港市桂平市某某医疗健康服务有限责任公司",
    "authorised_by": "广西壮族自治区贵港市桂平市医疗保障局",
    "dates": "12月28日至12月31日",
    "places": "三江口村、石桥村、江口社区等12处",
    "village": "金田镇三江口村委会",
    "day": "12月31日",
    "what": "“广西壮族自治区贵港市桂平市某某医疗健…”",
}


@pytest.mark.parametrize(
    "key",
    [
        "authorised",
        "authorised_own",
        "authorised_by_name",
        "not_here",
        "expired",
        "not_started",
        "no_record",
        "revoked",
        "unknown_member",
        "forged",
        "left",
        "no_clue",
    ],
)
def test_answers_fit_three_segments_and_end_with_the_warning(key):
    values = {k: verify_team._short(v) for k, v in LONG.items()}
    values["what"] = LONG["what"]
    text = verify_team._text(key, **values)
    assert responses.fits_sms(text), (key, responses.segments(text))
    assert text.endswith(("谁要都别给。", "别给。")), text
    assert responses.fits_sms(verify_team._text("cadre_hold") + "\n" + text)
