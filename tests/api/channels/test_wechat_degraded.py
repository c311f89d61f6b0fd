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
