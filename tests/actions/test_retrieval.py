"""action_answer_from_kb: answer with related questions, clarify with "都不是", a picked suggestion
answers that entry, the second fallback in a row offers a human, and the KB being down.

The retrieval service runs in the other runtime; here a local HTTP server stands in for
`POST /internal/v1/kb/search`, built from the real seed entries, and records what it was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from actions import kb_client
from actions.settings import Settings
from tests.actions.conftest import Driver, Turn, ents, user_event
from vocab.buttons import resolved_title_en

SEED = Path(__file__).resolve().parents[2] / "knowledge_base" / "seed"
TOKEN = "test-internal-token"


def seed_entries() -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(SEED.glob("*.yml")):
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
            entries[entry["id"]] = entry
    return entries


ENTRIES = seed_entries()


def hit(entry_id: str, score: float, related: tuple[str, ...] = ()) -> dict[str, Any]:
    """One hit shaped like the service's (knowledge_base/search/service.py `_hit`)."""
    entry = ENTRIES[entry_id]
    answer = {**entry["answer"], "buttons": [served_button(b) for b in entry["answer"].get(
        "buttons") or []]}
    return {"entry_id": entry_id, "question": entry["question"], "category": entry["category"],
            "score": score, "matched_question": entry["question"], "answer": answer,
            "related": [{"entry_id": r, "question": ENTRIES[r]["question"]} for r in related]}


def served_button(button: dict[str, Any]) -> dict[str, Any]:
    """A button as the KB search serves it (`Answer.served`: `title_en` resolved)."""
    english = resolved_title_en(button, lambda i: ENTRIES.get(i, {}).get("question_en"))
    return {**button, "title_en": english} if english else dict(button)


class FakeKB:
    """Scripted search results by query text or entry id; records every request."""

    def __init__(self) -> None:
        self.by_query: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[dict[str, Any], str | None]] = []
        self.status = 200


@pytest.fixture()
def kb(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKB]:
    fake = FakeKB()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append((body, self.headers.get("Authorization")))
            if self.path != "/internal/v1/kb/search" or fake.status != 200:
                self.send_response(fake.status if fake.status != 200 else 404)
                self.end_headers()
                return
            if "entry_id" in body:
                eid = body["entry_id"]
                result = {"decision": "answer", "release": 7,
                          "hits": [hit(eid, 1.0)] if eid in ENTRIES else []}
            else:
                result = fake.by_query[body["query"]]
            data = json.dumps(result, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/internal/v1/kb/search"
    settings = Settings(kb_search_url=url, internal_api_token=TOKEN, kb_timeout=5.0)
    monkeypatch.setattr(kb_client, "get_settings", lambda: settings)
    yield fake
    server.shutdown()
    server.server_close()


def ask(d: Driver, text: str, intent: str = "faq",
        entities: list[dict[str, Any]] | None = None,
        action: str = "action_answer_from_kb") -> Turn:
    """One user message and the action Rasa's rules run for it (the KB answer by default)."""
    event = user_event(text, intent, entities, d.user_id)
    d.latest_message = event["parse_data"]
    d.events.append(event)
    for e in entities or []:  # the kb_entry_id slot's from_entity mapping
        d.slots[e["entity"]] = e["value"]
    turn = Turn()
    d.run(action, turn)
    return turn


def meta(turn: Turn) -> dict[str, Any]:
    return next(m["custom"]["meta"] for m in turn.messages
                if (m.get("custom") or {}).get("meta"))


def test_answer_sends_the_entry_and_up_to_three_related_questions(driver, kb: FakeKB) -> None:
    kb.by_query["卡丢了咋办"] = {"decision": "answer", "release": 7, "hits": [
        hit("lost-001", 0.97, related=("lost-002", "lost-003", "lost-004", "lost-005")),
        hit("lost-002", 0.90)]}
    d = driver()
    turn = ask(d, "卡丢了咋办")
    assert turn.messages[0]["text"] == ENTRIES["lost-001"]["answer"]["text"]
    related = next(m for m in turn.messages if m.get("text") == "猜你想问：")
    assert [b["title"] for b in related["buttons"]] == [
        ENTRIES[i]["question"] for i in ("lost-002", "lost-003", "lost-004")]
    assert related["buttons"][0]["payload"] == '/faq{"kb_entry_id":"lost-002"}'
    assert turn.outcome == "answered"
    assert meta(turn)["kb"] == {"entry_id": "lost-001", "score": 0.97, "release": 7,
                                "picked": False}
    body, auth = kb.requests[0]
    assert body == {"top_k": 5, "channel": "web", "query": "卡丢了咋办"}
    assert auth == f"Bearer {TOKEN}"
    assert d.slots["kb_fallbacks"] == 0 and d.slots["kb_last_outcome"] == "answered"


def test_clarify_offers_top_three_and_none_of_these_and_a_pick_answers_it(driver,
                                                                         kb: FakeKB) -> None:
    kb.by_query["额度的事"] = {"decision": "clarify", "release": 7, "hits": [
        hit("limit-001", 0.62), hit("limit-002", 0.60), hit("limit-006", 0.58),
        hit("limit-010", 0.50)]}
    d = driver()
    turn = ask(d, "额度的事")
    assert turn.messages[0]["text"] == "您是不是想问："
    buttons = turn.messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [
        *(ENTRIES[i]["question"] for i in ("limit-001", "limit-002", "limit-006")), "都不是"]
    assert buttons[-1]["payload"] == "/none_of_these"
    assert turn.outcome == "clarify"
    assert [c["entry_id"] for c in meta(turn)["kb"]["candidates"]] == [
        "limit-001", "limit-002", "limit-006"]

    # Clicking the second suggestion sends its payload; NLU sets kb_entry_id from it.
    picked = ask(d, buttons[1]["payload"], entities=ents(kb_entry_id="limit-002"))
    assert kb.requests[-1][0] == {"top_k": 5, "channel": "web", "entry_id": "limit-002"}
    assert picked.messages[0]["text"] == ENTRIES["limit-002"]["answer"]["text"]
    assert picked.outcome == "answered"
    assert meta(picked)["kb"]["entry_id"] == "limit-002" and meta(picked)["kb"]["picked"]
    assert d.slots["kb_entry_id"] is None  # the next free-text question searches again


def test_second_fallback_in_a_row_offers_a_human_and_an_answer_resets_the_count(
        driver, kb: FakeKB) -> None:
    kb.by_query["嗯嗯那个"] = {"decision": "fallback", "release": 7, "hits": [hit("bill-001", 0.2)]}
    kb.by_query["账单日是哪天"] = {"decision": "answer", "release": 7,
                              "hits": [hit("bill-001", 0.95)]}
    d = driver()
    first = ask(d, "嗯嗯那个")
    assert "换个说法" in first.texts and not first.buttons
    assert first.outcome == "fallback" and meta(first)["offer_human"] is False
    second = ask(d, "嗯嗯那个")
    assert "转接人工客服" in second.texts
    assert {"title": "转人工客服", "payload": "/request_human"} in second.buttons
    assert second.outcome == "fallback" and meta(second)["offer_human"] is True

    ask(d, "账单日是哪天")
    assert d.slots["kb_fallbacks"] == 0
    again = ask(d, "嗯嗯那个")
    assert meta(again)["offer_human"] is False  # one fallback after an answer is a first one


def test_a_clarify_between_fallbacks_does_not_reset_the_count(driver, kb: FakeKB) -> None:
    kb.by_query["嗯"] = {"decision": "fallback", "release": 7, "hits": []}
    kb.by_query["额度"] = {"decision": "clarify", "release": 7,
                         "hits": [hit("limit-001", 0.6), hit("limit-002", 0.55)]}
    d = driver()
    ask(d, "嗯")
    ask(d, "额度")
    assert meta(ask(d, "嗯"))["offer_human"] is True


def test_unknown_picked_entry_is_a_fallback(driver, kb: FakeKB) -> None:
    d = driver()
    turn = ask(d, '/faq{"kb_entry_id":"gone-001"}', entities=ents(kb_entry_id="gone-001"))
    assert turn.outcome == "fallback" and "换个说法" in turn.texts


def test_kb_down_apologises_with_the_hotline_and_keeps_the_count(driver, kb: FakeKB) -> None:
    kb.status = 503
    d = driver()
    turn = ask(d, "卡丢了咋办")
    assert "知识库暂时无法访问" in turn.texts and "400-123-4567" in turn.texts
    assert turn.outcome == "fallback" and meta(turn)["reason"] == "kb_unavailable"
    assert d.slots["kb_fallbacks"] == 0  # not the cardholder's fault: no human offer builds up


def test_visitor_without_a_card_gets_the_kb_how_to_and_a_login_hint(driver, kb: FakeKB,
                                                                    store) -> None:
    kb.by_query["这个月账单在哪看"] = {"decision": "answer", "release": 7,
                                "hits": [hit("bill-001", 0.93)]}
    d = driver("web-visitor-42")  # no cards with us
    turn = d.say("这个月账单在哪看", "check_bill")
    assert "utter_ask_card_last4" not in turn.actions  # nothing personal is asked or shown
    assert turn.messages[0]["text"] == ENTRIES["bill-001"]["answer"]["text"]
    assert "请登录本行信用卡App" in turn.texts
    assert "没有查询到" not in turn.texts
    assert turn.outcome == "answered"
    assert meta(turn)["reason"] == "no_card_account"
    assert meta(turn)["kb"]["entry_id"] == "bill-001"


def test_visitor_without_a_card_and_no_kb_answer_is_offered_a_human(driver, kb: FakeKB,
                                                                    store) -> None:
    kb.by_query["帮我查下账"] = {"decision": "fallback", "release": 7, "hits": []}
    d = driver("web-visitor-42")
    turn = d.say("帮我查下账", "check_bill")
    assert "没有查询到与您当前登录账号关联的信用卡" in turn.texts
    assert {"title": "转人工客服", "payload": "/request_human"} in turn.buttons
    assert turn.outcome == "fallback"


def test_none_of_these_after_a_clarify_hands_over(driver, kb: FakeKB) -> None:
    kb.by_query["额度的事"] = {"decision": "clarify", "release": 7,
                           "hits": [hit("limit-001", 0.62), hit("limit-002", 0.60)]}
    d = driver()
    ask(d, "额度的事")
    d.events.append({"event": "action", "name": "action_listen"})
    turn = ask(d, "都不是", "none_of_these", action="action_handoff")
    assert turn.outcome == "handoff"
    assert meta(turn)["handoff"]["reason"] == "clarify_rejected"


def test_none_of_these_with_no_suggestions_before_is_read_as_a_question(driver,
                                                                       kb: FakeKB) -> None:
    kb.by_query["寄来的新卡不想要了咋整"] = {"decision": "answer", "release": 7,
                                    "hits": [hit("activate-009", 0.9)]}
    d = driver()
    turn = ask(d, "寄来的新卡不想要了咋整", "none_of_these", action="action_handoff")
    assert turn.outcome == "answered"
    assert turn.messages[0]["text"] == ENTRIES["activate-009"]["answer"]["text"]
    # nothing the KB can answer: the cardholder still reaches a person
    kb.by_query["不是这个"] = {"decision": "fallback", "release": 7, "hits": []}
    assert ask(d, "不是这个", "none_of_these", action="action_handoff").outcome == "handoff"


def test_none_of_these_after_suggestions_shown_for_a_visitor_hands_over(driver, kb: FakeKB,
                                                                         store) -> None:
    kb.by_query["额度那个事"] = {"decision": "clarify", "release": 7,
                            "hits": [hit("limit-015", 0.58), hit("limit-001", 0.57)]}
    kb.by_query["都不是"] = {"decision": "answer", "release": 7, "hits": [hit("limit-001", 0.9)]}
    d = driver("web-visitor-42")
    assert d.say("额度那个事", "check_credit_limit").outcome == "clarify"
    d.events.append({"event": "action", "name": "action_listen"})
    turn = ask(d, "都不是", "none_of_these", action="action_handoff")
    assert turn.outcome == "handoff"  # the suggestions were rejected, not a new question


def test_other_issuer_note_comes_before_our_answer(driver, kb: FakeKB) -> None:
    note = "提示：您提到了招商银行，以下解答针对本行信用卡，招商银行的规定请以该行为准。"
    kb.by_query["招行的卡怎么提额"] = {
        "decision": "answer", "release": 7, "query_normalized": "卡怎么提额",
        "other_issuer": {"name": "招商银行", "product": None, "note": note},
        "confidence": {"answer": 0.91, "scope": 0.99}, "thresholds": {"answer": 0.73},
        "hits": [hit("limit-001", 0.8)]}
    turn = ask(driver(), "招行的卡怎么提额")
    assert turn.messages[0]["text"] == note
    assert turn.messages[1]["text"] == ENTRIES["limit-001"]["answer"]["text"]
    assert turn.outcome == "answered"
    kb_meta = meta(turn)["kb"]
    assert kb_meta["entry_id"] == "limit-001"
    assert kb_meta["confidence"]["answer"] == 0.91 and kb_meta["thresholds"]["answer"] == 0.73


def test_a_product_only_another_bank_has_is_not_answered_but_our_entries_offered(
        driver, kb: FakeKB) -> None:
    note = "抱歉，“掌上生活”是招商银行的产品，我只能解答本行信用卡的问题。"
    kb.by_query["掌上生活积分怎么兑换"] = {
        "decision": "answer", "release": 7,
        "other_issuer": {"name": "招商银行", "product": "掌上生活", "note": note},
        "hits": [hit("points-001", 0.7), hit("points-002", 0.6)]}
    turn = ask(driver(), "掌上生活积分怎么兑换")
    assert turn.messages[0]["text"].startswith(note)
    assert [b["payload"] for b in turn.messages[0]["buttons"]] == [
        '/faq{"kb_entry_id":"points-001"}', '/faq{"kb_entry_id":"points-002"}']
    assert ENTRIES["points-001"]["answer"]["text"] not in [m.get("text") for m in turn.messages]
    assert turn.outcome == "clarify"


def test_multi_question_answers_the_main_one_and_offers_the_other(driver, kb: FakeKB) -> None:
    kb.by_query["卡冻结了怎么解冻？另外积分怎么查？"] = {
        "decision": "answer", "release": 7, "query_normalized": "卡冻结了怎么解冻？",
        "sub_questions": [{"text": "积分怎么查？", "entry_id": "points-001",
                           "question": ENTRIES["points-001"]["question"]},
                          {"text": "年费多少钱", "entry_id": None, "question": None}],
        "hits": [hit("lost-002", 0.8)]}
    turn = ask(driver(), "卡冻结了怎么解冻？另外积分怎么查？")
    assert turn.messages[0]["text"] == ENTRIES["lost-002"]["answer"]["text"]
    offer = next(m for m in turn.messages if m.get("text") == "您还问到：")
    assert offer["buttons"] == [
        {"title": ENTRIES["points-001"]["question"], "payload": '/faq{"kb_entry_id":"points-001"}'},
        {"title": "年费多少钱", "payload": "年费多少钱"}]
    assert turn.outcome == "answered"
def hit_en(entry_id: str, score: float) -> dict[str, Any]:
    """A hit of an entry with its English answer, as the service sends it (issue 19)."""
    return {**hit(entry_id, score), "answer_en": ENTRIES[entry_id].get("answer_en")}


def test_english_conversation_gets_answer_en_and_english_buttons(driver, kb: FakeKB) -> None:
    assert ENTRIES["lost-001"].get("answer_en")
    kb.by_query["I lost my card"] = {"decision": "answer", "release": 7, "hits": [
        {**hit_en("lost-001", 0.9), "related": [
            {"entry_id": "lost-002", "question": ENTRIES["lost-002"]["question"],
             "question_en": "Can I get a new card?"},
            {"entry_id": "lost-003", "question": ENTRIES["lost-003"]["question"]}]}]}
    d = driver()
    d.slots["language"] = "en"
    turn = ask(d, "I lost my card")
    assert turn.messages[0]["text"] == ENTRIES["lost-001"]["answer_en"]
    related = next(m for m in turn.messages if m.get("text") == "You may also want to ask:")
    # only the related entry with an English title is offered to an English reader
    assert [b["title"] for b in related["buttons"]] == ["Can I get a new card?"]
    assert meta(turn)["kb"]["answer_language"] == "en"


def test_english_conversation_without_answer_en_gets_the_chinese_answer_with_a_note(
        driver, kb: FakeKB) -> None:
    missing = next(i for i, e in ENTRIES.items() if not e.get("answer_en"))
    kb.by_query["question"] = {"decision": "answer", "release": 7,
                               "hits": [hit_en(missing, 0.9)]}
    d = driver()
    d.slots["language"] = "en"
    text = ask(d, "question").messages[0]["text"]
    assert text.startswith("(This answer is not available in English yet")
    assert text.endswith(ENTRIES[missing]["answer"]["text"].strip())


def test_english_clarify_and_fallback(driver, kb: FakeKB) -> None:
    kb.by_query["limit?"] = {"decision": "clarify", "release": 7, "hits": [
        hit("limit-001", 0.6), hit("limit-002", 0.58)]}
    kb.by_query["blah"] = {"decision": "fallback", "release": 7, "hits": []}
    d = driver()
    d.slots["language"] = "en"
    clarify = ask(d, "limit?").messages[0]
    assert clarify["text"] == "Did you mean one of these?"
    assert clarify["buttons"][-1] == {"title": "None of these", "payload": "/none_of_these"}
    assert ask(d, "blah").messages[0]["text"].startswith("Sorry, I didn't quite get that")


def test_chinese_conversation_ignores_answer_en(driver, kb: FakeKB) -> None:
    kb.by_query["卡丢了"] = {"decision": "answer", "release": 7, "hits": [hit_en("lost-001", 0.9)]}
    turn = ask(driver(), "卡丢了")
    assert turn.messages[0]["text"] == ENTRIES["lost-001"]["answer"]["text"]
    assert "answer_language" not in meta(turn)["kb"]


def test_english_clarify_buttons_carry_english_titles(driver, kb: FakeKB) -> None:
    """question_en first, then an English similar question, then the English question the
    message matched, else the Chinese question (issue 19)."""
    with_en = {**hit("limit-001", 0.6), "question_en": "How do I raise my credit limit?"}
    matched_en = {**hit("limit-002", 0.58), "matched_question": "temporary limit increase"}
    similar_en = {**hit("lost-001", 0.57), "similar": ["卡丢了", "I lost my card"]}
    chinese_only = hit("lost-002", 0.55)
    kb.by_query["limit?"] = {"decision": "clarify", "release": 7,
                             "hits": [with_en, matched_en, similar_en]}
    kb.by_query["card?"] = {"decision": "clarify", "release": 7, "hits": [chinese_only]}
    d = driver()
    d.slots["language"] = "en"
    titles = [b["title"] for b in ask(d, "limit?").messages[0]["buttons"]]
    assert titles == ["How do I raise my credit limit?", "temporary limit increase",
                      "I lost my card", "None of these"]
    titles = [b["title"] for b in ask(d, "card?").messages[0]["buttons"]]
    assert titles == [ENTRIES["lost-002"]["question"], "None of these"]
    # A Chinese conversation always sees the standard questions.
    zh = driver()
    titles = [b["title"] for b in ask(zh, "limit?").messages[0]["buttons"]]
    assert titles == [ENTRIES["limit-001"]["question"], ENTRIES["limit-002"]["question"],
                      ENTRIES["lost-001"]["question"], "都不是"]


def test_english_multi_question_offer(driver, kb: FakeKB) -> None:
    kb.by_query["I lost my card, and how do I check points?"] = {
        "decision": "answer", "release": 7,
        "sub_questions": [{"text": "how do I check points?", "entry_id": "points-001",
                           "question": ENTRIES["points-001"]["question"]},
                          {"text": "what is the annual fee?", "entry_id": None,
                           "question": None}],
        "hits": [hit_en("lost-001", 0.8)]}
    d = driver()
    d.slots["language"] = "en"
    turn = ask(d, "I lost my card, and how do I check points?")
    offer = next(m for m in turn.messages if m.get("text") == "You also asked:")
    assert offer["buttons"] == [
        {"title": "how do I check points?", "payload": '/faq{"kb_entry_id":"points-001"}'},
        {"title": "what is the annual fee?", "payload": "what is the annual fee?"}]


def served(entry_id: str, score: float) -> dict[str, Any]:
    """A hit as the service serves it (issue 19): each button's `title_en` resolved by the KB
    (own title_en, else the target's question_en, else the intent label)."""
    from vocab.buttons import resolved_title_en

    out = hit_en(entry_id, score)
    buttons = []
    for b in ENTRIES[entry_id]["answer"].get("buttons") or []:
        english = resolved_title_en(b, lambda i: ENTRIES[i].get("question_en"))
        buttons.append({**b, **({"title_en": english} if english else {})})
    out["answer"] = {**ENTRIES[entry_id]["answer"], "buttons": buttons}
    return out


def test_english_answer_buttons_and_link_are_english_with_unchanged_payloads(
        driver, kb: FakeKB) -> None:
    """"I lost my credit card, what should I do?": buttons and link in English, the payloads
    as written (Rasa reads them); a Chinese conversation keeps the Chinese titles."""
    kb.by_query["I lost my credit card, what should I do?"] = {
        "decision": "answer", "release": 7, "hits": [served("lost-001", 0.9)]}
    kb.by_query["信用卡丢了怎么办"] = {"decision": "answer", "release": 7,
                                 "hits": [served("lost-001", 0.9)]}
    d = driver()
    d.slots["language"] = "en"
    turn = ask(d, "I lost my credit card, what should I do?")
    first = turn.messages[0]
    assert first["text"] == ENTRIES["lost-001"]["answer_en"]
    assert first["buttons"] == [
        {"title": "Report card lost", "payload": "/report_lost_card"},
        {"title": ENTRIES["lost-006"]["question_en"],
         "payload": '/faq{"kb_entry_id":"lost-006"}'},
        {"title": ENTRIES["lost-004"]["question_en"],
         "payload": '/faq{"kb_entry_id":"lost-004"}'}]
    links = [m["custom"]["link"] for m in turn.messages if "link" in (m.get("custom") or {})]
    assert links == [{"title": "Lost card protection explained",
                      "url": "https://card.example-bank.cn/help/lost"}]

    zh = ask(driver(), "信用卡丢了怎么办")
    assert [b["title"] for b in zh.messages[0]["buttons"]] == ["立即挂失", "挂失前被盗刷了",
                                                               "补卡要多久到？"]
    assert [m["custom"]["link"]["title"] for m in zh.messages
            if "link" in (m.get("custom") or {})] == ["失卡保障说明"]


def test_english_buttons_of_a_hit_the_kb_did_not_resolve(driver, kb: FakeKB) -> None:
    """A hit without resolved titles (an older KB service): the intents still get their
    English label."""
    kb.by_query["annual fee"] = {"decision": "answer", "release": 7,
                                 "hits": [hit_en("activate-002", 0.9)]}
    d = driver()
    d.slots["language"] = "en"
    buttons = ask(d, "annual fee").messages[0]["buttons"]
    assert buttons == [{"title": "Check my annual fee", "payload": "/annual_fee"},
                       {"title": "Activate my card", "payload": "/activate_card"}]
