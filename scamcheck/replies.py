"""The villager's answer to a judgement (texts in responses/scamcheck.yml).

Registered codes: ``judge`` is pure, so it cannot say whether an authorisation code or
work ID on a letter is registered. When ``j.codes`` is not empty and the verdict is not
``scam``, the caller checks them against the registry (``registry.activities.check(db,
vault, code=..., work_id=..., village=...)``, the same check bot/verify_team.py words)
and sends that verdict; ``answer`` meanwhile says which codes it found and that the
registry decides. A forged code reported in the registry makes the whole thing a scam.
"""

from __future__ import annotations

import re

import responses
import weburl
from scamcheck.signals import CODE_TEMPLATE, OUR_SIGNATURE, Judgement, absolute, normalise

MAX_REASONS = 3
_WARNING = re.compile(r"诈骗|骗子|反诈|谨防|警惕|切勿")


def _texts() -> dict:
    return responses.catalogue("scamcheck")


def why(j: Judgement) -> str:
    """The reasons, one short phrase per signal kind, the strongest first."""
    reasons = _texts()["reasons"]
    strong_first = sorted(j.signals, key=lambda s: s.kind in ("impersonation", "urgency", "gift"))
    phrases: list[str] = []
    seen: set[str] = set()
    for s in strong_first:
        if s.kind in seen or s.kind == "money_gone":
            continue
        seen.add(s.kind)
        evidence = s.evidence if len(s.evidence) <= 24 else s.evidence[:23] + "…"
        key = "call_back" if s.kind == "add_contact" and evidence[:1].isdigit() else s.kind
        phrases.append(reasons[key].format(e=evidence))
    return "、".join(phrases[:MAX_REASONS])


def answer(j: Judgement, text: str = "") -> str:
    """At most 3 SMS segments. ``text`` (optional, the judged text) lets an unsure
    answer recognise an anti-fraud warning (12381's) and say what real ones look like."""
    t = _texts()
    norm = normalise(text)
    first_aid = t["money_gone"].strip() if "money_gone" in j.kinds() else ""
    if j.verdict == "scam":
        ours = any(s.kind == "impersonation" and OUR_SIGNATURE in s.evidence for s in j.signals)
        body = t["scam_ours" if ours else "scam"].format(why=why(j) or "说法不对").strip()
        return _join(first_aid, body)
    if j.verdict == "official":
        if j.links:
            link = weburl.parse_link(absolute(j.links[0]))
            return t["official_gov"].format(host=link.host if link else j.links[0]).strip()
        return t["official_ours"].strip()
    if first_aid:
        return first_aid
    if CODE_TEMPLATE.search(norm):
        # A real code SMS (or one that asks nothing yet): what matters is who asks for it.
        return t["code_sms"].strip()
    if j.codes:
        return t["unsure_codes"].format(codes="、".join(j.codes[:2])).strip()
    if _WARNING.search(norm) and not j.links and not j.phones:
        return t["unsure_warning"].strip()
    return t["unsure"].strip()


def _join(first: str, second: str) -> str:
    # First aid comes first and must survive; the scam reasons are dropped if both do not fit.
    if not first:
        return second
    both = first + second
    return both if responses.fits_sms(both) else first
