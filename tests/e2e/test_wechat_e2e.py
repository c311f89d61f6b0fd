"""Issue 5 done-when, through the real three processes: a signed WeChat text message about a
lost card gets a passive XML reply about 挂失 (the stack runs with the .env.example values)."""

from __future__ import annotations

import time

import httpx
import pytest
import xmltodict
from wechatpy.utils import WeChatSigner

from api.core.config import Settings

pytestmark = pytest.mark.e2e

OPENID = "oE2eWeChatUser_0001"


def signed(token: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), "1029384756"
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
            "openid": OPENID}


def text_message(content: str, msg_id: int) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_e2e000000001]]></ToUserName>"
            f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
            ).encode()


def test_signed_lost_card_message_gets_a_passive_reply_about_reporting_loss(stack, chat) -> None:
    token = stack.env.get("WECHAT_TOKEN") or Settings().wechat_token
    chat("e2e-wechat-warmup", "你好")  # first turn of a fresh stack loads models
    resp = httpx.post(f"{stack.base_url}/wechat", params=signed(token),
                      content=text_message("信用卡丢了怎么办", int(time.time() * 1000)),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.text != "success", "the bot did not answer within the passive-reply budget"
    reply = xmltodict.parse(resp.text)["xml"]
    assert reply["MsgType"] == "text" and reply["ToUserName"] == OPENID
    assert "挂失" in reply["Content"]
    assert "回复1" in reply["Content"]  # the answer's buttons became numbered options


def menu_click(key: str) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_e2e000000001]]></ToUserName>"
            f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
            ).encode()


def test_menu_click_answers_the_kb_entry_and_a_number_picks_its_option(stack, chat) -> None:
    token = stack.env.get("WECHAT_TOKEN") or Settings().wechat_token
    chat("e2e-wechat-warmup", "你好")
    resp = httpx.post(f"{stack.base_url}/wechat", params=signed(token),
                      content=menu_click("MENU_FAQ_LOST"), timeout=30)
    answer = xmltodict.parse(resp.text)["xml"]["Content"]
    assert "挂失" in answer and "回复1 立即挂失" in answer
    resp = httpx.post(f"{stack.base_url}/wechat", params=signed(token),
                      content=text_message("1", int(time.time() * 1000) + 1), timeout=30)
    assert resp.status_code == 200 and resp.text != "success"
    picked = xmltodict.parse(resp.text)["xml"]["Content"]
    assert picked and picked != answer  # the bot answered the 立即挂失 option


def test_unsigned_or_forged_wechat_requests_are_refused(stack) -> None:
    params = {**signed("not-the-token"), "echostr": "123"}
    assert httpx.get(f"{stack.base_url}/wechat", params=params, timeout=30).status_code == 403
    resp = httpx.post(f"{stack.base_url}/wechat", params=params,
                      content=text_message("你好", 1), timeout=30)
    assert resp.status_code == 403
