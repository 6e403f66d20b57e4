"""The scam-signal analyser and its answers (scamcheck/signals.py, scamcheck/replies.py)."""

from __future__ import annotations

import pytest

import responses
from outreach import texts, tips
from scamcheck.replies import answer
from scamcheck.signals import judge

SCAMS = [
    "【医保局】您的医保电子凭证即将过期，请点击 http://nhsa-gov.top/a 重新认证，逾期作废。",
    "【国家医保】您的医保卡已冻结，请于24小时内登录 t.cn/A6xYz 解冻",
    "【医疗保障局】您的医保账户异常，请登录 http://47.96.12.8:8080/yb 处理",
    "【医保中心】请尽快激活电子医保码，否则停保。www.ybzx-jihuo.cn",
    "【社保局】社保补贴已到账，请添加微信 sb8899 领取",
    "【公安局】您涉嫌洗钱，请将资金转入安全账户配合调查",
    "【中国移动】积分即将清零，点击 10086-jf.vip 兑换话费",
    "【工商银行】您尾号1234的信用卡将被冻结，请致电 400-888-1234 处理",
    "【医保局】医保卡升级，请下载“医保通”APP完成认证 https://yb-app.xyz/d.apk",
    "您好，我是医保局工作人员，请把手机收到的验证码报给我，帮您开通医保码",
    "工作人员说要刷脸认证，眨眨眼、张张嘴就能领大米",
    "客服说开通屏幕共享就能帮我退费",
    "村里来了个团队，扫码送鸡蛋，说是医保局的",
    "【醫保局】您的醫保電子憑證即將過期，請點擊鏈接 www.yibao-cn.com 認證",
    "【医保局】尊敬的参保人，您的医保待遇将于今日内暂停，回复验证码办理延续",
    "【医保局】您有一笔医保返现待领取，详情 http://xn--fiqs8s.com/r",
    "医保局通知：缴纳50元工本费即可办理新版医保卡",
    "【人社局】您的养老补贴待发放，请拨打 13812345678 联系工作人员",
    "你好，我是派出所民警，你的银行卡涉案，需要把钱转到安全账户",
    "【12381】您的账户存在风险，请点击 http://12381-gov.cc 核实",
    "【医保局】您的医保即将停用 https://www.nhsa.gov.cn.yb-check.top/login",
    "【医保局】http://www.gov.cn@evil.example.com/ 点击领取补贴",
]
UNSURE = [
    "【工商银行】您尾号1234的账户于12月1日支出人民币5000.00元，余额321.00元。",
    "【中国移动】尊敬的客户，您的话费余额不足10元，为避免停机请及时充值。",
    "【淘宝】您的验证码是384920，5分钟内有效，请勿泄露给他人。",
    "【12381】国家反诈中心提醒：凡是自称医保局工作人员上门要验证码、让刷脸的都是诈骗！",
    "【国家反诈中心】警惕冒充医保局人员上门送礼品，切勿扫陌生二维码。",
    "今天村委会门口有人在发传单",
    "授权码 YB-450881-2025-0001 工作证号 GP0012 桂平市医疗保障局",
]
OFFICIAL = [
    "医保电子凭证可以在国家医保服务平台自己开通，详见 https://www.nhsa.gov.cn/",
    "【桂平市医疗保障局】本年度参保缴费政策见 http://ybj.guigang.gov.cn",
]


@pytest.mark.parametrize("text", SCAMS)
def test_scams_are_scams_and_say_why(text: str) -> None:
    j = judge(text, recipient_tail="678")
    assert j.verdict == "scam", j
    reply = answer(j, text)
    assert reply.startswith("这条像是诈骗：") and responses.fits_sms(reply)
    assert "：。" not in reply  # there is a reason


@pytest.mark.parametrize("text", UNSURE)
def test_unsure_texts_get_what_to_do(text: str) -> None:
    j = judge(text)
    assert j.verdict == "unsure", j
    reply = answer(j, text)
    assert responses.fits_sms(reply)
    assert "110" in reply or "12393" in reply or "验证码不给人" in reply


@pytest.mark.parametrize("text", OFFICIAL)
def test_government_links_are_official(text: str) -> None:
    j = judge(text)
    assert j.verdict == "official", j
    assert "政府网站" in answer(j, text)


def test_the_link_is_named() -> None:
    j = judge(SCAMS[0])
    assert "nhsa-gov.top" in answer(j)
    assert j.links == ("http://nhsa-gov.top/a",)


def test_host_is_read_as_a_browser_does() -> None:
    # The userinfo trick: the host is evil.example.com, not gov.cn.
    j = judge("【医保局】http://www.gov.cn@evil.example.com/ 请认证")
    assert j.verdict == "scam"
    assert any(s.evidence == "evil.example.com" for s in j.signals)
    # A number spelled as one integer is a bare IP.
    assert "bare_ip" in judge("看看 http://3232235777/a").kinds()


def test_every_real_tip_in_our_format_is_official_only_with_the_right_tail() -> None:
    for tip in tips.all_tips():
        sms = texts.render_tip(tip.text, "13900001678")
        assert judge(sms, recipient_tail="678").verdict == "official", sms
        wrong = judge(sms, recipient_tail="321")
        assert wrong.verdict == "scam", sms
        assert "冒充" in answer(wrong, sms)
        # Unknown recipient (WeChat, web chat): we cannot tell.
        assert judge(sms).verdict == "unsure", sms


def test_our_format_with_a_link_or_number_is_a_spoof() -> None:
    for sms in (
        "【村村反诈】您的医保码需重新激活 http://cc-fz.top（尾号678）回T退订",
        "【村村反诈】请回电13812345678核实医保信息（尾号678）回T退订",
    ):
        j = judge(sms, recipient_tail="678")
        assert j.verdict == "scam"
        assert answer(j, sms).startswith("这条是冒充")


def test_phone_numbers_are_masked_in_evidence_but_kept_for_lookup() -> None:
    j = judge("医保局通知：请拨打 138 1234 5678 办理", recipient_tail=None)
    assert j.phones == ("13812345678",)
    assert all("12345678" not in s.evidence for s in j.signals)
    assert "138****5678" in answer(j)


def test_official_numbers_are_not_suspects() -> None:
    j = judge("有疑问请拨打12393或110，也可以打96110")
    assert j.phones == () and j.verdict == "unsure"


def test_codes_and_work_ids_go_to_the_registry() -> None:
    j = judge("桂平市医疗保障局 授权码：ＹＢ－４５０８８１－２０２５－０００１ 胸牌号 gp-0012")
    assert j.codes == ("YB-450881-2025-0001", "GP0012")
    assert "YB-450881-2025-0001" in answer(j)


def test_one_character_changed_is_still_caught() -> None:
    base = "【医保局】您的医保码即将过期，请点击 http://yb-renzheng.top 认证"
    variants = [
        base.replace("医保局", "医報局"),  # the signature changed
        base.replace("过期", "過期"),
        base.replace("http://", "hxxp://").replace("yb-renzheng.top", "yb-renzheng.top"),
        "有人要我的验正码，说是帮开医保",
        "工作人员让我报一下驗證碼",
    ]
    for text in variants:
        assert judge(text).verdict == "scam", text


def test_warnings_are_not_requests() -> None:
    for text in (
        "不要把验证码告诉任何人",
        "切勿给陌生人刷脸",
        "凡是让你共享屏幕的都是诈骗",
    ):
        assert judge(text).verdict != "scam", text


def test_money_gone_gets_first_aid_first() -> None:
    for text in ("我已经转了5000元给他们了怎么办", "我被骗了，钱被转走了"):
        reply = answer(judge(text), text)
        assert reply.startswith("钱已经转出") and "110" in reply and "96110" in reply
    # A scam that took money: first aid comes first.
    text = "我按短信点了 t.cn/abc 链接，已经付了300元"
    j = judge(text)
    assert j.verdict == "scam"
    assert answer(j, text).startswith("钱已经转出")


def test_pasted_sms_is_told_from_own_words() -> None:
    assert judge("【中国移动】尊敬的客户，您本月套餐流量已用完").pasted
    assert judge("【淘宝】您的验证码是384920").pasted
    assert not judge("有人上门说帮我开医保码，真的假的").pasted


def test_never_official_for_a_scam_even_with_a_gov_link() -> None:
    text = "【医保局】请访问 https://www.nhsa.gov.cn 并把验证码发给工作人员"
    assert judge(text).verdict == "scam"
    text = "登录 www.nhsa.gov.cn 后加微信 yb123 领补贴"
    assert judge(text).verdict == "scam"


def test_every_answer_fits_three_segments() -> None:
    for text in SCAMS + UNSURE + OFFICIAL:
        assert responses.fits_sms(answer(judge(text), text))
