"""Issue 18 done-when through the real Rasa + actions + API: the goodbye of a bot-only web
conversation asks the 0-10 question with buttons; answering 9 raises nps_responses and moves
nps; "没有了，谢谢" asks too. The cardholder side goes through the `chat` fixture only."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _summary(stack) -> dict:
    from api.core.config import Settings

    s = Settings()
    token = httpx.post(f"{stack.base_url}/api/v1/auth/token", timeout=30, data={
        "username": s.demo_supervisor_user, "password": s.demo_supervisor_password}
    ).json()["access_token"]
    resp = httpx.get(f"{stack.base_url}/api/v1/insights/summary", params={"days": 2},
                     headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_goodbye_asks_nps_and_9_counts(stack, chat) -> None:
    before = _summary(stack)
    chat("e2e-nps-1", "信用卡年费怎么收")
    bye = chat("e2e-nps-1", "再见")
    question = bye["messages"][-1]
    assert question["type"] == "buttons" and "推荐给朋友" in question["text"], bye
    assert [b["title"] for b in question["buttons"]] == [str(n) for n in range(11)]
    answer = chat("e2e-nps-1", "9")
    assert answer["outcome"] == "survey" and answer["details"]["nps"]["score"] == 9, answer
    after = _summary(stack)
    assert after["nps_responses"] == before["nps_responses"] + 1
    assert after["nps"] is not None and after["nps_promoters"] == before["nps_promoters"] + 1
    # an ordinary question afterwards goes to the bot as usual
    assert chat("e2e-nps-1", "怎么查账单")["outcome"] in ("answered", "clarify")


def test_closing_phrase_asks_nps(chat) -> None:
    reply = chat("e2e-nps-2", "没有了，谢谢")
    assert "推荐给朋友" in reply["messages"][-1]["text"], reply
