"""Tips: at least 30, one SMS segment each with signature, marker and opt-out; rotation
never repeats a tip to a subscriber before all were sent; every push carries 回T退订."""

from __future__ import annotations

from collections import Counter

import responses
from outreach import campaigns, groups, outbox, texts, tips
from tests.helpers.outreach import DAYTIME, VAULT, FakeProvider, enroll, new_db, numbers


def test_at_least_30_tips_with_unique_ids_and_topics():
    all_tips = tips.all_tips()
    assert len(all_tips) >= 30
    assert len({t.id for t in all_tips}) == len(all_tips)
    assert all(t.topic and t.text for t in all_tips)
    assert len({t.topic for t in all_tips}) >= 5


def test_every_tip_fits_one_segment_with_signature_marker_and_opt_out():
    for tip in tips.all_tips():
        sms = texts.render_tip(tip.text, "+8613812345678")
        assert sms.startswith("【村村反诈】")
        assert "（尾号678）" in sms and sms.endswith("回T退订")
        assert responses.segments(sms) == 1, (tip.id, len(sms))
        assert "http" not in sms and "www" not in sms


def test_rotation_gives_every_tip_once_before_any_repeats(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(3))
    count = len(tips.all_tips())
    got: dict[int, list[str]] = {}
    for week in range(count + 2):
        planned = campaigns.plan(
            db, kind="tip", scope_type="group", scope_value="石桥村", created_by="t", now=DAYTIME
        )
        assert planned.recipients == (3 if week <= 4 else 4)
        for sub_id, tip_id in db.execute(
            "SELECT subscriber_id, tip_id FROM outbox WHERE campaign_id = ?",
            [planned.campaign_id],
        ):
            got.setdefault(sub_id, []).append(tip_id)
        if week == 4:  # a newcomer joins mid-way
            enroll(db, numbers(1, start=100), village="石桥村")
    originals = sorted(got)[:3]
    for sub_id in originals:
        sequence = got[sub_id]
        assert len(sequence) == count + 2
        assert set(sequence[:count]) == {t.id for t in tips.all_tips()}  # all, none twice
        assert len(set(sequence[count:])) == 2  # a new round has begun
    newcomer = got[max(got)]
    assert len(set(newcomer)) == len(newcomer)  # fewer than a full round: all distinct


def test_every_proactive_sms_carries_opt_out_and_own_marker(tmp_path):
    db = new_db(tmp_path)
    phones = numbers(5, start=1234)
    enroll(db, phones)
    campaigns.plan(
        db, kind="tip", scope_type="group", scope_value="石桥村", created_by="t", now=DAYTIME
    )
    campaigns.plan(
        db,
        kind="alert",
        scope_type="township",
        scope_value="东坝镇",
        text="今天有人冒充医保局在东坝镇活动，别给验证码。",
        urgent=True,
        created_by="t",
        now=DAYTIME,
    )
    provider = FakeProvider()
    stats = outbox.drain(db, VAULT, provider, rate=0, now=lambda: DAYTIME)
    assert stats.sent == 10
    for to, text in provider.deliveries:
        assert text.startswith("【村村反诈】")
        assert text.endswith("回T退订")
        assert f"（尾号{to[-3:]}）" in text
    # The outbox never holds a decrypted number or the rendered text.
    dump = "\n".join(str(r) for r in db.query("SELECT * FROM outbox"))
    assert not any(p in dump for p in phones)


def test_a_push_forcing_a_tip_some_had_rotates_only_them(tmp_path):
    """The planner inserts those who have not had the tip in SQL and walks only the
    others through the rotation: both must agree with tips.next_tip_id."""
    db = new_db(tmp_path)
    enroll(db, numbers(30))
    order = [t.id for t in tips.all_tips()]
    first = campaigns.plan(
        db, kind="tip", scope_type="group", scope_value="石桥村", created_by="t", now=DAYTIME
    )
    enroll(db, numbers(5, start=100), village="石桥村")
    week_tip = db.execute("SELECT tip_id FROM campaigns WHERE id = ?", [first.campaign_id])
    (had,) = week_tip.fetchone()
    again = campaigns.plan(
        db,
        kind="tip",
        scope_type="group",
        scope_value="石桥村",
        created_by="t",
        tip_id=had,
        now=DAYTIME,
    )
    assert again.recipients == 35
    chosen = Counter(
        r[0]
        for r in db.execute("SELECT tip_id FROM outbox WHERE campaign_id = ?", [again.campaign_id])
    )
    expected_next = next(t for t in order if t != had)
    assert chosen == {had: 5, expected_next: 30}
    # Everyone's rotation now holds this push's tip.
    assert (
        db.execute(
            "SELECT COUNT(*) FROM tip_history WHERE campaign_id = ?", [again.campaign_id]
        ).fetchone()[0]
        == 35
    )


def test_recipients_come_in_bounded_chunks_group_by_group(tmp_path):
    db = new_db(tmp_path)
    enroll(db, numbers(23), village="石桥村")
    enroll(db, numbers(9, start=100), village="河口村")
    group_ids = groups.resolve_scope(db, "township", "东坝镇")
    chunks = list(campaigns.recipient_chunks(db, group_ids, size=7))
    assert all(len(c) < 14 for c in chunks)
    ids = [sid for c in chunks for sid, _ch in c]
    assert len(ids) == len(set(ids)) == 32 == campaigns.count_recipients(db, group_ids)
