"""What the handoff says to the cardholder, in Chinese and English (issue 19).

One table for the handoff package (queue, desk, tickets, survey): `text(key, lang)` in the
conversation's language (`api.models.conversation.reply_language`), Chinese the default.
Errors for API clients keep their own `message` / `message_en` pair where they are raised.
"""

from __future__ import annotations

from api.handoff.queue import GROUP_LABELS
from vocab import SkillGroup
from vocab.language import TextTable

TEXTS = TextTable("handoff", {
    "queue_secretary": (
        "尊敬的白金卡客户，正在为您接通您的专属客服（安心秘书）{agent} 号，请稍候。"
        "如 {offer_minutes} 分钟内未接入，将由贵宾专席为您服务：您在贵宾专席排第 {position} 位，"
        "预计等待约 {minutes} 分钟。等待期间您可以继续描述问题。",
        "Dear Platinum cardholder, we are connecting you to your own agent (secretary) no. "
        "{agent}. If they cannot take your chat within {offer_minutes} min, the VIP desk will: "
        "you are number {position} there, about {minutes} min. Feel free to describe your "
        "question meanwhile."),
    "queue_vip_lead": ("尊敬的白金卡客户，已为您优先接入贵宾专席。",
                       "Dear Platinum cardholder, you have been put through to the VIP desk "
                       "first. "),
    "queue_lead": ("已为您接入人工客服队列。", "You are in the queue for a human agent. "),
    "queue_position": (
        "{lead}您当前排在第 {position} 位，预计等待约 {minutes} 分钟。"
        "等待期间您可以继续描述问题，客服接入后会第一时间看到。",
        "{lead}You are number {position}, estimated wait about {minutes} min. Feel free to "
        "describe your question meanwhile; the agent will see it first thing."),
    "btn_stop_waiting": ("取消排队", "Stop waiting"),
    "stale_queue": ("您当前没有在排队。小卡继续为您服务，有问题随时问我。",
                    "You are not waiting in the queue. Xiaoka is here for you: just ask."),
    "stale_ticket": ("当前没有进行中的留言。小卡继续为您服务，有问题随时问我。",
                     "There is no message in progress. Xiaoka is here for you: just ask."),
    "stale_survey": ("本次服务的评价已结束，感谢您的反馈！有问题随时问我。",
                     "The rating of this service is closed, thank you for your feedback! Just "
                     "ask if you need anything."),
    "queue_cancelled": ("已为您取消排队。小卡继续为您服务，有问题随时问我。",
                        "You have left the queue. Xiaoka is here for you: just ask."),
    "survey_score_thanks": ("感谢您的评分（{score} 分）！还有什么意见或建议吗？"
                            "可以直接输入；不需要的话，点选或回复“不用了”即可。",
                            "Thank you for your rating ({score})! Any comments or suggestions? "
                            "Just type them, or choose or reply \"No thanks\"."),
    "btn_no_thanks": ("不用了", "No thanks"),
    "survey_closed": ("感谢您的评价！小卡继续为您服务，有问题随时问我。",
                      "Thank you for your feedback! Xiaoka is here for you: just ask."),
    "assigned": ("人工客服 {agent} 号为您服务。", "Agent no. {agent} is now serving you."),
    "survey_ask": ("本次人工服务已结束，感谢您的耐心。请为人工客服 {agent} 号的服务打分"
                   "（1 分最低，5 分最高）：",
                   "The chat with agent no. {agent} has ended, thank you for your patience. "
                   "Please rate the service (1 lowest, 5 highest):"),
    "transfer": ("正在为您转接至{group}，请稍候。", "Transferring you to the {group}, one moment."),
    "ticket_outside_hours": ("当前为非人工服务时间（人工服务时间：{hours}），"
                             "暂时无法接通人工客服。",
                             "Our agents are not available now (service hours: {hours}). "),
    "ticket_busy": ("非常抱歉，当前人工客服繁忙，您已等待超过 {minutes} 分钟。",
                    "We are sorry: all agents are busy and you have waited over {minutes} min. "),
    "ticket_prompt": ("{lead}您可以留言，我们会尽快回电。\n"
                      "请简要描述您要咨询的问题（回复“取消”可退出留言）：",
                      "{lead}You can leave a message and we will call you back soon.\n"
                      "Please describe your question briefly (reply \"cancel\" to stop):"),
    "btn_cancel_ticket": ("取消留言", "Cancel the message"),
    "ticket_cancelled": ("好的，已取消留言。小卡继续为您服务，有问题随时问我。",
                         "OK, the message is cancelled. Xiaoka is here for you: just ask."),
    "ticket_phone": ("已记录您的问题。请留下方便联系您的电话号码（手机号或带区号的座机）：",
                     "Got your question. Please leave a phone number we can call you on "
                     "(a mobile number, or a landline with its area code):"),
    "ticket_phone_invalid": ("号码格式不正确，请输入 11 位手机号（如 13800138000）"
                             "或带区号的座机号（如 010-12345678）。",
                             "That number doesn't look right. Please enter an 11-digit mobile "
                             "number (e.g. 13800138000) or a landline with its area code (e.g. "
                             "010-12345678)."),
    "ticket_done": ("留言已提交（工单号 T{ticket:06d}），我们会尽快回电至尾号 {last4} 的号码。"
                    "小卡继续为您服务，有问题随时问我。",
                    "Your message is submitted (ticket T{ticket:06d}); we will call you back "
                    "soon on the number ending {last4}. Xiaoka is here for you meanwhile."),
})
GROUP_LABELS_EN: dict[str, str] = {SkillGroup.GENERAL: "general service team",
                                   SkillGroup.VIP: "VIP desk",
                                   SkillGroup.DISPUTES: "fraud and disputes desk"}


text = TEXTS.text  # the text `key` in `lang`, fields filled (vocab.language.TextTable)


def transfer_text(lang: str, group: str) -> str:
    """正在为您转接至贵宾专席 / Transferring you to the VIP desk."""
    labels = GROUP_LABELS_EN if lang == "en" else GROUP_LABELS
    return text("transfer", lang, group=labels.get(group, group))

