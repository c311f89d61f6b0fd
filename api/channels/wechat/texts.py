"""What the WeChat channel itself says to cardholders (the bot's answers come from Rasa).

Every text in Chinese and English (issue 19): the user's conversation language decides
(`text(key, lang)`), Chinese is the default, e.g. for a new follower. The module-level names
are the Chinese texts, kept for callers that have no conversation.
"""

from __future__ import annotations

from vocab.language import TextTable

TEXTS = TextTable("wechat", {
    "welcome": (
        "您好，欢迎关注本行信用卡服务号！我是智能客服小卡，7×24小时为您服务。\n"
        "您可以直接发文字或语音问我用卡问题，比如：\n"
        "· 信用卡丢了怎么办\n"
        "· 账单日可以改吗\n"
        "· 怎么提高额度\n"
        "也可以让我帮您查账单、挂失、办分期、查积分。需要人工服务，请回复“转人工”。\n"
        "For English service, reply \"English please\".",
        "Welcome to our credit-card service account! I'm Xiaoka, the card assistant, here for "
        "you 24/7.\nAsk me about your card in a text or voice message, for example:\n"
        "· What should I do if I lose my card?\n"
        "· Can I change my statement date?\n"
        "· How do I raise my credit limit?\n"
        "I can also check your bill, report a lost card, set up instalments or check your "
        "points. Reply \"agent\" to talk to a person. 需要中文服务请回复“请说中文”。"),
    "unsupported": (
        "抱歉，我暂时只能看懂文字和语音消息。请用文字描述您的问题，我马上为您解答。",
        "Sorry, I can only read text and voice messages for now. Please type your question and "
        "I'll answer right away."),
    "unsupported_image": (
        "收到您的图片啦。不过我暂时看不懂图片，请用文字描述您的问题，我马上为您解答。",
        "Thanks for the picture. I can't read pictures yet, though: please type your question "
        "and I'll answer right away."),
    "unsupported_location": (
        "收到您的位置信息。如需查询网点，请用文字告诉我您所在的城市和区域。",
        "Thanks for your location. To find a branch, please type your city and district."),
    "unsupported_link": (
        "收到您分享的链接。我暂时无法打开链接，请用文字描述您的问题。",
        "Thanks for the link. I can't open links yet: please type your question."),
    "unsupported_video": (
        "收到您的视频。我暂时看不懂视频，请用文字描述您的问题。",
        "Thanks for the video. I can't watch videos yet: please type your question."),
    "unsupported_shortvideo": (
        "收到您的小视频。我暂时看不懂视频，请用文字描述您的问题。",
        "Thanks for the video. I can't watch videos yet: please type your question."),
    "voice_not_recognised": (
        "抱歉，这条语音我没有听清，请用文字描述您的问题，或稍后再发一次语音。",
        "Sorry, I couldn't make out that voice message. Please type your question or send the "
        "voice message again later."),
    "empty_text": ("消息不能为空，请输入您的问题。", "The message is empty. Please type your "
                                                 "question."),
    "too_long": ("消息太长了，请控制在 {max_chars} 字以内。",
                 "The message is too long. Please keep it within {max_chars} characters."),
    "menu_unavailable": (
        "抱歉，该菜单暂时无法使用。请直接输入您的问题，我来为您解答。",
        "Sorry, this menu item is not available right now. Please type your question and I'll "
        "answer it."),
    "link_title": ("点击查看详情", "Tap for details"),
    "image_title": ("点击查看图片", "Tap to see the picture"),
    "truncated": ("……\n（内容较长，未尽部分请回复“转人工”咨询人工客服）",
                  "...\n(The answer is long: reply \"agent\" to ask a person for the rest.)"),
    # Buttons become numbered lines: the cardholder replies with the number.
    "option": ("回复{number} {title}", "Reply {number}: {title}"),
    "scale": ("回复{low}-{high}的数字", "Reply with a number from {low} to {high}"),
    "scale_skip": ("，或直接回复“{skip}”", ", or reply \"{skip}\""),
})
UNSUPPORTED_TYPES = ("image", "location", "link", "video", "shortvideo")


text = TEXTS.text  # the text `key` in `lang`, fields filled (vocab.language.TextTable)


def unsupported(msg_type: str, lang: str | None = "zh") -> str:
    """The reply to a message type the channel cannot read."""
    key = f"unsupported_{msg_type}" if msg_type in UNSUPPORTED_TYPES else "unsupported"
    return text(key, lang)


WELCOME = text("welcome")
UNSUPPORTED = text("unsupported")
UNSUPPORTED_BY_TYPE = {kind: text(f"unsupported_{kind}") for kind in UNSUPPORTED_TYPES}
VOICE_NOT_RECOGNISED = text("voice_not_recognised")
EMPTY_TEXT = text("empty_text")
TOO_LONG = TEXTS["too_long"][0]
MENU_UNAVAILABLE = text("menu_unavailable")
LINK_TITLE = text("link_title")
IMAGE_TITLE = text("image_title")
TRUNCATED = text("truncated")
