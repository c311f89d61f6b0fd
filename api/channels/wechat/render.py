"""Render the gateway's channel-neutral messages for WeChat.

WeChat has no buttons: options become numbered lines ("回复1 立即挂失") and the user answers
with the number. A rating (a message with `scale: [low, high]`, e.g. the NPS 0-10 question)
says "回复0-10的数字" instead: the number typed is the score itself.
Text, options and links of one turn are merged into one text message (each
extra message costs customer-service quota), links as `<a href>` lines; a turn that is only a
link or an image becomes a news (图文) message, and images are sent as news articles. Text over
WeChat's limit (2048 bytes) is split on sentence ends, never inside a UTF-8 character.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from api.channels.wechat import texts

# Sentence-like units: text up to and including a sentence end or newline.
_UNITS = re.compile(r"[^。！？!?；;\n]*[。！？!?；;\n]+|[^。！？!?；;\n]+")


@dataclass(frozen=True)
class Article:
    """One news (图文) article."""

    title: str
    url: str
    description: str = ""
    picurl: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "description": self.description, "url": self.url,
                "picurl": self.picurl}


@dataclass(frozen=True)
class OutMessage:
    """One WeChat message: text, or a news article."""

    kind: Literal["text", "news"]
    text: str = ""
    article: Article | None = None


@dataclass
class Rendered:
    """A turn rendered for WeChat, plus the numbered options it offered (empty: none)."""

    messages: list[OutMessage]
    options: list[dict[str, str]] = field(default_factory=list)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_split(text: str, max_bytes: int) -> list[str]:
    """Split on character boundaries so that each chunk fits max_bytes."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        n = utf8_len(char)
        if size + n > max_bytes and current:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += n
    if current:
        chunks.append("".join(current))
    return chunks


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split text into parts of at most max_bytes UTF-8 bytes, preferring sentence ends."""
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one UTF-8 character")
    if utf8_len(text) <= max_bytes:
        return [text] if text.strip() else []
    parts: list[str] = []
    current = ""
    for unit in _UNITS.findall(text):
        if utf8_len(unit) > max_bytes:
            if current:
                parts.append(current)
                current = ""
            parts.extend(_hard_split(unit, max_bytes))
            continue
        if utf8_len(current + unit) > max_bytes:
            parts.append(current)
            current = unit
        else:
            current += unit
    if current:
        parts.append(current)
    return [p.strip("\n") for p in parts if p.strip()]


def limit_parts(parts: list[str], max_parts: int, max_bytes: int,
                lang: str = "zh") -> list[str]:
    """Keep at most max_parts parts; the last one says the answer was shortened."""
    if len(parts) <= max_parts:
        return parts
    kept = parts[:max_parts]
    truncated = texts.text("truncated", lang)
    room = max_bytes - utf8_len(truncated)
    last = kept[-1]
    while utf8_len(last) > room:
        last = last[:-1]
    kept[-1] = last + truncated
    return kept


def link_line(title: str, url: str, lang: str = "zh") -> str:
    """A clickable link inside a WeChat text message."""
    shown = title or texts.text("link_title", lang)
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(shown)}</a>'


def render_messages(messages: list[dict[str, Any]], max_bytes: int = 2048,
                    max_messages: int = 5, lang: str = "zh") -> Rendered:
    """Turn the gateway's messages of one turn into WeChat messages (at most max_messages),
    the channel's own words ("回复1 …") in the conversation's language."""
    has_text = any((m.get("text") or "").strip() or m.get("buttons") for m in messages
                   if m.get("type") in ("text", "buttons"))
    blocks: list[str] = []
    options: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    images: list[str] = []
    for msg in messages:
        kind = msg.get("type")
        text = (msg.get("text") or "").strip()
        if kind in ("text", "buttons"):
            lines = [text] if text else []
            scale = msg.get("scale")
            if isinstance(scale, list) and len(scale) == 2:  # a rating: the number is the answer
                # Any button besides the numbers is the skip ("不用了"): named by its title.
                skip = next((str(b.get("title")) for b in msg.get("buttons") or []
                             if not str(b.get("title", "")).strip().isdigit()), None)
                lines.append(texts.text("scale", lang, low=scale[0], high=scale[1]) + (
                    texts.text("scale_skip", lang, skip=skip) if skip else ""))
                blocks.append("\n".join(lines))
                continue
            for button in msg.get("buttons") or []:
                options.append({"title": str(button.get("title", "")),
                                "payload": str(button.get("payload", ""))})
                lines.append(texts.text("option", lang, number=len(options),
                                        title=button.get("title", "")))
            if lines:
                blocks.append("\n".join(lines))
        elif kind == "link" and msg.get("url"):
            if has_text:
                blocks.append(link_line(text, str(msg["url"]), lang))
            else:
                links.append({"title": text or texts.text("link_title", lang),
                              "url": str(msg["url"])})
        elif kind == "image" and msg.get("url"):
            images.append(str(msg["url"]))

    out: list[OutMessage] = []
    body = "\n\n".join(blocks)
    if body:
        out.extend(OutMessage("text", part) for part in split_text(body, max_bytes))
    if links:
        first, rest = links[0], links[1:]
        picurl = images.pop(0) if images else ""
        out.append(OutMessage("news", article=Article(first["title"], first["url"],
                                                      picurl=picurl)))
        for link in rest:
            out.append(OutMessage("news", article=Article(link["title"], link["url"])))
    for url in images:
        out.append(OutMessage("news", article=Article(texts.text("image_title", lang), url,
                                                      picurl=url)))

    if len(out) > max_messages:
        parts = [m.text for m in out if m.kind == "text"]
        if len(parts) > max_messages:
            out = [OutMessage("text", t)
                   for t in limit_parts(parts, max_messages, max_bytes, lang)]
        else:
            out = out[:max_messages]
    return Rendered(out, options)


def custom_payload(openid: str, msg: OutMessage) -> dict[str, Any]:
    """The customer-service API body (POST /cgi-bin/message/custom/send) for one message."""
    if msg.kind == "news" and msg.article is not None:
        return {"touser": openid, "msgtype": "news",
                "news": {"articles": [msg.article.as_dict()]}}
    return {"touser": openid, "msgtype": "text", "text": {"content": msg.text}}


NUMBER_RE = re.compile(r"^\s*(?:回复)?\s*([0-9０-９]{1,2})\s*[.。、]?\s*$")


def pick_option(text: str, options: list[dict[str, str]]) -> dict[str, str] | None:
    """The option a bare number ("1", "１", "回复2") selects, if it is in range."""
    match = NUMBER_RE.match(text)
    if not match or not options:
        return None
    digits = match.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    index = int(digits)
    if 1 <= index <= len(options):
        return options[index - 1]
    return None
