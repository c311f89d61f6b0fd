"""No Chinese reaches an English-speaking cardholder (issue 19): the main self-service forms,
the handoff and the KB replies, driven through the real actions with language=en, send no
CJK character in any text, button title or link title. The one exception is by design: a KB
entry with no `answer_en` is sent in Chinese after an English note.

Button payloads may keep Chinese entity values ("12期", "3000元"): the NLU's entity mapping
reads them and the cardholder never sees a payload (the widget shows the title, WeChat numbers
the titles).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from actions import card_services
from tests.actions.conftest import Driver, Turn, ents
from tests.actions.test_english_flows import english, verified_en
from tests.actions.test_retrieval import ENTRIES, FakeKB, ask, hit, kb  # noqa: F401
from vocab.language import NO_ENGLISH_NOTE

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def visible(turn: Turn) -> list[str]:
    """Every string the cardholder sees: texts, button titles, link titles."""
    out = []
    for m in turn.messages:
        out.append(m.get("text") or "")
        out.extend(b["title"] for b in m.get("buttons") or [])
        link = (m.get("custom") or {}).get("link")
        if link:
            out.append(link.get("title") or "")
    return out


class Transcript:
    """Every turn of an English conversation, checked for Chinese at the end."""

    def __init__(self) -> None:
        self.turns: list[tuple[str, Turn]] = []

    def add(self, said: str, turn: Turn) -> Turn:
        self.turns.append((said, turn))
        return turn

    def say(self, d: Driver, text: str, intent: str = "inform",
            entities: list[dict[str, Any]] | None = None) -> Turn:
        return self.add(text, d.say(text, intent, entities))

    def chinese(self, allowed: tuple[str, ...] = ()) -> list[tuple[str, str]]:
        found = []
        for said, turn in self.turns:
            for shown in visible(turn):
                rest = shown
                for text in allowed:
                    rest = rest.replace(text, "")
                if CJK.search(rest):
                    found.append((said, shown))
        return found


def start(t: Transcript, driver, user: str, text: str, intent: str,
          entities: list[dict[str, Any]] | None = None) -> Driver:
    d, reply = verified_en(driver, user, text, intent, entities)
    t.add(text, Turn())
    t.turns[-1][1].messages.append({"text": reply})
    return d


YES = ("yes", "affirm", None)
# The changes, each to its confirmed result: (cardholder, first message, intent, answers).
CHANGES = [
    ("demo-gold-001", "change my statement date", "change_statement_date",
     [("30", "inform", ents(day="30号")), ("15", "inform", ents(day="15号")), YES]),
    ("demo-gold-001", "split my bill", "installment_bill",
     [("3000", "inform", ents(amount="3000元")), ("12", "inform", ents(period="12期")), YES]),
    ("demo-standard-001", "split one purchase", "installment_single",
     [("12", "inform", ents(period="12期")), YES]),
    ("demo-gold-001", "redeem points", "redeem_points",
     [("phone top-up", "inform", ents(points_item="话费")), YES]),
    ("demo-gold-001", "temporary limit", "apply_temp_limit",
     [("5000", "inform", ents(amount="5000元")), YES]),
    ("demo-standard-001", "I lost my card", "report_lost_card", [YES, YES]),
    ("demo-gold-002", "activate my card", "activate_card", [YES]),
    ("demo-gold-001", "freeze my card", "freeze_card", [YES]),
]


def test_self_service_forms_in_english_send_no_chinese(driver, store) -> None:
    t = Transcript()
    for user in ("demo-gold-001", "demo-standard-001", "demo-platinum-001", "demo-gold-002",
                 "demo-standard-002"):
        for text, intent in [("show me my bill", "check_bill"), ("how do I repay", "repayment"),
                             ("what is my statement date", "query_statement_date"),
                             ("my points", "check_points"), ("my limit", "check_credit_limit"),
                             ("annual fee", "annual_fee")]:
            start(t, driver, user, text, intent)

    for user, text, intent, answers in CHANGES:
        d = start(t, driver, user, text, intent)
        for said, said_intent, entities in answers:
            t.say(d, said, said_intent, entities)
    periods = next(turn for said, turn in t.turns if said == "3000")
    assert periods.buttons[0]["payload"] == '/inform{"period":"3期"}'  # the NLU's value

    d = english(driver, "demo-gold-001")  # a failed identity check
    t.say(d, "change my statement date", "change_statement_date")
    t.say(d, "1111", "inform")
    t.say(d, "000000", "inform")

    assert t.chinese() == []
    shown = "\n".join(s for _, turn in t.turns for s in visible(turn))
    for merchant in ("IKEA", "Starbucks", "JD.com", "Payment, thank you"):
        assert merchant in shown  # the statement's merchants, in English


def test_the_stores_own_refusal_is_english(driver, store, monkeypatch) -> None:
    """The store re-checks every rule inside its transaction; when it refuses what the
    dialogue's early check let through, the refusal is in the conversation's language."""
    t = Transcript()
    d = start(t, driver, "demo-gold-001", "split my bill", "installment_bill")
    t.say(d, "3000", "inform", ents(amount="3000元"))
    t.say(d, "12", "inform", ents(period="12期"))
    assert d.slots["confirm"] is None  # the confirmation is asked
    store.create_bill_installment("demo-gold-001", 100_000, 3)  # meanwhile, on another channel
    monkeypatch.setattr(card_services.ActionInstallmentBill, "blocked",
                        lambda self, tracker, profile: None)
    d.slots["confirm"] = True  # confirmed (the form's own check would refuse it earlier)
    refused = t.add("yes", Turn())
    Driver.run(d, "action_installment_bill", refused)
    assert refused.texts.startswith("Sorry, this could not be done: ")
    assert "already been put into instalments" in refused.texts
    assert t.chinese() == []


def test_handoff_requests_in_english_send_no_chinese(driver) -> None:
    t = Transcript()
    for text, intent in [("I want to talk to a person", "request_human"),
                         ("someone used my card, that was not me", "fraud_dispute"),
                         ("I want to complain", "complain")]:
        d = english(driver, "demo-gold-001")
        turn = t.add(text, ask(d, text, intent, action="action_handoff"))
        assert turn.outcome == "handoff"
    assert t.chinese() == []


def _with_english(entry_id: str, score: float, related: tuple[str, ...] = ()) -> dict[str, Any]:
    base = hit(entry_id, score)
    return {**base, "answer_en": ENTRIES[entry_id].get("answer_en"),
            "question_en": ENTRIES[entry_id].get("question_en"),
            "related": [{"entry_id": r, "question": ENTRIES[r]["question"],
                         "question_en": ENTRIES[r].get("question_en")} for r in related]}


def test_kb_replies_in_english_send_no_chinese_but_for_entries_without_answer_en(
        driver, kb: FakeKB) -> None:  # noqa: F811 (the kb fixture)
    english_entries = [i for i, e in ENTRIES.items() if e.get("answer_en")]
    rich = next(i for i in english_entries if ENTRIES[i]["answer"].get("links") and any(
        not b["payload"].startswith("/faq") for b in ENTRIES[i]["answer"].get("buttons") or []))
    assert any(CJK.search(b["title"]) for b in ENTRIES[rich]["answer"]["buttons"])
    related = tuple(i for i in ENTRIES if i != rich)[:6]  # with and without question_en
    titled = [i for i in ENTRIES if ENTRIES[i].get("question_en")][:3]
    missing = next(i for i, e in ENTRIES.items() if not e.get("answer_en"))
    kb.by_query["rich"] = {"decision": "answer", "release": 7,
                           "hits": [_with_english(rich, 0.95, related)]}
    kb.by_query["which?"] = {"decision": "clarify", "release": 7,
                             "hits": [_with_english(i, 0.6) for i in titled]}
    kb.by_query["CMB card limit"] = {
        "decision": "answer", "release": 7, "hits": [_with_english(english_entries[0], 0.9)],
        "other_issuer": {"name": "招商银行", "product": None,
                         "note": "提示：您提到了招商银行，以下解答针对本行信用卡。"}}
    kb.by_query["CMB app points"] = {
        "decision": "answer", "release": 7, "hits": [_with_english(i, 0.7) for i in titled],
        "other_issuer": {"name": "招商银行", "product": "掌上生活",
                         "note": "抱歉，“掌上生活”是招商银行的产品。"}}
    kb.by_query["HSBC annual fee"] = {
        "decision": "answer", "release": 7, "hits": [_with_english(english_entries[0], 0.9)],
        "other_issuer": {"name": "HSBC", "product": None, "note": "提示：您提到了HSBC。"}}
    kb.by_query["blah"] = {"decision": "fallback", "release": 7, "hits": []}
    kb.by_query["untranslated"] = {"decision": "answer", "release": 7,
                                   "hits": [_with_english(missing, 0.9)]}
    t = Transcript()
    d = english(driver, "demo-gold-001")
    answer = t.add("rich", ask(d, "rich"))
    assert answer.messages[0]["text"] == ENTRIES[rich]["answer_en"]
    assert answer.messages[0].get("buttons")  # the flow buttons stay, titled in English
    for query in ("which?", "CMB card limit", "CMB app points", "HSBC annual fee", "blah",
                  "blah"):
        t.add(query, ask(d, query))
    assert "you mentioned HSBC" in "\n".join(visible(t.turns[-3][1]))
    untranslated = t.add("untranslated", ask(d, "untranslated"))
    assert untranslated.messages[0]["text"].startswith(NO_ENGLISH_NOTE)
    chinese_answer = ENTRIES[missing]["answer"]["text"].strip()
    # Only the entry without answer_en is Chinese: its answer (after the English note) and its
    # buttons that open entries without an English title (vocab/buttons.py).
    assert {query for query, _ in t.chinese()} == {"untranslated"}
    assert ("untranslated", untranslated.messages[0]["text"]) in t.chinese()
    own_titles = tuple(b["title"] for b in ENTRIES[missing]["answer"].get("buttons") or [])
    assert t.chinese(allowed=(chinese_answer, *own_titles)) == []


@pytest.mark.parametrize("user", ["demo-gold-001", "demo-platinum-001"])
def test_goodbye_in_english_sends_no_chinese(driver, store, user) -> None:
    d = english(driver, user)
    turn = Turn()
    Driver.run(d, "action_goodbye", turn)
    assert turn.messages and not [s for s in visible(turn) if CJK.search(s)]
