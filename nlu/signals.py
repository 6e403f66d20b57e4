"""Rules that outrank the model where a wrong guess would hurt: words saying harm has
already happened (first aid, whatever the intent), and words saying the opposite of a
subscribe / unsubscribe parse (ask before changing anything).

They are part of understanding, so they live here: the conversation engine acts on them
(bot/engine.py) and the evaluation counts harmful outcomes with them
(nlu/comparison.py), so the report measures what a villager gets. Both read the
normalised text (traditional characters, full-width forms folded) and its sound.
"""

from __future__ import annotations

import re

from nlu.normalise import normalise
from nlu.sounds import pinyin

_STOP = r"[^，。,.!?！？]"  # within one clause
# The SMS code, as villagers name it without the word: 六位数, 那串数字, 短信里的码.
_CODE = (
    r"(?:验证码|校验码|动态码|[四六几]位数(?:字)?|那串数字?|那几个数字?"
    r"|短信里的(?:数字?|码)|(?<!二维)码)"
)
_NEGATED = re.compile(r"(没|不|别|未|没有|不要|不能|千万别|冇|唔)$")
# Things that already happened to the villager. Besides the act (scanned, gave the code,
# showed the face) the consequences a victim reports without naming the act: money
# gone or debited, an account, card or loan opened in their name, a "registration
# succeeded" message they never asked for, an account taken over.
_VICTIM = re.compile(
    r"扫了|扫过了|扫完了|刷了脸|刷脸了|拍了脸|上当了|被骗了|受骗了"
    rf"|{_CODE}{_STOP}{{0,6}}(给了|告诉了|发给了|报给|念给|给他|给她|给他们)"
    rf"|(把|将){_STOP}{{0,8}}{_CODE}{_STOP}{{0,4}}(给|告诉|发|念|报)"
    rf"|(给|告诉|发给)了?(他|她|他们|人家|对方){_STOP}{{0,2}}验证码"
    rf"|(说|念|报|输|填|发)了(个|那个|一个|串)?{_CODE}"
    rf"|(钱|存款|余额|工资|养老金|低保|补贴){_STOP}{{0,6}}"
    r"(没了|被扣|被转|少了|转走|不见了|被划|被取)"
    rf"|(扣了|扣走|转走了|划走|被骗了?){_STOP}{{0,4}}(钱|元|块)|没花过这钱|不是(我|俺|咱|我们|俺们|我家)(花|消费|转|办|借|刷)的"
    rf"|(名下|我的名字|我的身份证|用我的身份证|拿我身份证){_STOP}{{0,8}}(开了|办了|注册了|贷款|借了)"
    rf"|多(出)?了(一|两|几)?(个|张|笔){_STOP}{{0,4}}(账户|账号|户头|卡|贷款|借款|网贷)"
    rf"|(收到|来了){_STOP}{{0,10}}(注册成功|开户成功|绑定成功|借款成功|贷款成功|放款|还款提醒|催收)"
    rf"|(微信|支付宝|QQ|qq|账号|银行卡){_STOP}{{0,4}}(被盗|被封|被冻结|被人登|登不上了|被人改了)"
    r"|被(人)?(冒用|盗用)|冒用了?我的"
    # told of a debt they never took: "说我借了网贷", "显示俺欠了..."
    rf"|(说|显示|通知)(我|俺|我妈|我爸){_STOP}{{0,8}}(借了|贷了|欠了|欠款|逾期)"
)
# Harm said in words a villager uses without the act or the word 钱: money gone from a
# card or account (卡里少了三千, 养老金被人取走了), an ID card handed over or photographed
# (俺还把身份证给他们拍了: accounts can be opened in their name). Looser patterns than
# _VICTIM, so also not inside a question (会不会被转走?) and not after a negation anywhere
# before them.
_HARM_TOO = re.compile(
    r"(卡|卡里|卡上|账户|账上|户头|存折|微信里|支付宝里|余额)[^，。,.!?！？\s]{0,4}(少了|没了|空了|被取|被划|被转|被扣)"
    r"|(钱|存款|积蓄|养老金|低保|补贴|工资)[^，。,.!?！？\s]{0,4}被人?(取|划|转|扣|骗|拿)走?了"
    r"|(把|将)?身份证[^，。,.!?！？\s]{0,4}(给他们?拍了|让他们?拍了|被拍了|拍走了|给了|交给了|给他们?了)"
)
_HARM_NEGATED = re.compile(r"(没|不|别|未|没有|会不会|是不是|怕)[^，。,.]{0,3}$")
_HARM_ASKED = re.compile(r"[吗么?？]|会不会|是不是")
_CLAUSE_END = re.compile(r"[，。,.!?！？\s]")
_SUBSCRIBE_AGAINST = re.compile(
    # read as subscribe, but it says stop: 退订 (also by sound: 腿订), 取消, 停, a negated
    # 想收/要收/订 (Mandarin 不/别/没, Cantonese 冇/唔)
    r"退订|取消|停|[不别没冇唔莫](?:想|要|用|再)*(?:给我|给俺|给)?[收发订]"
)
_UNSUBSCRIBE_AGAINST = re.compile(
    # read as unsubscribe, but it asks to start or resume ("不想收了" is no such ask,
    # hence the negation look-behind), negates the opt-out itself (不想退订, 别退订) or
    # only asks about it (退订吗)
    r"不是退|(?<![不别没冇唔莫])(?:开通|订上|重新订|再订|恢复|继续收|还想收|想收|要收)"
    r"|[不别没冇唔莫勿](?:想|要|用|需要|会|必)?(?:退订|退掉|取消订阅|取消提醒)"
    r"|退订[吗么嘛?？]"
)
_SUBSCRIBE_AGAINST_SOUND = re.compile(r"tuiding|quxiao")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def victim_words(text: str) -> bool:
    """True when the text says harm already happened (scanned, gave the code, money gone,
    an account opened in their name)."""
    text = normalise(text)
    for match in _VICTIM.finditer(text):
        before = text[max(0, match.start() - 3) : match.start()]
        if not _NEGATED.search(before):
            return True
    for match in _HARM_TOO.finditer(text):
        clause = match.group(0) + _CLAUSE_END.split(text[match.end() :], maxsplit=1)[0]
        if not _HARM_NEGATED.search(text[: match.start()]) and not _HARM_ASKED.search(clause):
            return True
    return False


def contrary(intent: str, text: str) -> bool:
    """True when a subscribe / unsubscribe parse's text also says the opposite: where a
    linear model flips a subscription ("不是退订 我是想开通", "之前取消了 再帮我订上"),
    so such a parse is asked about first, never acted on."""
    text = normalise(text)
    if intent in ("subscribe", "unsubscribe") and not _CJK.search(text):
        # No Chinese word for it (markup, code, pinyin, stray letters): the exact words
        # (T, TD, STOP...) are acted on before any model; a guess from letters is asked.
        return True
    if intent == "subscribe":
        return bool(
            _SUBSCRIBE_AGAINST.search(text) or _SUBSCRIBE_AGAINST_SOUND.search(pinyin(text))
        )
    if intent == "unsubscribe":
        return bool(_UNSUBSCRIBE_AGAINST.search(text))
    return False
