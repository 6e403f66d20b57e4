"""Learning from traffic (review/): redaction, recording from the dialogue, the
supervisors' review page, the export as Rasa training data, training with it, purge."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlu.parser import FALLBACK_INTENT, INTENTS, Parse
from review import export, queue
from review.redact import ID_REMOVED, redact, text_key
from tests.helpers.police import csrf_token, logged_in

# --- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "gone"),
    [
        ("他打我电话13912345678要验证码", "139****5678", "13912345678"),
        ("号码 139 1234 5678 打来的", "139****5678", "1234"),
        ("对方是+86 137-0000-2468", "137****2468", "0000"),
        ("８６１３６８８８８１２３４说是医保局", "136****1234", "8888"),
        ("来电0775-3216549说补贴", "077****6549", "321654"),
        ("客服400-820-1234让我转账", "40******34", "8201"),
        ("卡号6222 0212 3456 7890 123扣了钱", "622****0123", "3456"),
        ("号码是幺三八零零一二三四五六", "138****3456", "零零一二"),
    ],
)
def test_numbers_are_masked_however_written(text, shown, gone):
    redacted = redact(text)
    assert shown in redacted and gone not in redacted


@pytest.mark.parametrize(
    "text",
    [
        "身份证号450881199001012345给他拍了",
        "身份证45088119900101234X",
        "身份证是45088119900101234x呀",
        "号码 4508 8119 9001 0123 4X 他记下了",
        "老身份证450881900101123也给了",
    ],
)
def test_id_numbers_are_removed(text):
    redacted = redact(text)
    assert ID_REMOVED in redacted
    assert "19900101" not in redacted and "900101" not in redacted.replace(" ", "")


def test_short_numbers_emergency_lines_and_codes_stay():
    text = "打110还是96110？医保热线12393，验证码123456，被骗了3000元"
    # NFKC, as the dialogue reads it (bot/dialogue.py clean): full-width punctuation too.
    assert redact(text) == unicodedata.normalize("NFKC", text)


def test_wechat_ids_emails_and_link_paths_are_masked():
    redacted = redact(
        "加微信号：yibao_zhang88 或 wxid_q1w2e3r4t5 领鸡蛋，"
        "点 https://yb-gov.cn/act?uid=7788&tk=abc 邮箱 zhangsan@qq.com"
    )
    for secret in ("yibao_zhang88", "wxid_q1w2e3r4t5", "uid=7788", "tk=abc", "zhangsan"):
        assert secret not in redacted
    assert "yb-gov.cn" in redacted  # the scam's host is what a supervisor needs
    assert "@qq.com" in redacted


def test_near_identical_texts_share_a_key():
    assert text_key(redact("有人要我 13912345678 的验证码！！")) == text_key(
        redact("有人要我13800001111的验证码")
    )
    assert text_key("有人要验证码") != text_key("有人要身份证")


# --- recording ---------------------------------------------------------------------------


def rows(db):
    return list(db.query("SELECT * FROM review_items ORDER BY id"))


def test_a_message_the_model_does_not_understand_is_kept_redacted(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    replies = phone.send("俺家那口子叫13955556666的人拿走了啥东西嘞")
    assert "没太听明白" in replies[0]  # the villager is answered as before
    [row] = rows(county)
    assert row["text"] == "俺家那口子叫139****6666的人拿走了啥东西嘞"
    assert row["reason"] == "low_confidence" and row["channel"] == "sms"
    assert row["guess_intent"] == "out_of_scope" and row["guess_confidence"] == 0.0
    assert row["reviewed_at"] is None
    stored = " ".join(str(v) for v in row.values())
    assert "13955556666" not in stored and "13812345678" not in stored


def test_a_confident_parse_is_not_kept(degraded_app, county, phone_for):
    phone = phone_for(degraded_app.test_client(), "+8613812345678")
    phone.send("医保电子凭证怎么激活")
    assert rows(county) == []


def test_record_reasons(county):
    guess = Parse("x", "help", 0.3)
    assert queue.record(county, "看不懂", Parse("看不懂", FALLBACK_INTENT, 0.2), "fallback", "web")
    assert queue.record(county, "嗯嗯", guess, "low_confidence", "wechat")
    assert queue.record(county, "你说的没用", guess, "not_helpful", "sms")
    assert [r["reason"] for r in rows(county)] == ["fallback", "low_confidence", "not_helpful"]
    with pytest.raises(ValueError):
        queue.record(county, "x", guess, "because", "sms")
    assert queue.record(county, "   ", guess, "fallback", "sms") is None


def test_near_duplicates_are_shown_once_with_a_count(county):
    guess = Parse("x", "verify_team", 0.35)
    for text in ("有人上门 13900001111 说办医保", "有人上门13911112222说办医保！", "另一句话"):
        queue.record(county, text, guess, "low_confidence", "sms")
    groups = queue.pending(county)
    assert [(g["count"], g["text"]) for g in groups] == [
        (2, "有人上门 139****1111 说办医保"),
        (1, "另一句话"),
    ]


# --- the review page ---------------------------------------------------------------------


def test_review_page_is_for_supervisors_only(degraded_app, county):
    queue.record(
        county, "村里来了一伙人送鸡蛋", Parse("x", "verify_team", 0.3), "low_confidence", "sms"
    )
    officer = logged_in(degraded_app, "jt")
    assert officer.get("/police/review/").status_code == 403
    assert "消息审核" not in officer.get("/police/").get_data(as_text=True)
    key = rows(county)[0]["text_key"]
    token = csrf_token(officer, "/police/")
    response = officer.post(
        "/police/review/label", data={"key": key, "intent": "verify_team", "csrf_token": token}
    )
    assert response.status_code == 403
    assert rows(county)[0]["reviewed_at"] is None
    assert degraded_app.test_client().get("/police/review/").status_code == 302  # to login


def test_supervisor_labels_a_group_and_it_is_audited(degraded_app, county):
    guess = Parse("x", "out_of_scope", 0.31)
    for text in ("村里来了一伙人送鸡蛋 要身份证", "村里来了一伙人送鸡蛋，要身份证"):
        queue.record(county, text, guess, "low_confidence", "sms")
    sup = logged_in(degraded_app, "sup")
    assert "消息审核" in sup.get("/police/").get_data(as_text=True)
    page = sup.get("/police/review/").get_data(as_text=True)
    assert "村里来了一伙人送鸡蛋 要身份证" in page and "无关话题（31%）" in page
    for intent in (*INTENTS, "insurance_question"):
        assert f'value="{intent}"' in page
    assert "不是真实消息" in page
    key = rows(county)[0]["text_key"]
    token = csrf_token(sup, "/police/review/")
    response = sup.post(
        "/police/review/label",
        data={"key": key, "intent": "report_suspicious_visit", "csrf_token": token},
    )
    assert response.status_code == 302
    assert {(r["reviewed_intent"], r["reviewed_by"]) for r in rows(county)} == {
        ("report_suspicious_visit", "sup")
    }
    [entry] = county.query("SELECT * FROM audit_log WHERE action = 'review_label'")
    assert entry["username"] == "sup" and entry["detail"].startswith("report_suspicious_visit: 2")
    assert "没有待审核的消息" in sup.get("/police/review/").get_data(as_text=True)
    # Labelled already: a second post (another tab) is a 404, not a relabel.
    again = sup.post(
        "/police/review/label", data={"key": key, "intent": "help", "csrf_token": token}
    )
    assert again.status_code == 404


def test_review_post_needs_csrf_and_a_known_intent(degraded_app, county):
    queue.record(county, "这个咋弄", Parse("x", "help", 0.3), "low_confidence", "web")
    key = rows(county)[0]["text_key"]
    sup = logged_in(degraded_app, "sup")
    assert sup.post("/police/review/label", data={"key": key, "intent": "help"}).status_code == 400
    token = csrf_token(sup, "/police/review/")
    bad = sup.post(
        "/police/review/label", data={"key": key, "intent": "drop_table", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert rows(county)[0]["reviewed_at"] is None
    assert not list(county.query("SELECT * FROM audit_log WHERE action = 'review_label'"))


# --- export and training -----------------------------------------------------------------


def reviewed_db(db):
    samples = [
        ("交了200块能报多少", "insurance_question"),
        ("交了300块能报多少？", "insurance_question"),  # same group: exported once
        ("异地看病咋备案", "insurance_question"),
        ("不想再收这些了", "unsubscribe"),
        ("asdfgh", queue.NOT_A_MESSAGE),
    ]
    for text, intent in samples:
        queue.record(db, text, Parse(text, FALLBACK_INTENT, 0.2), "fallback", "sms")
        queue.review(db, text_key(redact(text)), intent, "sup")


def test_export_writes_rasa_training_data_one_block_per_intent(county, tmp_path):
    from rasa.shared.nlu.training_data.loading import load_data

    reviewed_db(county)
    path, counts = export.export(county, tmp_path / "var")
    assert path == tmp_path / "var" / "nlu-reviewed" / "reviewed.yml"
    assert counts == {"insurance_question": 2, "unsubscribe": 1}
    text = path.read_text(encoding="utf-8")
    assert text.count("- intent: insurance_question") == 1 and "asdfgh" not in text
    data = load_data(str(path))
    assert sorted((m.get("intent"), m.get("text")) for m in data.intent_examples) == [
        ("insurance_question", "交了200块能报多少"),
        ("insurance_question", "异地看病咋备案"),
        ("unsubscribe", "不想再收这些了"),
    ]


def test_export_command_and_nothing_reviewed(degraded_app, county, monkeypatch):
    from bot.cli import cli

    var = Path(degraded_app.config["HOTLINE_VAR"])
    monkeypatch.setenv("HOTLINE_VAR", str(var))
    monkeypatch.setenv("HOTLINE_DB", str(degraded_app.config["HOTLINE_DB"]))
    result = CliRunner().invoke(cli, ["nlu", "export-reviewed"])
    assert result.exit_code == 0 and "nothing reviewed" in result.output
    assert not (var / "nlu-reviewed" / "reviewed.yml").exists()
    reviewed_db(county)
    result = CliRunner().invoke(cli, ["nlu", "export-reviewed"])
    assert result.exit_code == 0, result.output
    assert "insurance_question: 2" in result.output
    assert (var / "nlu-reviewed" / "reviewed.yml").exists()


def test_training_includes_the_reviewed_folder(tmp_path, monkeypatch):
    from rasa.shared.nlu.training_data.loading import load_data

    from nlu import training

    var = tmp_path / "var"
    monkeypatch.setenv("HOTLINE_VAR", str(var))
    before = training.fingerprint()
    assert training.reviewed_files() == []
    folder = var / "nlu-reviewed"
    folder.mkdir(parents=True)
    (folder / "reviewed.yml").write_text(
        export.training_yaml({"insurance_question": ["补卡去哪里办"]}), encoding="utf-8"
    )
    assert training.fingerprint() != before  # the model is stale: `hotline train` retrains
    seen = {}

    def fake_train_nlu(config, nlu_data, output, fixed_model_name):
        examples = load_data(nlu_data).intent_examples
        seen["texts"] = {m.get("text") for m in examples}
        seen["intents"] = {m.get("intent") for m in examples}
        return str(Path(output) / "model.tar.gz")

    monkeypatch.setattr("rasa.model_training.train_nlu", fake_train_nlu)
    training._train(tmp_path / "models", training.CONFIG, training.DATA)
    assert "补卡去哪里办" in seen["texts"]
    assert set(INTENTS) <= seen["intents"]  # the project's data is all still there


# --- retention ---------------------------------------------------------------------------


def test_purge_keeps_only_labelled_training_examples(county):
    reviewed_db(county)
    queue.record(county, "还没人看的", Parse("x", "help", 0.3), "low_confidence", "sms")
    assert queue.purge(county, days=30) == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)
    assert queue.purge(county, days=30, at=later) == 2  # the pending one, not-a-message
    assert {r["reviewed_intent"] for r in rows(county)} == {"insurance_question", "unsubscribe"}


def test_review_purge_is_scheduled_with_the_reports_purge(degraded_app, county):
    from bot import periodic
    from jobs import runner
    from outreach import schedules

    db_path = degraded_app.config["HOTLINE_DB"]
    app_jobs = periodic.periodic_jobs(degraded_app.config, degraded_app.extensions["hotline_vault"])
    running = runner.start(db_path, app_jobs)
    try:
        job = running.get_job(queue.PURGE_JOB_ID)
        assert job.func_ref == "review.queue:purge_job"
        assert job.args == (degraded_app.config["HOTLINE_DB"], 30)
        assert (job.next_run_time.hour, job.next_run_time.minute) == (3, 0)
    finally:
        running.shutdown(wait=False)
        schedules.set_runtime(None)
    assert queue.purge_job(*job.args) == 0
