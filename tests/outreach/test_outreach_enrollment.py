"""Enrollment with consent: a cadre's CSV and a villager's 订阅 by SMS (the bot asks
for the village). Opt-out words stop every push at once and are confirmed once;
订阅 / START rejoin; numbers that opted out are never re-enrolled by a cadre."""

from __future__ import annotations

import pytest

import responses
from outreach import campaigns, groups, texts
from storage.db import connect
from tests.helpers.app import SmsPhone
from tests.helpers.outreach import DAYTIME, VAULT, new_db

CSV = """phone,village,township,county,consent_at,consent_channel
13812345678,石桥村,东坝镇,平南县,2025-03-01,村民大会签字
+86 139-1234-5679,石桥村,东坝镇,平南县,,
13712345670,王家庄,东坝镇,平南县,,
12345,王家庄,东坝镇,平南县,,
13612345671,,东坝镇,平南县,,
"""


def test_csv_import_enrolls_with_consent_and_reports_bad_rows(tmp_path):
    db = new_db(tmp_path)
    result = groups.import_csv(db, VAULT, CSV.encode(), by="张主任", source="shiqiao.csv")
    assert (result.enrolled, result.groups_created) == (3, 2)
    assert result.errors == [
        "line 5: not a mobile number",
        "line 6: village, township and county are all needed",
    ]
    sub = groups.subscriber(db, VAULT, "13812345678")
    assert sub["status"] == "active" and sub["village"] == "石桥村"
    assert (sub["consent_at"], sub["consent_channel"], sub["consent_by"]) == (
        "2025-03-01",
        "村民大会签字",
        "张主任",
    )
    assert sub["contact_masked"] == "138****5678"
    assert "13812345678" not in str(sub)  # never in clear
    log = groups.consents(db, sub["id"])
    assert [(c["event"], c["by"], c["source"]) for c in log] == [
        ("enrolled", "张主任", "shiqiao.csv")
    ]
    other = groups.subscriber(db, VAULT, "13912345679")
    assert other["consent_channel"] == "csv"  # no column value: how it came in
    again = groups.import_csv(db, VAULT, CSV.encode(), by="张主任")
    assert (again.enrolled, again.already) == (0, 3)


def test_csv_from_chinese_excel_gbk_with_chinese_headers(tmp_path):
    db = new_db(tmp_path)
    data = "手机号,村,乡镇,县\n13812345678,河湾村,大安镇,平南县\n".encode("gb18030")
    assert groups.import_csv(db, VAULT, data, by="王书记").enrolled == 1
    assert groups.list_groups(db)[0]["village"] == "河湾村"


def test_csv_without_the_needed_columns_is_refused(tmp_path):
    db = new_db(tmp_path)
    with pytest.raises(groups.EnrollmentFileError, match="phone"):
        groups.import_csv(db, VAULT, b"name,village\nx,y\n", by="me")


def test_a_number_that_opted_out_is_never_re_enrolled_by_a_cadre(tmp_path):
    from bot import subscriptions

    db = new_db(tmp_path)
    subscriptions.unsubscribe(db, VAULT, "13812345678", "sms")
    result = groups.import_csv(db, VAULT, CSV.encode(), by="张主任")
    assert result.refused_opted_out == 1
    sub = groups.subscriber(db, VAULT, "13812345678")
    assert sub["status"] == "opted_out"
    assert groups.consents(db, sub["id"])[-1]["event"] == "skipped_opted_out"


@pytest.fixture
def village_db(degraded_app):
    db = connect(degraded_app.config["HOTLINE_DB"])
    groups.ensure_group(db, "平南县", "东坝镇", "石桥村")
    groups.ensure_group(db, "平南县", "东坝镇", "王家庄")
    groups.ensure_group(db, "平南县", "大安镇", "王家庄")
    yield db
    db.conn.close()


@pytest.fixture
def sms(degraded_app, village_db, phone_for) -> SmsPhone:
    return phone_for(degraded_app.test_client(), "+8613812345678")


def me(db, vault):
    return groups.subscriber(db, vault, "+8613812345678")


def test_subscribe_by_sms_asks_for_the_village_and_joins_its_group(sms, village_db, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    assert sms.send("订阅") == [texts.enroll_text("ask_village")]
    sub = me(village_db, vault)
    assert sub["status"] == "active" and sub["group_id"] is None
    assert (sub["consent_channel"], sub["consent_by"]) == ("sms", "self")
    assert sms.send("石桥") == [texts.enroll_text("village_set", village="石桥村")]
    sub = me(village_db, vault)
    assert sub["village"] == "石桥村" and sub["group_id"] is not None
    assert [c["event"] for c in groups.consents(village_db, sub["id"])] == ["subscribed"]
    planned = campaigns.plan(
        village_db,
        kind="tip",
        scope_type="group",
        scope_value="石桥村",
        created_by="t",
        now=DAYTIME,
    )
    assert planned.recipients == 1


def test_subscribe_infers_the_village_named_in_the_message(sms, village_db, degraded_app):
    replies = sms.send("我要订阅防骗提醒，我是石桥村的")
    assert replies == [texts.enroll_text("village_set", village="石桥村")]


def test_ambiguous_village_asks_for_the_township(sms, village_db, degraded_app):
    sms.send("订阅")
    assert sms.send("王家庄") == [
        texts.enroll_text("village_ambiguous", village="王家庄", example="东坝镇王家庄")
    ]
    assert sms.send("大安镇王家庄") == [texts.enroll_text("village_set", village="王家庄")]
    sub = me(village_db, degraded_app.extensions["hotline_vault"])
    assert groups.get_group(village_db, sub["group_id"])["township"] == "大安镇"


def test_unknown_village_is_kept_for_a_cadre_and_skip_works(
    sms, village_db, degraded_app, phone_for
):
    sms.send("订阅")
    assert sms.send("红星村") == [texts.enroll_text("village_unknown", village="红星村")]
    sub = me(village_db, degraded_app.extensions["hotline_vault"])
    assert sub["village"] == "红星村" and sub["group_id"] is None
    other = phone_for(sms.client, "+8613900000001")
    other.send("订阅")
    assert other.send("跳过") == [texts.enroll_text("skipped")]


def test_a_question_instead_of_a_village_is_answered(sms, village_db, degraded_app):
    sms.send("订阅")
    # A question inside the form is answered; the village is asked again with it,
    # without repeating the subscription news the first ask carried.
    reply = sms.send("医保码怎么开通")
    assert reply[0].startswith(responses.answer("activate_voucher")[0])
    joined = "\n".join(reply)
    assert texts.enroll_text("remind_village") in joined
    assert texts.enroll_text("ask_village") not in joined
    assert me(village_db, degraded_app.extensions["hotline_vault"])["village"] is None


@pytest.mark.parametrize(
    "word", ["T", "t", " TD ", "r", "退订", " 取消订阅", "STOP", "stop", "Unsubscribe ", "ＳＴＯＰ"]
)
def test_opt_out_words_stop_every_push_and_are_confirmed_once(word, sms, village_db, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    sms.send("我要订阅，我是石桥村的")
    assert sms.send(word) == [responses.answer("unsubscribe")[0]]
    sub = me(village_db, vault)
    assert sub["status"] == "opted_out" and sub["opt_out_reason"] == "sms"
    assert groups.consents(village_db, sub["id"])[-1]["event"] == "opted_out"
    for scope_type, value in (("group", "石桥村"), ("township", "东坝镇"), ("county", "平南县")):
        planned = campaigns.plan(
            village_db,
            kind="tip",
            scope_type=scope_type,
            scope_value=value,
            created_by="t",
            now=DAYTIME,
        )
        assert planned.recipients == 0
    assert sms.send(word) == [responses.text("already_unsubscribed")]


@pytest.mark.parametrize("word", ["订阅", "START", " start "])
def test_subscribe_or_start_rejoins_the_same_village(word, sms, village_db, degraded_app):
    vault = degraded_app.extensions["hotline_vault"]
    sms.send("订阅")
    sms.send("石桥村")
    sms.send("T")
    assert sms.send(word) == [responses.answer("subscribe")[0]]
    sub = me(village_db, vault)
    assert sub["status"] == "active" and sub["village"] == "石桥村"
    events = [c["event"] for c in groups.consents(village_db, sub["id"])]
    assert events == ["subscribed", "opted_out", "subscribed"]
    assert sms.send(word) == [responses.text("already_subscribed")]


def test_opt_out_in_the_middle_of_the_village_question(sms, village_db, degraded_app):
    sms.send("订阅")
    assert sms.send("退订") == [responses.answer("unsubscribe")[0]]
    assert me(village_db, degraded_app.extensions["hotline_vault"])["status"] == "opted_out"
    # The form is gone: a village name now is just a message, not an enrollment.
    sms.send("石桥村")
    assert me(village_db, degraded_app.extensions["hotline_vault"])["group_id"] is None


def test_how_to_tell_real_messages_explains_the_marker(sms):
    replies = sms.send("收到一条短信说是你们发的，是真的吗")
    assert replies == [texts.authenticity_answer()]
    assert "后三位" in replies[0] and "链接" in replies[0]
    assert responses.fits_sms(replies[0])
