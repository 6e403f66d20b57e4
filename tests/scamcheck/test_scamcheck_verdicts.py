"""Seen-before counts, police verdicts with one notice to everyone who asked, and
"did this help?" (scamcheck/seen.py, reporting/scam_verdicts.py, the outbox drain,
scamcheck/feedback.py)."""

from __future__ import annotations

import io

import pytest

from bench import ocr_corpus
from messaging.providers.base import SendResult
from reporting import incidents, jurisdiction, reports, scam_verdicts
from scamcheck import feedback, seen
from tests.bot.test_wechat_media import OPENID, PIC_URL, api, pic_host, push_image  # noqa: F401
from tests.helpers.police import drain_outbox, load_county, logged_in, post_form
from tests.helpers.wechat import WeChatPush

SUSPECT = "13977665544"
SCAM = f"【医保局】您的医保卡已冻结，请致电{SUSPECT}办理解冻，逾期作废。"


def png(text: str) -> bytes:
    out = io.BytesIO()
    ocr_corpus.LAYOUTS["sms"](text, 28).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def db(degraded_app):
    from storage.db import connect

    conn = connect(degraded_app.config["HOTLINE_DB"])
    yield conn
    conn.conn.close()


def test_near_duplicates_are_one_message_counted_by_villager_and_village(db):
    base = "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证，逾期作废。"
    first = seen.record(db, base, sender_hash="h1", channel="sms", village="金田镇金田村")
    assert first and first.villagers == 1
    variants = [
        base.replace("即将", "马上"),  # one word changed
        base.replace("http://nhsa-gov.top/a", "http://nhsa-gov.top/b7"),  # another path
        base.replace("医保局", "醫保局") + "（尾号123）",  # traditional, a recipient's 尾号
    ]
    for n, text in enumerate(variants, 2):
        again = seen.record(db, text, sender_hash=f"h{n}", channel="wechat", village="紫荆镇紫荆村")
        assert again and again.message_id == first.message_id, text
    # The same villager sending it again the same day is not another villager.
    again = seen.record(db, base, sender_hash="h1", channel="sms", village="金田镇金田村")
    assert (again.villagers, again.villages) == (4, 2)
    other = seen.record(
        db,
        "【中国移动】尊敬的客户，您本月套餐流量已用完，可发送短信办理加油包。",
        sender_hash="h1",
        channel="sms",
    )
    assert other and other.message_id != first.message_id and other.villagers == 1
    assert seen.record(db, "真的吗", sender_hash="h1", channel="sms") is None  # not a message


def test_similarity_threshold_separates_different_scams():
    a = seen.fingerprint_text("【医保局】您的医保卡已冻结，请致电13900001111办理解冻")
    b = seen.fingerprint_text("【医保局】您的医保卡已冻结，请致电13800002222办理解冻")
    c = seen.fingerprint_text("【社保局】社保补贴已到账，请添加微信 sb8899 领取")
    assert seen.similarity(a, b) >= seen.SIMILARITY > seen.similarity(a, c)


def test_cached_vectors_score_exactly_as_one_sparse_product():
    """find() scores candidates from per-text cached vectors: the same floats as
    vectorising the query and every candidate together, as it once did."""
    texts = [
        f"【医保局】您的医保卡第{n}次已冻结，请致电1390000{n:04d}办理解冻，逾期作废{'急' * (n % 7)}"
        for n in range(60)
    ] + ["【中国移动】尊敬的客户，您本月套餐流量已用完", "村口有人扫码送鸡蛋，说是医保局的人"]
    fps = [seen.fingerprint_text(t) for t in texts]
    for query in (
        fps[3],
        fps[-1],
        seen.fingerprint_text("【社保局】补贴已到账，加微信 sb8899 领取"),
    ):
        vectors = seen._vectorizer().transform([query, *fps])
        expected = (vectors[1:] @ vectors[0].T).toarray().ravel()
        assert (seen._scores(query, fps) == expected).all()


def test_a_copy_is_found_among_many_stored_messages(db):
    # 30 messages with no character in common (30 runs of the CJK block).
    messages = ["".join(chr(0x4E00 + 40 * n + k) for k in range(20)) for n in range(30)]
    ids = {
        seen.record(db, f"【通知】{text}", sender_hash=f"s{n}", channel="sms").message_id
        for n, text in enumerate(messages)
    }
    assert len(ids) == len(messages)  # each a message of its own
    base = "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证，逾期作废。"
    first = seen.record(db, base, sender_hash="h1", channel="sms")
    again = seen.record(db, base.replace("即将", "马上"), sender_hash="h2", channel="sms")
    assert first and again and again.message_id == first.message_id and again.villagers == 2


def test_seen_counts_are_told_to_the_villager(degraded_app, monkeypatch):
    client = degraded_app.test_client()
    monkeypatch.setattr("scamcheck.ocr.DEFAULT_BUDGET_S", 120)
    from tests.bot.test_webchat_photo import upload

    for n in range(3):
        replies = upload(client, png(SCAM), sender=f"browser-seen-{n}").get_json()["replies"]
    assert replies[0].startswith("这条像是诈骗")
    assert "已有3位村民发来问过" in replies[0]
    assert "browser-seen" not in replies[0]


def _report_with_suspect(db, vault) -> dict:
    report = reports.create(
        db,
        vault,
        channel="sms",
        contact="+8613600000001",
        intent="report_suspicious_visit",
        summary=f"医保局的人让打{SUSPECT}解冻",
    )
    reports.apply_route(db, report["id"], jurisdiction.route(db, "金田镇金田村"), "金田镇金田村")
    return incidents.submit(db, vault, report["id"])


def test_police_confirm_tells_everyone_who_asked_once(wapp, api, pic_host, monkeypatch):  # noqa: F811
    monkeypatch.setattr("outreach.outbox.in_quiet_hours", lambda moment: False)
    monkeypatch.setattr("scamcheck.ocr.DEFAULT_BUDGET_S", 120)
    pic_host(png(SCAM))
    replies = push_image(wapp, PicUrl=PIC_URL, MediaId="M1") or [
        m["text"]["content"] for m in api.wait_for_sent(1)
    ]
    assert replies[0].startswith("这条像是诈骗") and "139****5544" in replies[0]
    already = len(api.sent)

    db = load_county(wapp)
    vault = wapp.extensions["hotline_vault"]
    report = _report_with_suspect(db, vault)
    police = logged_in(wapp, "jt")
    path = f"/police/reports/{report['id']}"
    page = police.get(path).get_data(as_text=True)
    assert "确认诈骗" in page and "139****5544" in page
    (key,) = [k for k in scam_verdicts.report_keys(db, report["id"]) if k["kind"] == "phone"]
    assert key["asked"] == 1

    response = post_form(
        police,
        f"{path}/scam-verdict",
        {"link_id": key["link_id"], "status": "confirmed"},
        page=path,
    )
    assert response.status_code == 302
    (row,) = db.query("SELECT * FROM outbox WHERE kind = 'scam_verdict'")
    assert row["status"] == "pending" and row["channel"] == "wechat"
    assert len(api.sent) == already  # queued by the police page, sent by the drain
    assert drain_outbox(wapp).sent == 1
    sent = api.wait_for_sent(already + 1)
    notice = sent[already]["text"]["content"]
    assert notice.startswith("【村村反诈】") and "139****5544" in notice and "确认是诈骗" in notice
    assert SUSPECT not in notice
    assert (
        db.execute("SELECT count(*) FROM audit_log WHERE action = 'scam_confirmed'").fetchone()[0]
        == 1
    )
    assert "已确认诈骗" in police.get(path).get_data(as_text=True)

    # Once per person: a second verdict on the same number does not message them again.
    post_form(
        police,
        f"{path}/scam-verdict",
        {"link_id": key["link_id"], "status": "confirmed"},
        page=path,
    )
    assert drain_outbox(wapp).handled == 0
    assert len(api.sent) == already + 1
    # The address was kept only for the notice (the message's own ask keeps it, at
    # most 30 days, for a verdict on the message).
    kept = db.execute("SELECT kind FROM scam_asks WHERE contact_enc IS NOT NULL").fetchall()
    assert [k[0] for k in kept] == ["message"]

    # A later lookup answers with the verdict.
    pic_host(png(SCAM))
    follower = WeChatPush(wapp.test_client(), OPENID)
    message = {**follower.base("image"), "PicUrl": PIC_URL, "MediaId": "M2", "MsgId": "9002"}
    later = follower.replies(follower.post(message)) or [
        m["text"]["content"] for m in api.wait_for_sent(already + 2)[already + 1 :]
    ]
    assert later[0].startswith("警方已确认")
    db.conn.close()


def test_verdict_needs_a_key_of_this_report(wapp):
    db = load_county(wapp)
    report = _report_with_suspect(db, wapp.extensions["hotline_vault"])
    police = logged_in(wapp, "jt")
    path = f"/police/reports/{report['id']}"
    bad = [
        {"link_id": "x", "status": "confirmed"},
        {"link_id": "99999", "status": "confirmed"},
        {"link_id": "1", "status": "maybe"},
    ]
    for data in bad:
        assert post_form(police, f"{path}/scam-verdict", data, page=path).status_code == 400
    assert db.execute("SELECT count(*) FROM scam_verdicts").fetchone()[0] == 0
    db.conn.close()


def test_quiet_hours_hold_the_notice(degraded_app, db, monkeypatch):
    vault = degraded_app.extensions["hotline_vault"]
    key = scam_verdicts.phone_key(vault, SUSPECT)
    scam_verdicts.remember_asks(
        db, vault, [key], sender_hash=vault.hash("13600000002"), channel="sms",
        contact="13600000002",
    )  # fmt: skip
    assert scam_verdicts.mark(db, key, "confirmed", None) == 1
    assert scam_verdicts.enqueue_notices(db, vault) == 1
    sent = []

    class Sender:
        def send(self, to, text):
            sent.append((to, text))
            return SendResult(True, "SM1")

    monkeypatch.setattr("outreach.outbox.in_quiet_hours", lambda moment: True)
    assert drain_outbox(degraded_app, Sender()).handled == 0
    assert sent == []
    monkeypatch.setattr("outreach.outbox.in_quiet_hours", lambda moment: False)
    assert drain_outbox(degraded_app, Sender()).sent == 1
    ((to, text),) = sent
    assert to == "13600000002" and "确认是诈骗" in text and "（尾号002）回T退订" in text


def test_did_this_help(db):
    assert feedback.parse_answer("1") is True and feedback.parse_answer(" 没用。") is False
    assert feedback.parse_answer("这个号码是谁") is None
    check = {"verdict": "unsure", "signals": [["urgency", "停机"]], "text": f"请回电{SUSPECT}"}
    feedback.record(db, True, check, "sms")
    feedback.record(db, False, check, "sms")
    (row,) = feedback.for_review(db)
    assert row["verdict"] == "unsure" and SUSPECT not in row["text"]
    feedback.reviewed(db, row["id"])
    assert feedback.for_review(db) == []
    assert "1" in feedback.question() and "2" in feedback.question()
