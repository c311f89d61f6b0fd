"""Issue 16: a flood from one WeChat openid gets 429 (WeChat shows its own notice)."""

from __future__ import annotations

from wechat_fakes import Wx, text_xml

from api.core.config import get_settings


def test_flood_from_one_openid_gets_429(wx: Wx, fake_rasa, monkeypatch) -> None:
    monkeypatch.setattr(get_settings(), "rate_limit_wechat_per_openid", "3/minute")
    flooder, other = "oFlood0000000000000000000001", "oCalm00000000000000000000001"
    codes = [wx.post(text_xml(flooder, f"第{i}条", 7000 + i), openid=flooder).status_code
             for i in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = wx.post(text_xml(flooder, "还在吗", 7100), openid=flooder)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert resp.json()["detail"]["message"] and resp.json()["detail"]["message_en"]
    assert wx.post(text_xml(other, "你好", 7200), openid=other).status_code == 200


def test_new_openids_are_not_counted_as_new_web_visitors(wx: Wx, monkeypatch) -> None:
    # WeChat names its users itself (a signed callback per openid): the web widget's limit on
    # new anonymous visitors per address (all callbacks come from WeChat's few servers) is not
    # theirs; each openid has its own limit above.
    monkeypatch.setattr(get_settings(), "rate_limit_chat_new_visitors_per_ip", "2/minute")
    codes = [wx.post(text_xml(f"oNew{i:024d}", "你好", 7300 + i), openid=f"oNew{i:024d}")
             .status_code for i in range(5)]
    assert codes == [200] * 5
