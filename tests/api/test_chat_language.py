"""Language per conversation through the gateway (issue 19): detected, kept, switched, and
told to Rasa (the `language` slot its English response variations are conditioned on)."""

from __future__ import annotations

from typing import Any

from api.core import db
from api.models import Conversation
from tests.chat_support import signed


def chat(client, text: str, user_id: str = "u-lang") -> dict[str, Any]:
    resp = client.post("/api/v1/chat", json=signed(user_id, text))
    assert resp.status_code == 200, resp.text
    return resp.json()


def slot_events(fake_rasa) -> list[Any]:
    return [e["value"] for _p, events in fake_rasa.events for e in events
            if e.get("event") == "slot" and e.get("name") == "language"]


def language_of(conversation_id: str) -> str:
    with db.get_sessionmaker()() as s:
        conv = s.get(Conversation, conversation_id)
        assert conv is not None
        return conv.language


def test_english_message_makes_the_conversation_english_and_tells_rasa(client, fake_rasa):
    body = chat(client, "I lost my credit card, what should I do?")
    assert body["details"]["language"] == "en"
    assert language_of(body["conversation_id"]) == "en"
    assert fake_rasa.sent[-1]["metadata"]["language"] == "en"
    assert slot_events(fake_rasa) == ["en"]
    chat(client, "3000")  # a bare value keeps English
    assert fake_rasa.sent[-1]["metadata"]["language"] == "en"
    chat(client, "我的卡被盗刷了 help")  # mixed keeps it too
    assert fake_rasa.sent[-1]["metadata"]["language"] == "en"
    chat(client, "信用卡丢了怎么办")  # plain Chinese switches back
    assert fake_rasa.sent[-1]["metadata"]["language"] == "zh"
    assert slot_events(fake_rasa)[-1] == "zh"


def test_chinese_conversation_sends_no_slot_events(client, fake_rasa):
    body = chat(client, "卡丢了", user_id="u-zh")
    assert body["details"]["language"] == "zh"
    assert slot_events(fake_rasa) == []
    assert fake_rasa.sent[-1]["metadata"]["language"] == "zh"


def test_explicit_switch_is_answered_by_the_gateway(client, fake_rasa):
    body = chat(client, "English please", user_id="u-switch")
    assert body["outcome"] == "answered" and body["details"]["language"] == "en"
    assert "English" in body["messages"][0]["text"]
    assert fake_rasa.sent == []  # not a question for the bot
    assert slot_events(fake_rasa) == ["en"]
    body = chat(client, "/language_zh", user_id="u-switch")  # the widget's toggle
    assert body["details"]["language"] == "zh" and "中文" in body["messages"][0]["text"]
    assert language_of(body["conversation_id"]) == "zh"


def test_rasa_down_apologises_in_the_conversation_language(client, fake_rasa):
    chat(client, "hello there", user_id="u-down")
    fake_rasa.down = True
    body = chat(client, "what is the annual fee", user_id="u-down")
    assert body["outcome"] == "unavailable"
    assert body["messages"][0]["text"].startswith("Sorry")
