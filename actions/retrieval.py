"""Answer knowledge questions from the KB: answer, clarify, or fall back (and offer a human)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import kb_client
from actions.language import language_of
from actions.meta import ANSWERED, CLARIFY, FALLBACK, send_meta
from actions.texts import TEXTS, text
from vocab.buttons import button_for, link_for
from vocab.language import answer_body, detect, entry_title, offered_related

logger = logging.getLogger(__name__)

NONE_OF_THESE = {"title": TEXTS["kb_none_of_these"][0], "payload": "/none_of_these"}
MAX_RELATED = 3


def other_issuer_note(other: dict[str, Any], lang: str) -> str:
    """The KB's note about another bank, in the conversation's language (the KB writes it in
    Chinese; an English conversation reads the same note from the table, the bank's name
    kept only when it is written in Latin letters)."""
    if lang != "en":
        return str(other["note"])
    name = str(other.get("name") or "")
    bank = name if name and detect(name) in ("en", None) else text(lang, "kb_another_bank")
    key = "kb_other_product" if other.get("product") else "kb_other_issuer"
    return text(lang, key, bank=bank)


def none_of_these(lang: str) -> dict[str, str]:
    """The "都不是" button in the conversation's language."""
    return {"title": text(lang, "kb_none_of_these"), "payload": "/none_of_these"}


def entry_button(entry_id: str, title: str) -> dict[str, str]:
    """A button that asks the KB for one entry by id."""
    return {"title": title, "payload": f'/faq{{"kb_entry_id":"{entry_id}"}}'}


def hit_button(hit: dict[str, Any], lang: str) -> dict[str, str]:
    """A button for a KB hit (or related entry), titled in the conversation's language."""
    return entry_button(hit["entry_id"], entry_title(hit, lang))


def channel_of(tracker: Tracker) -> str:
    """The cardholder's channel, passed by the gateway in message metadata."""
    metadata = tracker.latest_message.get("metadata") or {}
    return str(metadata.get("channel") or "web")


def utter_answer(dispatcher: CollectingDispatcher, hit: dict[str, Any], lang: str = "zh") -> None:
    """Send an entry's rich answer and up to three related questions."""
    answer = hit["answer"]
    # Titled in the conversation's language (vocab/buttons.py); the payloads stay as written.
    buttons = [button_for(b, lang) for b in answer.get("buttons") or []]
    body, _english = answer_body(hit, lang)
    if buttons:
        dispatcher.utter_message(text=body, buttons=buttons)
    else:
        dispatcher.utter_message(text=body)
    for link in answer.get("links") or []:
        dispatcher.utter_message(json_message={"link": link_for(link, lang)})
    if answer.get("image"):
        dispatcher.utter_message(image=answer["image"])
    related = [hit_button(r, lang) for r in offered_related(hit.get("related") or [], lang)]
    if related:
        dispatcher.utter_message(text=text(lang, "kb_related"), buttons=related[:MAX_RELATED])


def also_asked(dispatcher: CollectingDispatcher, result: dict[str, Any],
               lang: str = "zh") -> None:
    """Offer the other questions of a multi-question message as buttons (the entry that answers
    each when the KB has one, else the question itself, sent again as a message)."""
    buttons = []
    for sub in result.get("sub_questions") or []:
        if sub.get("entry_id"):
            # English: the cardholder's own words are the best English title we have.
            title = (sub.get("question_en") or sub.get("text") if lang == "en"
                     else sub.get("question")) or sub["text"]
            buttons.append(entry_button(sub["entry_id"], title))
        elif sub.get("text"):
            buttons.append({"title": sub["text"], "payload": sub["text"]})
    if buttons:
        dispatcher.utter_message(text=text(lang, "kb_also_asked"), buttons=buttons)


def kb_meta(result: dict[str, Any]) -> dict[str, Any]:
    """The decision's confidence and thresholds, for the ops inbox (low confidence is relative
    to the calibrated answer threshold)."""
    out: dict[str, Any] = {}
    if result.get("confidence"):
        out["confidence"] = result["confidence"]
    if result.get("thresholds"):
        out["thresholds"] = result["thresholds"]
    return out


def respond(dispatcher: CollectingDispatcher, result: dict[str, Any], *, picked: bool,
            fallbacks: int, lang: str = "zh", **meta: Any) -> list[EventType]:
    """Apply the calibrated policy to a search result: answer, clarify, or fall back (the second
    fallback in a row offers a human). `meta` adds details to the turn's outcome.

    A message that named another bank gets the search's note (our answer describes our cards);
    for a product only that bank has, the note says we can only answer for our own cards, and
    our closest entries are offered instead of an answer."""
    hits = result.get("hits") or []
    decision = result.get("decision", "fallback") if not picked else "answer"
    release = result.get("release")
    if picked and not hits:
        decision = "fallback"
    other = (result.get("other_issuer") or {}) if not picked else {}

    if other.get("product") and other.get("note"):
        buttons = [hit_button(h, lang) for h in hits[:3]] \
            if decision in ("answer", "clarify") else []
        if buttons:
            dispatcher.utter_message(text=other_issuer_note(other, lang) +
                                     text(lang, "kb_our_related"), buttons=buttons)
        else:
            dispatcher.utter_message(text=other_issuer_note(other, lang))
        send_meta(dispatcher, CLARIFY if buttons else FALLBACK, reason="other_issuer_product",
                  kb={"candidates": [{"entry_id": h["entry_id"], "score": h.get("score")}
                                     for h in hits[:3]] if buttons else [],
                      "score": hits[0].get("score") if hits else None, "release": release,
                      "other_issuer": other.get("name")},
                  **meta)
        return [SlotSet("kb_entry_id", None),
                SlotSet("kb_last_outcome", CLARIFY if buttons else FALLBACK)]
    if other.get("note") and decision in ("answer", "clarify"):
        dispatcher.utter_message(text=other_issuer_note(other, lang))

    if decision == "answer":
        top = hits[0]
        utter_answer(dispatcher, top, lang)
        also_asked(dispatcher, result, lang)
        kb: dict[str, Any] = {"entry_id": top["entry_id"], "score": top.get("score"),
                              "release": release, "picked": picked, **kb_meta(result)}
        if lang == "en":  # which text an English conversation got (answer_en or the Chinese)
            kb["answer_language"] = "en" if answer_body(top, lang)[1] else "zh"
        send_meta(dispatcher, ANSWERED, kb=kb, **meta)
        return [SlotSet("kb_entry_id", None), SlotSet("kb_fallbacks", 0),
                SlotSet("kb_last_outcome", ANSWERED)]

    if decision == "clarify":
        buttons = [hit_button(h, lang) for h in hits[:3]]
        dispatcher.utter_message(text=text(lang, "kb_clarify"),
                                 buttons=buttons + [none_of_these(lang)])
        also_asked(dispatcher, result, lang)
        send_meta(
            dispatcher,
            CLARIFY,
            kb={"candidates": [{"entry_id": h["entry_id"], "score": h.get("score")}
                               for h in hits[:3]], "release": release, **kb_meta(result)},
            **meta,
        )
        return [SlotSet("kb_entry_id", None), SlotSet("kb_last_outcome", CLARIFY)]

    fallbacks += 1
    top_score = hits[0].get("score") if hits else None
    if fallbacks >= 2:
        dispatcher.utter_message(
            text=text(lang, "kb_fallback2"),
            buttons=[{"title": text(lang, "btn_human"), "payload": "/request_human"},
                     {"title": text(lang, "kb_rephrase"), "payload": "/deny"}],
        )
        send_meta(dispatcher, FALLBACK, offer_human=True,
                  kb={"score": top_score, "release": release, **kb_meta(result)}, **meta)
    else:
        dispatcher.utter_message(text=text(lang, "kb_fallback1"))
        send_meta(dispatcher, FALLBACK, offer_human=False,
                  kb={"score": top_score, "release": release, **kb_meta(result)}, **meta)
    return [SlotSet("kb_entry_id", None), SlotSet("kb_fallbacks", fallbacks),
            SlotSet("kb_last_outcome", FALLBACK)]


async def answer_if_known(dispatcher: CollectingDispatcher, tracker: Tracker,
                          **meta: Any) -> list[EventType] | None:
    """Answer (or clarify) the latest message from the KB when the KB has something for it;
    None, with nothing sent, when it has not or cannot be reached.

    Used where another path would end the turn with nothing useful: a self-service request from
    a visitor with no card account, a "都不是" with no suggestions before it.
    """
    query = tracker.latest_message.get("text") or ""
    if not query.strip() or query.startswith("/"):
        return None
    try:
        result = await kb_client.search(query, channel=channel_of(tracker))
    except kb_client.KBUnavailable:
        return None
    if result.get("decision") not in ("answer", "clarify") or not result.get("hits"):
        return None
    fallbacks = int(tracker.get_slot("kb_fallbacks") or 0)
    return respond(dispatcher, result, picked=False, fallbacks=fallbacks,
                   lang=language_of(tracker), **meta)


class ActionAnswerFromKb(Action):
    """Answer from the knowledge base under the calibrated answer/clarify/fallback policy."""

    def name(self) -> str:
        return "action_answer_from_kb"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        entry_id = tracker.get_slot("kb_entry_id")
        fallbacks = int(tracker.get_slot("kb_fallbacks") or 0)
        query = tracker.latest_message.get("text") or ""
        try:
            if entry_id:
                result = await kb_client.search(entry_id=entry_id, channel=channel_of(tracker))
            else:
                result = await kb_client.search(query, channel=channel_of(tracker))
        except kb_client.KBUnavailable:
            dispatcher.utter_message(text=text(language_of(tracker), "kb_down"))
            send_meta(dispatcher, FALLBACK, reason="kb_unavailable")
            return [SlotSet("kb_entry_id", None)]
        return respond(dispatcher, result, picked=bool(entry_id), fallbacks=fallbacks,
                       lang=language_of(tracker))
