"""Fakes and helpers of the WeChat channel tests (imported by conftest and the tests).

`FakeWeChat` is a real HTTP server on 127.0.0.1 (http.server in a thread) that issues access
tokens and records customer-service messages; it can fail sends with chosen errcodes. Requests
are signed and encrypted with wechatpy (the reference implementation), not with our code.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import xmltodict
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from api.core import db

TOKEN = "test-wechat-token"
APP_ID = "wx1234567890abcdef"
APP_SECRET = "test-app-secret"
ACCOUNT = "gh_0123456789ab"


def new_aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


AES_KEY = new_aes_key()
AES_KEY_PREVIOUS = new_aes_key()


class FakeWeChat:
    """The parts of api.weixin.qq.com the channel uses, with scriptable failures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.token_requests: list[dict[str, str]] = []
        self.sent: list[dict[str, Any]] = []
        self.send_attempts = 0
        self.send_errors: list[int] = []  # errcodes returned by the next sends, in order
        self.closed_window: set[str] = set()  # OpenIDs outside the 48-hour window
        self.expires_in = 7200
        self.valid_tokens: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/cgi-bin/token":
                    self._json({"errcode": 40066, "errmsg": "invalid url"})
                    return
                with fake.lock:
                    fake.token_requests.append(query)
                    if (query.get("grant_type") != "client_credential"
                            or query.get("appid") != APP_ID
                            or query.get("secret") != APP_SECRET):
                        self._json({"errcode": 40013, "errmsg": "invalid appid"})
                        return
                    token = f"TOKEN-{len(fake.token_requests)}"
                    fake.valid_tokens.add(token)
                    self._json({"access_token": token, "expires_in": fake.expires_in})

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length).decode("utf-8"))
                if url.path != "/cgi-bin/message/custom/send":
                    self._json({"errcode": 40066, "errmsg": "invalid url"})
                    return
                with fake.lock:
                    fake.send_attempts += 1
                    token = query.get("access_token", "")
                    if token not in fake.valid_tokens:
                        self._json({"errcode": 40001, "errmsg": "invalid credential"})
                        return
                    if fake.send_errors:
                        code = fake.send_errors.pop(0)
                        if code in (40001, 42001):
                            fake.valid_tokens.discard(token)
                        self._json({"errcode": code, "errmsg": "scripted failure"})
                        return
                    if body.get("touser") in fake.closed_window:
                        self._json({"errcode": 45015, "errmsg": "response out of time limit"})
                        return
                    fake.sent.append({"token": token, **body})
                    self._json({"errcode": 0, "errmsg": "ok"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def texts(self, openid: str | None = None) -> list[str]:
        with self.lock:
            return [m["text"]["content"] for m in self.sent
                    if m["msgtype"] == "text" and (openid is None or m["touser"] == openid)]


def sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def count(model: Any) -> int:
    with db.get_sessionmaker()() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def text_xml(openid: str, content: str, msg_id: int | str, create_time: int | None = None) -> str:
    """A text message exactly as the official docs show it."""
    return ("<xml>"
            f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId>"
            "</xml>")


def event_xml(openid: str, event: str, key: str = "", create_time: int | None = None) -> str:
    key_xml = f"<EventKey><![CDATA[{key}]]></EventKey>" if key else ""
    return ("<xml>"
            f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            "<MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event>{key_xml}"
            "</xml>")


class Wx:
    """Sends callbacks to /wechat the way WeChat's servers do."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def params(self, openid: str = "", timestamp: int | None = None, nonce: str = "1357924680",
               token: str = TOKEN) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        params = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}
        if openid:
            params["openid"] = openid
        return params

    def post(self, xml: str | bytes, openid: str = "", **kw: Any) -> httpx.Response:
        body = xml.encode("utf-8") if isinstance(xml, str) else xml
        return self.client.post("/wechat", params=self.params(openid, **kw), content=body,
                                headers={"Content-Type": "text/xml"})

    def post_encrypted(self, xml: str, openid: str = "", key: str = AES_KEY,
                       nonce: str = "246813579") -> httpx.Response:
        ts = str(int(time.time()))
        envelope = WeChatCrypto(TOKEN, key, APP_ID).encrypt_message(xml, nonce, ts)
        fields = xmltodict.parse(envelope)["xml"]
        body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>")
        params = {**self.params(openid, timestamp=int(ts), nonce=nonce),
                  "encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}
        return self.client.post("/wechat", params=params, content=body.encode(),
                                headers={"Content-Type": "text/xml"})

    @staticmethod
    def decrypt_reply(resp: httpx.Response, key: str = AES_KEY) -> dict[str, Any]:
        envelope = xmltodict.parse(resp.text)["xml"]
        plain = WeChatCrypto(TOKEN, key, APP_ID).decrypt_message(
            {"Encrypt": envelope["Encrypt"]}, envelope["MsgSignature"], envelope["TimeStamp"],
            envelope["Nonce"])
        return xmltodict.parse(plain)["xml"]

    @staticmethod
    def reply(resp: httpx.Response) -> dict[str, Any]:
        assert resp.status_code == 200, resp.text
        assert resp.text != "success", "expected a passive reply, got success"
        return xmltodict.parse(resp.text)["xml"]


