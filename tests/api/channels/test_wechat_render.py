"""Rendering for WeChat (numbered options, splitting, news) and the safe XML parser."""

from __future__ import annotations

import pytest
import xmltodict

from api.channels.wechat import texts
from api.channels.wechat.render import (
    custom_payload,
    pick_option,
    render_messages,
    split_text,
    utf8_len,
)
from api.channels.wechat.xmlmsg import (
    XmlRejected,
    inbound_from_fields,
    news_reply,
    parse_fields,
    text_reply,
)

LOST = [
    {"type": "buttons", "text": "别着急，请第一时间挂失。", "buttons": [
        {"title": "立即挂失", "payload": "/report_lost_card"},
        {"title": "补卡要多久到？", "payload": '/faq{"kb_entry_id":"lost-004"}'}]},
    {"type": "link", "text": "失卡保障说明", "url": "https://card.example-bank.cn/help/lost?a=1&b=2"},
    {"type": "buttons", "text": "猜你想问：", "buttons": [
        {"title": "挂失要收费吗", "payload": '/faq{"kb_entry_id":"lost-003"}'}]},
]


def test_buttons_become_numbered_options_in_one_text_with_inline_link() -> None:
    rendered = render_messages(LOST)
    assert [m.kind for m in rendered.messages] == ["text"]
    text = rendered.messages[0].text
    assert "回复1 立即挂失" in text and "回复2 补卡要多久到？" in text
    assert "回复3 挂失要收费吗" in text  # numbering continues across button groups
    assert '<a href="https://card.example-bank.cn/help/lost?a=1&amp;b=2">失卡保障说明</a>' in text
    order = [text.index(s) for s in ("别着急", "回复1", "<a href", "猜你想问")]
    assert order == sorted(order)
    assert [o["payload"] for o in rendered.options] == [
        "/report_lost_card", '/faq{"kb_entry_id":"lost-004"}', '/faq{"kb_entry_id":"lost-003"}']


def test_link_or_image_only_turn_becomes_news() -> None:
    rendered = render_messages([
        {"type": "link", "text": "额度调整指南", "url": "https://x.example/limit"},
        {"type": "image", "url": "https://x.example/limit.png"}])
    assert len(rendered.messages) == 1
    article = rendered.messages[0].article
    assert article is not None and article.title == "额度调整指南"
    assert article.url == "https://x.example/limit" and article.picurl == "https://x.example/limit.png"
    payload = custom_payload("oUser", rendered.messages[0])
    assert payload == {"touser": "oUser", "msgtype": "news", "news": {"articles": [
        {"title": "额度调整指南", "description": "", "url": "https://x.example/limit",
         "picurl": "https://x.example/limit.png"}]}}


def test_image_next_to_text_is_an_extra_news_article() -> None:
    rendered = render_messages([{"type": "text", "text": "请看示意图"},
                                {"type": "image", "url": "https://x.example/a.png"}])
    assert [m.kind for m in rendered.messages] == ["text", "news"]
    assert rendered.messages[1].article.picurl == "https://x.example/a.png"  # type: ignore[union-attr]
    assert rendered.messages[1].article.title == texts.IMAGE_TITLE  # type: ignore[union-attr]


def test_long_text_is_split_on_sentence_ends_within_the_byte_limit() -> None:
    sentence = "信用卡账单分期后，每期还款金额包含本金和手续费。"  # 24 chars, 72 bytes
    text = sentence * 100  # 7200 bytes
    parts = split_text(text, 2048)
    assert len(parts) == 4
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert all(p.endswith("。") for p in parts)
    assert "".join(parts) == text


def test_text_without_punctuation_is_split_on_character_boundaries() -> None:
    text = "🙂挂" * 700  # 4-byte and 3-byte characters, no sentence end
    parts = split_text(text, 2048)
    assert "".join(parts) == text
    assert all(utf8_len(p) <= 2048 for p in parts)
    assert all(p.encode("utf-8").decode("utf-8") == p for p in parts)


def test_too_many_parts_are_cut_with_a_notice() -> None:
    rendered = render_messages([{"type": "text", "text": "很长的一句话。" * 2000}],
                               max_bytes=2048, max_messages=3)
    assert len(rendered.messages) == 3
    assert rendered.messages[-1].text.endswith(texts.TRUNCATED)
    assert all(utf8_len(m.text) <= 2048 for m in rendered.messages)


def test_short_text_stays_one_message_and_empty_turn_renders_nothing() -> None:
    single = render_messages([{"type": "text", "text": "您好"}]).messages
    assert [m.text for m in single] == ["您好"]
    assert render_messages([]).messages == []


@pytest.mark.parametrize(("text", "expected"), [
    ("1", "/a"), (" 2 ", "/b"), ("２", "/b"), ("回复1", "/a"), ("1。", "/a"),
    ("3", None), ("0", None), ("12", None), ("1个", None), ("一", None), ("", None)])
def test_number_replies_pick_pending_options(text: str, expected: str | None) -> None:
    options = [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}]
    picked = pick_option(text, options)
    assert (picked["payload"] if picked else None) == expected
    assert pick_option("1", []) is None


def test_reply_xml_survives_cdata_terminators_and_control_characters() -> None:
    xml = text_reply("oUser", "gh_abc", "a]]>b\x00c\x1fd 挂失", 1700000000)
    fields = parse_fields(xml.encode("utf-8"))
    assert fields["Content"] == "a]]>bcd 挂失"
    assert fields["ToUserName"] == "oUser" and fields["FromUserName"] == "gh_abc"
    news = xmltodict.parse(news_reply("oUser", "gh_abc", [
        {"title": "T", "description": "D", "url": "https://u", "picurl": "https://p"}], 1))["xml"]
    assert news["MsgType"] == "news" and news["ArticleCount"] == "1"
    assert news["Articles"]["item"]["Url"] == "https://u"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oUser</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Content>&lol3;</Content></xml>"""
DTD_ONLY = b'<!DOCTYPE xml SYSTEM "http://evil.example/x.dtd"><xml><a>1</a></xml>'


@pytest.mark.parametrize("body", [XXE, BILLION_LAUGHS, DTD_ONLY])
def test_dtds_and_entities_are_refused(body: bytes) -> None:
    with pytest.raises(XmlRejected) as exc:
        parse_fields(body)
    assert exc.value.code == "unsafe_xml"


@pytest.mark.parametrize("body", [b"<xml><a>1</xml>", b"not xml", b"<other><a>1</a></other>",
                                  b"\xff\xfe<xml/>"])
def test_malformed_xml_is_refused(body: bytes) -> None:
    with pytest.raises(XmlRejected) as exc:
        parse_fields(body)
    assert exc.value.code == "malformed_xml"


def test_message_fields_are_validated() -> None:
    good = {"ToUserName": "gh_abc", "FromUserName": "oAbC-_123", "CreateTime": "1348831860",
            "MsgType": "text", "Content": "this is a test", "MsgId": "1234567890123456"}
    inbound = inbound_from_fields(good)
    assert inbound.dedupe_key == "msg:1234567890123456" and inbound.content == "this is a test"
    event = inbound_from_fields({**good, "MsgType": "event", "Event": "CLICK", "MsgId": "",
                                 "EventKey": "MENU_BILL"})
    assert event.event == "click"
    assert event.dedupe_key == "evt:oAbC-_123:1348831860:click:MENU_BILL"
    for bad in ({"FromUserName": "o user"}, {"FromUserName": ""}, {"CreateTime": "yesterday"},
                {"MsgType": ""}, {"MsgId": "12ab"}, {"MsgId": ""}, {"ToUserName": "<gh>"}):
        with pytest.raises(XmlRejected):
            inbound_from_fields({**good, **bad})


def test_english_turn_renders_english_options_and_link_titles() -> None:
    """The degraded/action answer of an English conversation arrives with English titles;
    the renderer's own words follow the language too (issue 19)."""
    from api.conversation.degraded import answer_messages

    hit = {"entry_id": "lost-001", "question": "信用卡丢了怎么办", "answer_en": "Report it.",
           "answer": {"text": "请挂失。", "image": None, "buttons": [
               {"title": "立即挂失", "payload": "/report_lost_card"},
               {"title": "补卡要多久到？", "payload": '/faq{"kb_entry_id":"lost-004"}',
                "title_en": "How long does a new card take?"}],
               "links": [{"title": "失卡保障说明", "url": "https://card.example-bank.cn/help/lost",
                          "title_en": "Lost card protection explained"}]}, "related": []}
    rendered = render_messages(answer_messages(hit, "en"), lang="en")
    text = rendered.messages[0].text
    assert "Reply 1: Report card lost" in text
    assert "Reply 2: How long does a new card take?" in text
    assert ">Lost card protection explained</a>" in text
    assert rendered.options == [
        {"title": "Report card lost", "payload": "/report_lost_card"},
        {"title": "How long does a new card take?",
         "payload": '/faq{"kb_entry_id":"lost-004"}'}]
    assert pick_option("2", rendered.options)["payload"] == '/faq{"kb_entry_id":"lost-004"}'
    chinese = render_messages(answer_messages(hit, "zh")).messages[0].text
    assert "回复1 立即挂失" in chinese and ">失卡保障说明</a>" in chinese
