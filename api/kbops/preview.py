"""How an answer renders: on the web/app widget and on WeChat.

The web messages are the ones the cardholder gets from ``POST /api/v1/chat`` for this answer
(the same split as ``action_answer_from_kb`` + the gateway: text with its buttons, one message
per link, the image last). WeChat goes through the WeChat channel's own renderer (passed in by
the route, so the ops console does not depend on a channel), so buttons become numbered
"回复1 …" options and long text is split exactly as it will be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.core.config import Settings
from knowledge_base.content.entries import CHANNELS, Answer


def web_messages(answer: Answer) -> list[dict[str, Any]]:
    """The widget messages of an answer."""
    messages: list[dict[str, Any]] = []
    buttons = [{"title": b.title, "payload": b.payload} for b in answer.buttons]
    if buttons:
        messages.append({"type": "buttons", "text": answer.text, "buttons": buttons})
    else:
        messages.append({"type": "text", "text": answer.text})
    for link in answer.links:
        messages.append({"type": "link", "text": link.title, "url": link.url})
    if answer.image:
        messages.append({"type": "image", "text": "", "url": answer.image})
    return messages


def preview(answer: Answer, channels: list[str], settings: Settings,
            render_wechat: Callable[..., Any]) -> dict[str, Any]:
    """Web and WeChat renderings of ``answer``, with notes for ops (``render_wechat`` is the
    WeChat channel's ``render_messages``)."""
    web = web_messages(answer)
    rendered = render_wechat(web, max_bytes=settings.wechat_text_max_bytes,
                               max_messages=settings.wechat_max_messages_per_turn)
    wechat = [{"kind": m.kind, "text": m.text,
               "article": m.article.as_dict() if m.article else None} for m in rendered.messages]
    notes = []
    texts = [m for m in rendered.messages if m.kind == "text"]
    if len(texts) > 1:
        notes.append(f"微信单条消息上限 {settings.wechat_text_max_bytes} 字节，"
                     f"答案会拆成 {len(texts)} 条发送。")
    for channel in CHANNELS:
        if channel not in channels:
            label = {"web": "网页", "app": "App", "wechat": "微信"}[channel]
            notes.append(f"该条目不在{label}渠道提供。")
    return {"web": web, "wechat": wechat, "wechat_options": rendered.options, "notes": notes}
