"""The report form: a short series of questions over the channel the villager used.

A report is made only when meant: an explicit report ("我要举报", "快来人"), menu 3 /
"举报", a confirmed offer ("回3举报" after advice), a check's "回1举报", or a cadre's
forward. The villager's words and photos from the last minutes are carried into it.
The report row is written once there is something in it (never an empty draft) and
updated after each answer, so a reporter who stops answering still leaves a report (it
reaches the queue, marked 未填完, after 30 minutes: ``reporting.reports.queue``).
What the first message already said (village, time, phone numbers, who they claimed to
be) is not asked again. Leave words, skip words and the time-to-live are the engine's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import responses
from bot import control_words, subscriptions
from bot.engine import Engine, Form, Turn, join_if_fits
from bot.messages import Media
from nlu import Parse
from nlu.normalise import normalise
from nlu.parser import Entity
from reporting import cadres, incidents, jurisdiction, reports
from scamcheck import signals as scam_signals

FORM = "report_form"
REPORT_INTENTS = ("report_qr_code", "report_phone_borrowing", "report_suspicious_visit")
# Asking the police to come: a report, and a sign the people are there now.
_COME_NOW = r"快来人|派人来|请.{0,2}来人|出警"
# Words that mean "take this as a report now", not a question about one.
_EXPLICIT = re.compile(rf"举报|报案|报警|{_COME_NOW}|抓(他|住|人)")
_HERE_NOW = re.compile(rf"{_COME_NOW}|快来")
_ASKING = re.compile(
    r"(要不要|该不该|用不用|能不能|可不可以|是不是|需不需要).{0,4}(举报|报案|报警)|[吗嘛么?？]\s*$"
    # asked the dialect way, closed by 不/没: 还要举报不, 用报警不
    r"|(要|用|该|得|能)[^，。,.]{0,3}(举报|报案|报警)[^，。,.]{0,2}(不|没)\s*$"
)
# A polite request that we report it for them ("能帮我报警吗", "替俺举报一下"): a question
# in form only.
_ASK_US = re.compile(r"(帮|替|给)(我|俺|我们|俺们|我家|咱)[^，。,.!?！？]{0,2}(举报|报警|报案)")
# Taking the offer "要举报回复3" in words, right after it: 报吧, 好的 帮俺报一下, 那就举报吧.
_TAKE_OFFER = re.compile(
    r"^(?:那|好|好的|行|中|要得|嗯|对)?[\s,，]*(?:那)?(?:就)?(?:帮|替|给)?(?:我|俺|咱|我们|俺们)?"
    r"(?:要)?(?:举报|报警|报案|报)(?:一下|了吧|吧|了|呗|啊|嘛|下)?[\s!！。.]*$"
)
# The answers that end with that offer (their topic lives one turn: engine.respond).
_OFFERED_AFTER = frozenset((*REPORT_INTENTS, "already_victim", "scam_text", "debit"))
_QUESTION = re.compile(
    r"[吗嘛么?？]\s*$|咋办|怎么办|咋整|怎么弄|能不能|要不要|是不是|可以吗|行不行"
    # 呢 closes statements too ("他们还在村委会门口呢"): a question only with a question word
    r"|(啥|什么|咋|怎么|哪|谁|多少|几|还是)[^，。,.]{0,8}呢\s*$"
    # A-not-A in dialect (中不中, 扫不扫, 去不去) and a question closed by 不/没 or
    # 吧 as villagers end one: 能扫不, 靠谱不, 真的不, 有用没, 借给他没事吧.
    r"|(?P<a>[\u4e00-\u9fff])不(?P=a)"
    r"|(能|可以|行|中|要|该|是|对|有|会|用|真的|靠谱|要紧|安全)[^，。,.\s]{0,4}(不|没|没有)\s*$"
    r"|(没事|没关系|不要紧|要紧|行|可以|对|是|安全)吧\s*$"
    r"|为啥|为什么|咋回事|怎么回事|(啥|什么)时候[^，。,.]{0,6}(来|到|能|会|管|处理|联系)"
    # "what is it?" closed without a particle (验证码是啥东西, 医保码是干啥用的), and a
    # question opened by its question word (怎么开通医保码, 咋知道是不是骗子)
    r"|(是啥|是什么|啥意思|什么意思|啥东西|什么东西|干啥用|干什么用|有啥用|有什么用"
    r"|干啥的|干嘛的|做什么的)[的呀啊哦]?\s*$"
    r"|^(请问|咋|怎么|怎样|如何|为啥|啥叫|什么叫|能不能|可不可以)"
)
# "When will the police come?" asked while the form waits: what happens next, then the
# question again (the model has no intent for it and would guess one).
_WHEN_POLICE = re.compile(
    r"(警察|民警|公安|派出所|你们|有人)[^，。,.]{0,6}(啥时候|什么时候|多久|几时|会不会|能不能|会)"
    r"[^，。,.]{0,4}(来|到|管|处理|联系|上门)"
    r"|(啥时候|什么时候|多久|几时)[^，。,.]{0,6}"
    r"(来人|出警|有人来|有结果|处理|来管|(警察|民警|公安|派出所|人)[^，。,.]{0,2}来)"
)
# Only the words "I want to report": nothing to put in a report yet.
_BARE_REPORT = re.compile(
    r"^(?:我|俺|咱|我们|俺们)?(?:要|想|想要|来|就)?(?:举报|报警|报案)(?:一下)?[了啊呀吧哈]*[。.!！]*$"
)
_TIME = re.compile(
    r"现在|刚才|刚刚|今天|昨天|前天|上午|下午|早上|中午|晚上|点|号|月|日|分钟|小时|前|周|星期"
)
_PLACE = re.compile(r"(村|屯|庄|寨|社区|组|镇|乡|街道)")
# Menu words that start the form carry no content worth keeping as the summary.
_NO_SUMMARY = {"3", "举报", "1", "是", "好", "对"}

# Called for every photo a reporter sends, after it is stored as an attachment:
# hook(engine, turn, report, attachment_id, media). A hook may add replies with
# turn.say() (e.g. what a QR code in the photo points to).
PhotoHook = Callable[[Engine, Turn, dict[str, Any], int, Media], None]


def _text(key: str, **values: Any) -> str:
    return responses.text(f"report_form.{key}", **values)


# "我不想举报", "不用报警了", "别举报", "没必要报案吧": the word, said not to happen.
_REFUSED = re.compile(
    # (not the 不 of 能不能/要不要: "能不能帮我报警" asks for it)
    r"((?<![能要该用可需是])不|别|没|甭|莫|冇|唔|没必要|用不着)[^，。,.!?！？]{0,3}(举报|报案|报警)"
    # a report as the thing acted on or talked about, not asked for: "删除所有举报",
    # "撤回举报", "举报系统", "举报记录" (an injection-like command opens no report)
    r"|(删|撤|清空|作废|篡改|修改)[^，。,.!?！？]{0,4}(举报|报案|报警)"
    r"|(举报|报案|报警)(都|全|全部)?(删|撤)"
    r"|(举报|报案|报警)(系统|记录|数据|后台|名单)"
)


def here_now(text: str) -> bool:
    """The people are there now ("人还没走", "快来人"): call 110 first, and it is urgent."""
    return reports.here_now(text) or bool(_HERE_NOW.search(text))


def explicit_report(text: str) -> bool:
    """True for "我要举报" / "快来人" / "能帮我报警吗" (also 我要舉報), False for "要不要报警啊"
    or "我不想举报"."""
    text = normalise(text)
    if _REFUSED.search(text):
        return False
    asked = _EXPLICIT.search(text) and not _ASKING.search(text)
    return bool(asked or _ASK_US.search(text))


# What the words before a report were read as, when they are no clue for the police: a
# subscription change in other words (以后不想收这种了), a greeting, thanks, an admin
# question (engine._remember keeps the intent with the words).
_NOT_A_CLUE = frozenset(
    {"subscribe", "unsubscribe", "greet", "thanks", "help", "insurance_question", "follow_up"}
)


def _worth_keeping(text: str) -> bool:
    """Words carried into a report: not a menu digit, "0", a yes, a skip or a leave word."""
    word = text.strip().casefold()
    return (
        bool(word)
        and not control_words.is_skip(word)
        and not control_words.is_yes(word)
        and not control_words.is_no(word)
        and not control_words.is_leave(word)
        and word not in _NO_SUMMARY
        and not _BARE_REPORT.match(word)
        and not _TAKE_OFFER.match(word)
        and subscriptions.command_intent(word) is None  # "订阅" said just before
        and word not in responses.MENU_CHOICES
        and word != "0"
        and len(word) > 1
    )


def is_question(text: str) -> bool:
    return bool(_QUESTION.search(text))


class ReportForm(Form):
    name = "report"
    form_name = FORM
    intents = (*REPORT_INTENTS, "already_victim", "start_report", "check_report_status")
    slots = ("village", "township", "time", "details", "photo")
    own_intents = frozenset(REPORT_INTENTS)

    def __init__(
        self,
        photo_hooks: list[PhotoHook] | None = None,
        earlier_check: Callable[[Engine, Turn, dict[str, Any]], None] | None = None,
    ) -> None:
        self.photo_hooks = list(photo_hooks or [])
        self.earlier_check = earlier_check

    # --- starting -------------------------------------------------------------------
    def recognise(self, engine: Engine, turn: Turn) -> bool:
        """ "能帮我报警吗": a plain ask that we report it, whatever the model would make of
        the rest (外地 read as 异地就医). The report is about the last warning, if any."""
        if turn.message.media:
            return False
        offer = turn.state.get("offer")
        if offer and self._names_a_village(engine, turn.text):
            # Just told "要举报回复3", they answer with where: offer it for that village
            # (the name is carried into the report if they say 3).
            turn.say(_text("place_offer", village=turn.text))
            turn.state["topic"] = "place_offer"
            return True
        if (
            offer
            and turn.last_topic in (*_OFFERED_AFTER, "place_offer")
            and (control_words.is_no(turn.text) or control_words.is_leave(turn.text))
        ):
            # "不用了" / "算了" right after the offer: no report, and no opt-out either.
            turn.state.pop("offer", None)
            turn.parse = Parse(turn.text, "follow_up", 1.0)
            turn.say(responses.text("report_declined"))
            return True
        if turn.last_topic == "place_offer" and control_words.is_yes(turn.text):
            # "是要举报新圩村的情况吗？回复3登记" answered 好的 / 嗯 / 是的: that is a 3.
            turn.parse = Parse(turn.text, "report_suspicious_visit", 1.0)
            engine.run("report_suspicious_visit", turn, menu=True)
            return True
        if offer and turn.last_topic in _OFFERED_AFTER and _TAKE_OFFER.match(turn.text):
            # "要举报回复3" just said; "报吧", "好的 帮俺报一下", "那就举报吧" take it.
            # (A bare 好的 / 要得 does not: after advice it is as often "understood".)
            intent = offer if offer in (*REPORT_INTENTS, "already_victim") else None
            engine.start_report(turn, intent or "report_suspicious_visit")
            return True
        if not _ASK_US.search(turn.text) or _REFUSED.search(turn.text):
            return False
        topic = turn.last_topic
        intent = topic if topic in (*REPORT_INTENTS, "already_victim") else None
        engine.start_report(turn, intent or "report_suspicious_visit")
        return True

    @staticmethod
    def _names_a_village(engine: Engine, text: str) -> bool:
        return len(text) <= 12 and jurisdiction.find_villages(engine.db, text)[1] == "exact"

    def answer(self, engine: Engine, turn: Turn, intent: str) -> None:
        run_with = turn.state.get("run_with") or {}
        if intent == "check_report_status":
            report_status(engine, turn)
            return
        if intent == "start_report":
            self.start(
                engine,
                turn,
                run_with.get("report_intent") or "report_suspicious_visit",
                summary=run_with.get("summary"),
            )
            return
        if intent == "already_victim":
            # The urgent steps; a report only when they ask for one (回3, 我要举报).
            if explicit_report(turn.text) and not turn.answer_only:
                self.start(engine, turn, intent, advice=True)
                return
            engine.plain_answer(turn, intent)
            if not turn.answer_only and not run_with.get("menu"):
                turn.state["offer"] = intent
                turn.replies[-1:] = join_if_fits(turn.replies[-1], responses.text("offer_report"))
            return
        if run_with.get("menu") or (explicit_report(turn.text) and not turn.answer_only):
            self.start(engine, turn, intent, advice=not run_with.get("menu"))
            return
        engine.plain_answer(turn, intent)
        if not turn.answer_only:
            turn.state["offer"] = intent
            turn.replies[-1:] = join_if_fits(turn.replies[-1], responses.text("offer_report"))

    def start(
        self,
        engine: Engine,
        turn: Turn,
        intent: str,
        *,
        advice: bool = False,
        summary: str | None = None,
    ) -> None:
        """Open the form, carrying what the villager said and sent in the last minutes."""
        offered = turn.state.pop("offer", None)
        if offered and intent == "report_suspicious_visit" and turn.text in _NO_SUMMARY:
            intent = offered if offered in (*REPORT_INTENTS, "already_victim") else intent
        advice_replies: list[str] = []
        if advice:
            engine.plain_answer(turn, intent)
            advice_replies = list(turn.replies)
            turn.replies.clear()
        carried = [
            r
            for r in turn.recent()
            if _worth_keeping(r.get("text") or "") and r.get("intent") not in _NOT_A_CLUE
        ]
        words = [r["text"] for r in carried]
        if _worth_keeping(turn.text) and turn.text not in words:
            words.append(turn.message.text.strip())
        form = self.open(turn, intent=intent, report_id=None, asked=[], filled={})
        form["summary"] = summary or "\n".join(words)
        form["media"] = [m for r in turn.recent() for m in r.get("media", [])]
        form["media"] += [[m.url, m.content_type] for m in turn.message.media]
        # A photo or a message judged just before: its check goes into the report.
        form["last_qr"] = turn.state.pop("last_qr", None)
        form["last_text_check"] = turn.state.pop("last_text_check", None)
        turn.state.pop("recent", None)
        cadre = cadres.lookup(engine.db, turn.sender_hash)
        report = self._report(engine, turn) if (form["summary"] or form["media"]) else None
        if report is not None:
            self._prefill(engine, turn, report, cadre, " ".join(words))
        elif cadre:
            form["cadre_village"] = True
        question = self.next_question(engine, turn)
        first = question if form.get("ref") else _text("started") + question
        if here_now(" ".join(words)):
            form["told_110"] = True
            first = _text("here_now") + first
        turn.say(*join_if_fits(*advice_replies, first))
        self._log(engine, turn, turn.replies)

    def _report(self, engine: Engine, turn: Turn) -> dict[str, Any]:
        """The report row, written the first time there is something to put in it."""
        form = turn.state["form"]
        if form.get("report_id"):
            return reports.get(engine.db, form["report_id"]) or {}
        cadre = cadres.lookup(engine.db, turn.sender_hash)
        report = reports.create(
            engine.db,
            engine.vault,
            channel=turn.message.channel,
            contact=turn.message.sender,
            intent=form.get("intent") or "report_suspicious_visit",
            summary=form.get("summary") or "",
            cadre=cadre,
            source=turn.source,
        )
        form["report_id"], form["ref"] = report["id"], report["ref"]
        form["announce"] = True  # the next question starts with "已登记…编号"
        if not reports.messages(engine.db, report["id"]):  # not when resuming after a crash
            for line in (form.get("summary") or "").split("\n"):
                if line:
                    reports.add_message(engine.db, report["id"], "in", line)
            earlier = {k: form.pop(k, None) for k in ("last_qr", "last_text_check")}
            if any(earlier.values()) and self.earlier_check:
                turn.state.update({k: v for k, v in earlier.items() if v})
                self.earlier_check(engine, turn, report)
            for url, content_type in form.pop("media", []):
                self._store_one(engine, turn, report, Media(url, content_type))
        if form.get("cadre_village") and cadre:
            self._cadre_route(engine, report["id"], cadre)
        return report

    def _prefill(
        self,
        engine: Engine,
        turn: Turn,
        report: dict[str, Any],
        cadre: dict[str, Any] | None,
        text: str,
    ) -> None:
        db = engine.db
        by_name: dict[str, list[str]] = {}
        for entity in turn.parse.entities if turn.parse else []:
            by_name.setdefault(entity.entity, []).append(str(entity.value))
        fields: dict[str, Any] = {}
        if by_name.get("time"):
            fields["occurred_text"] = by_name["time"][0]
        extra = []
        if by_name.get("organization"):
            extra.append("自称：" + "、".join(dict.fromkeys(by_name["organization"])))
        if by_name.get("phone_number"):
            extra.append("电话：" + " ".join(dict.fromkeys(by_name["phone_number"])))
        if extra:
            fields["details"] = "；".join(extra)
        if fields:
            reports.update(db, report["id"], **fields)
        if by_name.get("village"):
            self._route_village(engine, turn, report["id"], by_name["village"][0])
        elif text and jurisdiction.find_villages(db, text)[1] in ("exact", "contains"):
            # A village of our table named in what they said, which the model did not
            # tag (jieba cuts unknown names badly): no need to ask for it.
            self._route_village(engine, turn, report["id"], text)
        elif cadre:
            self._cadre_route(engine, report["id"], cadre)

    def _cadre_route(self, engine: Engine, report_id: int, cadre: dict[str, Any]) -> None:
        db = engine.db
        row = jurisdiction.exact(db, cadre["county"], cadre["township"], cadre["village"])
        route = (
            jurisdiction.Route(
                "routed", row, note="cadre's registered village", county=row["county"]
            )
            if row
            else jurisdiction.Route("unrouted", note="cadre's village no longer in table")
        )
        reports.apply_route(db, report_id, route, village_text=cadre["village"])

    def _route_village(self, engine: Engine, turn: Turn, report_id: int, text: str) -> str:
        """Route by the village as written: "routed", "ambiguous" or "unrouted"."""
        route = jurisdiction.route(engine.db, text)
        reports.apply_route(engine.db, report_id, route, village_text=text)
        if route.status == "ambiguous":
            turn.state["form"]["candidates"] = [
                {
                    k: c[k]
                    for k in ("county", "township", "township_norm", "village", "station_code")
                }
                for c in route.candidates
            ]
        return route.status

    # --- the slots --------------------------------------------------------------------
    def needed(self, engine: Engine, turn: Turn, slot: str) -> bool:
        form = turn.state["form"]
        report = reports.get(engine.db, form["report_id"]) if form.get("report_id") else {}
        report = report or {}
        if slot == "village":
            return report.get("routing", "pending") == "pending" and not form.get("cadre_village")
        if slot == "township":
            return bool(form.get("candidates"))
        if slot == "time":
            return not report.get("occurred_text")
        if slot == "photo":
            return not (report and reports.attachments(engine.db, report["id"]))
        return True

    def next_question(self, engine: Engine, turn: Turn) -> str:
        form = turn.state["form"]
        if form.get("candidates") and "township" in form.get("asked", []):
            form["asked"].remove("township")  # a new village answer: ask its township
        question = super().next_question(engine, turn)
        if form.get("report_id"):
            reports.update(engine.db, form["report_id"], form_step=form.get("slot"))
        return question

    def ask(self, engine: Engine, turn: Turn, slot: str, again: bool = False) -> str:
        form = turn.state["form"]
        if form.pop("announce", False):
            return _text("created", ref=form["ref"]) + self._ask(form, slot, again)
        return self._ask(form, slot, again)

    def _ask(self, form: dict[str, Any], slot: str, again: bool) -> str:
        if slot == "township":
            choices = _choices(form)
            if again:
                return _text("township_again", choices=choices)
            return _text("ask_township", village=form["candidates"][0]["village"], choices=choices)
        if slot == "village" and again:
            return _text("village_again")
        return _text(f"ask_{slot}")

    def looks_like_answer(self, engine: Engine, turn: Turn, slot: str) -> bool:
        text = turn.text
        if turn.message.media or scam_signals.looks_pasted(text):
            return True  # a photo, a pasted SMS: kept in the report (fill)
        if slot == "township":
            return text.isdigit() or not is_question(text)
        if slot == "village":
            if is_question(text) or text in responses.MENU_CHOICES:
                return False
            if len(text) <= 10 and _PLACE.search(text):
                return True
            return jurisdiction.find_villages(engine.db, text)[1] in ("exact", "contains")
        if slot == "time":
            return bool(_TIME.search(text)) and not is_question(text)
        return not is_question(text) and text not in responses.MENU_CHOICES

    def is_question(self, turn: Turn) -> bool:
        return is_question(turn.text)

    def own_reply(self, engine: Engine, turn: Turn) -> bool:
        if not _WHEN_POLICE.search(turn.text) or turn.message.media:
            return False
        turn.parse = Parse(turn.text, "check_report_status", 1.0)
        turn.say(*join_if_fits(_text("what_next"), self.current_question(engine, turn)))
        return True

    def fill(self, engine: Engine, turn: Turn, slot: str, skip: bool) -> bool | None:
        db, form = engine.db, turn.state["form"]
        raw = turn.message.text.strip()  # stored as sent; turn.text is cleaned for matching
        text = turn.text
        has_content = bool(text and not skip) or bool(turn.message.media)
        if not form.get("report_id") and not has_content:
            return skip  # nothing yet: skipping is fine, an empty answer is not
        report = self._report(engine, turn)
        report_id = report["id"]
        judged = scam_signals.judge(text) if not turn.message.media else None
        if judged is not None and judged.pasted:
            # The SMS they got, pasted at any question: the police want it, and the
            # villager wants to know now whether it is a scam.
            reports.append_details(db, report_id, raw)
            said = _text("sms_scam" if judged.verdict == "scam" else "sms_kept")
            if "money_gone" in judged.kinds():  # a debit they did not make: first aid too
                said = str(responses.catalogue("scamcheck")["money_gone"]).strip() + said
            if slot in ("details", "photo"):
                turn.say(said)
                return True
            turn.say(*join_if_fits(said, self.ask(engine, turn, slot)))
            return None
        if slot in ("village", "township", "time") and control_words.phone_only(text):
            # Not where or when: the number they were called from or shown. Kept in the
            # details (the police link reports by it), and the question asked again.
            reports.append_details(db, report_id, "电话：" + raw)
            turn.say(*join_if_fits(_text("phone_kept"), self.ask(engine, turn, slot)))
            return None
        new_photos = self._store_media(engine, turn, report)
        ok = True
        if slot == "village" and not skip and text:
            status = self._route_village(engine, turn, report_id, raw)
            if status == "unrouted" and len(text) > 10:
                reports.append_details(db, report_id, raw)  # a description, not a name
            ok = status != "unrouted" or form.get("village_tried", False)
            form["village_tried"] = True
        elif slot == "township":
            ok = self._answer_township(engine, turn, form, report_id, "" if skip else text)
        elif slot == "time" and not skip and text:
            reports.update(db, report_id, occurred_text=raw)
        elif slot in ("details", "photo") and not skip and text:
            reports.append_details(db, report_id, raw)
        if new_photos:
            turn.say(_text("photo_saved"))
            if "photo" not in form["asked"]:
                form["asked"].append("photo")
        return ok

    def give_up(self, engine: Engine, turn: Turn, slot: str) -> None:
        form = turn.state["form"]
        if slot == "township" and form.get("report_id"):
            reports.apply_route(
                engine.db, form["report_id"], jurisdiction.unresolved(form["candidates"])
            )
        form.pop("candidates", None)

    def _answer_township(
        self, engine: Engine, turn: Turn, form: dict[str, Any], report_id: int, text: str
    ) -> bool:
        """Settle which township; False when the answer named none of them."""
        candidates = form["candidates"]
        picked = jurisdiction.choose_township(candidates, text) if text else None
        if picked is None and text:
            return False
        form.pop("candidates", None)
        if picked:
            row = jurisdiction.exact(
                engine.db, picked["county"], picked["township"], picked["village"]
            )
            if row:
                reports.apply_route(
                    engine.db, report_id, jurisdiction.Route("routed", row, county=row["county"])
                )
                return True
        reports.apply_route(engine.db, report_id, jurisdiction.unresolved(candidates))
        return True

    # --- around the slots -------------------------------------------------------------
    def replied(
        self, engine: Engine, turn: Turn, state: dict[str, Any], replies: list[str]
    ) -> None:
        if state.get("report_id"):
            for reply in replies:
                reports.add_message(engine.db, state["report_id"], "out", reply)

    def received(self, engine: Engine, turn: Turn) -> None:
        form = turn.state["form"]
        if form.get("report_id"):
            reports.add_message(engine.db, form["report_id"], "in", turn.message.text)
        if here_now(turn.text):
            # Whatever slot is asked: they are there now. 110 first (once per form), and
            # the words go into the details, which makes the report urgent.
            # (A bare "现在" answers the time question: it is stored there, not twice.)
            if form.get("report_id") and len(turn.text.strip()) > 3:
                reports.append_details(engine.db, form["report_id"], turn.message.text.strip())
            if not form.get("told_110"):
                form["told_110"] = True
                turn.say(_text("here_now"))

    def victim(self, engine: Engine, turn: Turn) -> None:
        form = turn.state["form"]
        form["summary"] = "\n".join(x for x in (form.get("summary"), turn.message.text) if x)
        report = self._report(engine, turn)
        if form.get("intent") != "already_victim":
            reports.update(engine.db, report["id"], category="victim", intent="already_victim")
        reports.append_details(engine.db, report["id"], turn.message.text.strip())

    def submit(self, engine: Engine, turn: Turn) -> None:
        form = turn.state.pop("form")
        report_id = form.get("report_id")
        if not report_id:
            turn.say(_text("nothing_to_report"))
            return
        db = engine.db
        report = incidents.submit(db, engine.vault, report_id)
        station = (
            jurisdiction.station(db, report["station_code"]) if report.get("station_code") else None
        )
        if turn.message.channel == "web":
            turn.say(_text("done_web", ref=report["ref"]))
        elif station:
            turn.say(_text("done", ref=report["ref"], station=station["name"]))
        else:
            turn.say(_text("done_unrouted", ref=report["ref"]))

    def expire(self, engine: Engine, turn: Turn) -> None:
        form = turn.state["form"]
        report = reports.get(engine.db, form["report_id"]) if form.get("report_id") else None
        if report is not None and report["status"] != "withdrawn":
            incidents.submit(engine.db, engine.vault, report["id"])

    def leave(self, engine: Engine, turn: Turn) -> None:
        form = turn.state["form"]
        report_id = form.get("report_id")
        if not report_id or reports.withdraw(engine.db, report_id):
            turn.say(_text("cancelled"))
            return
        # The police already took it up: withdrawing would bypass their workflow.
        # The form ends, the report stays, and the officer reads the wish in the log.
        report = incidents.submit(engine.db, engine.vault, report_id)
        reports.add_message(engine.db, report_id, "note", "reporter cancelled (举报人要求取消)")
        turn.say(_text("cancel_too_late", ref=report["ref"]))

    def _store_media(self, engine: Engine, turn: Turn, report: dict[str, Any]) -> int:
        for media in turn.message.media:
            self._store_one(engine, turn, report, media)
        return len(turn.message.media)

    def _store_one(self, engine: Engine, turn: Turn, report: dict[str, Any], media: Media) -> None:
        attachment_id = reports.add_attachment(
            engine.db, report["id"], media.url, media.content_type
        )
        for hook in self.photo_hooks:
            hook(engine, turn, report, attachment_id, media)

    def _log(
        self, engine: Engine, turn: Turn, replies: list[str], report_id: int | None = None
    ) -> None:
        report_id = report_id or (turn.state.get("form") or {}).get("report_id")
        if report_id:
            for reply in replies:
                reports.add_message(engine.db, report_id, "out", reply)

    def take(self, engine: Engine, turn: Turn) -> None:  # pragma: no cover - engine loop
        engine.take_form(self, turn)


def _choices(form: dict[str, Any]) -> str:
    return " ".join(f"{i}{c['township']}" for i, c in enumerate(form["candidates"], 1))


def report_status(engine: Engine, turn: Turn) -> None:
    latest = reports.latest_for_contact(engine.db, turn.sender_hash)
    if not latest:
        turn.say(_text("status_none"))
        return
    lines = [_text("status_header")]
    for report in latest:
        # created_at is set on every insert; parse_time's None is for optional columns.
        created = dt.datetime.fromisoformat(report["created_at"]) + dt.timedelta(hours=8)
        lines.append(
            _text(
                "status_line",
                ref=report["ref"],
                date=f"{created.month}月{created.day}日",
                status=_text(f"status.{report['status']}"),
            )
        )
    turn.say("\n".join(lines))


__all__ = ["ReportForm", "explicit_report", "is_question", "Entity"]
