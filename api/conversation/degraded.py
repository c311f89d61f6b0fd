"""Degraded mode: what the gateway answers itself while the bot (Rasa or the action server) is
slow, down or failing.

Questions go to the in-process knowledge base and get its own calibrated decision (the
`decision` of `KnowledgeService.search`, the one the action server applies too): an answer, a
"您是不是想问" clarification, or, when the KB has nothing, a notice that the service is briefly
limited (self-service requests such as bills or limits need the bot) with a button to a human.
The messages have the shapes the actions produce (`actions/retrieval.py`), so every channel
renders them unchanged. Every reply is marked `details.degraded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vocab import MessageType, Outcome
from vocab.buttons import button_for, link_for, target_of
from vocab.language import KB_WORDS, TextTable, answer_body, entry_title, offered_related

HUMAN_PAYLOAD = "/request_human"
NONE_PAYLOAD = "/none_of_these"
# Every text in the conversation's language (issue 19), as the actions word them.
TEXTS = TextTable("degraded", {
    **KB_WORDS,  # btn_human, kb_related, kb_clarify, kb_none_of_these
    "limited": ("抱歉，智能客服的部分服务暂时受限（如账单、额度、卡片等自助办理），"
                "请稍后再试；也可以为您转接人工客服。",
                "Sorry, some services of the assistant are briefly limited (self-service such as "
                "bills, limits and cards). Please try again shortly, or talk to an agent."),
    "kb_down": ("抱歉，智能客服暂时开小差了，请稍后再试，或拨打信用卡客服热线 400-123-4567。",
                "Sorry, the assistant is not available right now. Please try again later, or "
                "call the card hotline 400-123-4567 (24/7)."),
})
HUMAN_BUTTON = {"title": TEXTS.text("btn_human"), "payload": HUMAN_PAYLOAD}
NONE_OF_THESE = {"title": TEXTS.text("kb_none_of_these"), "payload": NONE_PAYLOAD}
LIMITED = TEXTS.text("limited")
KB_DOWN = TEXTS.text("kb_down")
CLARIFY_K = 3
MAX_RELATED = 3


@dataclass
class DegradedTurn:
    """The gateway's own answer to one turn."""

    outcome: str
    messages: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)
    kb: dict[str, Any] | None = None  # the KB event to record (same shape as the actions')


def entry_button(entry_id: str, title: str) -> dict[str, str]:
    return {"title": title, "payload": f'/faq{{"kb_entry_id":"{entry_id}"}}'}


def picked_entry(text: str) -> str | None:
    """The entry id of a "/faq{"kb_entry_id": ...}" button payload, else None."""
    return target_of(text)


def answer_messages(hit: dict[str, Any], lang: str = "zh") -> list[dict[str, Any]]:
    """An entry's rich answer and up to three related questions (as the action sends them)."""
    answer = hit["answer"]
    out: list[dict[str, Any]] = []
    # Titled in the conversation's language (vocab/buttons.py); the payloads stay as written.
    buttons = [button_for(b, lang) for b in answer.get("buttons") or []]
    text, _english = answer_body(hit, lang)
    if buttons:
        out.append({"type": MessageType.BUTTONS.value, "text": text, "buttons": buttons})
    else:
        out.append({"type": MessageType.TEXT.value, "text": text})
    for link in (link_for(lk, lang) for lk in answer.get("links") or []):
        out.append({"type": MessageType.LINK.value, "text": link["title"], "url": link["url"]})
    if answer.get("image"):
        out.append({"type": MessageType.IMAGE.value, "text": "", "url": answer["image"]})
    related = [entry_button(r["entry_id"], entry_title(r, lang))
               for r in offered_related(hit.get("related") or [], lang)]
    if related:
        out.append({"type": MessageType.BUTTONS.value, "text": TEXTS.text("kb_related", lang),
                    "buttons": related[:MAX_RELATED]})
    return out


def from_kb(result: dict[str, Any], *, picked: bool, reason: str,
            lang: str = "zh") -> DegradedTurn:
    """Apply the KB's decision to a search result."""
    hits = result.get("hits") or []
    decision = "answer" if picked and hits else result.get("decision", "fallback")
    release = result.get("release")
    base = {"degraded": True, "degraded_reason": reason}
    if decision == "answer" and hits:
        top = hits[0]
        kb = {"entry_id": top["entry_id"], "score": top.get("score"), "release": release,
              "picked": picked}
        return DegradedTurn(Outcome.ANSWERED.value, answer_messages(top, lang), {**base, "kb": kb},
                            kb)
    if decision == "clarify" and hits:
        buttons = [entry_button(h["entry_id"], entry_title(h, lang)) for h in hits[:CLARIFY_K]]
        kb = {"candidates": [{"entry_id": h["entry_id"], "score": h.get("score")}
                             for h in hits[:CLARIFY_K]], "release": release}
        return DegradedTurn(Outcome.CLARIFY.value,
                            [{"type": MessageType.BUTTONS.value,
                              "text": TEXTS.text("kb_clarify", lang),
                              "buttons": [*buttons, {"title": TEXTS.text("kb_none_of_these", lang),
                                                     "payload": NONE_PAYLOAD}]}],
                            {**base, "kb": kb}, kb)
    kb = {"score": hits[0].get("score") if hits else None, "release": release}
    return limited(reason, kb, lang)


def limited(reason: str, kb: dict[str, Any] | None = None, lang: str = "zh") -> DegradedTurn:
    """The service is briefly limited: offer a human."""
    details: dict[str, Any] = {"degraded": True, "degraded_reason": reason, "offer_human": True}
    if kb is not None:
        details["kb"] = kb
    return DegradedTurn(Outcome.FALLBACK.value,
                        [{"type": MessageType.BUTTONS.value, "text": TEXTS.text("limited", lang),
                          "buttons": [{"title": TEXTS.text("btn_human", lang),
                                       "payload": HUMAN_PAYLOAD}]}], details, kb)


def unavailable(reason: str, lang: str = "zh") -> DegradedTurn:
    """Neither the bot nor the KB can answer (the KB is still loading or failed)."""
    return DegradedTurn(Outcome.UNAVAILABLE.value,
                        [{"type": MessageType.TEXT.value, "text": TEXTS.text("kb_down", lang)}],
                        {"degraded": True, "degraded_reason": reason})
