"""NPS on WeChat: the 0-10 question says "回复0-10的数字", the typed number is the score."""

from __future__ import annotations

from insights_support import goodbye_rasa
from sqlalchemy import select
from wechat_fakes import Wx, text_xml

from api.core import db
from api.models import NpsResponse

OPENID = "oNps0000000000000000000000001"


def test_goodbye_on_wechat_asks_with_numbered_range_and_a_typed_9_counts(wx: Wx,
                                                                         fake_rasa) -> None:
    fake_rasa.reply = goodbye_rasa
    content = wx.reply(wx.post(text_xml(OPENID, "再见", 5001), OPENID))["Content"]
    assert "推荐给朋友" in content and "回复0-10的数字" in content
    assert "回复1 0" not in content  # not numbered options: the number is the score
    sent = len(fake_rasa.sent)
    follow = wx.reply(wx.post(text_xml(OPENID, "9", 5002), OPENID))["Content"]
    assert len(fake_rasa.sent) == sent  # "9" never reached the NLU
    assert "哪里可以做得更好" in follow and "回复1-5的数字" in follow
    done = wx.reply(wx.post(text_xml(OPENID, "５", 5003), OPENID))["Content"]
    assert "感谢" in done
    with db.get_sessionmaker()() as s:
        row = s.scalars(select(NpsResponse)).one()
        assert (row.channel, row.score, row.csat, row.status) == ("wechat", 9, 5, "done")
