"""Degraded mode: a slow, down or failing bot is answered from the KB within the budget, the
breaker stops trying after a few failures and probes again (half-open), everything is stored.

The KB is a scripted stand-in (the real one is exercised in tests/e2e/test_zz_rasa_down.py);
what is tested here is the gateway's policy around it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.conversation import degraded
from api.conversation.breaker import CircuitBreaker
from api.conversation.rasa_client import RasaClient
from api.core import db
from api.core.config import get_settings
from api.models import KBEvent, Message
from knowledge_base.search.service import KBNotReady
from vocab.language import NO_ENGLISH_NOTE

HIT = {"entry_id": "fee-001", "question": "年费怎么收", "score": 0.97,
       "answer": {"text": "年费规则……", "buttons": [], "links": [], "image": None},
       "related": [{"entry_id": "fee-002", "question": "年费能免吗"}]}


class FakeKB:
    def __init__(self, result: dict[str, Any] | Exception) -> None:
        self.result = result
        self.calls: list[tuple[str | None, str | None]] = []

    def search(self, query: str | None = None, *, entry_id: str | None = None,
               channel: str = "web", top_k: int = 5) -> dict[str, Any]:
        self.calls.append((query, entry_id))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def use(client, fake_rasa, *, budget: float = 0.3, failures: int = 2, reset: float = 0.5,
        slow: float = 0.0) -> RasaClient:
    """Swap in a Rasa client with a short budget (and optionally a slow fake Rasa)."""
    settings = get_settings().model_copy(update={"bot_budget_seconds": budget})
    delay = {"s": slow}

    async def handler(request: httpx.Request) -> httpx.Response:
        if delay["s"]:
            await asyncio.sleep(delay["s"])
        return fake_rasa.handler(request)

    rasa = RasaClient(settings, httpx.AsyncClient(transport=httpx.MockTransport(handler),
                                                  base_url=settings.rasa_url),
                      breaker=CircuitBreaker(failures, reset))
    rasa.delay = delay  # type: ignore[attr-defined]
    app = client.app
    app.state.rasa = rasa
    app.state.gateway._rasa = rasa
    return rasa


def chat(client, text: str, user: str = "d1") -> dict[str, Any]:
    resp = client.post("/api/v1/chat", json={"user_id": user, "text": text})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_slow_rasa_is_answered_from_the_kb_within_the_budget(client, fake_rasa) -> None:
    use(client, fake_rasa, budget=0.3, slow=2.0)
    kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    client.app.state.gateway.kb = kb
    started = time.monotonic()
    body = chat(client, "年费怎么收？")
    assert time.monotonic() - started < 1.5
    assert body["outcome"] == "answered"
    assert body["details"]["degraded"] is True
    assert "budget" in body["details"]["degraded_reason"]
    assert body["messages"][0]["text"] == "年费规则……"
    assert body["messages"][-1]["buttons"][0]["payload"] == '/faq{"kb_entry_id":"fee-002"}'
    with db.get_sessionmaker()() as s:
        rows = s.scalars(select(Message).order_by(Message.id)).all()
        event = s.get(KBEvent, body["details"]["kb_event_id"])
    assert [r.sender for r in rows] == ["user", "bot", "bot"]
    assert all(r.outcome == "answered" for r in rows[1:])
    assert event.entry_id == "fee-001" and event.release == 7 and event.details["degraded"]


def test_clarify_and_fallback_follow_the_kb_decision(client, fake_rasa) -> None:
    fake_rasa.down = True
    use(client, fake_rasa)
    second = {**HIT, "entry_id": "fee-003", "question": "年费什么时候扣"}
    client.app.state.gateway.kb = FakeKB({"decision": "clarify", "release": 7,
                                          "hits": [HIT, second]})
    body = chat(client, "年费")
    assert body["outcome"] == "clarify" and body["details"]["degraded"]
    titles = [b["title"] for b in body["messages"][0]["buttons"]]
    assert titles == ["年费怎么收", "年费什么时候扣", "都不是"]

    client.app.state.gateway.kb = FakeKB({"decision": "fallback", "release": 7, "hits": []})
    body = chat(client, "帮我把额度调到五万")
    assert body["outcome"] == "fallback"
    assert body["details"] | {"degraded": True, "offer_human": True} == body["details"]
    assert "暂时受限" in body["messages"][0]["text"]
    assert body["messages"][0]["buttons"] == [degraded.HUMAN_BUTTON]


def test_a_picked_suggestion_is_fetched_by_id(client, fake_rasa) -> None:
    fake_rasa.down = True
    use(client, fake_rasa)
    kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    client.app.state.gateway.kb = kb
    body = chat(client, '/faq{"kb_entry_id":"fee-001"}')
    assert body["outcome"] == "answered" and kb.calls == [(None, "fee-001")]
    body = chat(client, "/affirm")  # a form button: only the bot can do that
    assert body["outcome"] == "fallback" and body["details"]["offer_human"]


def test_human_offer_queues_without_the_bot(client, fake_rasa) -> None:
    fake_rasa.down = True
    use(client, fake_rasa)
    client.app.state.gateway.kb = FakeKB({"decision": "fallback", "hits": []})
    body = chat(client, degraded.HUMAN_PAYLOAD, user="d-human")
    assert body["outcome"] in ("handoff", "ticket")
    assert body["details"]["degraded"] is True


def test_kb_not_ready_gives_the_apology(client, fake_rasa) -> None:
    fake_rasa.down = True
    use(client, fake_rasa)
    client.app.state.gateway.kb = FakeKB(KBNotReady("loading"))
    body = chat(client, "年费怎么收")
    assert body["outcome"] == "unavailable" and "抱歉" in body["messages"][0]["text"]
    with db.get_sessionmaker()() as s:
        assert [r.sender for r in s.scalars(select(Message).order_by(Message.id))] == [
            "user", "system"]


def test_empty_bot_reply_counts_as_failure(client, fake_rasa) -> None:
    """The action server down: Rasa answers 200 with no message at all."""
    fake_rasa.reply = lambda body: []
    rasa = use(client, fake_rasa, failures=2)
    client.app.state.gateway.kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    body = chat(client, "年费怎么收")
    assert body["details"]["degraded"] and "empty" in body["details"]["degraded_reason"]
    assert rasa.breaker.state == "closed"
    chat(client, "年费怎么收")
    assert rasa.breaker.state == "open"


def test_breaker_opens_then_probes_and_goes_back_to_rasa(client, fake_rasa) -> None:
    fake_rasa.down = True
    rasa = use(client, fake_rasa, failures=2, reset=3.0)
    client.app.state.gateway.kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    chat(client, "年费怎么收")
    chat(client, "年费怎么收")
    assert rasa.breaker.state == "open"
    sent = len(fake_rasa.sent)
    fake_rasa.down = False
    body = chat(client, "年费怎么收")  # open: not even tried
    assert body["details"]["degraded"] and "circuit open" in body["details"]["degraded_reason"]
    assert len(fake_rasa.sent) == sent
    health = client.get("/health").json()
    assert health["components"]["rasa"]["breaker"]["state"] == "open"
    time.sleep(max(0.0, 3.05 - (time.monotonic() - rasa.breaker._opened_at)))
    body = chat(client, "年费怎么收")  # half-open probe succeeds: back to Rasa
    assert "degraded" not in body["details"] and body["messages"][0]["text"] == "您好"
    assert rasa.breaker.state == "closed" and len(fake_rasa.sent) == sent + 1


@pytest.mark.parametrize("text", ["年费怎么收", "/faq{bad json"])
def test_picked_entry_parsing(text: str) -> None:
    assert degraded.picked_entry(text) is None
    assert degraded.picked_entry('/faq{"kb_entry_id":"x-1"}') == "x-1"


def test_default_budget_leaves_wechat_a_passive_answer() -> None:
    from api.core.config import Settings

    defaults = Settings()
    assert 0 < defaults.bot_budget_seconds < defaults.wechat_passive_timeout_seconds < 5


def test_overload_sheds_to_the_kb_then_429_with_retry_after(client, fake_rasa) -> None:
    rasa = use(client, fake_rasa)
    gw = client.app.state.gateway
    gw.kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    gw.max_bot_inflight, gw.max_degraded_inflight, gw.retry_after = 2, 1, 3
    rasa.inflight = 2  # as if two bot turns were in flight
    body = chat(client, "年费怎么收", user="busy-1")
    assert body["outcome"] == "answered" and body["details"]["degraded"]
    assert body["details"]["degraded_reason"].startswith("busy")
    assert fake_rasa.sent == [] and rasa.breaker.state == "closed"  # load is not a failure

    gw.degraded_inflight = 1  # the KB path is full too
    with db.get_sessionmaker()() as s:
        before = len(s.scalars(select(Message)).all())
    resp = client.post("/api/v1/chat", json={"user_id": "busy-2", "text": "年费怎么收"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"
    assert resp.json()["detail"]["code"] == "busy" and "稍后" in resp.json()["detail"]["message"]
    with db.get_sessionmaker()() as s:
        assert len(s.scalars(select(Message)).all()) == before  # nothing stored: a clean retry
    gw.degraded_inflight = 0
    rasa.inflight = 0
    assert "degraded" not in chat(client, "年费怎么收", user="busy-3")["details"]


def test_degraded_replies_speak_the_conversation_language(client, fake_rasa) -> None:
    """An English conversation stays English while the bot is down (issue 19 + 17)."""
    from tests.chat_support import signed

    fake_rasa.down = True
    use(client, fake_rasa)
    english = {**HIT, "answer_en": "The annual fee is ...",
               "related": [{**HIT["related"][0], "question_en": "Can the fee be waived?"}]}
    client.app.state.gateway.kb = FakeKB({"decision": "answer", "release": 7,
                                          "hits": [english]})
    body = client.post("/api/v1/chat", json=signed("d-en", "what is the annual fee")).json()
    assert body["details"]["degraded"] and body["details"]["language"] == "en"
    assert body["messages"][0]["text"] == "The annual fee is ..."
    assert body["messages"][-1]["text"] == "You may also want to ask:"
    assert body["messages"][-1]["buttons"][0]["title"] == "Can the fee be waived?"
    client.app.state.gateway.kb = FakeKB({"decision": "answer", "release": 7, "hits": [HIT]})
    body = client.post("/api/v1/chat", json=signed("d-en", "and the late fee?")).json()
    assert body["messages"][0]["text"].startswith(NO_ENGLISH_NOTE)
    assert body["messages"][0]["text"].endswith("年费规则……")
    # a related entry with no English title is not offered to an English reader
    assert "You may also want to ask:" not in [m["text"] for m in body["messages"]]
    client.app.state.gateway.kb = FakeKB({"decision": "fallback", "release": 7, "hits": []})
    body = client.post("/api/v1/chat", json=signed("d-en", "raise my limit to 50k")).json()
    assert body["messages"][0]["text"].startswith("Sorry, some services")
    assert body["messages"][0]["buttons"][0]["title"] == "Talk to an agent"


def test_degraded_clarify_titles_follow_the_conversation_language() -> None:
    """The gateway's own clarify words its buttons as the actions do (issue 19)."""
    hits = [{"entry_id": "limit-001", "question": "怎么提高额度", "score": 0.6,
             "question_en": "How do I raise my credit limit?", "answer": {"text": "…"}},
            {"entry_id": "limit-002", "question": "临时额度怎么申请", "score": 0.58,
             "matched_question": "apply for a temporary limit", "answer": {"text": "…"}},
            {"entry_id": "lost-002", "question": "卡片冻结了怎么办", "score": 0.55,
             "matched_question": "卡片冻结了怎么办", "answer": {"text": "…"}}]
    result = {"decision": "clarify", "hits": hits, "release": 3}
    english = degraded.from_kb(result, picked=False, reason="bot_down", lang="en")
    titles = [b["title"] for b in english.messages[0]["buttons"]]
    assert titles == ["How do I raise my credit limit?", "apply for a temporary limit",
                      "卡片冻结了怎么办", "None of these"]
    chinese = degraded.from_kb(result, picked=False, reason="bot_down")
    assert [b["title"] for b in chinese.messages[0]["buttons"]] == [
        "怎么提高额度", "临时额度怎么申请", "卡片冻结了怎么办", "都不是"]


def served_hit(entry_id: str) -> dict[str, Any]:
    """A seed entry as the KB search serves it: buttons carry the English a cardholder sees."""
    from pathlib import Path

    from knowledge_base.content.entries import load_seed

    seed = {e.id: e for e in load_seed(Path(__file__).resolve().parents[2]
                                       / "knowledge_base" / "seed")}
    e = seed[entry_id]
    return {"entry_id": e.id, "question": e.question, "question_en": e.question_en,
            "score": 0.95, "answer": e.answer.served(lambda i: seed[i].question_en),
            "answer_en": e.answer_en, "related": []}


def test_degraded_answer_buttons_and_links_are_english_for_english_conversations(
        client, fake_rasa) -> None:
    """"I lost my credit card" answered in English while the bot is down: its buttons and
    link too (issue 19), with the payloads unchanged; Chinese conversations keep Chinese."""
    from tests.chat_support import signed

    hit = served_hit("lost-001")
    assert [b["title"] for b in hit["answer"]["buttons"]] == ["立即挂失", "挂失前被盗刷了",
                                                              "补卡要多久到？"]
    fake_rasa.down = True
    use(client, fake_rasa)
    client.app.state.gateway.kb = FakeKB({"decision": "answer", "release": 7, "hits": [hit]})
    body = client.post("/api/v1/chat", json=signed(
        "d-en-buttons", "I lost my credit card, what should I do?")).json()
    assert body["details"]["degraded"] and body["details"]["language"] == "en"
    first = body["messages"][0]
    assert first["text"] == hit["answer_en"]
    assert first["buttons"] == [
        {"title": "Report card lost", "payload": "/report_lost_card"},
        {"title": "Will I be compensated for fraud before my loss report?",
         "payload": '/faq{"kb_entry_id":"lost-006"}'},
        {"title": "How long does a replacement card take to arrive?",
         "payload": '/faq{"kb_entry_id":"lost-004"}'}]
    link = next(m for m in body["messages"] if m["type"] == "link")
    assert link["text"] == "Lost card protection explained"
    assert link["url"] == "https://card.example-bank.cn/help/lost"

    chinese = degraded.answer_messages(hit, "zh")
    assert [b["title"] for b in chinese[0]["buttons"]] == ["立即挂失", "挂失前被盗刷了",
                                                           "补卡要多久到？"]
    assert chinese[1] == {"type": "link", "text": "失卡保障说明",
                          "url": "https://card.example-bank.cn/help/lost"}


def test_degraded_buttons_of_an_unresolved_hit_still_get_intent_labels() -> None:
    """A hit whose buttons the KB did not resolve (no title_en): intents get their English
    label, an entry button without English keeps its Chinese title."""
    hit = {**HIT, "answer": {"text": "年费规则……", "links": [], "image": None, "buttons": [
        {"title": "查询年费", "payload": "/annual_fee"},
        {"title": "年费能免吗", "payload": '/faq{"kb_entry_id":"fee-002"}'}]}}
    buttons = degraded.answer_messages(hit, "en")[0]["buttons"]
    assert buttons == [{"title": "Check my annual fee", "payload": "/annual_fee"},
                       {"title": "年费能免吗", "payload": '/faq{"kb_entry_id":"fee-002"}'}]
