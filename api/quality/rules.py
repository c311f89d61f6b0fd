"""Quality-inspection rules (质检) over one agent episode's transcript lines.

Each rule returns findings that cite one message. Lines are stored PII-masked, so a full
card / ID / phone number the agent typed shows up as its mask token (`[卡号****7890]`): that
token is what the PII rule looks for (the stored line is therefore already masked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

GREETING = re.compile(r"您好|你好|很高兴为您服务|请问有什么可以帮|欢迎")
CLOSING = re.compile(r"还有.{0,6}(问题|需要|帮|疑问)|感谢.{0,6}(耐心|咨询|支持|理解|来电)|"
                     r"祝您|再见|请对.{0,4}服务.{0,4}评价")
PROMISE = re.compile(r"(保证|担保|承诺|一定(会|能|给您|帮您|可以|没问题)|"
                     r"肯定(能|会|给您|可以|没问题)|百分之百|100%|绝对(能|会|没问题|可以)|包您|包你)")
PROMISE_NEGATED = re.compile(r"(不能|无法|没法|不敢|不好|不可以|不)(保证|担保|承诺)")
PII_TOKEN = re.compile(r"\[(卡号|身份证|手机号|号码)\*{4}[0-9Xx]{0,4}\]")
IMPOLITE = re.compile(r"你烦不烦|有完没完|听不懂|你自己(去)?看|自己看去|随便你|爱办不办|不归我管|"
                      r"说了多少遍|废话|别烦|别问了|你懂不懂|笨|我也没办法|跟我没关系|你听好了")
QUESTION = re.compile(r"[？?]|吗[。.!！]*$|怎么|如何|多少|什么|能不能|可不可以|哪里|为什么|是否|"
                      r"几号|哪天")

RULES: dict[str, tuple[str, str]] = {
    # rule: (severity, Chinese label shown to supervisors)
    "no_greeting": ("minor", "未使用问候语"),
    "no_closing": ("minor", "未使用结束语"),
    "slow_first_response": ("minor", "首次响应超时"),
    "slow_reply": ("minor", "回复间隔超时"),
    "forbidden_promise": ("major", "违规承诺"),
    "pii_typed": ("major", "坐席输入完整卡号/证件号/手机号"),
    "impolite": ("major", "不礼貌用语"),
    "unanswered": ("major", "客户问题未回复"),
    "escalation_risk": ("major", "客户情绪激烈/升级风险（模型）"),
}


@dataclass(frozen=True)
class Line:
    """One transcript line of the episode."""

    id: int
    sender: str  # user | agent | system | bot
    text: str
    at: datetime


@dataclass
class Finding:
    rule: str
    message_id: int | None
    excerpt: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return RULES[self.rule][0]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _seconds(a: datetime, b: datetime) -> float:
    return (_utc(a) - _utc(b)).total_seconds()


def inspect_lines(lines: list[Line], assigned_at: datetime | None, *,
                  first_response_seconds: int, reply_seconds: int) -> list[Finding]:
    """Every rule finding of one episode, in transcript order per rule."""
    out: list[Finding] = []
    agent = [m for m in lines if m.sender == "agent"]
    if agent:
        if not GREETING.search(agent[0].text):
            out.append(Finding("no_greeting", agent[0].id, agent[0].text))
        if not any(CLOSING.search(m.text) for m in agent[-2:]):
            out.append(Finding("no_closing", agent[-1].id, agent[-1].text))
        if assigned_at is not None:
            delay = _seconds(agent[0].at, assigned_at)
            if delay > first_response_seconds:
                out.append(Finding("slow_first_response", agent[0].id, agent[0].text,
                                   {"seconds": round(delay, 1),
                                    "limit": first_response_seconds}))
    waiting: Line | None = None  # the first user line since the agent last wrote
    for m in lines:
        if m.sender == "user":
            waiting = waiting or m
        elif m.sender == "agent":
            if waiting is not None:
                delay = _seconds(m.at, waiting.at)
                if delay > reply_seconds:
                    out.append(Finding("slow_reply", m.id, m.text,
                                       {"seconds": round(delay, 1), "limit": reply_seconds,
                                        "user_message_id": waiting.id}))
            waiting = None
            if PROMISE.search(m.text) and not PROMISE_NEGATED.search(m.text):
                out.append(Finding("forbidden_promise", m.id, m.text,
                                   {"match": PROMISE.search(m.text).group(0)}))  # type: ignore[union-attr]
            tokens = PII_TOKEN.findall(m.text)
            if tokens:
                out.append(Finding("pii_typed", m.id, m.text, {"kinds": sorted(set(tokens))}))
            rude = IMPOLITE.search(m.text)
            if rude:
                out.append(Finding("impolite", m.id, m.text, {"match": rude.group(0)}))
    if waiting is not None and agent:
        unanswered = [m for m in lines if m.sender == "user" and m.id >= waiting.id
                      and QUESTION.search(m.text)]
        if unanswered:
            out.append(Finding("unanswered", unanswered[-1].id, unanswered[-1].text))
    return out
