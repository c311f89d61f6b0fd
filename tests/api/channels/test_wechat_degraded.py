"""WeChat while the bot is frozen: the degraded KB answer still goes out passively (5 s rule)."""

from __future__ import annotations

import time

from wechat_fakes import FakeWeChat, Wx, text_xml

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
HIT = {"entry_id": "fee-001", "question": "年费怎么收", "score": 0.97,
       "answer": {"text": "年费规则……", "buttons": [], "links": [], "image": None},
       "related": []}


class FakeKB:
    def search(self, query=None, *, entry_id=None, channel="web", top_k=5):
        return {"decision": "answer", "release": 3, "hits": [HIT]}


def test_frozen_bot_answers_passively_from_the_kb(wx: Wx, fake_rasa, rasa_delay,
                                                  fake_wechat: FakeWeChat) -> None:
    wx.reply(wx.post(text_xml(OPENID, "你好", 9000), OPENID))  # a warm app
    rasa_delay(30.0)  # frozen Rasa
    app = wx.client.app
    # The bot budget (0.5 s) sits well below the passive window; the window is widened for this
    # test so that a loaded CI machine has time for the KB fallback and the database after it.
    app.state.rasa.budget = 0.5
    app.state.wechat.settings.wechat_passive_timeout_seconds = 4.0
    app.state.gateway.kb = FakeKB()
    started = time.monotonic()
    reply = wx.reply(wx.post(text_xml(OPENID, "年费怎么收", 9001), OPENID))
    assert time.monotonic() - started < 4.0  # well before WeChat's 5 s
    assert reply["Content"] == "年费规则……"
    assert fake_wechat.sent == []


class SeedKB:
    """Serves seed entries as the KB search does (buttons with their resolved English)."""

    def __init__(self) -> None:
        from pathlib import Path

        from knowledge_base.content.entries import load_seed

        root = Path(__file__).resolve().parents[3]
        self.seed = {e.id: e for e in load_seed(root / "knowledge_base" / "seed")}
        self.calls: list[tuple[str | None, str | None]] = []

    def hit(self, entry_id):
        e = self.seed[entry_id]
        return {"entry_id": e.id, "question": e.question, "question_en": e.question_en,
                "score": 0.95, "answer_en": e.answer_en, "related": [],
                "answer": e.answer.served(lambda i: self.seed[i].question_en)}

    def search(self, query=None, *, entry_id=None, channel="web", top_k=5):
        self.calls.append((query, entry_id))
        return {"decision": "answer", "release": 3,
                "hits": [self.hit(entry_id or "lost-001")]}


def test_english_user_gets_english_options_and_link_and_a_number_picks_the_payload(
        wx: Wx, fake_rasa, rasa_delay, fake_wechat: FakeWeChat) -> None:
    """Issue 19: the numbered options and the link of a KB answer are English for an English
    WeChat user; replying a number still sends the entry's payload."""
    user = "oUpF8uMuAJO_M2pxb1Q9zNjWeS7e"
    wx.reply(wx.post(text_xml(user, "hello", 9100), user))  # a warm app, English from here
    rasa_delay(30.0)
    app = wx.client.app
    app.state.rasa.budget = 0.5
    app.state.wechat.settings.wechat_passive_timeout_seconds = 4.0
    kb = SeedKB()
    app.state.gateway.kb = kb
    reply = wx.reply(wx.post(text_xml(user, "I lost my credit card, what should I do?", 9101),
                             user))
    content = reply["Content"]
    assert content.startswith(kb.seed["lost-001"].answer_en.split("\n")[0])
    assert "Reply 1: Report card lost" in content
    assert "Reply 2: Will I be compensated for fraud before my loss report?" in content
    assert "Reply 3: How long does a replacement card take to arrive?" in content
    assert ('<a href="https://card.example-bank.cn/help/lost">Lost card protection explained'
            '</a>') in content
    assert "立即挂失" not in content and "失卡保障说明" not in content
    wx.reply(wx.post(text_xml(user, "3", 9102), user))
    assert kb.calls[-1] == (None, "lost-004")  # the option's payload, unchanged
