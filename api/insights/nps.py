"""NPS (0-10) at the end of every session, then one optional follow-up.

Asked when the cardholder says goodbye (the bot's `action_goodbye` marks the turn with
`meta.end = "goodbye"`), ends with a closing phrase ("没有了，谢谢"), or closes the agent survey.
At most once per session. The answer never reaches the NLU: while a question is pending the
gateway reads "9", "９", "9分", "回复9" or the button payload `/nps{"score":9}` itself.
Anything else is a normal message: the question is marked ignored and the message goes on.

The follow-up of a bot-only session asks for a 1-5 satisfaction score or a comment
("哪里可以做得更好？"); a session with an agent already had the agent survey (CSAT 1-5 and a
comment), so its NPS has no follow-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.models import NpsResponse, ServiceSession
from api.models.conversation import reply_language
from pii import mask
from vocab import MessageType
from vocab.language import TextTable

OPEN_STATUSES = ("asked", "followup")  # a question waiting for its answer

# The survey's words in the conversation's language (issue 19), Chinese the default.
TEXTS = TextTable("nps", {
    "question": ("您有多大可能把我们的服务推荐给朋友？"
                 "请打 0-10 分（0 分完全不可能，10 分非常愿意）：",
                 "How likely are you to recommend our service to a friend? Please rate 0-10 (0 "
                 "not at all likely, 10 extremely likely):"),
    "follow_up": ("感谢您的评分！请为本次服务的满意度打分（1-5 分），或直接写下哪里可以做得更好？"
                  "不需要的话，点选或回复“不用了”即可。",
                  "Thank you for your rating! How satisfied were you with this service (1-5)? "
                  "Or just tell us what we could do better. Choose or reply \"No thanks\" to "
                  "skip."),
    "thanks": ("感谢您的反馈！小卡继续为您服务，有问题随时问我。",
               "Thank you for your feedback! Xiaoka is here for you: just ask."),
    "skip": ("不用了", "No thanks"),
})
NPS_QUESTION = TEXTS["question"][0]
FOLLOW_UP = TEXTS["follow_up"][0]
THANKS = TEXTS["thanks"][0]
NPS_PAYLOAD_PREFIX = "/nps"
CSAT_PAYLOAD_PREFIX = "/nps_csat"
SKIP_PAYLOAD = "/nps_skip"

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_PAYLOAD = re.compile(r'^/nps(?:_csat)?\{"score":\s*(\d{1,2})\}$')
_BARE = re.compile(r"^\s*(?:回复|我打|打)?\s*([0-9０-９]{1,2})\s*分?\s*[.。!！]?\s*$")
_SKIP_EN = {"no thanks", "no", "nope", "skip", "no thank you", "nothing"}
_SKIP = {"不用了", "不用", "不需要", "没有", "没了", "没有了", "算了", "无", "跳过", "不了"}
# A closing phrase alone ends the session (the bot's goodbye intent is the other trigger).
_CLOSING = re.compile(
    r"^(?:好的?|嗯|ok|OK)?[，,、 ]*(?:没有了|没了|没有别的了?|没有其他(?:问题)?了?|没其他问题了?|"
    r"就这些|就这样吧?|没事了|暂时没有了?)[，,、。.! ！]*(?:谢谢|多谢|感谢|谢啦|再见|拜拜)?"
    r"[你您啦了]?[。.!！~]*$")
_QUESTION = re.compile(r"[？?]|吗[。.!！]*$|怎么|如何|多少|什么|能不能|可不可以|哪里|为什么|是否")

Clock = Callable[[], datetime]


def is_closing(text: str) -> bool:
    """"没有了，谢谢", "没有其他问题了", "就这些，再见" (not a question, short)."""
    stripped = text.strip()
    return len(stripped) <= 16 and bool(_CLOSING.match(stripped))


def parse_score(text: str, low: int, high: int) -> int | None:
    """The score a reply gives (button payload or a bare number in range), else None."""
    stripped = text.strip()
    match = _PAYLOAD.match(stripped) or _BARE.match(stripped)
    if match is None:
        return None
    value = int(match.group(1).translate(_FULLWIDTH))
    return value if low <= value <= high else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def question_message(lang: str = "zh") -> dict[str, Any]:
    """Buttons whose titles are the numbers; `scale` makes WeChat say "回复0-10" instead of
    numbering the options."""
    return {"type": MessageType.BUTTONS.value, "text": TEXTS.text("question", lang),
            "scale": [0, 10],
            "buttons": [{"title": str(n), "payload": f'/nps{{"score":{n}}}'} for n in range(11)]}


def follow_up_message(lang: str = "zh") -> dict[str, Any]:
    return {"type": MessageType.BUTTONS.value, "text": TEXTS.text("follow_up", lang),
            "scale": [1, 5],
            "buttons": [*({"title": str(n), "payload": f'/nps_csat{{"score":{n}}}'}
                          for n in range(1, 6)),
                        {"title": TEXTS.text("skip", lang), "payload": SKIP_PAYLOAD}]}


@dataclass
class NpsTurn:
    """What the survey said back to the cardholder's answer."""

    messages: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)


class NpsSurvey:
    """Asks the question, reads the answers, stores them with the session's context."""

    def __init__(self, gap_minutes: int, enabled: bool = True, clock: Clock | None = None) -> None:
        self.gap = timedelta(minutes=gap_minutes)
        self.enabled = enabled
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    @staticmethod
    def language(db: Session, conversation_id: str) -> str:
        """The conversation's reply language, for the question (zh | en)."""
        return reply_language(db, conversation_id)

    @staticmethod
    def may_be_pending(conversation_id: ColumnElement[str]) -> ColumnElement[bool]:
        """Whether the conversation's latest question is still open (asked or followed up),
        as a (correlated) SQL expression: false means `pending` is None without a query; true
        still needs `pending` (the question may have expired)."""
        latest = (select(NpsResponse.status).where(NpsResponse.conversation_id == conversation_id)
                  .order_by(NpsResponse.id.desc()).limit(1).scalar_subquery())
        return func.coalesce(latest.in_(OPEN_STATUSES), False)

    def pending(self, db: Session, conversation_id: str) -> NpsResponse | None:
        row = db.scalars(select(NpsResponse).where(NpsResponse.conversation_id == conversation_id)
                         .order_by(NpsResponse.id.desc())).first()
        if row is None or row.status not in OPEN_STATUSES:
            return None
        if self.clock() - _aware(row.answered_at or row.asked_at) > self.gap:
            row.status = "ignored" if row.status == "asked" else "done"
            return None
        return row

    def ask(self, db: Session, session: ServiceSession, trigger: str,
            human: bool) -> NpsResponse | None:
        """Ask once per session (None when disabled or already asked)."""
        if not self.enabled:
            return None
        exists = db.scalars(select(NpsResponse.id).where(NpsResponse.session_id == session.id)
                            ).first()
        if exists is not None:
            return None
        row = NpsResponse(conversation_id=session.conversation_id, session_id=session.id,
                          channel=session.channel, tier=session.tier, human=human,
                          kb_entries=list(session.kb_entries or []), trigger=trigger,
                          status="asked", asked_at=self.clock())
        db.add(row)
        db.flush()
        return row

    def answer(self, db: Session, row: NpsResponse, text: str) -> NpsTurn | None:
        """Handle the cardholder's reply to a pending question; None: not an answer, go on."""
        now = self.clock()
        lang = reply_language(db, row.conversation_id)
        thanks = {"type": MessageType.TEXT.value, "text": TEXTS.text("thanks", lang)}
        if row.status == "asked":
            score = parse_score(text, 0, 10)
            if score is None:
                row.status = "ignored"
                return None
            row.score, row.answered_at = score, now
            if row.human:
                row.status = "done"
                return NpsTurn([thanks], {"nps": {"score": score, "status": "done"}})
            row.status = "followup"
            return NpsTurn([follow_up_message(lang)],
                           {"nps": {"score": score, "status": "followup"}})
        # follow-up: a 1-5 score, a skip, a comment; a new question goes on to the bot
        stripped = text.strip()
        csat = parse_score(stripped, 1, 5) if stripped.startswith(CSAT_PAYLOAD_PREFIX) or \
            _BARE.match(stripped) else None
        row.status = "done"
        if csat is not None:
            row.csat = csat
        elif stripped == SKIP_PAYLOAD or stripped.rstrip("。.!！") in _SKIP or \
                stripped.rstrip(".!").lower() in _SKIP_EN:
            pass
        elif stripped.startswith("/") or _QUESTION.search(stripped):
            return None
        else:
            row.comment = mask(stripped)[:1000]
        return NpsTurn([thanks],
                       {"nps": {"score": row.score, "csat": row.csat, "status": "done"}})
