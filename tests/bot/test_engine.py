"""The conversation engine (bot/engine.py): its order of checks, through the Twilio
webhook and the web chat: the safety line when unsure, low-confidence side effects
confirmed, victim words first in any form, no report nobody meant, bounded waits."""

from __future__ import annotations

import ast
import datetime as dt
import threading
import time
from pathlib import Path

import pytest

import responses
from accounts import officers
from reporting import reports
from tests.helpers.engine import FakeParser, WebChat
from tests.helpers.police import load_county

SAFETY = "验证码不给人、手机不借人、陌生二维码不扫；人还在村里打110"
ANSWERS = {
    "以后有事告诉我一声": ("subscribe", 0.55),
    "别给我整这些了": ("unsubscribe", 0.5),
    "门口有人": ("report_suspicious_visit", 0.5),
    "我要举报 门口有人": ("report_suspicious_visit", 0.5),
    "我不想举报 门口有人": ("report_suspicious_visit", 0.5),
    "门口有人 不用报警了": ("report_suspicious_visit", 0.9),
    "门口有人 别举报": ("report_suspicious_visit", 0.9),
    "嗯那个": ("greet", 0.2),
    "外面那个事": ("nlu_fallback", 0.4),
    # Confident parses whose text also says the opposite: asked about, never done.
    "别再给俺发这些了": ("subscribe", 0.96),
    "之前退了 现在还想收": ("unsubscribe", 0.95),
    "帮我把订阅取消了吧": ("unsubscribe", 0.95),
    # Confident parses a linear model makes of words about something else.
    "先不报了 我再看看": ("unsubscribe", 0.9),
    "顺便帮我订阅一下": ("subscribe", 0.95),
    "以后别给我发提醒了": ("unsubscribe", 0.95),
    "给我妈订阅一下 她在老家": ("subscribe", 0.95),
    "我妈没把验证码给他们 她挂了电话": ("already_victim", 0.99),
    "俺没给验证码 但是他们拿走了手机": ("already_victim", 0.99),
    "你好呀": ("greet", 0.99),
    "刚才有人打电话说是医保局的 让我加微信": ("check_number", 0.9),
    "帮我查号码": ("check_number", 0.9),
}


@pytest.fixture
def fake_app(tmp_path, app_factory):
    return app_factory(tmp_path, FakeParser(ANSWERS))


@pytest.fixture(params=["sms", "web"])
def who(request, fake_app, phone_for):
    client = fake_app.test_client()
    return phone_for(client, "+8613822223333") if request.param == "sms" else WebChat(client)


@pytest.fixture
def db(fake_app):
    db = load_county(fake_app)
    yield db
    db.conn.close()


@pytest.mark.parametrize("text", ["嗯那个", "外面那个事"])
def test_unsure_answers_carry_the_safety_line_first(who, text):
    reply = "\n".join(who.send(text))
    assert reply.index(SAFETY) < reply.index(responses.text("not_understood"))


def test_a_recorder_hooked_on_unsure_sees_every_unsure_turn(fake_app):
    seen = []
    fake_app.extensions["hotline_unsure_hooks"].append(lambda turn, why: seen.append(why))
    WebChat(fake_app.test_client()).send("外面那个事")
    WebChat(fake_app.test_client()).send("嗯那个")
    assert seen == ["fallback", "low_confidence"]


def test_low_confidence_subscribe_is_confirmed_first(who, db):
    assert who.send("以后有事告诉我一声") == [responses.text("confirm.subscribe")]
    assert db.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0
    assert who.send("1")[0]  # yes: now subscribed
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("active",)]


def test_low_confidence_unsubscribe_said_no_changes_nothing(who, db):
    who.send("订阅")
    who.send("跳过")
    assert who.send("别给我整这些了") == [responses.text("confirm.unsubscribe")]
    assert who.send("不是")[0] == responses.text("confirm_dropped")
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("active",)]


def test_a_confident_subscribe_that_says_stop_is_asked_about_not_done(who, db):
    assert who.send("别再给俺发这些了") == [responses.text("confirm.subscribe")]
    assert db.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0


def test_a_confident_unsubscribe_that_asks_to_resume_keeps_the_subscription(who, db):
    who.send("订阅")
    who.send("跳过")
    assert who.send("之前退了 现在还想收") == [responses.text("confirm.unsubscribe")]
    assert who.send("不是")[0] == responses.text("confirm_dropped")
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("active",)]
    # A plain confident opt-out is still done at once.
    assert who.send("帮我把订阅取消了吧") == [responses.answer("unsubscribe")[0]]
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("opted_out",)]


def test_report_words_start_the_report_however_unsure_the_model_is(who, db):
    assert "哪个村" in who.send("我要举报 门口有人")[-1]
    assert [r["summary"] for r in db.query("SELECT * FROM reports")] == ["我要举报 门口有人"]


@pytest.mark.parametrize("text", ["我不想举报 门口有人", "门口有人 不用报警了", "门口有人 别举报"])
def test_report_words_said_not_to_happen_file_nothing(who, db, text):
    who.send(text)
    assert list(db.query("SELECT * FROM reports")) == []


def test_low_confidence_report_intent_without_report_words_gets_advice_not_a_question(who, db):
    # Answering a report intent only advises and offers 回3: nothing to confirm.
    reply = "\n".join(who.send("门口有人"))
    assert responses.text("offer_report") in reply
    assert responses.text("confirm.report_suspicious_visit") not in reply
    assert list(db.query("SELECT * FROM reports")) == []


@pytest.mark.parametrize("follow", ["咋办", "那我咋整啊", "现在咋办 报警吗", "然后呢？"])
def test_what_now_after_first_aid_gives_the_next_steps(who, follow):
    _first, more = responses.answer("already_victim")
    who.send("验证码给了他们")
    assert who.send(follow) == [more]


def test_victim_words_get_first_aid_inside_every_form(who, db):
    for opener in ("举报", "1", "订阅"):
        who.send(opener)
        reply = "\n".join(who.send("那我已经扫了咋办啊"))
        assert "110" in reply and "96110" in reply, opener
        who.send("取消")


def test_browsing_leaves_the_supervisor_queue_empty(who, db):
    for text in ("2", "0", "借给他没事吧", "5", "村口有人扫码送鸡蛋，能扫吗", "3", "取消", "1"):
        who.send(text)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3)
    assert reports.queue(db, officers.get_by_username(db, "sup"), at=later) == []
    # The one report made (3, then 取消) was withdrawn; nothing empty was ever written.
    assert [r["status"] for r in db.query("SELECT status FROM reports")] == ["withdrawn"]


def test_a_report_left_unfinished_reaches_the_queue_marked_and_not_urgent(who, db):
    who.send("我要举报 有人在村里挨家挨户收身份证")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
    [row] = reports.queue(db, officers.get_by_username(db, "sup"), at=later)
    assert row["submitted_at"] is None and row["priority"] == "normal"


def test_a_message_during_a_long_lock_is_answered_not_received(fake_app, monkeypatch, phone_for):
    from storage import db as storage_db

    monkeypatch.setattr(storage_db, "WRITE_LOCK_WAIT_S", 0.3)
    lock = storage_db._write_lock(str(Path(fake_app.config["HOTLINE_DB"]).resolve()))
    held, release = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    try:
        client = fake_app.test_client()
        started = time.monotonic()
        assert WebChat(client).send("你好") == [responses.text("not_received")]
        assert phone_for(client, "+8613800001111").send("你好") == [responses.text("not_received")]
        health = client.get("/healthz")
        assert health.status_code == 200
        assert time.monotonic() - started < 5  # every wait bounded
    finally:
        release.set()
        thread.join()
    assert "没收到" in responses.text("not_received")
    # Once the lock is free the same villager is answered again.
    assert WebChat(fake_app.test_client()).send("你好") != [responses.text("not_received")]


def test_bot_engine_and_skills_import_no_skill_from_another():
    """No import circle: the engine imports no skill, and no skill imports another."""
    root = Path(__file__).resolve().parents[2]
    skills = {
        "bot.report_form",
        "bot.verify_team",
        "bot.lookups",
        "bot.enrollment",
        "bot.qr",
        "bot.qr.report_hook",
        "bot.skills",
    }
    for module in ["bot.engine", *sorted(skills - {"bot.skills"})]:
        path = root / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = root / module.replace(".", "/") / "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        clash = {m for m in imported if m in skills and m != module}
        if module == "bot.qr.report_hook":
            clash -= {"bot.qr"}  # its own package
        assert not clash, f"{module} imports {clash}"
    assert not (root / "bot" / "dialogue.py").exists()


def test_not_reporting_for_now_read_as_an_opt_out_changes_nothing(who, db):
    who.send("订阅")
    who.send("跳过")
    assert who.send("先不报了 我再看看") == [responses.text("report_declined")]
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("active",)]
    assert list(db.query("SELECT * FROM reports")) == []


@pytest.mark.parametrize(
    ("text", "digit"), [("顺便帮我订阅一下", "6"), ("以后别给我发提醒了", "T")]
)
def test_a_subscription_change_in_words_inside_the_report_waits_and_is_not_the_answer(
    who, db, text, digit
):
    who.send("订阅")
    who.send("跳过")
    who.send("举报")
    who.send("金田村")
    reply = "\n".join(who.send(text))
    assert responses.text("form_digit.later", digit=digit) in reply
    assert "什么时候" in reply  # the time question again: the words were not the time
    assert db.execute("SELECT status FROM subscribers").fetchall() == [("active",)]


def test_a_story_that_denies_the_act_is_the_visit_not_first_aid(who, db):
    visit, _more = responses.answer("report_suspicious_visit")
    victim, _more = responses.answer("already_victim")
    reply = "\n".join(who.send("我妈没把验证码给他们 她挂了电话"))
    assert visit in reply and victim not in reply
    # A denial with something else handed over is still harm.
    assert victim in "\n".join(who.send("俺没给验证码 但是他们拿走了手机"))


@pytest.mark.parametrize("ack", ["好的", "嗯", "谢谢", "嗯嗯"])
def test_a_bare_acknowledgement_inside_the_report_is_asked_again_not_stored(who, db, ack):
    who.send("举报")
    assert who.send(ack) == [responses.text("report_form.ask_village")]
    assert list(db.query("SELECT * FROM reports")) == []


def test_subscribing_someone_else_subscribes_no_one(who, db):
    reply = who.send("给我妈订阅一下 她在老家")
    assert "本人" in reply[0]
    assert db.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0


def test_a_greeting_and_subscription_words_are_not_carried_into_a_report(who, db):
    who.send("订阅")
    who.send("跳过")
    who.send("你好呀")
    who.send("我要举报 门口有人")
    assert [r["summary"] for r in db.query("SELECT * FROM reports")] == ["我要举报 门口有人"]


def test_a_call_told_without_the_number_gets_the_safety_line_with_the_ask(who):
    ask = responses.catalogue("lookups")["ask"].strip()
    reply = "\n".join(who.send("刚才有人打电话说是医保局的 让我加微信"))
    assert SAFETY in reply and ask in reply
    assert who.send("帮我查号码") == [ask]  # a plain ask: just the ask


def test_an_opt_out_word_inside_the_report_is_honoured_and_the_question_asked_again(who, db):
    who.send("举报")
    reply = "\n".join(who.send("T"))
    assert responses.text("never_subscribed") in reply
    assert responses.text("report_form.ask_village") in reply
    assert list(db.query("SELECT * FROM reports")) == []
