"""Untrusted WeChat XML in, reply XML out: wechatpy's message and reply objects behind
defusedxml.

WeChat never sends a DTD, so any DTD, entity declaration or external reference is refused
(XXE, billion laughs) before wechatpy sees anything: only the flat children of `<xml>` are read
(defusedxml), then wechatpy's message registry (`MESSAGE_TYPES`, `EVENT_TYPES`) gives the typed
message, whose fields are validated here (OpenID, MsgId, CreateTime formats). Replies are
wechatpy's `TextReply` / `ArticlesReply`; their text is made safe for CDATA first (wechatpy
writes values into CDATA as they are, so `]]>` or a control character would break the XML).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage
from wechatpy.replies import ArticlesReply, TextReply

OPENID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_@.-]{1,64}$")
MSGID_RE = re.compile(r"^[0-9]{1,32}$")
# Characters XML 1.0 cannot carry; bot text must never make the reply unparseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class XmlRejected(ValueError):
    """The body is not a WeChat message we accept; `code` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def parse_fields(body: bytes) -> dict[str, str]:
    """Parse `<xml>…</xml>` safely into {tag: text} of its leaf children."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True,
                                 forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise XmlRejected("unsafe_xml", f"forbidden XML construct: {type(exc).__name__}") from exc
    except ET.ParseError as exc:
        raise XmlRejected("malformed_xml", f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise XmlRejected("malformed_xml", "root element must be <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str) and len(child) == 0 and child.tag not in fields:
            fields[child.tag] = child.text or ""
    return fields


@dataclass(frozen=True)
class WeChatInbound:
    """One message or event pushed by WeChat, validated."""

    to_user: str  # the account's original id (gh_…)
    from_user: str  # the cardholder's OpenID
    create_time: int
    msg_type: str  # lower case: text, voice, image, event, …
    msg_id: str | None = None
    content: str = ""
    recognition: str | None = None
    event: str = ""  # lower case: subscribe, unsubscribe, click, view, …
    event_key: str = ""

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages; FromUserName + CreateTime (+ event) for events, as WeChat says."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        key = self.event_key[:64]
        return f"evt:{self.from_user}:{self.create_time}:{self.event}:{key}"


def wechat_message(fields: dict[str, str]) -> BaseMessage:
    """wechatpy's typed message or event for the parsed fields (its registry of types)."""
    msg_type = fields.get("MsgType", "").strip().lower()
    if msg_type == "event":
        cls = EVENT_TYPES.get(fields.get("Event", "").strip().lower(), UnknownMessage)
    else:
        cls = MESSAGE_TYPES.get(msg_type, UnknownMessage)
    return cls(dict(fields))


def inbound_from_fields(fields: dict[str, str]) -> WeChatInbound:
    """Validate the decrypted fields into a WeChatInbound (XmlRejected if not a message)."""
    message = wechat_message(fields)
    from_user = (message.source or "").strip()
    to_user = (message.target or "").strip()
    msg_type = fields.get("MsgType", "").strip().lower()
    if not OPENID_RE.match(from_user):
        raise XmlRejected("invalid_message", "FromUserName is missing or not an OpenID")
    if not ACCOUNT_RE.match(to_user):
        raise XmlRejected("invalid_message", "ToUserName is missing or malformed")
    if not re.fullmatch(r"[a-z_]{1,32}", msg_type):
        raise XmlRejected("invalid_message", "MsgType is missing or malformed")
    try:
        create_time = int(fields.get("CreateTime", "").strip())
    except ValueError as exc:
        raise XmlRejected("invalid_message", "CreateTime must be an integer") from exc
    msg_id = fields.get("MsgId", "").strip() or None
    if msg_id is not None and not MSGID_RE.match(msg_id):
        raise XmlRejected("invalid_message", "MsgId must be numeric")
    if msg_type != "event" and msg_id is None:
        raise XmlRejected("invalid_message", "messages must carry a MsgId")
    event = fields.get("Event", "").strip().lower()
    if msg_type == "event" and not re.fullmatch(r"[a-z_]{1,64}", event):
        raise XmlRejected("invalid_message", "Event is missing or malformed")
    recognition = getattr(message, "recognition", None) if "Recognition" in fields else None
    event_key = getattr(message, "key", None) or fields.get("EventKey", "")
    return WeChatInbound(
        to_user=to_user, from_user=from_user, create_time=create_time, msg_type=msg_type,
        msg_id=msg_id, content=getattr(message, "content", None) or fields.get("Content", ""),
        recognition=recognition.strip() if recognition is not None else None,
        event=event, event_key=event_key.strip(),
    )


def xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot represent."""
    return _XML_INVALID.sub("", text)


def cdata_safe(text: str) -> str:
    """Text that survives inside wechatpy's CDATA sections: no XML-invalid characters, and a
    `]]>` split across two sections."""
    return xml_safe(text).replace("]]>", "]]]]><![CDATA[>")


def text_reply(to_user: str, from_user: str, content: str, create_time: int) -> str:
    """Passive text reply (ToUserName is the cardholder's OpenID)."""
    reply = TextReply(target=cdata_safe(to_user), source=cdata_safe(from_user),
                      time=int(create_time), content=cdata_safe(content))
    return str(reply.render())


def news_reply(to_user: str, from_user: str, articles: list[dict[str, Any]],
               create_time: int) -> str:
    """Passive news (图文) reply; a reply to a user message may carry one article."""
    items = [{"title": cdata_safe(a.get("title", "")),
              "description": cdata_safe(a.get("description", "")),
              "image": cdata_safe(a.get("picurl", "")), "url": cdata_safe(a.get("url", ""))}
             for a in articles]
    reply = ArticlesReply(target=cdata_safe(to_user), source=cdata_safe(from_user),
                          time=int(create_time), articles=items)
    return str(reply.render())
